"""The dask executor: the parallel executor's lanes on a Dask cluster, with exactly the sequential result.

One LocalCluster of three workers serves the module; each test gives its chain a
:class:`DaskExecutor` on it (actors made from that chain's state) and compares every block with
the sequential executor's.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from contract_gen import world_text
from runtime_helpers import fork_chain, pot_lines, pot_world, raw_block
from test_random_contracts import cases, warmed_up, write_case
from test_schedule_props import NUMBERS, SETTINGS, blocks

from compiler.runtime import dask_executor, parallel
from compiler.runtime import protocol as P
from compiler.runtime.block import parse_block_text, read_block
from compiler.runtime.chain import Chain
from compiler.runtime.dask_executor import Cluster
from fuzzing import examples

pytest.importorskip("distributed")

MAX = 2**256 - 1
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(None, 3)
    yield cluster
    cluster.close()


def _on_dask(chain: Chain, cluster: Cluster, workers: int, force: bool = True, window: int | None = None,
             inline: frozenset = frozenset(), beside: bool = False):
    """The chain's dask executor, on the module's cluster (``inline``: windows the parent runs;
    ``beside``: the light components of a window run by the parent beside the lanes)."""
    executor = dask_executor.executor_for(chain, workers, cluster=cluster).__self__
    executor.parallel.force, executor.parallel.force_window = force, window
    executor.parallel.force_inline = set(inline)
    executor.parallel.force_beside = beside
    executor.parallel.timeout = 30.0
    return executor


def _same(a, b) -> None:
    assert b.receipts_json == a.receipts_json
    assert b.state_root == a.state_root
    assert b.receipts_root == a.receipts_root


def _both(world: Path, cluster: Cluster, blocks: list[str], workers: int, **options):
    """Each block run sequentially and on Dask lanes, each on its own chain: [(sequential, dask)]."""
    with Chain.open(world) as seq, Chain.open(world) as par:
        _on_dask(par, cluster, workers, **options)
        out = []
        for text in blocks:
            raw = parse_block_text(text, "b.jsonl")
            out.append((seq.run_block(raw), par.run_block(raw, executor="dask", workers=workers)))
        return out


def test_independent_senders_run_on_dask_lanes_and_match(tmp_path, cluster):
    [(a, b)] = _both(pot_world(tmp_path), cluster, [pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(40)])], 3)
    _same(a, b)
    assert b.executor == "dask" and b.workers == 3
    assert b.detail["mode"] == "parallel" and b.detail["lanes"] == 3 and b.detail["fallback_from"] is None
    # The messages went to the actors and back: one round trip a message or batch at least.
    assert b.detail["dask"]["round_trips"] >= 3 * 3 and b.detail["dask"]["network_ms"] > 0


def test_an_add_that_overflows_only_in_block_order_falls_back(tmp_path, cluster):
    # u0 adds 5, u1 adds MAX: on its own lane u1 sees 0 and succeeds; in block order it overflows.
    [(a, b)] = _both(pot_world(tmp_path), cluster, [pot_lines(("u0", "give", [5]), ("u1", "give", [str(MAX)]))], 2)
    assert [r["status"] for r in a.receipts_json] == ["ok", "reverted"]
    _same(a, b)
    assert b.detail["lanes"] == 2 and b.detail["fallback_from"] == 1


def test_windows_the_parent_runs_between_dask_lanes_reach_every_replica(tmp_path, cluster):
    # Windows of 4: the parent runs the second and the fourth; the lanes' windows after them read
    # the pot and the senders' counts the parent's windows wrote.
    blocks = [pot_lines(*[(f"u{i % 6}", "give", [i + 1]) for i in range(20)]),
              pot_lines(*[(f"u{i % 6}", "take" if i % 3 else "give", [1]) for i in range(20)])]
    pairs = _both(pot_world(tmp_path), cluster, blocks, 2, window=4, inline=frozenset({1, 3}))
    for a, b in pairs:
        _same(a, b)
        assert b.detail["mode"] == "parallel" and b.detail["inline_windows"] == 2


def test_the_parent_runs_light_components_beside_dask_lanes(tmp_path, cluster):
    # One heavy call in ten among light ones: the parent runs the light ones of the lanes' window
    # (the pokes of senders who do not mine in it) while the actors run the heavy ones; its writes
    # reach the replicas, whose mines add to what its pokes set in the block before.
    from test_parallel import HEAVY, _scattered

    pairs = _both(pot_world(tmp_path, HEAVY, "Miner"), cluster, [_scattered()[0], _scattered(seed=8)[0]], 2,
                  window=400, beside=True)
    for a, b in pairs:
        _same(a, b)
        assert b.detail["mode"] == "parallel" and b.detail["fallback_from"] is None, b.detail
        assert b.detail["beside_windows"] == 1 and b.detail["beside"] > 0, b.detail


def test_replicas_follow_the_chain_from_block_to_block(tmp_path, cluster):
    # pot is 10 after block 1; in block 2 u1 takes 12 after u0 gave 5: it succeeds only if the
    # replicas hold block 1's state and block 2's adds are merged in block order.
    pairs = _both(pot_world(tmp_path), cluster, [
        pot_lines(*[(f"u{i}", "give", [1]) for i in range(10)]),
        pot_lines(("u0", "give", [5]), ("u1", "take", [12])),
        pot_lines(*[(f"v{i}", "take", [1]) for i in range(15)]),
    ], 2)
    for a, b in pairs:
        _same(a, b)
        assert b.detail["mode"] == "parallel"
    assert [r["status"] for r in pairs[1][0].receipts_json] == ["ok", "ok"]


@pytest.mark.parametrize("executor", ["parallel", "dask"])
def test_a_block_run_inline_between_two_on_lanes_leaves_no_stale_replica(tmp_path, cluster, executor):
    """The replicas do not see a block the parent runs alone: they are made again afterwards."""
    world = pot_world(tmp_path)
    with Chain.open(world) as seq, Chain.open(world) as par:
        if executor == "dask":
            lanes = _on_dask(par, cluster, 2).parallel
        else:
            lanes = parallel.executor_for(par, 2).__self__
        modes = []
        for force, n in ((True, 40), (False, 300), (True, 40)):
            lanes.force = force  # the middle block is light: the cost model runs it inline
            raw = parse_block_text(pot_lines(*[(f"u{i}", "give", [1]) for i in range(n)]), "b.jsonl")
            _same(seq.run_block(raw), par.run_block(raw, executor=executor, workers=2))
            modes.append(lanes.last["mode"])
        assert modes == ["parallel", "inline", "parallel"]


BOX = """
contract Box {
    storage m: map<u256, u256>;
    storage out: map<u256, u256>;
    pub fn set(k: u256, v: u256) { m[k] = v; }
    pub fn copy(src: u256, dst: u256) { out[dst] = m[src]; }
}
"""


@pytest.mark.parametrize("lanes", [[0, 1], [1, 0]])
def test_a_lane_that_touches_what_another_wrote_is_caught_and_the_rest_runs_sequentially(tmp_path, cluster,
                                                                                        lanes):
    """Transactions that conflict, put on two lanes against the plan: the accesses the lanes
    report show it, and the block from the second one on runs in the parent."""
    (tmp_path / "c.lane").write_text(BOX)
    world = tmp_path / "world.toml"
    world.write_text('[[deploy]]\nname = "box"\nsource = "c.lane"\ncontract = "Box"\nargs = []\n')
    text = "\n".join(json.dumps({"from": "u0", "to": "box", "fn": f, "args": a})
                     for f, a in (("set", [1, 5]), ("copy", [1, 2])))
    with Chain.open(world) as seq, Chain.open(world) as par:
        executor = _on_dask(par, cluster, 2)
        executor.parallel.force_lanes = lanes
        raw = parse_block_text(text, "b.jsonl")
        a, b = seq.run_block(raw), par.run_block(raw, executor="dask", workers=2)
        _same(a, b)
        assert b.detail["mode"] == "parallel" and b.detail["fallback_from"] == 1
        # The replicas stopped at the conflict: the next block gets new ones, from the merged state.
        executor.parallel.force_lanes = None
        raw = parse_block_text(text.replace("[1, 5]", "[1, 9]"), "b.jsonl")
        _same(seq.run_block(raw), par.run_block(raw, executor="dask", workers=2))


def test_demo_blocks_match_with_one_to_three_workers(cluster):
    for workers in (1, 2, 3):
        with Chain.open(EXAMPLES / "demo" / "world.toml") as seq, Chain.open(EXAMPLES / "demo" / "world.toml") as par:
            _on_dask(par, cluster, workers)
            for name, number in (("block1.jsonl", None), ("block2.jsonl", None), ("block3.jsonl", 600)):
                raw = read_block(EXAMPLES / "demo" / name)
                got = par.run_block(raw, number=number, executor="dask", workers=workers)
                _same(seq.run_block(raw, number=number), got)
                assert got.detail["mode"] == ("parallel" if workers > 1 else "inline")


def test_a_state_file_is_read_by_the_workers_themselves(tmp_path, cluster):
    world = pot_world(tmp_path)
    state = tmp_path / "s.sqlite"
    with Chain.open(world) as seq:
        with Chain.open(world, state) as par:
            executor = _on_dask(par, cluster, 2)
            for k in range(3):
                raw = parse_block_text(pot_lines(*[(f"u{i}", "give", [i + k]) for i in range(30)]), "b.jsonl")
                _same(seq.run_block(raw), par.run_block(raw, executor="dask", workers=2))
                assert executor.parallel.last["mode"] == "parallel"
        with Chain.open(world, state) as again:  # what was committed is the sequential state
            assert again.state_root() == seq.state_root() and again.number == 3


def test_messages_reach_a_replica_in_the_order_they_were_sent(tmp_path, cluster):
    """Hundreds of messages sent without waiting come back answered in order (each a Schedule
    of an empty stripe, numbered), however they were batched on the way."""
    with Chain.open(pot_world(tmp_path)) as chain:
        executor = _on_dask(chain, cluster, 2)
        executor.start()
        lanes = executor.transport
        for serial in range(1, 301):
            lanes.send(0, P.pack(P.Schedule(serial, 1, 12, 10**6, b"", 0, 1, b"")))
        got: list[int] = []
        while len(got) < 300:
            replies = lanes.wait({0}, 10.0)
            assert replies, "no reply within 10 s"
            for k, reply in replies:
                assert k == 0 and reply is not False
                got.append(P.unpack(reply).block)
        assert got == list(range(1, 301))


def test_a_worker_killed_mid_block_leaves_the_result_exact_and_the_state_file_untouched(tmp_path, cluster):
    world = pot_world(tmp_path)
    state = tmp_path / "s.sqlite"
    with Chain.open(world) as seq, Chain.open(world, state) as par:
        executor = _on_dask(par, cluster, 2, window=10)
        setup = parse_block_text(pot_lines(("u0", "give", [1])), "setup.jsonl")
        _same(seq.run_block(setup), par.run_block(setup, executor="sequential"))
        lanes = executor.transport
        send = lanes.send
        killed: list[tuple[str, int]] = []

        def send_then_kill(k, message):
            send(k, message)
            m = P.unpack(message)
            if not killed and isinstance(m, P.Window) and m.window == 2:  # the third window, on its way
                address = lanes.workers[k].address
                with sqlite3.connect(state) as db:  # the block has not reached the file
                    killed.append((address, db.execute("SELECT max(number) FROM blocks").fetchone()[0]))
                with pytest.raises(OSError):  # the worker exits before it answers
                    cluster.client.run(os._exit, 1, workers=[address])

        lanes.send = send_then_kill
        raw = parse_block_text(pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(60)]), "b.jsonl")
        a, b = seq.run_block(raw), par.run_block(raw, executor="dask", workers=2)
        _same(a, b)
        assert killed and killed[0][1] == 1
        assert b.detail["failed_lanes"] == 1 and b.detail["mode"] == "inline" and "failed" in b.detail["why"]
        # The next block gets fresh actors (the LocalCluster has started another worker) and lanes.
        raw2 = parse_block_text(pot_lines(*[(f"v{i}", "give", [1]) for i in range(30)]), "b.jsonl")
        _same(seq.run_block(raw2), par.run_block(raw2, executor="dask", workers=2))
        assert executor.parallel.last["mode"] == "parallel" and executor.parallel.last["failed_lanes"] == 0
        assert killed[0][0] not in [lane.address for lane in lanes.workers]
    with Chain.open(world, state) as again:
        assert again.state_root() == seq.state_root() and again.number == 3


def _progress_every(seconds: float, batch: int) -> None:
    """On a worker: a lane at a long window says it is at work every ``seconds``, looking every
    ``batch`` transactions."""
    from compiler.runtime import replica

    replica.PROGRESS_S, replica.PROGRESS_BATCH = seconds, batch


def test_a_window_far_longer_than_its_timeout_is_not_taken_for_a_hang(tmp_path, cluster):
    # As with the pool's workers (test_parallel.py): a replica at a long window tells the parent it
    # is at work, between two of its replies.
    from compiler.runtime import replica
    from test_parallel import HEAVY

    cluster.client.run(_progress_every, 0.02, 1)
    try:
        world = pot_world(tmp_path, HEAVY.replace("min(rounds, 5000)", "min(rounds, 50000)"), "Miner")
        block = pot_lines(*[(f"u{i}", "mine", [50000]) for i in range(150)])
        with Chain.open(world) as seq, Chain.open(world) as par:
            executor = _on_dask(par, cluster, 3)
            executor.parallel.timeout = 0.3
            raw = parse_block_text(block, "b.jsonl")
            a, b = seq.run_block(raw), par.run_block(raw, executor="dask", workers=3)
        _same(a, b)
        assert b.detail["mode"] == "parallel" and b.detail["failed_lanes"] == 0, b.detail
        assert b.seconds > 2 * 0.3  # (the premise: each lane's window outlasts the timeout)
    finally:
        cluster.client.run(_progress_every, replica.PROGRESS_S, replica.PROGRESS_BATCH)


# A differential property: random blocks over every example contract, 1 to 3 workers, any windows.
@settings(SETTINGS, max_examples=examples(25))
@given(data=st.data())
def test_dask_equals_sequential_on_random_blocks(funded, cluster, data):
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    workers = data.draw(st.integers(1, 3), label="workers")
    window = data.draw(st.sampled_from([None, 1, 3, 8]), label="window")
    raw = raw_block(txs)
    expected = fork_chain(base).run_block(raw, number=number, check_accesses=True)
    chain = fork_chain(base)
    _on_dask(chain, cluster, workers, window=window)
    try:
        got = chain.run_block(raw, number=number, executor="dask", workers=workers)
    finally:
        chain.close()
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert got.detail["mode"] == ("parallel" if workers > 1 else "inline")


# The same over contracts nobody wrote by hand (tests/contract_gen.py): the lanes on Dask.
@settings(SETTINGS, max_examples=examples(8))
@given(case=cases(), number=st.sampled_from([2, 7]), workers=st.integers(2, 3))
def test_dask_equals_sequential_on_generated_programs(tmp_path_factory, cluster, case, number, workers):
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("dask"), program, world_text(world), [warm_up, txs])
    base = warmed_up(path, warm_up, check=False)
    expected = fork_chain(base).run_block(raw_block(txs), number=number)
    chain = fork_chain(base)
    _on_dask(chain, cluster, workers)
    try:
        got = chain.run_block(raw_block(txs), number=number, executor="dask", workers=workers)
    finally:
        chain.close()
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert got.detail["mode"] == "parallel" or got.detail["failed_lanes"], got.detail


def test_random_pot_blocks_match_sequential(tmp_path, cluster):
    """Few and many senders, adds near 2^256, underflows: one chain, block after block."""
    rng = random.Random(7)
    blocks_ = []
    for _ in range(6):
        txs = []
        for _ in range(rng.randrange(5, 60)):
            who, kind = f"u{rng.randrange(rng.choice([2, 30]))}", rng.random()
            if kind < 0.6:
                txs.append((who, "give", [rng.choice([1, 7, 10**70, str(MAX // 3)])]))
            elif kind < 0.9:
                txs.append((who, "take", [rng.choice([1, 5, 10**70])]))
            else:
                txs.append((who, rng.choice(["look", "nope"]), []))
        blocks_.append(pot_lines(*txs))
    for a, b in _both(pot_world(tmp_path), cluster, blocks_, 3, window=8):
        _same(a, b)
