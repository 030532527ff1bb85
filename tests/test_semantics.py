"""Execution semantics of a transaction (SPEC §1.6), through the Python API and ``lane run --json``."""

from __future__ import annotations

import pytest

from compiler.runtime.chain import Chain
from runtime_helpers import (MAX, ZERO_ADDRESS, instance, lane_json, make_world, receipts, run_block, tx,
                             write_block)

MATH = """
contract Math {
    storage total: u256;
    storage hits: u256;
    storage flags: map<u256, bool>;
    storage owners: map<u256, address>;
    storage grid: map<(address, u256), u256>;
    storage nested: map<address, map<u256, u256>>;
    storage refs: map<u256, Math>;

    event Step(i: u256, value: u256);
    event Flag(key: u256, on: bool, who: address);

    pub fn add(a: u256, b: u256) -> u256 { return a + b; }
    pub fn sub(a: u256, b: u256) -> u256 { return a - b; }
    pub fn mul(a: u256, b: u256) -> u256 { return a * b; }
    pub fn div(a: u256, b: u256) -> u256 { return a / b; }
    pub fn rem(a: u256, b: u256) -> u256 { return a % b; }

    pub fn store_add(a: u256) -> u256 { total += a; return total; }
    pub fn store_sub(a: u256) -> u256 { total -= a; return total; }
    pub fn store_mul(a: u256) -> u256 { total *= a; return total; }
    pub fn store_div(a: u256) -> u256 { total /= a; return total; }

    pub fn check(c: bool) { hits += 1; require(c); }
    pub fn check_msg(c: bool) { hits += 1; require(c, "c must hold"); }
    pub fn fail(n: u256) { total += n; emit Step(0, n); revert("failed on purpose"); }

    pub fn pick(xs: array<u256, 4>, i: u256) -> u256 { return xs[i]; }
    pub fn sum(xs: array<u256, 4>) -> u256 {
        let s: u256 = 0;
        for i in 0..len(xs) { s += xs[i]; }
        return s;
    }
    pub fn count_to(n: u256) -> u256 {
        let c: u256 = 0;
        for i in 0..min(n, 3) { c += 10; emit Step(i, c); }
        return c;
    }
    pub fn range_sum() -> u256 {
        let s: u256 = 0;
        for i in 3..6 { s += i; }
        return s;
    }

    fn boom() -> bool { revert("boom"); }
    fn double(x: u256) -> u256 { return x * 2; }
    fn record(x: u256) { total += x; emit Step(99, x); }

    pub fn and_guard(a: u256) -> bool { return a != 0 && 100 / a > 10; }
    pub fn or_guard(a: u256) -> bool { return a == 0 || 100 / a > 10; }
    pub fn and_skips(c: bool) -> bool { return c && boom(); }
    pub fn or_skips(c: bool) -> bool { return c || boom(); }

    pub fn internal(x: u256) -> u256 { record(x); return double(x) + 1; }
    pub fn internal_then_fail(x: u256) { record(x); require(x < 10, "x too large"); }

    pub fn when() -> u256 { return block.number; }
    pub fn stamp() -> u256 { return block.timestamp; }

    pub fn set_flag(k: u256, on: bool) {
        flags[k] = on;
        owners[k] = msg.sender;
        emit Flag(k, on, msg.sender);
        emit Step(k, 1);
    }
    pub fn set_grid(a: address, k: u256, v: u256) { grid[a, k] = v; nested[a][k] = v; }

    pub view fn flag(k: u256) -> bool { return flags[k]; }
    pub view fn owner(k: u256) -> address { return owners[k]; }
    pub view fn cell(a: address, k: u256) -> u256 { return grid[a, k]; }
    pub view fn deep(a: address, k: u256) -> u256 { return nested[a][k]; }
    pub view fn ref(k: u256) -> Math { return refs[k]; }
    pub view fn get_total() -> u256 { return total; }
    pub view fn get_hits() -> u256 { return hits; }
    pub view fn me() -> address { return self; }
    pub view fn truth() -> bool { return true; }
}
"""

