"""The Escrow example: a deal funded by a buyer, released to a seller, refunded after its expiry."""

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent   # the contracts, wherever pytest runs from
HOUR = 3_600


@pytest.fixture
def alice(chain):
    return chain.account("alice")


@pytest.fixture
def bob(chain):
    return chain.account("bob")


@pytest.fixture
def token(chain, alice):
    """A token of 1,000,000 that alice deployed: she holds it all and owns the contract."""
    return chain.deploy(EXAMPLES / "token.lane", 1_000_000, sender=alice)


@pytest.fixture
def arbiter(chain):
    return chain.account("arbiter")


@pytest.fixture
def escrow(chain, token, alice, arbiter):
    """An escrow of the token; alice (the buyer) has approved it."""
    escrow = chain.deploy(EXAMPLES / "escrow.lane", token, arbiter, sender=alice)
    token.approve(escrow, 10**30, sender=alice)
    return escrow


def test_opening_a_deal_takes_the_buyers_tokens(chain, escrow, token, alice, bob):
    escrow.open(1, bob, 500, HOUR, sender=alice)
    assert token.balance_of(escrow) == 500
    assert escrow.deal_amount(1) == 500
    assert escrow.deal_expiry(1) == chain.timestamp + HOUR
    assert chain.last_events[-1] == ("Opened", 1, alice, bob, 500, chain.timestamp + HOUR)


def test_a_released_deal_is_claimed_by_the_seller(chain, escrow, token, alice, bob):
    escrow.open(1, bob, 500, HOUR, sender=alice)
    with chain.reverts("not released"):
        escrow.claim(1, sender=bob)
    escrow.release(1, sender=alice)
    escrow.claim(1, sender=bob)
    assert token.balance_of(bob) == 500
    assert escrow.deal_state(1) == 4  # closed
    with chain.reverts("deal closed"):
        escrow.claim(1, sender=bob)


def test_the_buyer_gets_a_refund_only_after_the_expiry(chain, escrow, token, alice, bob):
    escrow.open(1, bob, 500, HOUR, sender=alice)
    with chain.reverts("refund not allowed"):
        escrow.refund(1, sender=alice)
    chain.warp(chain.timestamp + HOUR + 1)
    assert escrow.deal_state(1) == 2  # expired
    escrow.refund(1, sender=alice)
    assert token.balance_of(alice) == 1_000_000


def test_a_deal_cannot_be_released_after_its_expiry(chain, escrow, alice, bob):
    escrow.open(1, bob, 500, HOUR, sender=alice)
    chain.warp(chain.timestamp + 2 * HOUR)
    with chain.reverts("deal expired"):
        escrow.release(1, sender=alice)


def test_the_arbiter_settles_either_way(chain, escrow, token, alice, bob, arbiter):
    escrow.open(1, bob, 300, HOUR, sender=alice)
    escrow.open(2, bob, 200, HOUR, sender=alice)
    with chain.reverts("only the arbiter"):
        escrow.resolve(1, True, sender=bob)
    escrow.resolve(1, True, sender=arbiter)
    escrow.resolve(2, False, sender=arbiter)
    assert token.balance_of(bob) == 300
    assert token.balance_of(alice) == 1_000_000 - 300


@pytest.mark.parametrize("duration", [HOUR - 1, 31_536_001])
def test_a_duration_outside_an_hour_to_a_year_is_refused(chain, escrow, alice, bob, duration):
    with chain.reverts("duration out of range"):
        escrow.open(1, bob, 500, duration, sender=alice)


def test_a_deal_id_is_used_once(chain, escrow, alice, bob):
    escrow.open(7, bob, 1, HOUR, sender=alice)
    with chain.reverts("deal id already used"):
        escrow.open(7, bob, 1, HOUR, sender=alice)
