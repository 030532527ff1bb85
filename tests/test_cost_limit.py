"""The per-transaction cost limit, and generated names that cannot collide.

A world's transactions each get a budget of cost units (``[chain] cost_limit``,
1,000,000 by default); generated code charges a function's straight-line cost
when it is entered and a loop body's at each iteration, so what a transaction
is charged depends on its path alone: the same in every executor.  Past the
limit it reverts with ``cost limit exceeded``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import MAX, block_text, make_world, run_block, tx, write_block
from typer.testing import CliRunner

from compiler.analysis.cost import (
    DEFAULT_COST_LIMIT,
    entry_cost,
    function_cost,
    iteration_cost,
)
from compiler.cli import app
from compiler.codegen.python import mangle
from compiler.diagnostics import LaneError
from compiler.pipeline import CompilerData
from compiler.runtime import parallel
from compiler.runtime.block import parse_block_text, read_block
from compiler.runtime.chain import Chain
from compiler.runtime.world import load_world
from compiler.semantics import types as T
from compiler.syntax import ast
from fuzzing import examples

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

LOOP = """
contract Loop {
    storage x: u256;
    storage mine: map<address, u256>;

    pub fn spin() {
        for i in 0..115792089237316195423570985008687907853269984665640564039457584007913129639935 {
            mine[msg.sender] += 1;
        }
    }

    // steps(n) costs 2 + 7 n: 2 when it is entered (the loop's header 1, min(...) 1), then 7 an
    // iteration (1, and the body's statement 1, storage write 3 and read 2).
    pub fn steps(n: u256) {
        for i in 0..min(n, 1000) { x += 1; }
    }

    pub view fn total() -> u256 { return x; }
}
"""
SPIN = "the worst-case cost of Loop.spin is about 8.1e77, more than the default limit of 1,000,000 per " \
       "transaction: a call that reaches the limit reverts with \"cost limit exceeded\""


def _loop_world(tmp_path: Path, chain: str = "") -> Path:
    world = make_world(tmp_path, {"loop.lane": LOOP}, [{"name": "loop", "source": "loop.lane", "contract": "Loop"}])
    if chain:
        world.write_text(chain + "\n" + world.read_text())
    return world


def _cli(*args: str):
    return runner.invoke(app, list(args))


# ================================================================== names

# Identifiers over a small alphabet: underscores and digits where they are most confusing.
IDENT = st.builds(lambda head, tail: head + tail, st.sampled_from("aV_"), st.text("aV_1", max_size=6))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(IDENT, IDENT), min_size=2, max_size=8, unique=True))
def test_distinct_contract_function_pairs_never_share_a_generated_name(pairs):
    names = [mangle(c, f) for c, f in pairs]
    assert len(set(names)) == len(pairs)
    assert all(n.isidentifier() and re.match(r"f\d+_", n) for n in names)


@settings(max_examples=examples(200), deadline=None)
@given(st.text("ab_", min_size=2, max_size=10), st.data())
def test_splitting_one_text_two_ways_gives_two_names(text, data):
    # The old scheme, contract + "__" + function, gave one name to Vault_ + deposit and Vault + _deposit.
    i = data.draw(st.integers(1, len(text) - 1))
    j = data.draw(st.integers(1, len(text) - 1).filter(lambda j: j != i))
    assert mangle(text[:i], text[i:]) != mangle(text[:j], text[j:])


VAULTS = """
contract Vault_ {
    storage hits: u256;
    pub fn deposit() -> u256 { hits += 1; return 1; }
    pub view fn seen() -> u256 { return hits; }
}