CALLS = """
contract Counter {
    storage count: u256;
    storage last_caller: address;
    storage by: map<address, u256>;
    event Bumped(caller: address, n: u256, total: u256);

    pub fn bump(n: u256) -> u256 {
        count += n;
        last_caller = msg.sender;
        by[msg.sender] += n;
        emit Bumped(msg.sender, n, count);
        return count;
    }
    pub fn bump_then_fail(n: u256) {
        count += n;
        emit Bumped(msg.sender, n, count);
        revert("callee failed");
    }
    pub view fn get() -> u256 { return count; }
    pub view fn caller() -> address { return last_caller; }
    pub view fn by_of(a: address) -> u256 { return by[a]; }
}

contract Caller {
    storage target: Counter;
    storage unset: Counter;
    storage calls: u256;
    event Called(n: u256);

    init(t: Counter) { target = t; }

    pub fn call_bump(n: u256) -> u256 {
        calls += 1;
        emit Called(n);
        let r = target.bump(n);
        emit Called(r);
        return r;
    }
    pub fn callee_fails(n: u256) {
        calls += 1;
        emit Called(n);
        target.bump(n);
        target.bump_then_fail(n);
    }
    pub fn caller_fails(n: u256) {
        calls += 1;
        emit Called(n);
        target.bump(n);
        require(n < 10, "n too large");
    }
    pub fn call_at(a: address, n: u256) -> u256 { calls += 1; return Counter(a).bump(n); }
    pub fn call_ref(c: Counter, n: u256) -> u256 { return c.bump(n); }
    pub fn call_unset() -> u256 { return unset.get(); }
    pub view fn get_calls() -> u256 { return calls; }
}
"""

MATH_ADDR = instance("math")
COUNTER_ADDR = instance("counter")
CALLER_ADDR = instance("caller")
ALICE = "0x00000000000000000000000000000000000a11ce"


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, {"math.lane": MATH, "calls.lane": CALLS}, [
        {"name": "math", "source": "math.lane", "contract": "Math"},
        {"name": "counter", "source": "calls.lane", "contract": "Counter"},
        {"name": "caller", "source": "calls.lane", "contract": "Caller", "args": ["counter"]},
    ], accounts={"alice": ALICE})


@pytest.fixture
def chain(world):
    c = Chain.open(world)
    yield c
    c.close()


def one(chain, fn, *args, to="math", sender="alice"):
    """Run a one-transaction block; its receipt (status, reason, return, events)."""
    return receipts(run_block(chain, [tx(sender, to, fn, *args)]))[0]


def ok(value, events=()):
    return {"status": "ok", "reason": None, "return": value, "events": list(events)}


def reverted(reason):
    return {"status": "reverted", "reason": reason, "return": None, "events": []}


def view(chain, contract, fn, *args):
    return chain.call(contract, fn, list(args))[1]


def step(i, value, contract="math"):
    return {"contract": contract, "event": "Step", "args": [str(i), str(value)]}


# ------------------------------------------------------------------ arithmetic

def test_addition_overflows_only_past_max(chain):
    assert one(chain, "add", str(MAX), 1) == reverted("arithmetic overflow")
    assert one(chain, "add", 1, str(MAX)) == reverted("arithmetic overflow")
    assert one(chain, "add", str(MAX), str(MAX)) == reverted("arithmetic overflow")
    assert one(chain, "add", str(MAX), 0) == ok(str(MAX))
    assert one(chain, "add", str(MAX - 1), 1) == ok(str(MAX))


def test_subtraction_underflows_below_zero(chain):
    assert one(chain, "sub", 0, 1) == reverted("arithmetic underflow")
    assert one(chain, "sub", 5, 6) == reverted("arithmetic underflow")
    assert one(chain, "sub", 1, str(MAX)) == reverted("arithmetic underflow")
    assert one(chain, "sub", 5, 5) == ok("0")
    assert one(chain, "sub", str(MAX), 1) == ok(str(MAX - 1))


def test_multiplication_overflow(chain):
    assert one(chain, "mul", str(2**128), str(2**128)) == reverted("arithmetic overflow")
    assert one(chain, "mul", str(MAX), 2) == reverted("arithmetic overflow")
    assert one(chain, "mul", str(2**128), str(2**128 - 1)) == ok(str(2**256 - 2**128))
    assert one(chain, "mul", str(MAX), 1) == ok(str(MAX))
    assert one(chain, "mul", str(MAX), 0) == ok("0")


def test_division_and_modulo(chain):
    assert one(chain, "div", 7, 0) == reverted("division by zero")
    assert one(chain, "div", 0, 0) == reverted("division by zero")
    assert one(chain, "rem", 7, 0) == reverted("division by zero")
    assert one(chain, "div", 7, 2) == ok("3")
    assert one(chain, "rem", 7, 2) == ok("1")
    assert one(chain, "div", str(MAX), str(MAX)) == ok("1")
    assert one(chain, "rem", str(MAX), 10) == ok(str(MAX % 10))


