"""The Token example: ERC-20 style transfers, allowances, minting and burning."""

from pathlib import Path

import pytest

SUPPLY = 1_000_000
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
    return chain.deploy(EXAMPLES / "token.lane", SUPPLY, sender=alice)


def test_the_deployer_holds_the_supply_and_owns_the_token(token, alice):
    assert token.balance_of(alice) == SUPPLY
    assert token.total() == SUPPLY
    assert token.get_owner() == alice


def test_transfer_moves_tokens_and_says_so(chain, token, alice, bob):
    assert token.transfer(bob, 250, sender=alice) is True
    assert token.balance_of(alice) == SUPPLY - 250
    assert token.balance_of(bob) == 250
    assert chain.last_events == [("Transfer", alice, bob, 250)]


def test_a_transfer_above_the_balance_reverts_and_changes_nothing(chain, token, alice, bob):
    with chain.reverts("insufficient balance", at="token.lane:35"):
        token.transfer(alice, 1, sender=bob)
    assert token.balance_of(alice) == SUPPLY


def test_a_transfer_to_the_zero_address_is_refused(chain, token, alice):
    with chain.reverts("transfer to the zero address"):
        token.transfer("0x0", 1, sender=alice)


def test_transfer_from_spends_the_allowance(chain, token, alice, bob, carol):
    token.approve(bob, 100, sender=alice)
    assert token.allowance(alice, bob) == 100
    token.transfer_from(alice, carol, 60, sender=bob)
    assert token.allowance(alice, bob) == 40
    assert token.balance_of(carol) == 60
    with chain.reverts("insufficient allowance"):
        token.transfer_from(alice, carol, 41, sender=bob)


def test_only_the_owner_mints(chain, token, alice, bob):
    with chain.reverts("only owner"):
        token.mint(bob, 5, sender=bob)
    token.mint(bob, 5, sender=alice)
    assert token.total() == SUPPLY + 5


def test_minting_past_the_largest_u256_overflows_where_the_supply_grows(chain, token, alice, bob):
    with chain.reverts("arithmetic overflow", at="token.lane:64"):
        token.mint(bob, 2**256 - SUPPLY, sender=alice)


def test_burning_lowers_the_supply(chain, token, alice):
    token.burn(1_000, sender=alice)
    assert token.total() == SUPPLY - 1_000
    with chain.reverts("zero amount"):
        token.burn(0, sender=alice)


def test_ownership_moves_once(chain, token, alice, bob):
    token.transfer_ownership(bob, sender=alice)
    assert token.get_owner() == bob
    assert chain.last_events == [("OwnershipTransferred", alice, bob)]
    with chain.reverts("only owner"):
        token.transfer_ownership(alice, sender=alice)


@pytest.mark.parametrize("executor", ["sequential", "parallel"])
def test_a_block_of_transfers_gives_what_the_same_transfers_give_one_by_one(chain, token, alice, executor):
    people = [chain.account(f"user{k}") for k in range(6)]
    for person in people:
        token.transfer(person, 1_000, sender=alice)
    moves = [(people[k % 6], people[(k * 5 + 1) % 6], 10 * k) for k in range(30)]
    start = chain.snapshot()
    one_by_one = []
    for frm, to, amount in moves:
        one_by_one.append(token.transfer(to, amount, sender=frm))
    expected = chain.state_root
    chain.restore(start)
    with chain.block(executor=executor, workers=2, verify=True) as block:
        for frm, to, amount in moves:
            token.transfer(to, amount, sender=frm)
    assert [r.value for r in block.receipts] == one_by_one
    assert chain.state_root == expected
