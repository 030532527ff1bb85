"""The static DAG against the oracle DAG: what the analysis orders against what the block needs.

The oracle is built from the accesses the transactions really make (the block
run traced, in block order, on a copy of the state) with the same rule for
conflicts.  Every pair of transactions it orders, the static DAG must order
too (directly or through a path), for random blocks over every example
contract in the demo world and over a world of dynamic keys; and ``lane
schedule --oracle`` reports the comparison, and exits 1 naming a pair the
static DAG leaves free (which a summary missing an access would make).
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from runtime_helpers import dag_covers_oracle, fork_chain, make_world, raw_block, tx, write_block
from test_schedule_props import DEMO_SETTINGS, NUMBERS, REG_SETTINGS, blocks, reg_tx
from typer.testing import CliRunner

from compiler.cli import app
from compiler.runtime.block import prepare
from compiler.runtime.chain import Chain
from compiler.schedule import dag
from compiler.runtime.oracle import (
    compare,
    reachability,
    trace_accesses,
)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"


@DEMO_SETTINGS
@given(data=st.data())
def test_the_static_dag_orders_every_pair_the_block_orders(funded, data):
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    dag_covers_oracle(base, txs, number)


@REG_SETTINGS
@given(txs=st.lists(reg_tx(("reg", "reg2")), min_size=1, max_size=40), fresh=st.booleans())
def test_the_static_dag_orders_every_pair_the_block_orders_with_dynamic_keys(reg_chain, reg_funded, txs, fresh):
    dag_covers_oracle(reg_chain if fresh else reg_funded, txs, 2)


def test_the_traced_accesses_are_those_a_transaction_makes(funded):
    """A transfer reads and writes its sender's balance and adds to its receiver's; one that reverts
    has read the balance only; an add beside a read of its location is a write."""
    base, _ = funded
    chain = fork_chain(base)
    txs = prepare(chain.world, raw_block([
        {"from": "carol", "to": "usdc", "fn": "transfer", "args": ["bob", 5]},
        {"from": "poor1", "to": "usdc", "fn": "transfer", "args": ["bob", 5]},
        {"from": "carol", "to": "usdc", "fn": "transfer", "args": ["carol", 5]},
    ]), trace=True)
    traced = trace_accesses(chain, txs, 2, 24)
    compiled = chain.compiled_summaries
    shown = [{(compiled.describe(loc), mode) for loc, mode in acc} for acc in traced]
    poor = "usdc.balances[0x" + format(chain.world.parse_address("poor1"), "040x") + "]"
    assert shown == [{("usdc.balances[carol]", dag.W), ("usdc.balances[bob]", dag.A)},
                     {(poor, dag.R)},
                     {("usdc.balances[carol]", dag.W)}]


def test_pairs_are_compared_by_paths_not_by_edges(funded):
    """The static DAG orders carol's two transfers through bob's; an oracle that orders them by an
    edge misses nothing, and the static DAG's other edges are false ones."""
    base, _ = funded
    txs = [{"from": "carol", "to": "usdc", "fn": "transfer", "args": ["bob", 5]},
           {"from": "bob", "to": "usdc", "fn": "transfer", "args": ["dave", 5]},
           {"from": "dave", "to": "usdc", "fn": "transfer", "args": ["frank", 1]}]
    static = base.schedule(raw_block(txs), number=2)
    assert [set(p) for p in static.predecessors()] == [set(), {0}, {1}]
    assert reachability(static) == [0, 0b1, 0b11]
    oracle = dag.Schedule(static.txs, static.cost, [0], [2], [static.labels[0]], compiled=static.compiled)
    c = compare(static, oracle)
    assert c.missing == []
    assert (c.static_pairs, c.oracle_pairs, c.false_edges) == (3, 1, 2)
    assert c.by_functions == {"Token.transfer -> Token.transfer": 2}
    assert c.by_variable == {"usdc.balances": 2}
    # Roles swapped, the one-edge DAG misses the two edges it does not order.
    assert compare(oracle, static).missing == [(0, 1, ["usdc.balances[bob]"]), (1, 2, ["usdc.balances[dave]"])]


runner = CliRunner()