def test_max_value_round_trips_as_decimal_string(chain):
    # 2^256-1 does not fit in a JSON number: it is given and returned as a decimal string.
    assert one(chain, "store_add", str(MAX)) == ok(str(MAX))
    assert view(chain, "math", "get_total") == MAX
    assert one(chain, "store_add", 1) == reverted("arithmetic overflow")
    assert view(chain, "math", "get_total") == MAX  # the failed += changed nothing
    assert one(chain, "store_mul", 2) == reverted("arithmetic overflow")
    assert one(chain, "store_sub", str(MAX)) == ok("0")
    assert one(chain, "store_sub", 1) == reverted("arithmetic underflow")
    assert one(chain, "store_div", 0) == reverted("division by zero")
    assert view(chain, "math", "get_total") == 0


def test_a_reverted_write_leaves_the_state_root_unchanged(chain):
    run_block(chain, [tx("alice", "math", "store_add", 10)])
    root = chain.state_root()
    result = run_block(chain, [tx("alice", "math", "fail", 5), tx("alice", "math", "store_sub", 11)])
    assert receipts(result) == [reverted("failed on purpose"), reverted("arithmetic underflow")]
    assert result.state_root == root
    assert view(chain, "math", "get_total") == 10


# -------------------------------------------------------------- require/revert

def test_require_without_and_with_message(chain):
    assert one(chain, "check", False) == reverted("require failed")
    assert one(chain, "check_msg", False) == reverted("c must hold")
    assert view(chain, "math", "get_hits") == 0  # the writes before require are undone
    assert one(chain, "check", True) == ok(None)
    assert one(chain, "check_msg", True) == ok(None)
    assert view(chain, "math", "get_hits") == 2


def test_revert_discards_its_writes_and_events(chain):
    assert one(chain, "fail", 3) == reverted("failed on purpose")
    assert view(chain, "math", "get_total") == 0


def test_array_index_out_of_range(chain):
    assert one(chain, "pick", ["10", "20", "30"], 2) == ok("30")
    assert one(chain, "pick", ["10", "20", "30"], 3) == reverted("index out of range")
    assert one(chain, "pick", [], 0) == reverted("index out of range")
    assert one(chain, "pick", [1, 2, 3, 4], str(MAX)) == reverted("index out of range")


# ---------------------------------------------------------- cross-contract calls

def test_cross_contract_call_and_msg_sender(chain):
    result = run_block(chain, [tx("alice", "caller", "call_bump", 4), tx("bob", "caller", "call_bump", 3)])
    assert receipts(result) == [
        ok("4", [{"contract": "caller", "event": "Called", "args": ["4"]},
                 {"contract": "counter", "event": "Bumped", "args": [CALLER_ADDR, "4", "4"]},
                 {"contract": "caller", "event": "Called", "args": ["4"]}]),
        ok("7", [{"contract": "caller", "event": "Called", "args": ["3"]},
                 {"contract": "counter", "event": "Bumped", "args": [CALLER_ADDR, "3", "7"]},
                 {"contract": "caller", "event": "Called", "args": ["7"]}]),
    ]
    # In the callee, msg.sender is the calling contract, not the transaction's sender.
    assert view(chain, "counter", "caller") == int(CALLER_ADDR, 16)
    assert view(chain, "counter", "by_of", "caller") == 7
    assert view(chain, "counter", "by_of", "alice") == 0
    assert view(chain, "counter", "by_of", "bob") == 0
    assert view(chain, "caller", "get_calls") == 2
    assert result.receipts_json[0]["events"][1]["address"] == COUNTER_ADDR


