"""The access analysis (SPEC §2): summaries, key kinds, commutative updates, the conflict table,
hot spots and worst-case costs.

The expected verdicts and their exact condition strings were worked out by hand
from the contracts and SPEC §2.4 (the two calls are ``a`` and ``b``; two
functions of one contract share ``self`` and immutable storage; conditions that
only decide whether a call reverts are left out of summaries), then compared
with what the tool prints.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest

from compiler.analysis import symbolic as S
from compiler.analysis.report import function_json
from compiler.analysis.summary import ADD, READ, WRITE, Access, Summary
from compiler.pipeline import CompilerData
from compiler.schedule.instantiate import Location, instantiate

from conftest import run_lane

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"



# ------------------------------------------------------------------ helpers


@functools.lru_cache(maxsize=None)
def _data(path: str) -> CompilerData:
    return CompilerData(path)


def summaries(path) -> dict[str, Summary]:
    return _data(str(path)).summaries


@functools.lru_cache(maxsize=None)
def _table(path: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(c["a"], c["b"]): (c["verdict"], c["condition"]) for c in _data(path).analysis().conflicts}


def verdict(path, a: str, b: str) -> tuple[str, str | None]:
    """The verdict of the pair; a condition names ``a.`` and ``b.``, so a ``when`` is looked up in the
    order the tool lists the pair (declaration order), ``never`` and ``always`` in either order."""
    table = _table(str(path))
    if (a, b) not in table and (b, a) in table and table[(b, a)][0] != "when":
        return table[(b, a)]
    assert (a, b) in table, f"{a} x {b} not in the table" + (" (it is listed the other way round)"
                                                               if (b, a) in table else "")
    return table[(a, b)]


def rows(summary: Summary) -> set[tuple[str, str, str, str]]:
    """(mode, location, kind, address) of every access: ``location`` as the report prints it."""
    return {(a.mode, f"{a.contract}.{a.location_text()}", a.kind, str(a.address)) for a in summary.accesses}


def only(summary: Summary, var: str, mode: str, keys: str | None = None) -> Access:
    found = [a for a in summary.accesses if a.var == var and a.mode == mode
             and (keys is None or "".join(f"[{k}]" for k in a.keys) == keys)]
    assert len(found) == 1, (var, mode, keys, [str(a) for a in summary.accesses])
    return found[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def with_token(tmp_path: Path) -> None:
    (tmp_path / "token.lane").write_text((EXAMPLES / "token.lane").read_text(), encoding="utf-8")


# ------------------------------------------------------------------ the examples' conflict tables

NEVER, ALWAYS = ("never", None), ("always", None)


def when(condition: str) -> tuple[str, str]:
    return ("when", condition)


EXAMPLE_VERDICTS = [
    # Token: balances[msg.sender] read and written, balances[to] added (an add that aliases when to == msg.sender).
    ("token", "Token.transfer", "Token.transfer",
     when("a.sender == b.sender || a.sender == b.to || a.to == b.sender")),
    ("token", "Token.transfer", "Token.transfer_from",
     when("a.sender == b.from || a.sender == b.to || a.to == b.from")),
    ("token", "Token.transfer", "Token.mint", when("a.sender == b.to")),
    ("token", "Token.transfer", "Token.burn", when("a.sender == b.sender || a.to == b.sender")),
    ("token", "Token.transfer", "Token.approve", NEVER),
    ("token", "Token.transfer", "Token.total", NEVER),
    ("token", "Token.transfer", "Token.balance_of", when("a.sender == b.who || a.to == b.who")),
    ("token", "Token.approve", "Token.approve", when("a.sender == b.sender && a.spender == b.spender")),
    ("token", "Token.approve", "Token.transfer_from", when("a.sender == b.from && a.spender == b.sender")),
    ("token", "Token.approve", "Token.allowance", when("a.sender == b.owner_ && a.spender == b.spender")),
    ("token", "Token.transfer_from", "Token.transfer_from",
     when("a.from == b.from || a.from == b.to || a.to == b.from")),
    ("token", "Token.mint", "Token.mint", NEVER),  # only adds: to total_supply and balances[to]
    ("token", "Token.mint", "Token.burn", when("a.to == b.sender")),
    ("token", "Token.mint", "Token.total", ALWAYS),
    ("token", "Token.mint", "Token.transfer_ownership", ALWAYS),  # mint reads owner
    ("token", "Token.burn", "Token.burn", when("a.sender == b.sender")),
    ("token", "Token.burn", "Token.total", ALWAYS),
    ("token", "Token.transfer_ownership", "Token.transfer_ownership", ALWAYS),
    ("token", "Token.balance_of", "Token.balance_of", NEVER),  # views never conflict
    ("token", "Token.allowance", "Token.total", NEVER),
    ("token", "Token.get_owner", "Token.get_owner", NEVER),
    # Pool: every swap writes reserves[token1] or reserves[token0] of both tokens of the pool.
    ("amm", "Pool.swap", "Pool.swap", ALWAYS),
    ("amm", "Pool.add_liquidity", "Pool.add_liquidity", ALWAYS),
    ("amm", "Pool.add_liquidity", "Pool.swap", ALWAYS),
    ("amm", "Pool.swap", "Pool.quote", when("b.token_in == token0 || b.token_in == token1")),
    ("amm", "Pool.add_liquidity", "Pool.reserve_of", when("token0 == b.t || token1 == b.t")),
    ("amm", "Pool.swap", "Pool.reserve_of",
     when("a.token_in == b.t || (a.token_in == token1 && token0 == b.t) || token1 == b.t")),
    # (the first deposit, into a pool of no shares, locks a minimum at 0xdead)
    ("amm", "Pool.add_liquidity", "Pool.shares_of",
     when("a.sender == b.who || (a.total_shares == 0 && address(0xdead) == b.who)")),
    ("amm", "Pool.remove_liquidity", "Pool.shares_of", when("a.sender == b.who")),
    ("amm", "Pool.swap", "Pool.shares_of", NEVER),
    ("amm", "Pool.swap", "Pool.supply_of_shares", NEVER),
    ("amm", "Pool.quote", "Pool.quote_deposit", NEVER),
    ("amm", "Token.approve", "Pool.swap", when("a.self == b.token_in && a.sender == b.sender && a.spender == b.self")),
    ("amm", "Token.mint", "Pool.add_liquidity", when("a.to == b.sender && (a.self == b.token0 || a.self == b.token1)")),
    ("amm", "Token.transfer_ownership", "Pool.swap", NEVER),
    # Dao: propose keys by next_id (dynamic); status() reads the proposal's fields.
    ("dao", "Dao.propose", "Dao.propose", ALWAYS),
    ("dao", "Dao.propose", "Dao.proposal_count", ALWAYS),
    # (a value in storage, as the call reading it finds it: the proposal propose numbers)
    ("dao", "Dao.propose", "Dao.vote", when("a.next_id + 1 == b.id")),
    ("dao", "Dao.propose", "Dao.tally", NEVER),
    # (one sender's two votes, or a vote past its deadline: it tallies)
    ("dao", "Dao.vote", "Dao.vote", when(
        "a.id == b.id && ((!(block.number <= a.deadline_of[a.id]) && !a.canceled[a.id] && !a.executed[a.id] && "
        "a.proposer_of[a.id] != address(0x0)) || (!(block.number <= b.deadline_of[b.id]) && !b.canceled[b.id] && "
        "!b.executed[b.id] && b.proposer_of[b.id] != address(0x0)) || a.sender == b.sender)")),
    # tally returns early for support: it reads no_votes only when !support, so the votes and the
    # tally meet only on the same side (a.support == b.support).
    ("dao", "Dao.vote", "Dao.tally", when("a.id == b.id && ((!a.support && !b.support) || (a.support && b.support))")),
    ("dao", "Dao.vote", "Dao.has_voted", when("a.id == b.id && a.sender == b.voter")),
    ("dao", "Dao.vote", "Dao.treasury", NEVER),
    ("dao", "Dao.cancel", "Dao.execute",
     when("a.id == b.id && ((!b.executed[b.id] && b.proposer_of[b.id] != address(0x0)) || a.sender != address(0x0))")),
    ("dao", "Dao.execute", "Dao.execute", ALWAYS),  # the treasury's balance
    ("dao", "Dao.execute", "Dao.treasury", ALWAYS),
    ("dao", "Dao.state", "Dao.state", NEVER),
    ("dao", "Token.transfer", "Dao.vote", when("a.self == b.gov_token && (a.sender == b.sender || a.to == b.sender)")),
    ("dao", "Token.transfer", "Dao.cancel", NEVER),
    # Escrow: deals by id; open pulls tokens into self, claim/refund pay out of it.
    ("escrow", "Escrow.open", "Escrow.open", when("a.id == b.id || a.sender == b.sender || self == a.sender "
                                                  "|| self == b.sender")),
    ("escrow", "Escrow.open", "Escrow.release", when("a.id == b.id")),
    ("escrow", "Escrow.open", "Escrow.claim", ALWAYS),
    ("escrow", "Escrow.release", "Escrow.release", when("a.id == b.id")),
    ("escrow", "Escrow.release", "Escrow.deal_amount", NEVER),
    ("escrow", "Escrow.claim", "Escrow.claim", ALWAYS),
    ("escrow", "Escrow.resolve", "Escrow.resolve", ALWAYS),
    ("escrow", "Escrow.deal_state", "Escrow.deal_state", NEVER),
    ("escrow", "Token.approve", "Escrow.open", when("a.self == b.token && a.sender == b.sender && a.spender == b.self")),
    # LendingPool: supplied/collateral_of are added to; borrow reads debt_of after adding (read + write).
    ("lending", "LendingPool.supply", "LendingPool.supply",
     when("a.sender == b.sender || self == a.sender || self == b.sender")),
    ("lending", "LendingPool.supply", "LendingPool.withdraw_supply", ALWAYS),
    ("lending", "LendingPool.borrow", "LendingPool.borrow", ALWAYS),
    ("lending", "LendingPool.deposit_collateral", "LendingPool.borrow",
     when("a.sender == b.sender || collateral == debt_token")),
    ("lending", "LendingPool.deposit_collateral", "LendingPool.collateral_balance", when("a.sender == b.who")),
    ("lending", "LendingPool.liquidate", "LendingPool.debt_balance", when("a.borrower == b.who")),
    ("lending", "LendingPool.supply", "LendingPool.collateral_balance", NEVER),
    ("lending", "LendingPool.health_bps", "LendingPool.max_borrow", NEVER),
    ("lending", "PriceOracle.set_price", "LendingPool.borrow",
     when("a.self == b.oracle && ((a.asset == b.collateral && b.collateral_of[b.sender] != 0) "
          "|| a.asset == b.debt_token)")),
    # Nft: everything keyed by id, counts added to.
    ("nft", "Nft.mint", "Nft.mint", when("a.id == b.id")),
    ("nft", "Nft.mint", "Nft.balance_of", when("a.sender == b.who")),
    ("nft", "Nft.mint", "Nft.listed_price", NEVER),
    ("nft", "Nft.list", "Nft.unlist", when("a.id == b.id")),
    ("nft", "Nft.approve", "Nft.list", NEVER),
    ("nft", "Nft.transfer", "Nft.get_creator", NEVER),
    ("nft", "Nft.buy", "Nft.buy", when(  # the seller is owner_of[id]; a royalty goes to creator_of[id]
        "(((a.listing_price[a.id] * a.royalty_bps[a.id]) / 10000) > 0 && a.creator_of[a.id] == b.sender) || "
        "(((b.listing_price[b.id] * b.royalty_bps[b.id]) / 10000) > 0 && a.sender == b.creator_of[b.id]) || "
        "a.id == b.id || a.owner_of[a.id] == b.sender || a.sender == b.owner_of[b.id] || a.sender == b.sender")),
    # PriceOracle
    ("oracle", "PriceOracle.set_price", "PriceOracle.set_price", when("a.asset == b.asset")),
    ("oracle", "PriceOracle.set_price", "PriceOracle.price_of", when("a.asset == b.asset")),
    ("oracle", "PriceOracle.set_price", "PriceOracle.transfer_ownership", ALWAYS),
    ("oracle", "PriceOracle.set_price", "PriceOracle.set_prices", when("a.asset in b.assets")),
    ("oracle", "PriceOracle.set_prices", "PriceOracle.set_prices", when("(depends on array elements)")),
    ("oracle", "PriceOracle.transfer_ownership", "PriceOracle.price_of", NEVER),
    ("oracle", "PriceOracle.scale", "PriceOracle.scale", NEVER),
    # Splitter: only adds to its own storage; the token accesses depend on the token argument.
    ("splitter", "Splitter.split", "Splitter.split", when("a.token == b.token")),
    ("splitter", "Splitter.split", "Splitter.total_split_of", when("a.token == b.token")),
    ("splitter", "Splitter.split", "Splitter.preview", NEVER),
    ("splitter", "Token.transfer", "Splitter.split", when(
        "a.self == b.token && (a.sender == b.sender || a.sender in b.payees[0..min(len(b.payees), 16)] || "
        "a.to == b.sender || a.to in b.payees[0..min(len(b.payees), 16)])")),
    # Staking: update_reward writes the accumulator on every call.
    ("staking", "Staking.stake", "Staking.stake", ALWAYS),
    ("staking", "Staking.stake", "Staking.claim", ALWAYS),
    ("staking", "Staking.stake", "Staking.staked_balance", when("a.sender == b.who")),
    ("staking", "Staking.stake", "Staking.rate", NEVER),
    ("staking", "Staking.claim", "Staking.staked_balance", NEVER),
    ("staking", "Staking.notify_reward", "Staking.rate", ALWAYS),
    ("staking", "Staking.earned", "Staking.earned", NEVER),
    # Savings: each account on its own clock; every call adds to total_interest, which commutes.
    ("savings", "Savings.accrue", "Savings.accrue", when("a.sender == b.sender")),
    ("savings", "Savings.accrue", "Savings.balance_of", when("a.sender == b.account")),
    ("savings", "Savings.accrue", "Savings.fund", NEVER),
    ("savings", "Savings.withdraw", "Savings.withdraw", ALWAYS),  # both pay out of balances[self]
    ("savings", "Savings.balance_of", "Savings.balance_of", NEVER),
]


@pytest.mark.parametrize("file, a, b, expected", EXAMPLE_VERDICTS,
                         ids=[f"{a}-x-{b}" for _, a, b, _ in EXAMPLE_VERDICTS])
def test_example_verdicts(file, a, b, expected):
    assert verdict(EXAMPLES / f"{file}.lane", a, b) == expected


def test_every_example_contract_has_verdicts_checked():
    files = {f.stem for f in EXAMPLES.glob("*.lane")}
    assert {file for file, *_ in EXAMPLE_VERDICTS} == files


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.lane")), ids=lambda p: p.stem)
def test_example_tables_are_complete_and_views_never_conflict(path):
    data = _data(str(path))
    names = list(data.summaries)
    table = _table(str(path))
    expected = {(names[i], names[j]) for i in range(len(names)) for j in range(i, len(names))}
    assert set(table) == expected
    views = {q for q, s in data.summaries.items() if s.function.is_view}
    for (a, b), (v, cond) in table.items():
        assert v in ("never", "always", "when")
        assert (cond is not None) == (v == "when"), (a, b, v, cond)
        if a in views and b in views:
            assert v == "never", (a, b)


# ------------------------------------------------------------------ summaries of the examples


def test_token_transfer_summary():
    s = summaries(EXAMPLES / "token.lane")["Token.transfer"]
    assert rows(s) == {
        ("read", "Token.balances[msg.sender]", "exact", "self"),
        ("write", "Token.balances[msg.sender]", "exact", "self"),
        ("add", "Token.balances[to]", "exact", "self"),
    }
    # The add stays an add, with the condition under which it hits the sender's own balance.
    assert str(only(s, "balances", ADD).alias) == "to == msg.sender"
    assert s.cost > 0


def test_token_mint_only_adds():
    s = summaries(EXAMPLES / "token.lane")["Token.mint"]
    assert rows(s) == {
        ("read", "Token.owner", "exact", "self"),
        ("add", "Token.total_supply", "exact", "self"),
        ("add", "Token.balances[to]", "exact", "self"),
    }
    assert all(a.alias == S.FALSE for a in s.accesses if a.mode == ADD)


def test_an_add_that_always_aliases_is_a_read_and_a_write():
    # Staking.stake: total_staked += amount, but update_reward reads total_staked in the same call.
    s = summaries(EXAMPLES / "staking.lane")["Staking.stake"]
    total = {a.mode for a in s.accesses if a.var == "total_staked"}
    assert total == {READ, WRITE}
    # staked[msg.sender] is read by update_reward only past its `if who == address(0) { return; }`,
    # so the add aliases that read exactly when msg.sender is not the zero address.
    staked = {(a.mode, str(a.alias) if a.mode == ADD else None) for a in s.accesses if a.var == "staked"}
    assert staked == {(READ, None), (ADD, "!(msg.sender == address(0x0))")}
    # LendingPool.supply adds to locations it does not otherwise touch.
    supply = summaries(EXAMPLES / "lending.lane")["LendingPool.supply"]
    assert {(a.var, a.mode) for a in supply.accesses if a.contract == "LendingPool"} >= {
        ("supplied", ADD), ("total_supplied", ADD)}


def test_an_add_that_aliases_in_its_own_branch_is_a_read_and_a_write():
    # Escrow.resolve pays out in either branch: the token's balances[self] is read (the require of
    # Token.transfer) and then updated under the same branch condition, so it is no add.
    s = summaries(EXAMPLES / "escrow.lane")["Escrow.resolve"]
    own = [a for a in s.accesses if a.contract == "Token" and a.var == "balances" and a.keys == (S.Self(),)]
    assert {(a.mode, str(a.cond)) for a in own} == {
        ("read", "to_seller"), ("write", "to_seller"), ("read", "!to_seller"), ("write", "!to_seller")}


def test_key_kinds_in_the_examples():
    pool = summaries(EXAMPLES / "amm.lane")["Pool.add_liquidity"]
    # token0 is written only by init: reserves[token0] is fixed by the deployed state.
    assert ("write", "Pool.reserves[token0]", "immutable", "self") in rows(pool)
    assert ("read", "Pool.total_shares", "exact", "self") in rows(pool)
    swap = summaries(EXAMPLES / "amm.lane")["Pool.swap"]
    assert ("write", "Pool.reserves[token_in]", "exact", "self") in rows(swap)
    dao = summaries(EXAMPLES / "dao.lane")
    # next_id is written by propose: keys built from it are dynamic.
    assert ("write", "Dao.proposer_of[next_id + 1]", "dynamic", "self") in rows(dao["Dao.propose"])
    assert ("write", "Dao.next_id", "exact", "self") in rows(dao["Dao.propose"])
    assert ("add", "Token.gov_token.balances[recipient_of[id]]", "dynamic", "gov_token") in rows(dao["Dao.execute"])
    assert ("read", "Dao.voted[id][msg.sender]", "exact", "self") in rows(dao["Dao.vote"])
    # Array elements are arguments: exact.
    oracle = summaries(EXAMPLES / "oracle.lane")["PriceOracle.set_prices"]
    assert ("write", "PriceOracle.prices[assets[i]]", "exact", "self") in rows(oracle)


def test_summary_json_of_an_example():
    item = function_json(summaries(EXAMPLES / "dao.lane")["Dao.execute"])
    assert (item["contract"], item["function"]) == ("Dao", "execute")
    assert {"contract": "Token", "var": "balances", "key": ["recipient_of[id]"], "mode": "add",
            "kind": "dynamic"}.items() <= item["accesses"][-1].items()
    assert {"contract": "Dao", "var": "executed", "key": ["id"], "mode": "write",
            "kind": "exact"}.items() <= next(a for a in item["accesses"] if a["var"] == "executed"
                                             and a["mode"] == "write").items()


def test_path_conditions_of_an_example():
    # Dao.tally returns yes_votes[id] when support: the code after that early return runs only when
    # !support, so that is the condition of the read of no_votes.
    s = summaries(EXAMPLES / "dao.lane")["Dao.tally"]
    assert {(a.var, a.mode, str(a.cond)) for a in s.accesses} == {
        ("yes_votes", READ, "support"), ("no_votes", READ, "!support")}


# ------------------------------------------------------------------ purpose-written contracts

LAB = """
contract Lab {
    storage slots: map<u256, u256>;
    storage orders: map<u256, u256>;
    storage left: map<address, u256>;
    storage right: map<address, u256>;
    storage grid: map<(u256, u256), u256>;
    storage hits: map<u256, u256>;
    storage counter: u256;
    storage config: map<u256, u256>;
    storage owner: address;
    storage pointer: u256;
    storage balance: map<address, u256>;

    init() { owner = msg.sender; }

    pub fn even(i: u256, v: u256) { slots[2 * i] = v; }
    pub fn odd(j: u256, v: u256) { slots[2 * j + 1] = v; }
    pub fn place(id: u256, v: u256) { orders[id] = v; }
    pub fn place_next(id: u256, v: u256) { orders[id + 1] = v; }
    pub fn pick(flag: bool, who: address) {
        if flag {
            left[who] = 1;
        } else {
            right[who] = 1;
        }
    }
    pub fn set_left(who: address) { left[who] = 2; }
    pub fn set_right(who: address) { right[who] = 2; }
    pub fn each(xs: array<u256, 4>) {
        for i in 0..len(xs) { hits[xs[i]] = i; }
    }
    pub view fn hit(k: u256) -> u256 { return hits[k]; }
    pub fn fill() {
        for i in 0..10 { grid[i, 7] = i; }
    }
    pub fn fill_upper() {
        for i in 3..10 { grid[i, 7] = i; }
    }
    pub fn row(r: u256) { grid[r, 7] = 1; }
    pub fn col(c: u256) { grid[c, 8] = 1; }
    pub fn bump() { counter += 1; }
    pub fn set_counter(v: u256) { counter = v; }
    pub fn set_config(v: u256) { config[3] = v; }
    pub fn set_owned(v: u256) { config[u256(owner)] = v; }
    pub fn by_pointer(v: u256) { slots[pointer] = v; }
    pub fn move_pointer(p: u256) { pointer = p; }
    pub fn loop_local(v: u256) {
        let k: u256 = 0;
        for i in 0..3 { k += v; }
        slots[k] = 1;
    }
    pub fn deposit(amount: u256) {
        require(balance[msg.sender] + amount <= 1_000_000, "cap");
        balance[msg.sender] += amount;
    }
    pub fn credit(who: address, amount: u256) { balance[who] += amount; }
    pub fn move_to(to: address, amount: u256) {
        require(balance[msg.sender] >= amount, "balance");
        balance[msg.sender] -= amount;
        balance[to] += amount;
    }
    pub view fn get(k: u256) -> u256 { return slots[k]; }
    pub view fn balance_of(who: address) -> u256 { return balance[who]; }
}
"""

VAULT = """
import "token.lane";

