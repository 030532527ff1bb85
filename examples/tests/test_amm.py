"""The Pool example: a constant-product market between two tokens."""

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent   # the contracts, wherever pytest runs from
LIQUIDITY = 100_000


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
def other(chain, alice):
    return chain.deploy(EXAMPLES / "token.lane", 1_000_000, sender=alice)


@pytest.fixture
def pool(chain, token, other, alice, bob):
    """A pool with LIQUIDITY of each token from alice; bob holds 10,000 of each and has approved it."""
    pool = chain.deploy(EXAMPLES / "amm.lane", token, other, sender=alice)
    for t in (token, other):
        t.approve(pool, 10**30, sender=alice)
        t.transfer(bob, 10_000, sender=alice)
        t.approve(pool, 10**30, sender=bob)
    pool.add_liquidity(LIQUIDITY, LIQUIDITY, sender=alice)
    return pool


def test_the_first_deposit_locks_the_minimum_liquidity(pool, alice):
    assert pool.shares_of(alice) == LIQUIDITY - 1_000
    assert pool.shares_of("0xdead") == 1_000
    assert pool.supply_of_shares() == LIQUIDITY


def test_a_swap_pays_what_quote_said_and_moves_both_reserves(chain, pool, token, other, bob):
    expected = pool.quote(token, 1_000)
    assert pool.swap(token, 1_000, expected, sender=bob) == expected
    assert pool.reserve_of(token) == LIQUIDITY + 1_000
    assert pool.reserve_of(other) == LIQUIDITY - expected
    assert other.balance_of(bob) == 10_000 + expected
    assert chain.last_events[-1] == ("Swap", bob, token.address, 1_000, expected)


def test_the_fee_stays_in_the_pool(pool, token, bob):
    without_fee = LIQUIDITY * 1_000 // (LIQUIDITY + 1_000)
    assert pool.swap(token, 1_000, 0, sender=bob) < without_fee


def test_slippage_protection_reverts_the_whole_swap(chain, pool, token, other, bob):
    quoted = pool.quote(token, 1_000)
    with chain.reverts("slippage: output below minimum"):
        pool.swap(token, 1_000, quoted + 1, sender=bob)
    assert token.balance_of(bob) == 10_000 and pool.reserve_of(token) == LIQUIDITY


def test_a_token_outside_the_pool_is_refused(chain, pool, bob):
    stranger = chain.deploy(EXAMPLES / "token.lane", 1, sender=bob)
    with chain.reverts("token not in pool"):
        pool.swap(stranger, 1, 0, sender=bob)


def test_removing_liquidity_pays_out_a_share_of_both_reserves(pool, token, other, alice):
    before = token.balance_of(alice), other.balance_of(alice)
    pool.remove_liquidity(49_500, sender=alice)
    assert token.balance_of(alice) - before[0] == 49_500
    assert other.balance_of(alice) - before[1] == 49_500


def test_a_pool_of_one_token_twice_cannot_be_made(chain, token, alice):
    with chain.reverts("identical tokens"):
        chain.deploy(EXAMPLES / "amm.lane", token, token, sender=alice)


def test_swaps_in_opposite_directions_conflict_and_are_ordered(chain, pool, token, other, bob, carol):
    for t in (token, other):
        t.transfer(carol, 1_000, sender=bob)
        t.approve(pool, 10**30, sender=carol)
    dag = chain.schedule([pool.swap.tx(token, 100, 0, sender=bob), pool.swap.tx(other, 100, 0, sender=carol)])
    assert dag.stats()["edges"] == 1