def test_revert_in_nested_call_undoes_caller_and_callee(chain):
    run_block(chain, [tx("alice", "caller", "call_bump", 1)])
    root = chain.state_root()
    result = run_block(chain, [
        tx("alice", "caller", "callee_fails", 2),   # the callee reverts after the caller wrote and emitted
        tx("alice", "caller", "caller_fails", 50),  # the caller reverts after a successful nested call
        tx("alice", "caller", "caller_fails", 5),
    ])
    assert receipts(result)[:2] == [reverted("callee failed"), reverted("n too large")]
    assert receipts(result)[2] == ok(None, [
        {"contract": "caller", "event": "Called", "args": ["5"]},
        {"contract": "counter", "event": "Bumped", "args": [CALLER_ADDR, "5", "6"]},
    ])
    assert view(chain, "counter", "get") == 6
    assert view(chain, "counter", "by_of", "caller") == 6
    assert view(chain, "caller", "get_calls") == 2

    # Alone, the two failing transactions change nothing at all.
    chain2 = Chain.open(chain.world.path)
    run_block(chain2, [tx("alice", "caller", "call_bump", 1)])
    failed = run_block(chain2, [tx("alice", "caller", "callee_fails", 2), tx("alice", "caller", "caller_fails", 50)])
    assert failed.state_root == root
    assert [r["events"] for r in failed.receipts_json] == [[], []]


def test_bad_call_target(chain):
    assert one(chain, "call_at", "counter", 2, to="caller") == ok("2", [
        {"contract": "counter", "event": "Bumped", "args": [CALLER_ADDR, "2", "2"]}])
    assert one(chain, "call_at", "bob", 2, to="caller") == reverted("bad call target")          # no contract
    assert one(chain, "call_at", "math", 2, to="caller") == reverted("bad call target")         # a Math
    assert one(chain, "call_at", "caller", 2, to="caller") == reverted("bad call target")       # a Caller
    assert one(chain, "call_at", ZERO_ADDRESS, 2, to="caller") == reverted("bad call target")
    assert one(chain, "call_ref", "math", 1, to="caller") == reverted("bad call target")
    assert one(chain, "call_ref", COUNTER_ADDR, 1, to="caller") == ok("3", [
        {"contract": "counter", "event": "Bumped", "args": [CALLER_ADDR, "1", "3"]}])
    assert one(chain, "call_unset", to="caller") == reverted("bad call target")  # a zero-valued reference
    assert view(chain, "caller", "get_calls") == 1  # only the successful call_at counted


# ----------------------------------------------------------------- expressions

def test_short_circuit_and_or(chain):
    assert one(chain, "and_guard", 0) == ok(False)    # 100 / 0 is not evaluated
    assert one(chain, "and_guard", 5) == ok(True)     # 100 / 5 = 20 > 10
    assert one(chain, "and_guard", 50) == ok(False)   # 100 / 50 = 2
    assert one(chain, "or_guard", 0) == ok(True)
    assert one(chain, "or_guard", 9) == ok(True)      # 11 > 10
    assert one(chain, "or_guard", 10) == ok(False)
    assert one(chain, "and_skips", False) == ok(False)
    assert one(chain, "and_skips", True) == reverted("boom")
    assert one(chain, "or_skips", True) == ok(True)
    assert one(chain, "or_skips", False) == reverted("boom")


def test_bounded_loops(chain):
    assert one(chain, "sum", []) == ok("0")
    assert one(chain, "sum", [1, 2, "3", 4]) == ok("10")
    assert one(chain, "sum", [str(MAX), 0, 0]) == ok(str(MAX))
    assert one(chain, "sum", [str(MAX), 1]) == reverted("arithmetic overflow")
    assert one(chain, "range_sum") == ok("12")
    assert one(chain, "count_to", 0) == ok("0")
    assert one(chain, "count_to", 2) == ok("20", [step(0, 10), step(1, 20)])
    assert one(chain, "count_to", str(MAX)) == ok("30", [step(0, 10), step(1, 20), step(2, 30)])


def test_internal_calls(chain):
    assert one(chain, "internal", 4) == ok("9", [step(99, 4)])
    assert view(chain, "math", "get_total") == 4
    assert one(chain, "internal_then_fail", 20) == reverted("x too large")
    assert view(chain, "math", "get_total") == 4  # the internal call's write is undone
    assert one(chain, "internal_then_fail", 3) == ok(None, [step(99, 3)])
    assert view(chain, "math", "get_total") == 7


# ----------------------------------------------------------------- block values

def test_block_number_and_timestamp(chain):
    r = run_block(chain, [tx("a", "math", "when"), tx("a", "math", "stamp")])
    assert (r.number, r.timestamp) == (1, 12)
    assert [x["return"] for x in receipts(r)] == ["1", "12"]
    r = run_block(chain, [tx("a", "math", "when"), tx("a", "math", "stamp")], number=7)
    assert [x["return"] for x in receipts(r)] == ["7", "84"]
    r = run_block(chain, [tx("a", "math", "when"), tx("a", "math", "stamp")], number=9, timestamp=1_700_000_000)
    assert [x["return"] for x in receipts(r)] == ["9", "1700000000"]
    r = run_block(chain, [tx("a", "math", "stamp")])  # time does not go back to 12 x 10
    assert (r.number, receipts(r)[0]["return"]) == (10, "1700000000")