contract Counter {
    storage n: u256;
    pub fn next() -> u256 { n += 1; return n; }
}

contract Vault {
    storage token: Token;
    storage counter: Counter;
    storage tickets: map<u256, address>;
    storage last: u256;

    init(t: Token, c: Counter) { token = t; counter = c; }

    pub fn pay(to: address, amount: u256) { token.transfer(to, amount); }
    pub fn pay_with(t: Token, to: address, amount: u256) { t.transfer(to, amount); }
    pub fn ticket() { let t = counter.next(); tickets[t] = msg.sender; }
    pub fn by_balance() { tickets[token.balance_of(self)] = msg.sender; }
    pub fn once(x: u256) { last = x * 2 + 1; }
    pub fn ten(x: u256) {
        for i in 0..10 { last = x * 2 + 1; }
    }
    pub fn twenty(x: u256) {
        for i in 0..20 { last = x * 2 + 1; }
    }
    pub fn thirty(x: u256) {
        for i in 0..30 { last = x * 2 + 1; }
    }
    pub fn one_call(to: address) { token.transfer(to, 1); }
    pub fn ten_calls(to: address) {
        for i in 0..10 { token.transfer(to, 1); }
    }
    pub fn branchy(x: u256) {
        if x > 1 {
            last = x;
        } else {
            for i in 0..5 { last = x * 2 + 1; }
        }
    }
}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("lab"), "lab.lane", LAB)


