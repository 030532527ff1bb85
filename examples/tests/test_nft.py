"""The Nft example: minting, listing, and sales that pay the creator a royalty."""

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent   # the contracts, wherever pytest runs from


@pytest.fixture
def alice(chain):
    return chain.account("alice")


@pytest.fixture
def bob(chain):
    return chain.account("bob")


@pytest.fixture
def carol(chain):
    return chain.account("carol")


@pytest.fixture
def token(chain, alice):
    """A token of 1,000,000 that alice deployed: she holds it all and owns the contract."""
    return chain.deploy(EXAMPLES / "token.lane", 1_000_000, sender=alice)


@pytest.fixture
def nft(chain, token, alice, bob, carol):
    """A market paid in the token; bob and carol hold 10,000 each and have approved it."""
    nft = chain.deploy(EXAMPLES / "nft.lane", token, sender=alice)
    for buyer in (bob, carol):
        token.transfer(buyer, 10_000, sender=alice)
        token.approve(nft, 10**30, sender=buyer)
    return nft


def test_minting_makes_the_caller_creator_and_owner(chain, nft, alice):
    nft.mint(1, 500, sender=alice)
    assert nft.holder_of(1) == alice and nft.get_creator(1) == alice
    assert nft.balance_of(alice) == 1
    assert chain.last_events == [("Minted", alice, 1, 500)]
    with chain.reverts("already minted"):
        nft.mint(1, 0, sender=alice)


def test_a_resale_pays_the_creator_a_royalty(nft, token, alice, bob, carol):
    nft.mint(1, 500, sender=alice)               # 5% royalty
    nft.list(1, 1_000, sender=alice)
    nft.buy(1, 1_000, sender=bob)                 # a sale by the creator: no royalty
    assert token.balance_of(bob) == 9_000
    nft.list(1, 2_000, sender=bob)
    alice_before = token.balance_of(alice)
    nft.buy(1, 2_000, sender=carol)
    assert token.balance_of(alice) - alice_before == 100
    assert token.balance_of(bob) == 9_000 + 1_900
    assert nft.holder_of(1) == carol


def test_a_price_raised_above_the_buyers_maximum_is_refused(chain, nft, alice, bob):
    nft.mint(1, 0, sender=alice)
    nft.list(1, 5_000, sender=alice)
    with chain.reverts("price above maximum"):
        nft.buy(1, 4_999, sender=bob)


def test_an_approved_operator_transfers_and_the_approval_ends(chain, nft, alice, bob, carol):
    nft.mint(1, 0, sender=alice)
    nft.approve(bob, 1, sender=alice)
    nft.transfer(carol, 1, sender=bob)
    assert nft.holder_of(1) == carol
    with chain.reverts("not owner or approved"):
        nft.transfer(bob, 1, sender=bob)


@pytest.mark.parametrize("id_, royalty, reason", [(2**32, 0, "id out of range"), (1, 1_001, "royalty above cap")])
def test_mint_limits(chain, nft, alice, id_, royalty, reason):
    with chain.reverts(reason):
        nft.mint(id_, royalty, sender=alice)


def test_a_token_never_minted_has_no_holder(chain, nft):
    with chain.reverts("not minted", at="nft.lane:112"):
        nft.holder_of(42)