def test_block_number_and_timestamp_on_the_command_line(world, tmp_path):
    block = write_block(tmp_path, [tx("a", "math", "when"), tx("a", "math", "stamp")])
    out = lane_json("run", str(world), str(block), cwd=tmp_path)
    assert [r["return"] for r in out["receipts"]] == ["1", "12"]
    out = lane_json("run", str(world), str(block), "--number", "5", cwd=tmp_path)
    assert [r["return"] for r in out["receipts"]] == ["5", "60"]
    out = lane_json("run", str(world), str(block), "--number", "5", "--timestamp", "1000", cwd=tmp_path)
    assert [r["return"] for r in out["receipts"]] == ["5", "1000"]
    out = lane_json("run", str(world), str(block), "--timestamp", "77", cwd=tmp_path)
    assert [r["return"] for r in out["receipts"]] == ["1", "77"]


# ----------------------------------------------------------------- events, reads

def test_events_in_order_with_args(chain):
    result = run_block(chain, [tx("alice", "math", "set_flag", 3, True), tx("bob", "math", "count_to", 2)])
    assert result.receipts_json[0]["events"] == [
        {"contract": "math", "address": MATH_ADDR, "event": "Flag", "args": ["3", True, ALICE]},
        {"contract": "math", "address": MATH_ADDR, "event": "Step", "args": ["3", "1"]},
    ]
    assert receipts(result)[1]["events"] == [step(0, 10), step(1, 20)]


def test_unwritten_keys_read_as_zero(chain):
    result = run_block(chain, [
        tx("a", "math", "flag", 1), tx("a", "math", "owner", 1), tx("a", "math", "cell", "bob", 1),
        tx("a", "math", "deep", "bob", 1), tx("a", "math", "ref", 1), tx("a", "math", "get_total"),
        tx("alice", "math", "set_flag", 1, True), tx("alice", "math", "set_grid", "bob", 1, 9),
        tx("a", "math", "flag", 1), tx("a", "math", "owner", 1), tx("a", "math", "cell", "bob", 1),
        tx("a", "math", "deep", "bob", 1), tx("a", "math", "cell", "bob", 2), tx("a", "math", "deep", "carol", 1),
        tx("a", "math", "flag", 2),
    ])
    assert [r["return"] for r in receipts(result)] == [
        False, ZERO_ADDRESS, "0", "0", ZERO_ADDRESS, "0", None, None,
        True, ALICE, "9", "9", "0", "0", False]


def test_return_values_are_formatted(chain):
    result = run_block(chain, [tx("a", "math", "me"), tx("a", "math", "truth"), tx("a", "math", "add", 1, 2),
                               tx("a", "math", "add", "0x10", "1_000"), tx("a", "math", "check", True)])
    assert [r["return"] for r in result.receipts_json] == [MATH_ADDR, True, "3", "1016", None]
    assert MATH_ADDR.startswith("0x") and len(MATH_ADDR) == 42 and MATH_ADDR == MATH_ADDR.lower()


def test_receipt_json_fields(world, tmp_path):
    block = write_block(tmp_path, [tx("alice", "math", "set_flag", 1, True), tx("a", "math", "sub", 0, 1),
                                   tx("a", "nobody", "f")])
    out = lane_json("run", str(world), str(block), cwd=tmp_path)
    assert [{k: r[k] for k in ("status", "reason", "return", "events")} for r in out["receipts"]] == [
        {"status": "ok", "reason": None, "return": None, "events": [
            {"contract": "math", "address": MATH_ADDR, "event": "Flag", "args": ["1", True, ALICE]},
            {"contract": "math", "address": MATH_ADDR, "event": "Step", "args": ["1", "1"]}]},
        {"status": "reverted", "reason": "arithmetic underflow", "return": None, "events": []},
        {"status": "invalid", "reason": "unknown contract 'nobody'", "return": None, "events": []},
    ]


# ------------------------------------------------------------------ invalid txs