@pytest.fixture(scope="module")
def vault(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vault")
    with_token(root)
    return write(root, "vault.lane", VAULT)


LAB_VERDICTS = [
    # Arithmetic keys: an even slot is never an odd one; orders[id] meets orders[id + 1].
    ("Lab.even", "Lab.odd", NEVER),
    ("Lab.even", "Lab.even", when("2 * a.i == 2 * b.i")),
    ("Lab.odd", "Lab.get", when("(2 * a.j) + 1 == b.k")),
    ("Lab.place", "Lab.place_next", when("a.id == b.id + 1")),
    ("Lab.place", "Lab.place", when("a.id == b.id")),
    ("Lab.place", "Lab.even", NEVER),  # disjoint variables
    # Path conditions: the branch decides which variable is written.
    ("Lab.pick", "Lab.set_left", when("a.flag && a.who == b.who")),
    ("Lab.pick", "Lab.set_right", when("!a.flag && a.who == b.who")),
    ("Lab.pick", "Lab.pick", when("a.who == b.who && ((!a.flag && !b.flag) || (a.flag && b.flag))")),
    ("Lab.set_left", "Lab.set_right", NEVER),
    # Loops over constant bounds: every call writes grid[0..10, 7].
    ("Lab.fill", "Lab.fill", ALWAYS),
    ("Lab.fill", "Lab.fill_upper", ALWAYS),
    ("Lab.fill", "Lab.row", when("b.r < 10")),
    ("Lab.fill_upper", "Lab.row", when("3 <= b.r && b.r < 10")),
    ("Lab.fill", "Lab.col", NEVER),
    # A loop over an array argument.
    ("Lab.each", "Lab.hit", when("b.k in a.xs")),
    ("Lab.each", "Lab.each", when("(depends on array elements)")),
    ("Lab.each", "Lab.get", NEVER),
    # Commutative updates: two adds never conflict; an add and a write always do.
    ("Lab.bump", "Lab.bump", NEVER),
    ("Lab.bump", "Lab.set_counter", ALWAYS),
    ("Lab.credit", "Lab.credit", NEVER),
    ("Lab.credit", "Lab.balance_of", when("a.who == b.who")),
    ("Lab.credit", "Lab.move_to", when("a.who == b.sender")),
    ("Lab.deposit", "Lab.deposit", when("a.sender == b.sender")),
    ("Lab.move_to", "Lab.move_to", when("a.sender == b.sender || a.sender == b.to || a.to == b.sender")),
    # Immutable keys are the same in both calls; dynamic ones are not.
    ("Lab.set_owned", "Lab.set_owned", ALWAYS),
    ("Lab.set_config", "Lab.set_owned", when("3 == owner")),
    ("Lab.set_config", "Lab.set_config", ALWAYS),
    ("Lab.by_pointer", "Lab.by_pointer", when("a.pointer == b.pointer")),
    ("Lab.by_pointer", "Lab.move_pointer", ALWAYS),
    ("Lab.by_pointer", "Lab.get", when("a.pointer == b.k")),
    # A wildcard stands for any key of its variable.
    ("Lab.loop_local", "Lab.get", when("(depends on values the analysis cannot follow)")),
    ("Lab.loop_local", "Lab.place", NEVER),
    # Views.
    ("Lab.get", "Lab.get", NEVER),
    ("Lab.get", "Lab.balance_of", NEVER),
]


@pytest.mark.parametrize("a, b, expected", LAB_VERDICTS, ids=[f"{a}-x-{b}" for a, b, _ in LAB_VERDICTS])
def test_lab_verdicts(lab, a, b, expected):
    assert verdict(lab, a, b) == expected


def test_lab_key_kinds(lab):
    s = summaries(lab)
    assert rows(s["Lab.even"]) == {("write", "Lab.slots[2 * i]", "exact", "self")}
    assert rows(s["Lab.odd"]) == {("write", "Lab.slots[(2 * j) + 1]", "exact", "self")}
    assert rows(s["Lab.set_owned"]) == {("read", "Lab.owner", "exact", "self"),
                                        ("write", "Lab.config[owner]", "immutable", "self")}
    assert rows(s["Lab.by_pointer"]) == {("read", "Lab.pointer", "exact", "self"),
                                         ("write", "Lab.slots[pointer]", "dynamic", "self")}
    # k changes in a loop: its key cannot be bounded.
    assert rows(s["Lab.loop_local"]) == {("write", "Lab.slots[*]", "wildcard", "self")}
    assert rows(s["Lab.each"]) == {("write", "Lab.hits[xs[i]]", "exact", "self")}
    assert rows(s["Lab.fill"]) == {("write", "Lab.grid[i][7]", "exact", "self")}
    json_keys = {a["kind"]: a["key"] for a in function_json(s["Lab.loop_local"])["accesses"]}
    assert json_keys == {"wildcard": ["*"]}
    assert function_json(s["Lab.fill"])["accesses"][0]["key"] == ["i", "7"]


def test_lab_commutative_updates(lab):
    s = summaries(lab)
    assert rows(s["Lab.bump"]) == {("add", "Lab.counter", "exact", "self")}
    assert rows(s["Lab.credit"]) == {("add", "Lab.balance[who]", "exact", "self")}
    # deposit reads balance[msg.sender] before adding to it: a read and a write, no add.
    assert rows(s["Lab.deposit"]) == {("read", "Lab.balance[msg.sender]", "exact", "self"),
                                      ("write", "Lab.balance[msg.sender]", "exact", "self")}
    # move_to's add to balance[to] aliases the sender's balance exactly when to == msg.sender.
    assert str(only(s["Lab.move_to"], "balance", ADD).alias) == "to == msg.sender"
    assert only(s["Lab.credit"], "balance", ADD).alias == S.FALSE


def test_lab_path_conditions(lab):
    s = summaries(lab)["Lab.pick"]
    assert {(a.var, a.mode, str(a.cond)) for a in s.accesses} == {("left", WRITE, "flag"), ("right", WRITE, "!flag")}


def test_loop_indices_are_enumerated_when_instantiated(lab):
    s = summaries(lab)
    each = instantiate(s["Lab.each"], sender=1, target=99, args=[(3, 5, 3)])
    assert {(loc.key, mode) for loc, mode in each} == {(3, WRITE), (5, WRITE)}
    assert instantiate(s["Lab.each"], sender=1, target=99, args=[()]) == []
    fill = instantiate(s["Lab.fill"], sender=1, target=99, args=[])
    assert sorted(loc.key for loc, _ in fill) == [(i, 7) for i in range(10)]
    assert {loc.address for loc, _ in fill} == {99}
    # pick: the branch not taken is dropped.
    pick = instantiate(s["Lab.pick"], sender=1, target=99, args=[True, 42])
    assert pick == [(Location(99, "Lab", "left", 42), WRITE)]
    # A wildcard covers the whole variable.
    (loc, mode), = instantiate(s["Lab.loop_local"], sender=1, target=99, args=[5])
    assert loc.is_wildcard and (loc.var, mode) == ("slots", WRITE)


def test_cross_contract_call_folds_in_the_callee(vault):
    s = summaries(vault)
    pay = s["Vault.pay"]
    token = S.Read(S.Self(), "Vault", "token", (), True)
    # Token.transfer runs with msg.sender = the vault (self) on the token's address.
    token_accesses = {(a.mode, a.keys) for a in pay.accesses if a.contract == "Token"}
    assert token_accesses == {(READ, (S.Self(),)), (WRITE, (S.Self(),)), (ADD, (S.Param("to", "address"),))}
    assert {a.address for a in pay.accesses if a.contract == "Token"} == {token}
    assert rows(pay) >= {("write", "Token.token.balances[self]", "immutable", "token"),
                         ("add", "Token.token.balances[to]", "immutable", "token")}
    assert str(only(pay, "balances", ADD).alias) == "to == self"
    # Concretely: the vault at 7 with its token at 500 pays 42.
    state = {(7, "Vault", "token", ()): 500}
    got = instantiate(pay, sender=1, target=7, args=[42, 10], read=lambda *loc: state[loc])
    assert set(got) == {(Location(7, "Vault", "token", ()), READ),
                        (Location(500, "Token", "balances", 7), READ),
                        (Location(500, "Token", "balances", 7), WRITE),
                        (Location(500, "Token", "balances", 42), ADD)}
    # A token given as an argument is exact.
    assert rows(s["Vault.pay_with"]) >= {("write", "Token.t.balances[self]", "exact", "t")}


def test_cross_contract_verdicts(vault):
    assert verdict(vault, "Token.transfer", "Vault.pay") == when(
        "a.self == b.token && (a.sender == b.self || a.sender == b.to || a.to == b.self)")
    assert verdict(vault, "Vault.pay", "Vault.pay") == ALWAYS  # both debit the vault's own balance
    assert verdict(vault, "Vault.pay", "Vault.pay_with") == when("token == b.t")
    assert verdict(vault, "Vault.pay_with", "Vault.pay_with") == when("a.t == b.t")
    assert verdict(vault, "Vault.pay", "Vault.by_balance") == ALWAYS
    assert verdict(vault, "Counter.next", "Vault.ticket") == when("a.self == b.counter")
    assert verdict(vault, "Vault.once", "Vault.pay") == NEVER


def test_a_condition_left_with_nothing_it_can_say_names_what_it_depends_on(tmp_path):
    """``m[k]`` with ``k`` one of two arguments, against ``m[ps[i] * 2]`` for an array's elements:
    the elements cannot be printed, and what is left (``!a.c || a.c``) holds for every two calls:
    the condition says what it depends on instead.  Storage values and elements a loop walks are
    printed."""
    path = write(tmp_path, "c.lane", """
        contract C {
            storage m: map<u256, u256>;
            storage ptr: map<address, u256>;
            pub fn shadow(a: u256, b: u256, c: bool) { let k = a; if c { k = b; } m[k] = 5; }
            pub fn doubled(ps: array<u256, 4>) { for i in 0..len(ps) { m[ps[i] * 2] = i; } }
            pub fn each(ps: array<u256, 4>) { for i in 0..len(ps) { m[ps[i]] = i; } }
            pub fn pointed(x: u256) { m[ptr[msg.sender]] = x; }
            pub fn point(v: u256) { ptr[msg.sender] = v; }
        }
        """)
    assert verdict(path, "C.shadow", "C.doubled") == when("(depends on array elements)")
    assert verdict(path, "C.shadow", "C.each") == when("(!a.c && a.a in b.ps) || (a.b in b.ps && a.c)")
    assert verdict(path, "C.shadow", "C.pointed") == when(
        "(!a.c && a.a == b.ptr[b.sender]) || (a.b == b.ptr[b.sender] && a.c)")


def test_key_from_a_cross_contract_result(vault):
    s = summaries(vault)
    # Counter.next returns n after writing it: the analysis cannot follow it, so the key is a wildcard.
    assert ("write", "Vault.tickets[*]", "wildcard", "self") in rows(s["Vault.ticket"])
    # Token.balance_of(self) reads storage that transactions write: a dynamic key.
    assert ("write", "Vault.tickets[token.balances[self]]", "dynamic", "self") in rows(s["Vault.by_balance"])
    assert verdict(vault, "Vault.by_balance", "Vault.by_balance") == when(
        "a.token.balances[self] == b.token.balances[self]")


# ------------------------------------------------------------------ hot spots


def _hot_spots(path) -> dict[str, list]:
    out: dict[str, list] = {}
    for h in _data(str(path)).hot_spots:
        out.setdefault(h.function, []).append(h.diagnostic)
    return out


def test_hot_spot_warnings(lab):
    spots = _hot_spots(lab)
    (counter,) = spots["Lab.set_counter"]
    assert counter.severity.value == "warning"
    assert "Lab.set_counter" in counter.message and "Lab.counter" in counter.message
    assert counter.hint and "msg.sender" in counter.hint
    assert counter.location.line == LAB.lstrip("\n").splitlines().index(
        "    pub fn set_counter(v: u256) { counter = v; }") + 1
    (config,) = spots["Lab.set_config"]
    assert "Lab.config[3]" in config.message and config.hint
    (owned,) = spots["Lab.set_owned"]
    assert "Lab.config[owner]" in owned.message
    assert "Lab.grid[i][7]" in spots["Lab.fill"][0].message
    # Keys that depend on the arguments or the sender, adds, wildcards and views: no warning.
    for fn in ("even", "odd", "place", "place_next", "pick", "set_left", "each", "row", "bump", "credit",
               "deposit", "move_to", "loop_local", "get", "balance_of"):
        assert f"Lab.{fn}" not in spots, fn


def test_hot_spot_suggests_adds_for_a_read_modify_write(vault):
    spots = _hot_spots(vault)
    (pay,) = spots["Vault.pay"]
    assert "Token.token.balances[self]" in pay.message
    assert "+= / -=" in pay.hint
    assert "Vault.pay_with" not in spots


def test_hot_spots_of_the_examples():
    spots = _hot_spots(EXAMPLES / "token.lane")
    assert list(spots) == ["Token.transfer_ownership"]
    assert "Token.owner" in spots["Token.transfer_ownership"][0].message
    dao = _hot_spots(EXAMPLES / "dao.lane")
    assert any("Dao.next_id" in d.message for d in dao["Dao.propose"])
    assert "Dao.vote" not in dao
    assert "Nft.mint" not in _hot_spots(EXAMPLES / "nft.lane")


def test_a_hot_spot_on_a_path_says_which_calls_conflict(tmp_path):
    # `if a > 10 { n = a; }`: only the calls with a > 10 write n, and only those conflict.
    spots = _hot_spots(write(tmp_path, "s.lane", """
        contract S {
            storage n: u256;
            pub fn big(a: u256) { if a > 10 { n = a; } }
            pub fn any(a: u256) { n = a; }
        }
        """))
    assert [d.message for d in spots["S.big"]] == [
        "hot spot: every call of S.big where a > 10 writes S.n, so any two such calls conflict and run one "
        "after the other"]
    assert [d.message for d in spots["S.any"]] == [
        "hot spot: every call of S.any writes S.n, so any two calls of it conflict and run one after the other"]


def test_lane_check_shows_hot_spots_and_exits_0(lab):
    proc = run_lane("check", str(lab))
    assert proc.returncode == 0, proc.stderr
    line = LAB.lstrip("\n").splitlines().index("    pub fn set_counter(v: u256) { counter = v; }") + 1
    column = LAB.lstrip("\n").splitlines()[line - 1].index("counter = v") + 1
    assert (f"{lab}:{line}:{column}: warning: hot spot: every call of Lab.set_counter writes Lab.counter"
            in proc.stderr)
    assert "hint:" in proc.stderr
    assert ": error:" not in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ worst-case cost


def test_worst_case_cost_of_loops_and_calls(vault):
    s = {q: x.cost for q, x in summaries(vault).items()}
    once, ten, twenty, thirty = s["Vault.once"], s["Vault.ten"], s["Vault.twenty"], s["Vault.thirty"]
    # A loop costs its bound times its body (plus a constant): linear in the bound.
    assert thirty - twenty == twenty - ten > 0
    assert ten - (twenty - ten) >= 0  # the constant part
    assert (twenty - ten) >= 10 * once
    # The exact model of compiler/analysis/cost.py: one step for the loop, one per iteration.
    assert ten == 1 + 10 * (once + 1)
    # Calls include the callee's cost, in loops too.
    transfer = s["Token.transfer"]
    assert s["Vault.one_call"] > transfer
    assert s["Vault.ten_calls"] == 1 + 10 * (s["Vault.one_call"] + 1)
    # An if costs its condition, its costlier branch's straight-line cost (charged when the function
    # is entered, whichever branch then runs: `last = x` is 4) and its costlier branch's loops.
    assert s["Vault.branchy"] > s["Vault.once"]
    assert s["Vault.branchy"] == 1 + 1 + 4 + 5 * (once + 1)


def test_cost_is_in_the_json(vault):
    item = function_json(summaries(vault)["Vault.ten"])
    assert item["cost"] == summaries(vault)["Vault.ten"].cost