contract Vault {
    storage hits: u256;
    pub fn _deposit() -> u256 { hits += 100; return 2; }
    pub view fn seen() -> u256 { return hits; }
}
"""


def test_vault_underscore_deposit_and_vault_underscore_deposit_each_run_their_own_code(tmp_path):
    world = make_world(tmp_path, {"v.lane": VAULTS}, [
        {"name": "v_", "source": "v.lane", "contract": "Vault_"},
        {"name": "v", "source": "v.lane", "contract": "Vault"},
    ])
    assert _cli("check", str(tmp_path / "v.lane")).exit_code == 0
    block = write_block(tmp_path, [tx("alice", "v_", "deposit"), tx("alice", "v", "_deposit"),
                                   tx("bob", "v_", "deposit")])
    state = str(tmp_path / "s.sqlite")
    out = _cli("run", str(world), str(block), "--executor", "sequential", "--state", state, "--json")
    assert out.exit_code == 0, out.output
    receipts = json.loads(out.stdout)["receipts"]
    assert [(r["status"], r["return"]) for r in receipts] == [("ok", "1"), ("ok", "2"), ("ok", "1")]
    for name, hits in (("v_", "2\n"), ("v", "100\n")):
        got = _cli("call", str(world), name, "seen", "--state", state)
        assert (got.exit_code, got.stdout) == (0, hits)


# ================================================================== the static costs

CALLS = """
contract Acc {
    storage total: u256;

    fn bump(x: u256) { total += x; }

    pub fn run(n: u256) {
        for i in 0..min(n, 10) { bump(i); }
    }

    pub fn pick(big: bool) -> u256 {
        if big {
            for i in 0..3 { total += 1; }
        } else {
            total = total + total * 2;
        }
        return total;
    }
}
"""


def _function(tmp_path: Path, source: str, qualname: str):
    path = tmp_path / "c.lane"
    path.write_text(source)
    checked = CompilerData(path).require_checked()
    contract, name = qualname.split(".")
    return checked.contracts[contract].functions[name]


def test_straight_line_and_worst_case_costs_by_hand(tmp_path):
    run = _function(tmp_path, CALLS, "Acc.run")
    bump = run.contract.functions["bump"]
    loop = run.decl.body.stmts[0]
    assert isinstance(loop, ast.For)
    assert entry_cost(bump) == 6          # statement 1 + write 3 + read 2
    assert entry_cost(run) == 2           # the loop's header 1 + min(...) 1
    assert iteration_cost(loop) == 4      # 1 + the call statement 1 + the call 2
    assert function_cost(run, {}) == 2 + 10 * (4 + 6)
    # An if: its straight-line cost takes the costlier branch's (else: 1 + write 3 + (+ 1, read 2,
    # * 1, read 2) = 10, against then's loop header 1), its dynamic cost the costlier branch's
    # (then: 3 iterations of 1 + 6).  Charged on the then path: 14 + 21, so the worst case is 35,
    # not 1 + max(1 + 21, 10) + 3 = 26.
    pick = run.contract.functions["pick"]
    assert entry_cost(pick) == (1 + 10) + (1 + 2) == 14
    assert function_cost(pick, {}) == 14 + 3 * 7


def test_costs_of_a_call_chain_of_hundreds_of_functions(tmp_path):
    # The checker refuses calls nested this deep (compiler/limits.py), but costs are computed
    # without recursion through calls whatever the program: the language server asks for them too.
    n = 600
    fns = "\n".join(f"    fn f{i}(x: u256) -> u256 {{ return f{i + 1}(x) + 1; }}" for i in range(n))
    path = tmp_path / "deep.lane"
    path.write_text(f"contract Deep {{\n{fns}\n    fn f{n}(x: u256) -> u256 {{ return x; }}\n}}\n")
    data = CompilerData(path)
    top = data.checked.contracts["Deep"].functions["f0"]
    assert {d.code for d in data.diags.errors} <= {"limit"}
    # Each link: return 1 + (+ 1 + the call 2 + its argument 0); the last one: return 1.
    assert function_cost(top, {}) == n * 4 + 1


# ================================================================== the limit at run time

def _spin_block(senders: list[str]) -> str:
    txs = []
    for k, who in enumerate(senders):
        txs.append(tx(who, "loop", "spin"))
        txs.append(tx(who, "loop", "steps", k + 1))
    txs.append(tx("z", "loop", "nope"))
    return block_text(txs)


def _check_spin_receipts(receipts: list[dict], limit: int = DEFAULT_COST_LIMIT) -> None:
    for k, r in enumerate(receipts[:-1]):
        if k % 2 == 0:
            assert (r["status"], r["reason"], r["cost"]) == ("reverted", "cost limit exceeded", limit)
        else:
            assert (r["status"], r["cost"]) == ("ok", 2 + 7 * (k // 2 + 1))
    assert (receipts[-1]["status"], receipts[-1]["cost"]) == ("invalid", 0)


def test_an_endless_loop_reverts_at_the_limit_in_lane_run(tmp_path):
    world = _loop_world(tmp_path)
    block = tmp_path / "b.jsonl"
    block.write_text(_spin_block(["alice"]))
    out = _cli("run", str(world), str(block), "--executor", "sequential")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[:2] == ["block 1 (timestamp 12): 3 transactions: 1 ok, 1 reverted, 1 invalid; cost 1,000,009",
                         "  reverted: cost limit exceeded (x1)"]
    got = json.loads(_cli("run", str(world), str(block), "--executor", "sequential", "--json").stdout)
    _check_spin_receipts(got["receipts"])
    assert got["cost"] == DEFAULT_COST_LIMIT + 9


@pytest.mark.parametrize("workers", [2, 3])
def test_the_limit_is_reached_at_the_same_cost_on_lanes(tmp_path, workers):
    world = _loop_world(tmp_path)
    raw = parse_block_text(_spin_block([f"u{i}" for i in range(4)]), "b.jsonl")
    seq, par = Chain.open(world), Chain.open(world)
    try:
        executor = parallel.executor_for(par, workers).__self__
        executor.force = True  # on lanes, however light the model finds the block
        a = seq.run_block(raw)
        b = par.run_block(raw, executor="parallel", workers=workers)
        info = executor.last
    finally:
        par.close()
        seq.close()
    assert info["mode"] == "parallel" and info["lanes"] == workers and info["fallback_from"] is None
    assert info["on_lanes"] == len(raw)
    _check_spin_receipts(a.receipts_json)
    assert b.receipts_json == a.receipts_json
    assert (b.receipts_root, b.state_root, b.cost) == (a.receipts_root, a.state_root, a.cost)


def test_the_parallel_executor_inline_agrees(tmp_path):
    world = _loop_world(tmp_path)
    block = tmp_path / "b.jsonl"
    block.write_text(_spin_block(["alice", "bob"]))
    out = _cli("run", str(world), str(block), "--executor", "parallel", "--workers", "2", "--verify", "--json")
    assert out.exit_code == 0, out.output
    _check_spin_receipts(json.loads(out.stdout)["receipts"])


def test_lane_call_of_an_endless_loop_is_a_clear_error(tmp_path):
    world = _loop_world(tmp_path)
    out = _cli("call", str(world), "loop", "spin")
    assert out.exit_code == 1
    assert out.stderr == ("error: call reverted: cost limit exceeded (Loop.spin needs more than the world's "
                          "limit of 1,000,000 per transaction; [chain] cost_limit sets it)\n")
    assert "Traceback" not in out.output


def test_a_worlds_cost_limit_changes_the_outcome(tmp_path):
    # steps(n) costs 2 + 7 n: 72 for 10 steps, 79 for 11.
    block = [tx("a", "loop", "steps", 10), tx("a", "loop", "steps", 11)]
    default = run_block(Chain.open(_loop_world(tmp_path / "d")), block)
    assert [(r["status"], r["cost"]) for r in default.receipts_json] == [("ok", 72), ("ok", 79)]
    tight = Chain.open(_loop_world(tmp_path / "t", "[chain]\ncost_limit = 75"))
    result = run_block(tight, block)
    assert [(r["status"], r["reason"], r["cost"]) for r in result.receipts_json] == [
        ("ok", None, 72), ("reverted", "cost limit exceeded", 75)]
    assert tight.call("loop", "total", [])[1] == 10  # the second one's writes are undone
    with pytest.raises(LaneError, match=r"^call reverted: cost limit exceeded \(Loop.steps needs more than the "
                                        r"world's limit of 75 per transaction"):
        tight.call("loop", "steps", ["11"])
    tight.close()


def test_an_init_that_runs_out_is_a_world_error(tmp_path):
    # init(50) costs 2 + 7 x 50 = 352.
    source = ("contract Big {\n    storage x: u256;\n    init(n: u256) { for i in 0..min(n, 100) { x += i; } }\n"
              "    pub view fn get() -> u256 { return x; }\n}\n")
    world = make_world(tmp_path, {"big.lane": source}, [{"name": "big", "source": "big.lane", "contract": "Big",
                                                         "args": [50]}])
    world.write_text("[chain]\ncost_limit = 300\n\n" + world.read_text())
    with pytest.raises(LaneError) as err:
        Chain.open(world)
    diag = err.value.diagnostics[0]
    assert diag.message == "deployment 'big': init reached the cost limit of 300 (raise it with [chain] cost_limit = N)"
    assert diag.location.line == 4  # its [[deploy]]
    world.write_text(world.read_text().replace("cost_limit = 300", "cost_limit = 352"))
    chain = Chain.open(world)
    assert chain.call("big", "get", [])[1] == sum(range(50))
    chain.close()


MUST = "[chain] cost_limit must be a positive integer (cost units per transaction), found "


@pytest.mark.parametrize("chain, message, line", [
    ("[chain]\ncost_limit = 0", MUST + "0", 2),
    ("[chain]\n\ncost_limit = -5", MUST + "-5", 3),
    ('[chain]\ncost_limit = "1000"', MUST + 'the string "1000"', 2),
    ("[chain]\ncost_limit = 1.5", MUST + "a float", 2),
    ("[chain]\ncost_limit = true", MUST + "a boolean", 2),
    ("[chain]\ncost_limit = 10\ngas = 5", "[chain]: unknown key 'gas' (it has cost_limit)", 3),
    ("chain = 5", "[chain] must be a table, as in [chain] cost_limit = 1000000", 1),
])
def test_a_bad_chain_section_is_an_error_at_its_line(tmp_path, chain, message, line):
    world = _loop_world(tmp_path, chain)
    with pytest.raises(LaneError) as err:
        load_world(world)
    diag = err.value.diagnostics[0]
    assert (diag.message, diag.location.line, diag.code) == (message, line, "world")
    out = _cli("run", str(world), str(write_block(tmp_path, [])))
    assert out.exit_code == 1 and out.stderr.startswith(f"{world}:{line}:1: error: {message}\n")


def test_a_good_chain_section_sets_the_limit(tmp_path):
    assert load_world(_loop_world(tmp_path / "a")).cost_limit == DEFAULT_COST_LIMIT == 1_000_000
    assert load_world(_loop_world(tmp_path / "b", "[chain]\ncost_limit = 5_000")).cost_limit == 5000


# ================================================================== receipts

def test_receipts_carry_the_hand_computed_cost_of_token_transfer(tmp_path):
    world = make_world(tmp_path, {}, [{"name": "usdc", "source": str(REPO / "examples" / "token.lane"),
                                       "contract": "Token", "sender": "alice", "args": [1000]}])
    # transfer: require(to != address(0)) 1 + (!= 1, address(...) 1); require(balances[msg.sender] >= amount)
    # 1 + (>= 1, a read 2); two compound updates 1 + write 3 + read 2 each; an event 3; return 1.
    expected = (1 + 2) + (1 + 3) + 6 + 6 + 3 + 1
    assert expected == 23
    result = run_block(Chain.open(world), [tx("alice", "usdc", "transfer", "bob", 10),
                                           tx("bob", "usdc", "transfer", "carol", 99),   # reverts: charged at entry
                                           tx("bob", "usdc", "transfer")])               # invalid
    assert [(r["status"], r["cost"]) for r in result.receipts_json] == [("ok", 23), ("reverted", 23), ("invalid", 0)]
    assert result.cost == 46 and result.to_json()["cost"] == 46


# ================================================================== the charge is bounded by the analysis

def _examples_world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    demo = REPO / "examples" / "demo"
    text = re.sub(r'source = "\.\./', f'source = "{REPO / "examples"}/', (demo / "world.toml").read_text())
    text += (f'\n[[deploy]]\nname = "savings"\nsource = "{REPO / "examples" / "savings.lane"}"\n'
             f'contract = "Savings"\nsender = "admin"\nargs = ["usdc", 500]\n')
    (root / "world.toml").write_text(text)
    return root / "world.toml"


@pytest.fixture(scope="module")
def examples_chain(tmp_path_factory):
    chain = Chain.open(_examples_world(tmp_path_factory))
    chain.run_block(read_block(REPO / "examples" / "demo" / "block1.jsonl"))
    yield chain
    chain.close()


NAMES = ["alice", "bob", "carol", "admin", "dave"]
NUMBERS = [0, 1, 2, 3, 7, 16, 100, 10**6, 10**18, 2**128, MAX]


def _value(ty: T.Type, instances: list, draw):
    if ty is T.U256:
        return str(draw(st.sampled_from(NUMBERS)))
    if ty is T.BOOL:
        return draw(st.booleans())
    if ty is T.ADDRESS:
        return draw(st.sampled_from(NAMES + [i.name for i in instances]))
    if isinstance(ty, T.ContractType):
        return draw(st.sampled_from([i.name for i in instances if i.contract.name == ty.name] + ["alice"]))
    assert isinstance(ty, T.ArrayType), ty
    return [_value(ty.elem, instances, draw) for _ in range(draw(st.integers(0, ty.size)))]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_what_a_call_is_charged_never_exceeds_its_worst_case(examples_chain, data):
    chain = examples_chain
    instances = list(chain.world.instances.values())
    txs, bounds = [], []
    for _ in range(data.draw(st.integers(1, 6))):
        inst = data.draw(st.sampled_from(instances))
        fn = data.draw(st.sampled_from(inst.contract.pub_functions))
        args = [_value(p.type, instances, data.draw) for p in fn.params]
        txs.append(tx(data.draw(st.sampled_from(NAMES)), inst.name, fn.name, *args))
        bounds.append(function_cost(fn, {}))  # the worst case lane analyze prints
    result = run_block(chain, txs)
    for r, bound in zip(result.receipts, bounds):
        if r.status == "invalid":
            assert r.cost == 0
        else:
            assert 0 < r.cost <= min(bound, chain.world.cost_limit), (r, bound)


# ================================================================== check and analyze

def test_check_warns_of_a_pub_function_over_the_default_limit(tmp_path):
    path = tmp_path / "loop.lane"
    path.write_text(LOOP.lstrip("\n"))
    warnings = [d for d in CompilerData(path).diagnostics() if d.code == "cost"]
    assert [(d.severity.value, d.location.line, d.location.column, d.message) for d in warnings] == [
        ("warning", 5, 12, SPIN)]
    assert warnings[0].hint == ("bound its loops more tightly (for i in a..min(n, K)), or raise the limit of the "
                                "world that deploys it with [chain] cost_limit = N")
    out = _cli("check", str(path))
    assert out.exit_code == 0
    assert out.stderr.splitlines()[:3] == [f"{path}:5:12: warning: {SPIN}", "5 |     pub fn spin() {",
                                           "  |            ^^^^"]


def test_analyze_marks_a_function_over_the_default_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LANE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "loop.lane"
    path.write_text(LOOP.lstrip("\n"))
    text = _cli("analyze", str(path)).stdout
    assert "Loop.spin  (worst-case cost about 8.1e77: over the default cost limit of 1,000,000)" in text
    assert "Loop.steps  (worst-case cost 7002)" in text
    assert f"    {SPIN}" in text.splitlines()
    out = json.loads(_cli("analyze", str(path), "--json").stdout)
    assert [w["message"] for w in out["warnings"] if w["function"] == "Loop.spin"] == [SPIN]
    assert not [w for w in out["warnings"] if w["function"] == "Loop.steps"]