INVALID = [
    (tx("alice", "nobody", "add", 1, 2), "unknown contract 'nobody'"),
    (tx("alice", "0x" + "ab" * 20, "add", 1, 2), "unknown contract '0x" + "ab" * 20 + "'"),
    (tx("alice", "math", "nope"), "unknown function 'nope' of Math"),
    (tx("alice", "math", "double", 1), "function 'Math.double' is not pub"),
    (tx("alice", "math", "add", 1), "Math.add takes 2 arguments, found 1"),
    (tx("alice", "math", "add", 1, 2, 3), "Math.add takes 2 arguments, found 3"),
    (tx("alice", "math", "add", "abc", 2), "argument 'a' must be an integer, found 'abc'"),
    (tx("alice", "math", "add", True, 2), "argument 'a' must be an integer, not a boolean"),
    (tx("alice", "math", "add", 1.5, 2), "argument 'a' must be an integer, found a decimal number"),
    (tx("alice", "math", "add", -1, 2), "argument 'a' must not be negative, found -1"),
    (tx("alice", "math", "add", str(MAX + 1), 2), "argument 'a' exceeds 2^256-1"),
    (tx("alice", "math", "check", 1), "argument 'c' must be true or false, found 1"),
    (tx("alice", "math", "check", "TRUE"), "argument 'c' must be true or false, found 'TRUE'"),
    (tx("alice", "math", "check", "True"), "argument 'c' must be true or false, found 'True'"),
    (tx("alice", "math", "set_grid", [1], 1, 1), "argument 'a' must be an address (a name or 0x hex), found a list"),
    # An address is a name or 0x hex in a file (SPEC §3), never a number.
    (tx("alice", "math", "set_grid", 7, 1, 1),
     "argument 'a' must be an address (a name or 0x hex), found the number 7"),
    (tx(5, "math", "add", 1, 2), "'from' must be an address (a name or 0x hex), found the number 5"),
    (tx("alice", "math", "sum", [1, 2, 3, 4, 5]),
     "argument 'xs' has 5 elements; its type array<u256, 4> allows at most 4"),
    (tx("alice", "math", "sum", 5), "argument 'xs' must be a list, found int"),
    ('[1, 2]', "a transaction must be a JSON object"),
    ('"transfer"', "a transaction must be a JSON object"),
    ('42', "a transaction must be a JSON object"),
    ('null', "a transaction must be a JSON object"),
]


def test_invalid_transactions_change_nothing_and_do_not_stop_the_block(chain, world):
    good = [tx("alice", "math", "store_add", 5), tx("alice", "math", "set_flag", 2, True)]
    block = [good[0]] + [line for line, _ in INVALID] + [good[1]]
    result = run_block(chain, block)
    got = receipts(result)
    assert got[0] == ok("5")
    assert [(r["status"], r["reason"], r["return"], r["events"]) for r in got[1:-1]] == [
        ("invalid", reason, None, []) for _, reason in INVALID]
    assert got[-1]["status"] == "ok"
    assert result.counts() == {"ok": 2, "reverted": 0, "invalid": len(INVALID)}
    # The same state as running the valid transactions alone.
    alone = Chain.open(world)
    assert run_block(alone, good).state_root == result.state_root
    assert view(chain, "math", "get_total") == 5


def test_invalid_transactions_on_the_command_line(world, tmp_path):
    block = write_block(tmp_path, [line for line, _ in INVALID] + [tx("alice", "math", "add", 2, 3)])
    out = lane_json("run", str(world), str(block), cwd=tmp_path)
    assert [(r["status"], r["reason"]) for r in out["receipts"]] == (
        [("invalid", reason) for _, reason in INVALID] + [("ok", None)])
    assert out["receipts"][-1]["return"] == "5"


# ------------------------------------------- reads after writes (codegen reuse)