def test_lane_schedule_oracle_reports_both_dags(tmp_path):
    result = runner.invoke(app, ["schedule", str(DEMO / "world.toml"), str(DEMO / "block1.jsonl"), "--oracle",
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    oracle = doc["oracle"]
    assert oracle["missing"] == []
    for side in ("static", "oracle"):
        assert set(oracle[side]) >= {"edges", "ordered_pairs", "critical_path", "parallelism", "components"}
    assert oracle["static"]["transactions"] == oracle["oracle"]["transactions"] == 42
    assert oracle["static"]["ordered_pairs"] >= oracle["oracle"]["ordered_pairs"]
    text = runner.invoke(app, ["schedule", str(DEMO / "world.toml"), str(DEMO / "block1.jsonl"), "--oracle"])
    assert text.exit_code == 0
    assert "against the oracle" in text.stdout and "missing: none" in text.stdout


def test_lane_schedule_oracle_exits_1_naming_a_pair_the_analysis_misses(monkeypatch, tmp_path):
    """A summary that forgets its writes (as a bug in the analysis would) leaves conflicting
    transactions free: the oracle finds them, and the command says so and exits 1.  (A cache of
    its own: compiled summaries kept by another test would not be compiled again.)"""
    monkeypatch.setenv("LANE_CACHE_DIR", str(tmp_path))
    real = dag.compile_summary

    def forgetful(summary, var_ids):
        compiled = real(summary, var_ids)
        if summary.qualname == "Token.transfer":
            inst = compiled.inst

            def without_writes(sender, target, args, read, number, timestamp, out, imm=None, stored=None):
                found: list = []
                inst(sender, target, args, read, number, timestamp, found, imm, stored)
                out.extend((loc, mode) for loc, mode in found if mode == dag.R)
                return out

            compiled.inst = without_writes
        return compiled

    monkeypatch.setattr(dag, "compile_summary", forgetful)
    block = DEMO / "block1.jsonl"
    result = runner.invoke(app, ["schedule", str(DEMO / "world.toml"), str(block), "--oracle"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "missing:" in result.stdout
    assert "does not order" in result.stderr and "Token.transfer" in result.stderr
    assert "bug in Lane's access analysis" in result.stderr


WRONG_TYPE = """\
contract Gamma {
    storage a: u256;
    storage b: u256;
    storage c: map<u256, u256>;
    init() { b = 3; }
    pub fn k0() -> u256 { c[b] += 1; return c[a]; }
}

contract Beta {
    storage seen: u256;
    pub fn g0(p: Gamma) -> u256 { seen += 1; return p.k0(); }
}
"""


def test_a_reference_to_a_contract_of_another_type_is_scheduled(tmp_path):
    """A call through a reference to an instance of another contract (fewer variables than the
    callee's) or to no contract at all reverts; the schedule instantiates what the callee would
    touch there without failing, and its DAG orders every pair the block orders."""
    world = make_world(tmp_path, {"c.lane": WRONG_TYPE},
                       [{"name": "gamma", "source": "c.lane", "contract": "Gamma", "args": []},
                        {"name": "beta", "source": "c.lane", "contract": "Beta", "args": []}])
    txs = [tx("alice", "beta", "g0", "beta"), tx("bob", "beta", "g0", "gamma"),
           tx("carol", "beta", "g0", "0x0000000000000000000000000000000000000007"), tx("alice", "gamma", "k0")]
    write_block(tmp_path, txs)
    chain = Chain.open(world)
    dag_covers_oracle(chain, txs, 2)
    result = runner.invoke(app, ["schedule", str(world), str(tmp_path / "block.jsonl"), "--oracle"])
    assert result.exit_code == 0, result.output
    assert "missing: none" in result.stdout


SKIPPED_READS = """\
contract Keys {
    storage u: map<u256, u256>;
    storage v: map<u256, u256>;
    pub fn either(p: array<u256, 4>, x: u256) {
        if (len(p) == 0 || u[p[0]] < 5) { v[x] += 1; }
    }
    pub fn both(p: array<u256, 4>, x: u256) {
        if (len(p) > 0 && u[p[0]] < 5) { v[x] += 1; }
    }
    pub fn picked(p: array<u256, 4>, x: u256) {
        let k: u256 = x;
        if (len(p) > 0) { k = u[p[0]]; }
        v[k] = 1;
    }
    pub fn keyed(p: array<u256, 4>, x: u256) {
        v[u[p[0]]] = x;
    }
    pub fn set(x: u256) { v[x] = 7; }
    pub fn put(i: u256, x: u256) { u[i] = x; }
}
"""


def test_a_read_whose_key_fails_where_the_call_never_makes_it_leaves_its_access(tmp_path):
    """A read at a key that fails to compute for a call (an empty array's first element) in an
    operand ``||`` skips, or in a branch the call does not take: the access it guards or keys is
    still there (it was left out: found by generated programs); where ``&&`` skips it, the access
    is not, nor where the failed read is the key itself (the call reverts before the write)."""
    world = make_world(tmp_path, {"k.lane": SKIPPED_READS}, [{"name": "k", "source": "k.lane", "contract": "Keys"}])
    txs = [tx("alice", "k", "either", [], 0), tx("bob", "k", "set", 0),
           tx("alice", "k", "both", [], 1), tx("bob", "k", "set", 1),
           tx("alice", "k", "picked", [], 2), tx("bob", "k", "set", 2),
           tx("alice", "k", "keyed", [], 3), tx("bob", "k", "set", 0)]
    chain = Chain.open(world)
    try:
        dag_covers_oracle(chain, txs, 2)
        dag = chain.schedule(raw_block(txs), number=2)
        edges = set(zip(dag.sources, dag.targets))
        assert {(0, 1), (4, 5)} <= edges
        assert (2, 3) not in edges and (6, 7) not in edges
    finally:
        chain.close()