CACHE = """
contract Cache {
    storage m: map<u256, u256>;
    storage x: u256;
    storage pair: map<(address, u256), u256>;

    fn setx(v: u256) -> u256 { x = v; return v; }
    fn incm(k: u256) -> u256 { m[k] += 1; return m[k]; }

    pub fn t1() -> u256 { let a = x; setx(a + 5); return x * 10 + a; }
    pub fn t2() -> u256 { return x + setx(7) + x; }
    pub fn t3(k: u256, j: u256) -> u256 { let a = m[k]; m[j] = 10; return a + m[k]; }
    pub fn t4() -> u256 { let s: u256 = 0; for i in 0..3 { s += m[1]; m[1] += 2; } return s * 100 + m[1]; }
    pub fn t5(c: bool) -> u256 { let a = x; if c { x = 100; } return a + x; }
    pub fn t6(c: bool) -> u256 { let ok = c && x > 0; x += 1; if ok { return x + 1000; } return x; }
    pub fn t7() -> u256 { let k: u256 = 1; m[k] = 5; k = 2; return m[k] * 10 + m[1]; }
    pub fn t8() -> u256 {
        let s: u256 = 0;
        let a = m[3];
        for i in 0..2 { s += incm(3); }
        return s * 100 + a * 10 + m[3];
    }
    pub fn t9() -> u256 {
        for i in 0..3 { m[i] = i + 1; }
        let s: u256 = 0;
        for i in 0..3 { s += m[i]; }
        return s;
    }
    pub fn t10(n: u256) -> u256 {
        let a = x;
        if n == 0 { x = 1; } else if n == 1 { x = 2; } else { m[0] = 1; }
        return a * 1000 + x;
    }
    pub fn t11(c: bool) -> u256 { let a = m[7]; if c { m[7] += 3; } else { m[7] *= 1; } return a * 100 + m[7]; }
    pub fn t12() -> u256 { x = 3; let s: u256 = 0; for i in 0..min(x, 10) { x += 1; s += x; } return s * 100 + x; }
    pub fn t13(a: address, k: u256, j: u256) -> u256 { pair[a, k] = 4; pair[msg.sender, j] += 1; return pair[a, k]; }
    pub fn t14(k: u256) -> u256 { let before = m[k]; m[k] = before + 1; require(m[k] < 3, "too many"); return m[k]; }
    pub fn t15(c: bool) -> u256 {
        let a = m[9];
        if c { m[9] = 1; } else if m[9] == 0 { m[9] = 2; }
        return a * 100 + m[9];
    }
    pub fn t16() -> u256 { let s: u256 = 0; for i in 0..3 { if i == 1 { x = 50; } s += x; } return s; }
    pub view fn getm(k: u256) -> u256 { return m[k]; }
}
"""


@pytest.mark.parametrize("fn, args, expected", [
    ("t1", [], "50"),            # an internal call's write is seen after it
    ("t2", [], "14"),            # x + setx(7) + x = 0 + 7 + 7
    ("t3", [4, 4], "10"),        # the write to m[j] is the same location as m[k]
    ("t3", [4, 5], "0"),
    ("t4", [], "606"),           # s = 0 + 2 + 4, m[1] = 6
    ("t5", [True], "100"),
    ("t5", [False], "0"),
    ("t6", [True], "1"),         # x > 0 was false when read
    ("t7", [], "5"),             # a reassigned local as a key
    ("t8", [], "302"),           # internal writes in a loop
    ("t9", [], "6"),             # keys from the loop variable
    ("t10", [0], "1"),
    ("t10", [1], "2"),
    ("t10", [2], "0"),
    ("t11", [True], "3"),
    ("t11", [False], "0"),
    ("t12", [], "1506"),         # the bound is read once: 3 iterations, x = 4, 5, 6
    ("t13", ["bob", 1, 1], "5"),  # pair[a, k] and pair[msg.sender, j] are one location
    ("t13", ["carol", 1, 1], "4"),
    ("t15", [False], "2"),
    ("t15", [True], "1"),
    ("t16", [], "100"),          # 0 + 50 + 50
])
def test_reads_see_earlier_writes(tmp_path, fn, args, expected):
    world = make_world(tmp_path, {"cache.lane": CACHE}, [{"name": "c", "source": "cache.lane", "contract": "Cache"}])
    chain = Chain.open(world)
    assert one(chain, fn, *args, to="c", sender="bob") == ok(expected)


def test_reads_after_writes_across_transactions(tmp_path):
    world = make_world(tmp_path, {"cache.lane": CACHE}, [{"name": "c", "source": "cache.lane", "contract": "Cache"}])
    chain = Chain.open(world)
    result = run_block(chain, [tx("bob", "c", "t14", 8)] * 3 + [tx("bob", "c", "t4"), tx("bob", "c", "t4")])
    # t4 again: s = 6 + 8 + 10, m[1] = 12.
    assert receipts(result) == [ok("1"), ok("2"), reverted("too many"), ok("606"), ok("2412")]
    assert [view(chain, "c", "getm", k) for k in (8, 1)] == [2, 12]
