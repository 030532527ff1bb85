"""The parallel executor gives exactly the sequential result: lanes, merges, fallbacks, faults."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.runtime import cost_model, merge, parallel, plan
from compiler.runtime.cost_model import CostModel
from compiler.runtime.block import parse_block_text, prepare, read_block
from compiler.runtime.chain import Chain
from runtime_helpers import (POT, block_text, both_ways, forget_accesses, make_world, pot_lines, pot_world,
                             refused_on_lanes, token_world, tx)
from fuzzing import examples

MAX = 2**256 - 1


def _both(world: Path, blocks: list[str], workers: int, force: bool = True, beside: bool = True,
          as_file: bool = False, **settings):
    """Each block run sequentially and in parallel on its own chain: (sequential, parallel, executor
    info); ``beside``: whether the parent may run light components beside the lanes; ``as_file``:
    given as a block file's bytes (else parsed first); ``settings``: more of the executor's test
    settings."""
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, workers).__self__
    executor.force = force
    executor.beside = beside
    for name, value in settings.items():
        setattr(executor, name, value)
    infos = []
    try:
        out = []
        for text in blocks:
            raw = text.encode() if as_file else parse_block_text(text, "b.jsonl")
            a = seq.run_block(raw)
            b = par.run_block(raw, executor="parallel", workers=workers)
            out.append((a, b))
            infos.append(dict(executor.last))
        return out, infos
    finally:
        par.close()
        seq.close()


def _same(a, b) -> None:
    assert b.receipts_json == a.receipts_json
    assert b.state_root == a.state_root
    assert b.receipts_root == a.receipts_root


def test_independent_senders_run_in_lanes_and_match(tmp_path):
    world = pot_world(tmp_path)
    block = pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(40)])
    [(a, b)], [info] = _both(world, [block], workers=2)
    _same(a, b)
    assert info["mode"] == "parallel" and info["lanes"] == 2 and info["fallback_from"] is None
    assert b.executor == "parallel"


def test_a_block_whose_senders_touch_only_their_own_state_runs_as_one_window(tmp_path):
    # 1,200 gives from 600 senders: each one's counter and the shared pot (adds, merged); windows
    # of 150 would do, but the whole block's components are as even: one window, nothing relayed.
    world = pot_world(tmp_path)
    block = pot_lines(*[(f"u{i % 600}", "give", [1 + i % 7]) for i in range(1200)])
    [(a, b)], [info] = _both(world, [block], workers=2)
    _same(a, b)
    assert info["mode"] == "parallel" and info["windows"] == 1 and info["fallback_from"] is None, info


NESTED = """
contract Nested {
    storage slot: u256;
    storage owners: map<(address, u256), u256>;
    storage marks: map<(address, u256), u256>;

    init() {
        slot = 5;
        owners[msg.sender, 5] = 7;
    }

    pub fn mark(v: u256) {
        marks[address(0), v] += 1;
        marks[address(owners[msg.sender, slot]), 0] = v;
    }
}
"""


def test_a_key_made_of_immutable_values_whose_key_is_one_too_schedules(tmp_path):
    # ``owners[msg.sender, slot]`` reads two variables only init writes, one inside the other's key,
    # and the add before it may alias the write it names: the instantiation reads both once, the
    # inner one first (named first by the add's alias condition, the outer one was read before the
    # inner one, and the workers' schedule failed: the parent ran every such block).
    world = pot_world(tmp_path, NESTED, "Nested")
    block = pot_lines(*[(f"u{i}", "mark", [i]) for i in range(40)])
    [(a, b)], [info] = _both(world, [block], workers=2)
    _same(a, b)
    assert info["mode"] == "parallel" and not info["failed_lanes"], info


NAMES = """
contract Names {
    storage names: map<u256, address>;
    storage credits: map<address, u256>;

    pub fn rename(k: u256, a: address) {
        let j: u256 = k;
        for i in 0..2 { j = k; }
        names[j] = a;
    }
    pub fn credit(k: u256, v: u256) { credits[names[k]] = v; }
    pub fn give(a: address, v: u256) { credits[a] += v; }
}
"""


ROUTER = """
contract Router {
    pub fn relay(t: Names, k: u256, a: address) {
        let x: Names = t;
        for i in 0..2 { x = t; }
        x.rename(k, a);
    }
}
"""


@pytest.mark.parametrize("through", [False, True], ids=["of-its-instance", "of-every-instance"])
def test_a_key_read_after_a_wildcard_write_of_its_variable_is_scheduled_as_any_key(tmp_path, through):
    # rename writes names[*] (its key is a value the analysis does not follow), directly or called
    # through a router whose target the analysis does not follow either (names[*] of every
    # instance); the credit after it reads names[2] to make its key, which the pre-block state
    # says is the zero address but which rename may have changed: the schedule must take
    # credits[*], not credits[0x0], or the credit's write of credits[w3] meets the other lane's
    # gives to w3 and the block runs on sequentially.  (An add would not show it: lanes' adds to
    # one location are merged, predicted or not.)
    world = make_world(tmp_path, {"c.lane": NAMES + ROUTER}, [
        {"name": "pot", "source": "c.lane", "contract": "Names", "args": []},
        {"name": "router", "source": "c.lane", "contract": "Router", "args": []}])
    rename = tx("z", "router", "relay", "pot", 2, "w3") if through else tx("z", "pot", "rename", 2, "w3")
    calls = [tx(f"u{i}", "pot", "give", f"w{i % 7}", 1) for i in range(30)]
    calls.insert(10, rename)
    calls.insert(20, tx("z", "pot", "credit", 2, 1))
    [(a, b)], [info] = _both(world, [block_text(calls)], workers=2)
    _same(a, b)
    assert [r["status"] for r in a.receipts_json] == ["ok"] * 32
    assert info["mode"] == "parallel" and info["lanes"] == 2 and info["fallback_from"] is None, info


def test_the_whole_block_is_not_tried_when_an_eighth_of_it_is_joined_already():
    from compiler.schedule.vectorized import AccessTable

    def table(pairs):  # transactions each writing (mode 1) two locations
        tx = np.repeat(np.arange(len(pairs), dtype=np.int64), 2)
        loc = np.array([x for p in pairs for x in p], np.int64)
        z = np.zeros(len(tx), np.int64)
        return AccessTable(tx, loc, z, z, np.ones(len(tx), np.int8), np.zeros(len(tx), bool))

    n = 8 * 400
    rng = random.Random(3)
    chained = table([(rng.randrange(300), rng.randrange(300)) for _ in range(n)])  # one component, soon
    apart = table([(2 * i, 2 * i + 1) for i in range(n)])                      # each its own
    assert plan._joined_in_sample(chained, n, 2)
    assert not plan._joined_in_sample(apart, n, 2)
    assert not plan._joined_in_sample(chained, 8 * (plan.WINDOW_MIN - 1), 2)  # (too small a sample)
    for senders in (2, 4, 8):  # (calls from a few senders in turn: as many components, none too large)
        in_turn = table([(i % senders, 1000 + i % senders) for i in range(n)])
        assert not plan._joined_in_sample(in_turn, n, 2), senders


def _forget(monkeypatch, chain: Chain, function: str, var: str, contract: str = "Pot") -> None:
    """Make ``contract``'s ``function``'s summary forget its accesses to ``var`` (:func:`forget_accesses`)."""
    forget_accesses(monkeypatch.setattr, chain, (contract, function), (contract, var))


def _forced_run(world: Path, block: str, setup: str | None = None, forget: tuple | None = None, **force) -> dict:
    """``block`` run sequentially and on two lanes, forced (``force``: more of the executor's test
    settings, ``force_window=40``, say), after ``setup`` (run sequentially by both); ``forget``:
    (monkeypatch, contract, function, variable), that function's summary forgetting its accesses
    to the variable (before the workers are forked: they inherit it).  The parallel run's info
    (the two results checked equal)."""
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    for name, value in force.items():
        setattr(executor, name, value)
    try:
        if setup is not None:
            raw = parse_block_text(setup, "setup.jsonl")
            _same(seq.run_block(raw), par.run_block(raw, executor="sequential"))
        if forget is not None:
            monkeypatch, contract, function, var = forget
            _forget(monkeypatch, par, function, var, contract)
        raw = parse_block_text(block, "b.jsonl")
        _same(seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2))
        return dict(executor.last)
    finally:
        par.close()
        seq.close()


def _forgetful_run(monkeypatch, world: Path, block: str, function: str, var: str) -> dict:
    """``block`` on two lanes with the Pot's ``function``'s summary forgetting ``var``."""
    return _forced_run(world, block, forget=(monkeypatch, "Pot", function, var))


KEYS_LATER = """\
contract Keys {
    storage a: u256;
    storage m: map<u256, u256>;
    storage n: map<u256, u256>;

    pub fn set_a(x: u256) { a = x; }
    pub fn put() { m[a] = 5; }
    pub fn mark() { n[m[3]] = 1; }
}
"""


def test_a_reader_of_a_location_a_writer_instantiated_again_comes_to_write_is_instantiated_again(tmp_path):
    # put's key, a, is set earlier in the block: instantiated again with a = 3, it writes m[3],
    # which it did not write before; mark, which reads m[3] to make its key and read nothing
    # written earlier before, is instantiated again too (n[5], not n[0]): no fallback.  (A round
    # that looked only at what the transactions instantiated again read would miss it.)
    info = _forced_run(pot_world(tmp_path, KEYS_LATER, "Keys"),
                       pot_lines(("u1", "set_a", [3]), ("u2", "put", []), ("u3", "mark", [])))
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info


def test_adds_to_one_location_from_several_lanes_that_the_plan_did_not_predict_fall_back(tmp_path, monkeypatch):
    # Every give adds to the pot, which give's summary forgets: the gives are planned apart, and
    # on each lane the first give is outside its rows, where the block runs on sequentially.
    info = _forgetful_run(monkeypatch, pot_world(tmp_path),
                          pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(40)]), "give", "pot")
    assert info["mode"] == "parallel" and info["lanes"] == 2
    assert info["fallback_from"] == 0, info


@pytest.mark.parametrize("routed", [False, True], ids=["rows-from-the-parent", "rows-routed-by-the-workers"])
def test_a_lane_names_its_first_transaction_outside_its_rows(tmp_path, monkeypatch, routed):
    # Looks read the pot (predicted: on any lane); the gives' adds to it are forgotten, so the
    # first give is where the lanes can no longer be trusted, and the first where the block runs
    # on sequentially, whichever lane it is on.  The lanes' rows come with their lanes (every
    # worker holds every call), or each worker routes its stripe's (as with many workers).
    block = pot_lines(*[(f"u{i}", "look", []) for i in range(10)], *[(f"v{i}", "give", [1]) for i in range(10)])
    info = _forced_run(pot_world(tmp_path), block, forget=(monkeypatch, "Pot", "give", "pot"), force_routed=routed)
    assert info["mode"] == "parallel" and info["lanes"] == 2 and info["fallback_from"] == 10, info
    assert info["calls_routed"] is routed


@pytest.mark.parametrize("routed", [False, True], ids=["every-call-to-every-worker", "calls-routed"])
def test_the_lanes_get_their_calls_either_way(tmp_path, routed):
    # Sets of 80 keys, then each doubled and copied, twice over, in windows of 40: checked windows,
    # some shared in turns; the calls of each lane's transactions come from both stripes.
    world = pot_world(tmp_path, BOX, "Box")
    calls = [("set", [k, k + 1]) for k in range(80)]
    calls += [c for k in range(80) for c in (("twice", [k]), ("copy", [k, 100 + k]))] * 2
    info = _forced_run(world, _box_txs(*calls), force_window=40, force_shared=True, force_routed=routed)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    assert info["checked_windows"] == info["windows"] > 1 and info["shared_windows"] >= 1, info
    assert info["calls_routed"] is routed


def test_work_a_worker_does_ahead_may_fail_and_is_done_when_needed(tmp_path, monkeypatch):
    # What a worker does while the parent plans (the lanes' code loaded, the compressor imported)
    # is done again where it is needed when it fails.
    from compiler.runtime.replica import Replica

    def broken(self):
        raise RuntimeError("ahead")

    monkeypatch.setattr(Replica, "_warm", broken)  # (before the workers are forked: they inherit it)
    world = pot_world(tmp_path, BOX, "Box")
    info = _forced_run(world, _box_txs(*[("set", [k, k + 1]) for k in range(40)], *[("twice", [k]) for k in range(40)]))
    assert info["mode"] == "parallel" and info["fallback_from"] is None and info["failed_lanes"] == 0, info


def test_a_plan_that_does_not_keep_its_lanes_apart_is_checked_by_the_parent(tmp_path, monkeypatch):
    # A plan with a bug (each transaction dealt to lanes in turn, whatever its component): the
    # lanes would each keep within their rows, so they do not check themselves; the parent
    # compares their logs, finds the second doubling of m[0] reading what the first wrote, and
    # runs on sequentially from there.
    real = plan._deal

    def in_turn(label, count, costs, window, w):
        lanes, loads = real(label, count, costs, window, w)
        return np.arange(len(lanes), dtype=np.int64) % w, loads

    monkeypatch.setattr(plan, "_deal", in_turn)
    world = pot_world(tmp_path, BOX, "Box")
    [_, (a, b)], [_, info] = _both(world, [_box_txs(*[("set", [k, k + 1]) for k in range(20)]),
                                           _box_txs(*[("twice", [i // 2]) for i in range(40)])], workers=2)
    _same(a, b)
    assert info["mode"] == "parallel" and info["checked_windows"] == 0 and info["fallback_from"] == 1, info
    assert info["why"] == f"{merge.CONFLICT}: sequential from transaction 1 (line 2)", info


def test_an_add_that_overflows_only_in_block_order_falls_back(tmp_path):
    # u0 adds 5, u1 adds MAX: on its own lane u1 sees 0 and succeeds; in block order it overflows.
    world = pot_world(tmp_path)
    block = pot_lines(("u0", "give", [5]), ("u1", "give", [str(MAX)]))
    [(a, b)], [info] = _both(world, [block], workers=2)
    assert [r["status"] for r in a.receipts_json] == ["ok", "reverted"]
    assert a.receipts_json[1]["reason"] == "arithmetic overflow"
    _same(a, b)
    assert info["lanes"] == 2 and info["fallback_from"] == 1
    assert info["why"] == f"{merge.ADDS}: sequential from transaction 1 (line 2)", info


def test_subtractions_that_run_out_in_block_order_fall_back_where_the_first_one_does(tmp_path):
    # The pot holds 3; fifteen takes of 1 dealt to two lanes each start from 3: the fourth in block
    # order reverts, which neither lane sees (each lane's own takes revert only after its third).
    world = pot_world(tmp_path)
    blocks = [pot_lines(*[(f"u{i}", "give", [1]) for i in range(3)]),
              pot_lines(*[(f"v{i}", "take", [1]) for i in range(15)])]
    [_, (a, b)], [_, info] = _both(world, blocks, workers=2)
    _same(a, b)
    assert [r["status"] for r in a.receipts_json].count("ok") == 3
    assert info["mode"] == "parallel" and info["fallback_from"] is not None and info["fallback_from"] <= 3


@pytest.mark.parametrize("checked", [True, False], ids=["lanes-check-themselves", "the-parent-checks-their-logs"])
def test_a_subtraction_that_underflows_only_on_its_lane_falls_back(tmp_path, monkeypatch, checked):
    # pot starts at 10 (block 1).  u0 adds 5, u1 takes 12: alone, u1's lane sees 10 and underflows;
    # in block order it sees 15 and succeeds.  The reverted take is a read of the pot in its lane's
    # log, which the other lane added to before it: found by the lane's own check, or by the
    # comparison of the lanes' logs (as in a window with a wildcard).
    if not checked:
        monkeypatch.setattr(parallel._BlockRun, "exact", lambda self, bounds: np.zeros(len(bounds) - 1, bool))
    world = pot_world(tmp_path)
    [(a1, b1), (a2, b2)], [_, info] = _both(world, [pot_lines(("u9", "give", [10])),
                                                    pot_lines(("u0", "give", [5]), ("u1", "take", [12]))], workers=2)
    _same(a1, b1)
    _same(a2, b2)
    assert [r["status"] for r in a2.receipts_json] == ["ok", "ok"]
    assert info["lanes"] == 2 and info["fallback_from"] == 1 and (info["checked_windows"] > 0) == checked, info


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (0, 2, 1, 3), (1, 0, 3, 2)])
def test_adds_that_dip_and_come_back_on_two_lanes_fall_back_where_block_order_runs_out(tmp_path, order):
    # The pot holds 3.  One lane takes 3 and gives it back, the other takes 2 and gives it back:
    # each lane alone stays in range and ends where it began, but in block order the second take
    # may come while the first lane's 3 is out (a running value, not the lanes' ends, says so).
    world = pot_world(tmp_path)
    moves = [("u0", "take", [3]), ("u1", "take", [2]), ("u2", "give", [3]), ("u3", "give", [2])]
    [_, (a, b)], _ = _both(world, [pot_lines(("u9", "give", [3])), pot_lines(*[moves[k] for k in order])],
                           workers=2)
    _same(a, b)


def test_an_access_outside_the_summary_stays_exact(tmp_path, monkeypatch):
    # With give's write to mine[msg.sender] forgotten, u0's two gives may land on two lanes; the
    # second lane's write of mine[u0] after the first's is outside its rows.
    block = pot_lines(*[(f"u{i % 3}", "give", [1]) for i in range(6)])
    info = _forgetful_run(monkeypatch, pot_world(tmp_path), block, "give", "mine")
    assert info["mode"] == "parallel" and info["fallback_from"] is not None, info


def test_a_block_run_inline_leaves_the_workers_to_the_next_block_on_lanes_which_brings_them_in_step(tmp_path):
    # A block the parent runs alone leaves the replicas behind the state: they are not closed in its
    # time (1-4 ms), and when a block next goes to lanes, what the blocks run alone changed is sent to
    # them (``Sync``), instead of forking new ones (a fork, and copies of the pages each touches).
    # When the state moved otherwise (here, a block of the sequential executor), new ones are forked.
    world = pot_world(tmp_path)
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    try:
        executor.force = True
        gives = parse_block_text(pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(20)]), "b.jsonl")
        _same(seq.run_block(gives), par.run_block(gives, executor="parallel", workers=2))
        started = [w.process.pid for w in executor._pool]
        assert executor.last["mode"] == "parallel" and len(started) == 2
        executor.force = False  # (blocks too small for lanes: the parent runs them)
        for sender, amount in (("u1", 1), ("u2", 3), ("u1", 2)):
            take = parse_block_text(pot_lines((sender, "take", [amount])), "b.jsonl")
            _same(seq.run_block(take), par.run_block(take, executor="parallel", workers=2))
            assert executor.last["mode"] == "inline" and [w.process.pid for w in executor._pool] == started
        assert all(w.process.is_alive() for w in executor._pool) and executor.replicas_ready()
        executor.force = True  # (the same calls again: they read what the blocks run alone wrote)
        _same(seq.run_block(gives), par.run_block(gives, executor="parallel", workers=2))
        assert executor.last["mode"] == "parallel" and [w.process.pid for w in executor._pool] == started
        take = parse_block_text(pot_lines(("u3", "take", [1])), "b.jsonl")
        _same(seq.run_block(take), par.run_block(take, executor="sequential"))
        assert not executor.replicas_ready()
        _same(seq.run_block(gives), par.run_block(gives, executor="parallel", workers=2))
        assert executor.last["mode"] == "parallel"
        assert len(executor._pool) == 2 and not set(w.process.pid for w in executor._pool) & set(started)
    finally:
        par.close()
        seq.close()


def test_the_machine_is_timed_when_prepared_and_not_again_for_a_block_right_after(tmp_path, monkeypatch):
    # The cost model's speed is the machine's now: timed at most once a second (parallel.MODEL_S),
    # first when the executor is prepared at start-up, then by a block that starts later.
    timed: list[float] = []
    real = cost_model.reference_us
    monkeypatch.setattr(cost_model, "reference_us", lambda *a, **k: timed.append(real(*a, **k)) or timed[-1])
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)  # (lanes can run: on a machine of one CPU too)
    world = pot_world(tmp_path, ROUNDS, "Worker")
    block = pot_lines(*[(f"u{i}", "work", []) for i in range(600)])  # (heavy enough that its speed counts)
    with Chain.open(world) as chain:
        chain.run_block(parse_block_text(pot_lines(("admin", "set_rounds", [2000])), "setup.jsonl"))
        executor = parallel.executor_for(chain, 2).__self__
        executor.prepare()
        assert len(timed) == 1 and executor.rows is not None and not executor._pool
        chain.run_block(block.encode(), executor="parallel", workers=2)
        assert len(timed) == 1 and executor.last["speed"] is not None, executor.last
        monkeypatch.setattr(parallel, "MODEL_S", 0.0)
        chain.run_block(block.encode(), executor="parallel", workers=2)
        assert len(timed) == 2 and executor.last["speed"] is not None, executor.last


def test_lane_run_prepares_lanes_only_for_a_block_file_that_may_be_worth_them(tmp_path, monkeypatch):
    # Judged by the file's size before it is read: at most a transaction every LINE_BYTES_LEAST bytes,
    # too few for lanes, or too light even were each a call of the world's costliest function.
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)  # (lanes can run: on a machine of one CPU too)
    (tmp_path / "heavy").mkdir()
    (tmp_path / "light").mkdir()
    heavy, light = pot_world(tmp_path / "heavy", ROUNDS, "Worker"), pot_world(tmp_path / "light")
    (tmp_path / "few.jsonl").write_text(pot_lines(("u1", "work", [])))
    (tmp_path / "many.jsonl").write_text(pot_lines(*[(f"u{i}", "work", []) for i in range(2000)]))
    for world, name, prepared in ((heavy, "few", False), (heavy, "many", True), (light, "many", False)):
        with Chain.open(world) as chain:
            parallel.prepare(chain, 2, [tmp_path / f"{name}.jsonl"])
            executor = chain._parallel
            assert (executor.timed is not None and executor.rows is not None) == prepared, (world, name)
            assert not executor._pool  # (forked when a block first goes to lanes)


@pytest.mark.parametrize("fault", ["die", "hang"])
def test_a_worker_that_dies_or_hangs_is_given_up_and_its_work_redone(tmp_path, fault):
    world = pot_world(tmp_path)
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    executor.timeout = 3.0
    try:
        raw = parse_block_text(pot_lines(*[(f"u{i}", "give", [i]) for i in range(20)]), "b.jsonl")
        executor._ensure_pool()
        before = [w.process.pid for w in executor._pool]
        executor.faults = [fault]  # sent to every worker ahead of its lane
        a = seq.run_block(raw)
        b = par.run_block(raw, executor="parallel", workers=2)
        _same(a, b)
        assert executor.last["failed_lanes"] >= 1
        assert [w.process.pid for w in executor._pool] != before
        # The replaced pool serves the next block normally.
        raw2 = parse_block_text(pot_lines(*[(f"v{i}", "give", [1]) for i in range(8)]), "b.jsonl")
        _same(seq.run_block(raw2), par.run_block(raw2, executor="parallel", workers=2))
        assert executor.last["failed_lanes"] == 0
    finally:
        par.close()
        seq.close()


def test_a_window_far_longer_than_its_timeout_is_not_taken_for_a_hang(tmp_path, monkeypatch):
    # Heavy calls a block's sample missed make a window last far longer than predicted: a lane at
    # work says so between its batches of transactions (Progress), and the parent waits on.  (Here
    # the timeout is set below the window's time; without the lanes' Progress the block ran inline
    # after a fault.)
    from compiler.runtime import replica

    monkeypatch.setattr(replica, "PROGRESS_S", 0.02)  # (the workers are forked after this)
    monkeypatch.setattr(replica, "PROGRESS_BATCH", 1)
    world = pot_world(tmp_path, HEAVY.replace("min(rounds, 5000)", "min(rounds, 50000)"), "Miner")
    block = pot_lines(*[(f"u{i}", "mine", [50000]) for i in range(160)])
    [(a, b)], [info] = _both(world, [block], workers=2, timeout=0.3)
    _same(a, b)
    assert info["mode"] == "parallel" and info["failed_lanes"] == 0 and info["fallback_from"] is None, info
    assert b.seconds > 2 * 0.3  # (the premise: each lane's window outlasts the timeout)


@pytest.mark.parametrize("lines", [5, 200, 2_000, 20_000, 200_000])
def test_the_estimate_decodes_whole_lines_from_a_small_share_of_the_block(lines):
    line = b'{"from": "u1", "to": "pot", "fn": "give", "args": [123456]}'
    source = b"\n".join(line for _ in range(lines)) + b"\n"
    chunks = plan._sample_chunks(source)
    taken = sum(len(c) for c in chunks)
    budget = min(plan.SAMPLE_BYTES, max(plan.SAMPLE_MIN_BYTES, len(source) // plan.SAMPLE_SHARE))
    assert taken <= budget and all(set(c.rstrip(b"\n").split(b"\n")) == {line} for c in chunks)
    assert len(chunks) == (1 if len(source) <= budget else plan.SAMPLE_CHUNKS)


def test_a_small_block_runs_inline_by_the_cost_model(tmp_path, monkeypatch):
    # ... before any estimate (a sample of a small block would be most of it, decoded twice).
    def no_estimate(self):
        raise AssertionError("a block this small needs no estimate")

    monkeypatch.setattr(parallel._BlockRun, "estimate", no_estimate)
    world = pot_world(tmp_path)
    [(a, b)], [info] = _both(world, [pot_lines(("u0", "give", [1]), ("u1", "give", [2]))], workers=2,
                             force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"] == "the block is too small"


# The Pot, with a function whose worst case is costly (a block of its light calls is still sampled).
POT_AND_SPIN = POT.replace("pub fn look()", """pub fn spin(n: u256) -> u256 {
        let h: u256 = 1;
        for i in 0..min(n, 50000) { h = (h * 3 + i) % 1000003; }
        return h;
    }
    pub fn look()""")


def _timed_at(us: float):
    """A stand-in for the estimate's timing (``_measure``): every function of the sample takes ``us``."""
    return lambda self, sample, fids, *_: {f: us for f in fids if f >= 0}


def _timed_by_name(us: dict[str, float]):
    """A stand-in for ``_measure``: each function of the sample takes ``us`` of its name."""
    return lambda self, sample, fids, *_: {f: us[self.ex.table.functions[f].name] for f in fids if f >= 0}


def _counted_measures(monkeypatch, why: str | None = None) -> list:
    """The estimate's timings of a block's calls, counted (one item each); with ``why``, timing the
    machine's speed fails with it."""
    measured: list[int] = []
    real = parallel._BlockRun._measure
    monkeypatch.setattr(parallel._BlockRun, "_measure", lambda self, *a: measured.append(1) or real(self, *a))
    if why is not None:
        def no_timing(*args, **kwargs):
            raise AssertionError(why)

        monkeypatch.setattr(cost_model, "reference_us", no_timing)
    return measured


def test_a_block_too_light_for_lanes_at_any_speed_does_not_time_the_machine(tmp_path, monkeypatch):
    # 400 light calls, half of them of a function whose worst case is costly (``spin`` of one round):
    # their times are measured, and the block is inline even on the fastest machine the model
    # allows, so the reference loop (a good share of such a block) is not run.
    measured = _counted_measures(monkeypatch, "a block this light needs no machine speed")
    world = pot_world(tmp_path, POT_AND_SPIN)
    block = pot_lines(*[(f"u{i % 50}", "give", [i + 1]) if i % 2 else (f"u{i % 50}", "spin", [1]) for i in range(400)])
    [(a, b)], [info] = _both(world, [block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("light transactions") and info["speed"] is None
    assert measured and "worst-case" not in info["why"], info


def test_a_block_light_at_its_worlds_worst_case_is_not_even_sampled(tmp_path, monkeypatch):
    # 2,000 calls of a world whose costliest function costs a few units: too light for lanes were
    # each call that function at its worst, so nothing is decoded or timed before it runs inline.
    def no_sample(*args, **kwargs):
        raise AssertionError("a block this light is not sampled")

    monkeypatch.setattr(plan, "_sample_spans", no_sample)
    monkeypatch.setattr(parallel._BlockRun, "_measure", no_sample)
    block = pot_lines(*[(f"u{i % 50}", "give", [i + 1]) for i in range(2000)])
    [(a, b)], [info] = _both(pot_world(tmp_path), [block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("light transactions: even at the worst-case"), info
    # With a costly function in the world, the block is sampled; light at the worst of the functions
    # its sample calls, none of them is timed.
    spin = tmp_path / "spin"
    spin.mkdir()
    [(a, b)], [info] = _both(pot_world(spin, POT_AND_SPIN), [block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("light transactions"), info
    assert "a sample's transactions" in info["why"] and info["speed"] is None, info


def test_a_block_light_at_its_samples_mix_of_worst_cases_is_not_timed(tmp_path, monkeypatch):
    """Light calls with a costly one now and then: too heavy for the rule of the world's costliest
    function (every transaction at its worst case), and its sample calls it; at each sampled
    transaction's own function's worst case, light: nothing is timed.  Half of them costly, timed."""
    from compiler.runtime.cost_model import CostModel as Model

    measured = _counted_measures(monkeypatch)
    world = pot_world(tmp_path, HEAVY.replace("min(rounds, 5000)", "min(rounds, 200)"), "Miner")
    every = 50
    block = pot_lines(*[(f"u{i % 97}", "mine", [200]) if i % every == 0 else (f"u{i % 97}", "poke", [1])
                        for i in range(3000)])
    with Chain.open(world) as chain:  # (the premise, in the model's own units)
        costs = dict(zip([f.name for f in parallel.FunctionTable(chain.world).functions],
                         parallel.FunctionTable(chain.world).costs))
    model = Model()
    light = lambda cost: model.inline_us(model.static_us(cost) * 3000, 3000) < model.min_work_us  # noqa: E731
    assert not light(costs["mine"]) and light(costs["poke"] + costs["mine"] / every * 2)
    [(a, b)], [info] = _both(world, [block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and "a sample's transactions" in info["why"] and not measured, info
    half = pot_lines(*[(f"u{i % 97}", "mine" if i % 2 else "poke", [200 if i % 2 else 1]) for i in range(3000)])
    [(a, b)], [info] = _both(world, [half], workers=2, force=False)
    _same(a, b)
    assert measured, info


# ------------------------------------------------------------- the demo world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_demo_blocks_match_with_one_to_three_workers():
    for workers in (1, 2, 3):
        seq, par = Chain.open(EXAMPLES / "demo" / "world.toml"), Chain.open(EXAMPLES / "demo" / "world.toml")
        parallel.executor_for(par, workers).__self__.force = True
        try:
            for name, number in (("block1.jsonl", None), ("block2.jsonl", None), ("block3.jsonl", 600)):
                raw = read_block(EXAMPLES / "demo" / name)
                _same(seq.run_block(raw, number=number),
                      par.run_block(raw, number=number, executor="parallel", workers=workers))
        finally:
            par.close()
            seq.close()


# A differential property: random transfer/give blocks over few and many senders.
@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), senders=st.integers(1, 30),
       workers=st.integers(1, 4))
def test_random_blocks_match_sequential(tmp_path_factory, seed, n, senders, workers):
    tmp = tmp_path_factory.mktemp("par")
    world = pot_world(tmp)
    rng = random.Random(seed)
    txs = []
    for _ in range(n):
        kind = rng.random()
        who = f"u{rng.randrange(senders)}"
        if kind < 0.6:
            txs.append((who, "give", [rng.choice([1, 7, 10**70, str(MAX // 3)])]))
        elif kind < 0.9:
            txs.append((who, "take", [rng.choice([1, 5, 10**70])]))
        else:
            txs.append((who, rng.choice(["look", "nope"]), []))
    [(a, b)], _ = _both(world, [pot_lines(*txs)], workers=workers)
    _same(a, b)


def test_verify_names_the_first_differing_receipt_and_keeps_nothing(tmp_path, monkeypatch):
    from compiler.diagnostics import LaneError

    world = pot_world(tmp_path)
    chain = Chain.open(world)
    executor = parallel.executor_for(chain, 2).__self__
    executor.force = True
    real = executor.run

    def wrong(*args, **kwargs):  # a parallel run that gets receipt #1 wrong
        executed = real(*args, **kwargs)
        executed.digests = executed.digests[:32] + bytes(32) + executed.digests[64:]
        return executed

    monkeypatch.setattr(parallel, "executor_for", lambda c, w: wrong)
    raw = parse_block_text(pot_lines(("u0", "give", [1]), ("u1", "give", [2]), ("u2", "give", [3])), "b.jsonl")
    root = chain.state_root()
    with pytest.raises(LaneError, match=r"verify failed: receipt #1 differs"):
        chain.run_block(raw, executor="parallel", workers=2, verify=True)
    assert chain.state_root() == root and chain.number == 0
    assert chain.call("pot", "look", [])[1] == 0  # the lanes' writes were taken back
    ok = chain.run_block(raw, executor="sequential", verify=True)
    assert [r["status"] for r in ok.receipts_json] == ["ok", "ok", "ok"]
    chain.close()


def test_lane_bench_measures_both_executors(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "compiler", "bench", "--workloads", "transfers", "--accounts",
                           "3,500", "--workers", "2", "-n", "60", "--repeat", "1", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    assert [r["accounts"] for r in rows] == [3, 500]
    for row in rows:
        assert row["transactions"] == 60 and row["sequential_s"] > 0
        assert {(run["workers"], run["forced"]) for run in row["runs"]} == {(2, False), (2, True)}
        forced = next(run for run in row["runs"] if run["forced"])
        assert forced["mode"] == "parallel" and forced["ideal"] == min(2, row["parallelism"])
        # Scheduling is measured apart; the parent's own time per transaction and the CPU spent over
        # the sequential run's are reported with the ceiling of two processes measured in the same run.
        assert forced["parts"]["schedule"] > 0 and forced["parent_us_per_tx"] > 0
        assert forced["speedup"] > 0 and forced["extra_work"] > 0 and row["ceiling"] > 0
    # Fewer accounts, more contention: less parallelism in the DAG.
    assert rows[0]["parallelism"] < rows[1]["parallelism"]
    assert "2 workers lanes:" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "compiler", "bench", "--workloads", "nft"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "unknown workload 'nft'" in bad.stderr and "Traceback" not in bad.stderr


def test_a_benchmarks_base_state_is_made_afresh_each_time(tmp_path):
    """The benchmarks' base state (genesis and the setup block) is the same however often it is
    made in one folder: made again, it does not take the setup block a second time."""
    from compiler.bench import _prepare
    from compiler.workload import GenOptions, generate

    generate(tmp_path, GenOptions("transfers", 20, 5, 0.0, 1, 0.0, 1))
    roots = []
    for _ in range(2):
        with Chain.open(tmp_path / "world.toml", _prepare(tmp_path)) as chain:
            roots.append((chain.number, chain.state_root()))
    assert roots[0] == roots[1] and roots[0][0] == 1


# ------------------------------------------- escapes from either side, lanes chosen by the test

@pytest.mark.parametrize("through, routed", [(False, False), (True, False), (False, True)],
                         ids=["of-its-instance", "of-every-instance", "rows-routed-by-the-workers"])
def test_a_write_outside_the_rows_of_a_window_with_a_wildcard_is_caught_where_no_other_lane_touches_it(
        tmp_path, monkeypatch, through, routed):
    # rename writes names[*] (directly, or through a router: of every instance), so the window has a
    # wildcard and the parent compares the lanes' logs.  The gives' adds to credits are forgotten
    # (as a bug in the analysis would have it), each to an account no other transaction touches: no
    # comparison of logs can find them.  Each lane's check of its own writes does (rename's write of
    # names[2] is within its wildcard's variable), and the block runs on sequentially from the first
    # give.  The lanes' rows, wildcards' included, come with their lanes or routed by the workers.
    world = make_world(tmp_path, {"c.lane": NAMES + ROUTER}, [
        {"name": "pot", "source": "c.lane", "contract": "Names", "args": []},
        {"name": "router", "source": "c.lane", "contract": "Router", "args": []}])
    rename = tx("z", "router", "relay", "pot", 2, "w0") if through else tx("z", "pot", "rename", 2, "w0")
    block = block_text([rename] + [tx(f"u{i}", "pot", "give", f"w{i}", 1) for i in range(1, 40)])
    info = _forced_run(world, block, force_routed=routed)
    assert info["mode"] == "parallel" and info["checked_windows"] == 0 and info["fallback_from"] is None, info
    assert info["calls_routed"] is routed
    info = _forced_run(world, block, forget=(monkeypatch, "Names", "give", "credits"), force_routed=routed)
    assert info["mode"] == "parallel" and info["lanes"] == 2 and info["checked_windows"] == 0, info
    assert info["fallback_from"] == 1, info
    assert info["why"] == f"{merge.OUTSIDE}: sequential from transaction 1 (line 2)", info


BOX = """
contract Box {
    storage m: map<u256, u256>;
    storage out: map<u256, u256>;
    event Moved(v: u256);
    pub fn set(k: u256, v: u256) { m[k] = v; }
    pub fn copy(src: u256, dst: u256) { out[dst] = m[src]; }
    pub fn show(src: u256) { emit Moved(m[src]); }
    pub fn twice(k: u256) { m[k] = m[k] * 2; }
    pub fn look(k: u256) -> u256 { return m[k]; }
}
"""


def _box_txs(*txs: tuple[str, list]) -> str:
    return pot_lines(*[(f"u{i}", fn, args) for i, (fn, args) in enumerate(txs)])


def _wrong_summary(chain: Chain, fn: str, change) -> None:
    """Make ``fn``'s compiled summary wrong: ``change(location, mode)`` returns the new mode, or
    None to forget the access (as a bug in the analysis would)."""
    compiled = chain.compiled_summaries
    entry = compiled.by_function[("Box", fn)]
    real = entry.inst
    m = compiled.var_ids("Box", "m")

    def inst(sender, target, args, read, number, timestamp, out, imm=None):
        real(sender, target, args, read, number, timestamp, out, imm)
        changed = [(loc, change(loc, mode) if loc[1] == m else mode) for loc, mode in out]
        out[:] = [(loc, mode) for loc, mode in changed if mode is not None]
        return out

    entry.inst = inst
    compiled.__dict__.pop("by_function_object", None)


@pytest.mark.parametrize("case", [
    # (the block, the function whose summary is wrong, how, the first lane, the second lane): the
    # second transaction, on the other lane, touches unpredicted what the first one wrote.
    # It copies a value the other lane writes.
    ((("set", [1, 5]), ("copy", [1, 2])), "copy", lambda loc, mode: None, [1], [0]),
    # ... or emits it.
    ((("set", [1, 5]), ("show", [1])), "show", lambda loc, mode: None, [1], [0]),
    # ... or computes with it.
    ((("set", [1, 5]), ("twice", [1])), "twice", lambda loc, mode: None, [1], [0]),
    # The parent writes, unpredicted, a location a worker reads.
    ((("set", [1, 5]), ("copy", [1, 2])), "set", lambda loc, mode: None, [0], [1]),
    # A worker writes a location it was predicted to read only; the parent reads it later.
    ((("twice", [3]), ("copy", [3, 4])), "twice", lambda loc, mode: 0, [1], [0]),
    # A worker reads a location outside its slice.
    ((("set", [1, 5]), ("copy", [1, 2])), "copy", lambda loc, mode: None, [0], [1]),
])
def test_an_access_outside_the_summary_on_either_lane_is_caught(tmp_path, monkeypatch, case):
    txs, fn, change, parent_lane, worker_lane = case
    world = pot_world(tmp_path, BOX, "Box")
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    lanes = [0] * len(txs)
    for k in worker_lane:
        lanes[k] = 1
    executor.force_lanes = lanes
    try:
        setup = parse_block_text(_box_txs(("set", [3, 7])), "setup.jsonl")
        _same(seq.run_block(setup), par.run_block(setup, executor="sequential"))
        _wrong_summary(par, fn, change)
        raw = parse_block_text(_box_txs(*txs), "b.jsonl")
        a = seq.run_block(raw)
        b = par.run_block(raw, executor="parallel", workers=2)
        _same(a, b)
        assert executor.last["mode"] == "parallel" and executor.last["fallback_from"] == 1
    finally:
        par.close()
        seq.close()


def test_a_generated_defi_block_runs_on_lanes_without_falling_back(tmp_path):
    """Wildcards on one token's balances (an NFT's seller read from storage) beside adds to another
    token's balance of the lending pool from every lane: the adds are shared, not owned by a lane."""
    from compiler.workload import GenOptions

    with _generated(tmp_path, GenOptions("defi", 1500, 1000, 0.0, 16, 0.0, 7)) as (seq, par, executor):
        block = read_block(tmp_path / "block.jsonl")
        a = seq.run_block(block)
        b = par.run_block(block, executor="parallel", workers=2)
        _same(a, b)
        assert executor.last["mode"] == "parallel" and executor.last["lanes"] == 2
        assert executor.last["fallback_from"] is None and executor.last["on_lanes"] == 1500


@contextlib.contextmanager
def _generated(tmp_path: Path, options):
    """A generated workload (``options``: ``GenOptions``) on two chains, its setup run on both: the
    sequential one, the parallel one and its executor, forced onto lanes."""
    from compiler.workload import generate

    generate(tmp_path, options)
    seq, par = Chain.open(tmp_path / "world.toml"), Chain.open(tmp_path / "world.toml")
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    try:
        setup = read_block(tmp_path / "setup.jsonl")
        seq.run_block(setup)
        par.run_block(setup, executor="sequential")
        yield seq, par, executor
    finally:
        par.close()
        seq.close()


def test_the_parent_passes_the_workers_replies_on_without_copying_them(tmp_path, monkeypatch):
    """The workers' replies lie in their arenas: the parent reads them there, and what it sends on
    (the stripes' calls, a window's writes) goes as where it lies; the block's file, the rows, the
    lanes and the shared adds' values every worker gets lie in the parent's arena.  So the parent's
    pipes carry what is each worker's own (the locations it owns, 8 KB here) and a window's bounds,
    not the block, its rows nor its writes: for 4,000 transfers, a file of 287 KB, about 15 KB a
    block (through pipes, the parent wrote more than 1 MB a block)."""
    import os

    from compiler.runtime import pool
    from compiler.workload import GenOptions

    moved = {"readv": 0, "writev": 0}
    parent = os.getpid()

    def counted(name):
        real = getattr(os, name)

        def call(fd, buffers):
            n = real(fd, buffers)
            if os.getpid() == parent:
                moved[name] += n
            return n
        return call

    with _generated(tmp_path, GenOptions("transfers", 4000, 1000, 0.0, 4, 0.0, 3)) as (seq, par, executor):
        raw = (tmp_path / "block.jsonl").read_bytes()
        for name in moved:
            monkeypatch.setattr(pool.os, name, counted(name))
        for _ in range(2):  # (the second block on the first's arenas, written from their start again)
            a = seq.run_block(raw)
            b = par.run_block(raw, executor="parallel", workers=2)
            _same(a, b)
            assert executor.last["mode"] == "parallel" and executor.last["windows"] >= 2, executor.last
    assert moved["writev"] < len(raw) / 8 and moved["readv"] < len(raw) / 8, (moved, len(raw))  # (two blocks)


def test_blocks_scheduled_then_run_inline_keep_the_arenas_bounded(tmp_path, monkeypatch):
    """A block the workers schedule but whose plan runs it inline never drains (the workers may not
    have read its ``Peers`` yet): its messages stay in the arenas, and the next block's are written
    after them (the replicas, brought in step, stay: a block on lanes came first).  Past
    ``ARENAS_HELD_MOST`` the workers go; a block on lanes releases the arenas."""
    from compiler.workload import GenOptions

    with _generated(tmp_path, GenOptions("transfers", 2000, 500, 0.0, 4, 0.0, 5)) as (seq, par, executor):
        raw = (tmp_path / "block.jsonl").read_bytes()
        transport = executor.transport

        def block(mode: str) -> None:
            a, b = seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2)
            _same(a, b)
            assert executor.last["mode"] == mode, executor.last

        block("parallel")
        assert transport.held() == 0
        with monkeypatch.context() as inline:
            inline.setattr(parallel._BlockRun, "plan", lambda self: None)  # (judged inline once scheduled)
            block("inline")
            first = transport.held()
            block("inline")
            assert transport.size == 2 and transport.held() == 2 * first and first > len(raw)
            monkeypatch.setattr(parallel, "ARENAS_HELD_MOST", transport.held())
            block("inline")
            assert transport.size == 0 and transport.held() == 0  # (the workers gone)
        block("parallel")
        assert transport.size == 2 and transport.held() == 0  # (released: written from the start again)


HEAVY = """\
contract Miner {
    storage seeds: map<address, u256>;
    storage light: map<address, u256>;

    pub fn mine(rounds: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(rounds, 5000) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        light[msg.sender] += 1;
        return h;
    }

    pub fn poke(v: u256) {
        light[msg.sender] += v;
    }
}
"""
APART = HEAVY.replace("        light[msg.sender] += 1;\n", "")  # (mine touches seeds alone, poke light alone)


@pytest.mark.parametrize("blank_every", [0, 50])
def test_failed_transactions_on_lanes_are_named_by_their_lines(tmp_path, blank_every):
    # Every seventh call takes more than the pot holds; with blank lines in both stripes or none
    # (then a stripe's lines are sent as its first line alone), the failures' lines are the file's.
    lines = []
    for i in range(600):
        lines.append(pot_lines((f"u{i}", "take" if i % 7 == 0 else "give", [10**6 if i % 7 == 0 else 1])))
        if blank_every and i % blank_every == 3:
            lines.append("")
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(lines) + "\n")
    world = pot_world(tmp_path)
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    try:
        a, b = seq.run_file(path), par.run_file(path, executor="parallel", workers=2)
        assert executor.last["mode"] == "parallel"
        assert len(a.executed.failures) == 86 and b.executed.failures == a.executed.failures
        assert a.executed.failures[-1][:2] == (595, 596 + (12 if blank_every else 0))
    finally:
        par.close()
        seq.close()


def test_a_block_light_then_heavy_runs_its_light_windows_in_the_parent(tmp_path, monkeypatch):
    """The cost model judges each window: 300 light calls run by the parent, 300 calls about a
    hundred times heavier on lanes, in one window; the heavy ones write what the light ones wrote
    (the replicas must have the parent's writes), and the result is the sequential one."""
    world, block = _light_then_heavy(tmp_path, monkeypatch, HEAVY)
    [(a, b)], [info] = _both(world, [block], workers=2, force=False, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["inline_windows"] >= 1, info
    assert 300 <= info["on_lanes"] < 300 + plan.WINDOW_MIN, info  # (a window holds the boundary)
    assert info["windows"] == 1, info  # (the heavy windows are one on lanes: their components deal evenly)
    assert info["ahead_windows"] == 0, info  # (the lanes' window adds to what the parent's writes)
    assert "light transactions ran in the parent" in info["why"]


def _light_then_heavy(tmp_path, monkeypatch, source: str):
    """300 light calls, then 300 heavy ones, their times fixed (timed on a loaded machine, a light
    call may look heavy enough for lanes), for a run at a fixed speed (``model=CostModel(1.0)``)."""
    _estimate_fixed(monkeypatch, {"poke": 2.0, "mine": 500.0})
    world = pot_world(tmp_path, source, "Miner")
    rng = random.Random(5)
    light = [(f"u{rng.randrange(40)}", "poke", [rng.randrange(1, 9)]) for _ in range(300)]
    heavy = [(f"u{rng.randrange(40)}", "mine", [3000]) for _ in range(300)]
    return world, pot_lines(*light, *heavy)


def test_heavy_calls_that_all_conflict_run_inline_before_any_schedule(tmp_path, monkeypatch):
    # Heavy enough for lanes, were they independent; all from one sender, one lane would run them
    # in order: the estimate sees it in its sample and the workers are never asked to schedule.
    def no_schedule(self):
        raise AssertionError("the block's transactions all conflict: nothing to schedule")

    monkeypatch.setattr(parallel._BlockRun, "schedule", no_schedule)
    _estimate_fixed(monkeypatch, 1000.0)  # (a loaded machine's timings and speed would have it judged light)
    world = pot_world(tmp_path, HEAVY, "Miner")
    [(a, b)], [info] = _both(world, [pot_lines(*[("u1", "mine", [3000])] * 300)], workers=2, force=False,
                             model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("conflicting transactions"), info
    assert "joined through Miner.seeds" in info["why"], info  # (what each call writes: seeds[msg.sender])


def test_a_block_of_two_hundred_heavy_calls_runs_on_lanes_timing_each_function_once_or_twice(tmp_path, monkeypatch):
    # 200 calls of about a millisecond each (fewer than the 256 that once ran inline as too small):
    # the estimate times no more calls of a function than one in RUN_SHARE of the block (a heavy
    # one once, not first run to warm the caches), and the block goes to lanes.
    monkeypatch.setattr(plan, "usable_cpus", lambda: 2)
    spread = []
    real_spread = plan._spread
    monkeypatch.setattr(plan, "_spread", lambda seq, most: spread.append(most) or real_spread(seq, most))
    world = pot_world(tmp_path, HEAVY, "Miner")
    text = pot_lines(*[(f"u{i}", "mine", [5000]) for i in range(200)])
    # (as a block file's bytes: the calls the estimate decoded go to the workers)
    # (the machine's speed fixed: a loaded machine's would have the calls judged light; the calls
    # themselves are timed, which is what is counted)
    [(a, b)], [info] = _both(world, [text], workers=2, force=False, as_file=True, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["estimated"]["lanes"] < info["estimated"]["inline"], info
    runs = [most for most in spread if most <= plan.SAMPLE_MORE_RUNS]  # (the timed runs': not the chain sample's)
    assert runs and max(runs) == max(1, 200 // plan.RUN_SHARE), spread


def test_a_small_block_is_its_own_sample_decoded_once(tmp_path, monkeypatch):
    # 200 light calls in a world with a costly function: the block is sampled; it is its own sample,
    # and the inline run takes the calls the estimate decoded, not the bytes again.
    from compiler.runtime import decode

    decoded = []
    real_decode = decode.Decoder.decode
    monkeypatch.setattr(decode.Decoder, "decode", lambda self, data, *a: decoded.append(len(data)) or
                        real_decode(self, data, *a))
    world = pot_world(tmp_path, POT_AND_SPIN)
    text = pot_lines(*[(f"u{i % 50}", "give", [i + 1]) for i in range(200)])
    [(a, b)], [info] = _both(world, [text], workers=2, force=False, as_file=True)
    _same(a, b)
    assert info["mode"] == "inline" and "a sample's transactions" in info["why"], info
    assert decoded == [len(text)] * 2, decoded  # (the sequential run's, then the parallel one's: once each)


def test_a_small_block_whose_calls_all_conflict_runs_inline_before_the_machine_is_timed(tmp_path, monkeypatch):
    # 128 heavy calls from one sender: a block under 256, its own sample, one of its calls timed
    # (one in RUN_SHARE), then instantiated: one group in every part, one lane whatever they cost;
    # neither the machine's speed nor the lanes are priced.
    measured = _counted_measures(monkeypatch, "calls that all conflict need no machine speed")
    world = pot_world(tmp_path, HEAVY, "Miner")
    text = pot_lines(*[("u1", "mine", [5000])] * 128)
    [(a, b)], [info] = _both(world, [text], workers=2, force=False, as_file=True)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("conflicting transactions"), info
    assert "2.0x" in info["why"] and "joined through Miner.seeds" in info["why"] and measured == [1], info


def test_a_small_block_of_light_calls_whose_worst_case_is_costly_is_timed_not_instantiated(tmp_path, monkeypatch):
    # 100 calls, half of ``spin`` of one round (its worst case a 50,000-round loop): estimated, its
    # calls timed (cheap), and light on the fastest machine the model allows: inline before its
    # sample is instantiated (which would cost more than such a block's run).
    def no_rows(*args, **kwargs):
        raise AssertionError("a light block is not instantiated")

    monkeypatch.setattr(parallel._BlockRun, "_sampled_rows", no_rows)
    world = pot_world(tmp_path, POT_AND_SPIN)
    text = pot_lines(*[(f"u{i % 50}", "give", [i + 1]) if i % 2 else (f"u{i % 50}", "spin", [1])
                       for i in range(100)])
    [(a, b)], [info] = _both(world, [text], workers=2, force=False, as_file=True)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("light transactions"), info
    assert info["estimated"] is not None and info["estimated"]["lanes"] is None, info


def test_the_cost_model_follows_the_machines_speed(tmp_path):
    """The executor's own work is priced at the speed the machine runs Python now (a reference loop
    timed per block, reported as ``speed``): the same heavy block goes to lanes where that work is
    cheap beside the calls' measured time, and runs inline where it is dear."""
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(3)
    block = pot_lines(*[(f"u{rng.randrange(200)}", "mine", [300]) for _ in range(1000)])
    raw = parse_block_text(block, "b.jsonl")
    with Chain.open(world) as seq:
        a = seq.run_block(raw)
    got = {}
    for speed in (0.2, 5.0, None):  # (None: as timed here)
        with Chain.open(world) as par:
            executor = parallel.executor_for(par, 2).__self__
            executor.model = None if speed is None else CostModel(speed)
            try:
                got[speed] = (par.run_block(raw, executor="parallel", workers=2), dict(executor.last))
            finally:
                executor.close()
    for b, _ in got.values():
        _same(a, b)
    assert got[0.2][1]["mode"] == "parallel" and got[0.2][1]["speed"] == 0.2, got[0.2][1]
    assert got[5.0][1]["mode"] == "inline" and got[5.0][1]["why"].startswith("light transactions"), got[5.0][1]
    low, high = cost_model.SPEED_RANGE
    assert low <= got[None][1]["speed"] <= high, got[None][1]


def test_a_block_on_lanes_reports_all_the_time_it_took(tmp_path):
    """A block's ``seconds`` is the wall time a user waits for: on lanes, the estimate of the block
    and the start of the workers count as scheduling, and nothing the executor spent is left out of
    the phases (they once left out the estimate, the fork and the receipts' packing)."""
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(5)
    raw = parse_block_text(pot_lines(*[(f"u{rng.randrange(200)}", "mine", [300]) for _ in range(600)]), "b.jsonl")
    with Chain.open(world) as par:
        executor = parallel.executor_for(par, 2).__self__
        executor.model = CostModel(0.2)  # (lanes, whatever this machine's speed)
        try:
            result = par.run_block(raw, executor="parallel", workers=2)
        finally:
            executor.close()
    detail = result.detail
    assert detail["mode"] == "parallel", detail
    parts = detail["seconds"]
    assert parts["estimate"] > 0 and parts["start"] > 0 and parts["receipts"] > 0, parts
    executor_phases = sum(v for k, v in result.phases.items() if k not in ("read", "commit"))
    assert executor_phases >= parts["total"], (result.phases, parts)
    assert result.phases["schedule"] >= parts["estimate"] + parts["start"] + parts["schedule"], (result.phases, parts)
    assert result.seconds == pytest.approx(sum(result.phases.values()))
    # Heavy calls: part of the window shared in turns; what the lanes waited for the busiest one at
    # the window's end is some of the two lanes' time, at most the busiest's.
    assert detail["shared_windows"] == detail["windows"] >= 1, detail
    assert 0 <= parts["lanes_idle"] <= parts["workers_lanes"], parts


def test_a_process_that_can_use_one_cpu_runs_blocks_inline(tmp_path, monkeypatch):
    """Lanes on one CPU share it: where the process's affinity or its container's quota leaves it one
    CPU, a block the model would put on lanes runs inline, and says why (forced, it still goes)."""
    monkeypatch.setattr(parallel._BlockRun, "_measure", _timed_at(50.0))  # (heavy, however busy the machine)
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(8)
    raw = parse_block_text(pot_lines(*[(f"u{rng.randrange(200)}", "mine", [300]) for _ in range(600)]), "b.jsonl")
    got = {}
    for cpus, force in ((2, False), (1, False), (1, True)):
        monkeypatch.setattr(plan, "usable_cpus", lambda cpus=cpus: cpus)
        with Chain.open(world) as par:
            executor = parallel.executor_for(par, 2).__self__
            executor.model, executor.force = CostModel(0.2), force  # (lanes, whatever this machine's speed)
            try:
                got[cpus, force] = par.run_block(raw, executor="parallel", workers=2)
            finally:
                executor.close()
    assert got[2, False].detail["mode"] == "parallel", got[2, False].detail
    assert got[1, False].detail["mode"] == "inline", got[1, False].detail
    assert got[1, False].detail["why"].startswith("one CPU usable"), got[1, False].detail
    assert got[1, True].detail["mode"] == "parallel", got[1, True].detail
    assert len({r.state_root for r in got.values()}) == 1 and len({r.receipts_root for r in got.values()}) == 1
    # What the estimate predicted is reported where there was one: lanes at most 0.85 of inline.
    estimated = got[2, False].detail["estimated"]
    assert 0 < estimated["lanes"] <= plan.MIN_GAIN * estimated["inline"], estimated
    assert got[1, False].detail["estimated"] is None and got[1, True].detail["estimated"] is None


def test_more_lanes_than_cpus_are_priced_as_sharing_them(tmp_path, monkeypatch):
    """Four workers on two usable CPUs run no faster than two: the estimate prices a block's lanes on
    the CPUs they share, not on one CPU each (with one CPU each, the best on lanes is cheaper)."""
    monkeypatch.setattr(parallel._BlockRun, "_measure", _timed_at(50.0))
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(4)
    raw = pot_lines(*[(f"u{rng.randrange(5000)}", "mine", [300]) for _ in range(4000)]).encode()
    best = {}
    with Chain.open(world) as chain:
        for workers, cpus in ((2, 2), (4, 2), (4, 4)):
            monkeypatch.setattr(plan, "usable_cpus", lambda cpus=cpus: cpus)
            executor = parallel.ParallelExecutor(chain, workers)
            executor.model = CostModel(1.0)
            inline, best[workers, cpus] = parallel._BlockRun(executor, raw, "b.jsonl", 1, 12, None).estimate()
            executor.close()
    assert best[4, 4] < 0.8 * best[4, 2], best
    assert best[4, 2] == pytest.approx(best[2, 2], rel=0.1), best


def _estimate_fixed(monkeypatch, us: float | dict[str, float]) -> None:
    """The estimate's figures fixed, the same on any machine: every call timed at ``us`` (or at ``us``
    of its function's name), instantiating one at 1 us, two CPUs; and the plan's too: the calls between
    a block's setters are not timed again (``_by_stretch``: on a loaded machine they once cost twice
    their price, and the plan differed)."""
    monkeypatch.setattr(parallel._BlockRun, "_measure", _timed_by_name(us) if isinstance(us, dict) else _timed_at(us))
    monkeypatch.setattr(plan.Planning, "_by_stretch", lambda self, tx_us, valid: tx_us)
    sampled = parallel._BlockRun._sampled_rows
    monkeypatch.setattr(parallel._BlockRun, "_sampled_rows", lambda self, *a: (*sampled(self, *a)[:2], 1.0))
    monkeypatch.setattr(plan, "usable_cpus", lambda: 2)


def test_the_estimate_prices_decoding_inline_and_on_the_workers(tmp_path, monkeypatch):
    """A block run inline decodes each of its lines; on lanes its workers decode a stripe each (slower
    than the parent alone: ``SCHEDULE_DECODE``) before any runs.  The same calls given as text and
    given decoded (which neither decodes) differ by that, on both sides of the estimate (within the
    sample's imbalance of the lanes: the text's sample is of SAMPLE_CHUNKS places, the decoded block whole)."""
    _estimate_fixed(monkeypatch, 50.0)
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(5)
    raw = pot_lines(*[(f"u{rng.randrange(5000)}", "mine", [300]) for _ in range(4000)]).encode()
    model = CostModel(1.0)
    with Chain.open(world) as chain:
        executor = parallel.ParallelExecutor(chain, 2)
        executor.model = model
        try:
            text = parallel._BlockRun(executor, raw, "b.jsonl", 1, 12, None).estimate()
            given = chain.decoder().decode(raw, "b.jsonl", 0, 1)
            decoded = parallel._BlockRun(executor, given, "b.jsonl", 1, 12, None).estimate()
        finally:
            executor.close()
    n = 4000
    assert text[0] - decoded[0] == pytest.approx(model.decode_us(n), rel=0.02), (text, decoded)
    assert text[1] - decoded[1] == pytest.approx(model.decode_us(n) * plan.SCHEDULE_DECODE / 2, rel=0.1), \
        (text, decoded)
    assert text[1] < plan.MIN_GAIN * text[0]  # (lanes: each part of the block on them)


def test_the_estimate_counts_forking_the_workers_only_where_none_hold_the_state(tmp_path, monkeypatch):
    """A first block on lanes forks its workers (a few ms, more for a parent holding more memory):
    the estimate counts it on the lanes' side then, and not once a block on lanes has left workers
    holding the state as it is (until the state moves without them)."""
    _estimate_fixed(monkeypatch, 100.0)  # (lanes either way)
    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(6)
    raw = pot_lines(*[(f"u{rng.randrange(5000)}", "mine", [300]) for _ in range(3000)]).encode()
    with Chain.open(world) as chain:
        executor = parallel.executor_for(chain, 2).__self__
        executor.model = CostModel(1.0, resident_mb=100.0)
        try:
            estimates = {}
            for ready in (False, True):
                monkeypatch.setattr(executor, "replicas_ready", lambda: ready)
                estimates[ready] = parallel._BlockRun(executor, raw, "b.jsonl", 1, 12, None).estimate()
            monkeypatch.undo()
            assert not executor.replicas_ready()  # (no workers yet)
            executor.force = True  # (a block on lanes, whatever the estimate says: its workers kept)
            chain.run_block(parse_block_text(raw.decode(), "b.jsonl"), executor="parallel", workers=2)
            assert executor.last["mode"] == "parallel" and executor.replicas_ready(), executor.last
            chain.run_block(parse_block_text(pot_lines(("u1", "poke", [1])), "c.jsonl"))  # (without them)
            assert not executor.replicas_ready()
        finally:
            executor.close()
    assert estimates[False][0] == estimates[True][0]
    assert estimates[False][1] - estimates[True][1] == pytest.approx(2 * (4000 + 45 * 100)), estimates


def test_the_parent_beside_the_lanes_on_fewer_cpus_than_them_is_priced_as_the_cpus_are_shared(tmp_path,
                                                                                             monkeypatch):
    """Two lanes and the parent on two CPUs: all three share them while all run, and the longer of
    the parent's part and the lanes' runs its rest alone (the parent's part, 60, and half the
    lanes' 40: 80, where the work shared evenly by the CPUs said 70).  On three CPUs, the longest."""
    with Chain.open(pot_world(tmp_path, HEAVY, "Miner")) as chain:
        for cpus, expected in ((2, [80.0, 80.0, 50.0]), (3, [60.0, 60.0, 40.0])):
            monkeypatch.setattr(plan, "usable_cpus", lambda: cpus)
            run = parallel._BlockRun(parallel.ParallelExecutor(chain, 2), b"", "b.jsonl", 1, 12, None)
            got = run.beside_us(np.array([60.0, 40.0, 40.0]), np.array([40.0, 60.0, 20.0]),
                                np.array([80.0, 120.0, 40.0]))
            assert got.tolist() == pytest.approx(expected), (cpus, got)


def test_the_estimates_sample_holds_a_heavy_middle_third_as_a_third():
    """The sample is of lines from places spread over the block: enough of them that a block whose
    middle third is heavy is sampled a third heavy (from eight places it was a quarter: the block
    looked a fifth lighter than it was, a block gaining 1.3x on lanes nearly ran inline)."""
    n = 30_000
    raw = pot_lines(*[(f"u{k % 997}", "mine" if n // 3 <= k < 2 * n // 3 else "poke", [7]) for k in range(n)]).encode()
    lines = [line for chunk in plan._sample_chunks(raw) for line in chunk.splitlines()]
    heavy = sum(b'"mine"' in line for line in lines) / len(lines)
    assert abs(heavy - 1 / 3) < 0.05, heavy


def test_the_ceilings_two_halves_are_even_in_time_not_in_count():
    """The ceiling's two processes get halves of whole components as even in time as they can be:
    a block alternating a light call and a heavy one gets half the heavy calls in each half (split
    by count, in order, one half would get every light call and the other every heavy one)."""
    from compiler.bench import halves

    comp = list(range(8)) + [8, 8, 9, 9]                # (eight alone, then two pairs)
    took = [1.0, 100.0] * 4 + [60.0] * 4
    parts = halves(comp, took)
    assert sorted(parts[0] + parts[1]) == list(range(12)) and all(p == sorted(p) for p in parts)
    assert all({8, 9} <= set(p) or {10, 11} <= set(p) for p in parts)   # (each pair whole, one a half)
    assert [sum(took[j] for j in p) for p in parts] == [322.0, 322.0]
    assert [sum(took[j] == 100 for j in p) for p in parts] == [2, 2]


def test_the_time_replicas_take_to_keep_in_step_is_reported_apart(tmp_path):
    """Each lane applies the other lanes' writes after every window (its replica kept in step): that
    time is reported apart (``workers_sync``, within ``workers_time``, which counts every message a
    worker handled, those without a reply included; ``workers_cpu``, their CPU time on them, is no
    more than that), and ``lane bench``'s prediction for more
    cores does not share it among them: on c lanes each applies (c - 1) / c of the block's writes."""
    from compiler.bench import predict

    world = pot_world(tmp_path, HEAVY, "Miner")
    rng = random.Random(6)
    raw = parse_block_text(pot_lines(*[(f"u{rng.randrange(300)}", "mine", [50]) for _ in range(600)]), "b.jsonl")
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force, executor.force_window = True, 100
    try:
        _same(seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2))
    finally:
        par.close()
        seq.close()
    detail = executor.last
    assert detail["mode"] == "parallel" and detail["windows"] == 6, detail
    parts = detail["seconds"]
    assert 0 < parts["workers_sync"] < parts["workers_time"], parts
    assert 0 < parts["workers_cpu"] <= parts["workers_time"] * 1.01 + 1e-3, parts
    assert detail["cpu_seconds"] == pytest.approx(parts["parent_cpu"] + parts["workers_cpu"], abs=1e-5), detail
    # On as many cores as lanes, the prediction is the measured split; beyond, the part keeping the
    # replicas in step stays with each lane.
    assert predict(1.0, 0.1, 0.8, 2, 0.2, 2) == pytest.approx(predict(1.0, 0.1, 0.8, 2))
    assert predict(1.0, 0.1, 0.8, 16, 0.2, 2) == pytest.approx(1.0 / (0.1 + 0.6 / 16 + 0.2 * 15 / 16))
    assert predict(1.0, 0.1, 0.8, 16, 0.2, 4) == pytest.approx(1.0 / (0.1 + 0.6 / 16 + 0.2 / 3 * 15 / 16))


def _judged(tmp_path, monkeypatch, us: float, calls: list[tuple]) -> dict:
    """What the parallel executor did with a block of ``calls`` in the Miner world, each call timed
    at ``us`` and the machine's speed fixed (the same judgement on any machine); its result is the
    sequential executor's."""
    monkeypatch.setattr(parallel._BlockRun, "_measure", _timed_at(us))
    world = pot_world(tmp_path, HEAVY, "Miner")
    raw = parse_block_text(pot_lines(*calls), "b.jsonl")
    with Chain.open(world) as seq, Chain.open(world) as par:
        executor = parallel.executor_for(par, 2).__self__
        executor.model = CostModel(1.0)
        _same(seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2))
        return dict(executor.last)


def test_a_block_where_one_sender_makes_half_the_heavy_calls_runs_on_lanes(tmp_path, monkeypatch):
    """45% of the heavy calls from one sender: one component of 45% of the work and many small ones.
    Dealt in a snake order, half the small ones went beside it (its lane 70% of the work), the plan
    judged the block scheduled already dearer on lanes, and ran it inline: 0.86x-0.94x, where lanes
    gave 1.3x-1.5x.  Now the small ones fill the other lane first."""
    rng = random.Random(11)
    last = _judged(tmp_path, monkeypatch, 100.0, [("u0" if rng.random() < 0.45 else f"u{1 + rng.randrange(5000)}",
                                                   "mine", [10]) for _ in range(2000)])
    assert last["mode"] == "parallel", last


@pytest.mark.parametrize("senders", [2, 4, 8])
def test_heavy_calls_of_a_few_senders_in_turn_run_on_lanes(tmp_path, monkeypatch, senders):
    """Calls from two, four or eight senders in turn: as many components.  The plan's look at
    every eighth transaction saw one sender's calls only, took the block for joined whole, and cut
    it into windows of 128 calls whose round trips cost more than the lanes saved: it ran inline
    after its schedule, 0.88x-0.94x, where two senders in random order ran on lanes at 1.5x."""
    last = _judged(tmp_path, monkeypatch, 100.0, [(f"u{k % senders}", "mine", [10]) for k in range(2400)])
    assert last["mode"] == "parallel" and last["windows"] == 1, last


@pytest.mark.parametrize("w", [2, 3, 4])
def test_components_are_dealt_evenly_whether_alike_or_one_large_among_small_ones(w):
    rng = np.random.default_rng(w)
    n = 6000
    giant = np.r_[np.zeros(2700, np.int64), np.arange(1, n - 2700 + 1)]  # (45% in one, the rest alone)
    alike = rng.permutation(np.arange(n) % 1500)                         # (1,500 of four each)
    two_windows = np.arange(n) // 3000
    for label, window in ((giant, np.zeros(n, np.int64)), (alike, np.zeros(n, np.int64)),
                          (giant + (two_windows * n), two_windows)):
        _, label = np.unique(label, return_inverse=True)
        count = int(label.max()) + 1
        costs = rng.uniform(0.5, 1.5, n)
        lanes, loads = plan._deal(label, count, costs, window, w)
        assert np.array_equal(np.bincount(window * w + lanes, weights=costs, minlength=loads.size).reshape(loads.shape),
                              loads)
        for k in range(loads.shape[0]):
            comp = np.bincount(label[window == k], weights=costs[window == k])
            even = max(loads[k].sum() / w, comp.max())  # (a component runs whole on one lane)
            assert loads[k].max() <= 1.02 * even, (k, loads[k], even)
        assert len(set(zip(label.tolist(), lanes.tolist()))) == count  # (each component on one lane)


def test_calls_of_few_senders_are_not_judged_light_by_windows_their_few_writes_size(tmp_path, monkeypatch):
    """Calls from ten senders write ten locations: windows sized from the locations written are
    the smallest (128 calls), and each paying a round trip of its own looked light, so the block,
    scheduled already, ran inline.  A run of them is one window on lanes: they are judged without
    one each."""
    rng = random.Random(9)
    last = _judged(tmp_path, monkeypatch, 60.0, [(f"u{rng.randrange(10)}", "mine", [10]) for _ in range(3000)])
    assert last["mode"] == "parallel" and last["windows"] == 1, last


LOOPY = """\
contract Loopy {
    storage data: map<u256, u256>;
    storage acc: map<address, u256>;

    pub fn work(k: u256, rounds: u256) {
        let h: u256 = k + 1;
        for j in 0..min(rounds, 5000) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        for i in 0..64 {
            data[k * 64 + i] = h + i;
        }
        acc[msg.sender] += h % 1000;
    }
}
"""


def test_calls_costly_to_schedule_run_inline_before_any_schedule(tmp_path, monkeypatch):
    # Each call computes, then writes 64 keys in a loop: as heavy as calls that pay on lanes, but
    # instantiating its 65 accesses (call by call) costs about half of running it, and the parent
    # plans and checks each: the estimate instantiates its sample, and the workers are never asked.
    def no_schedule(self):
        raise AssertionError("lanes cost more than they save here: nothing to schedule")

    monkeypatch.setattr(parallel._BlockRun, "schedule", no_schedule)
    # (Each call's time as the project's machine measures it, at this machine's speed: lanes, were
    # scheduling free; instantiating its accesses, timed here, costs about a third of it.  A time
    # fixed in microseconds made the test depend on this machine's speed: a fast one instantiates
    # quickly beside it, and its lanes were then 2% dearer than inline.)
    monkeypatch.setattr(parallel._BlockRun, "_measure",
                        lambda self, sample, fids, *_: {f: 250.0 * self.model.speed for f in fids if f >= 0})
    world = pot_world(tmp_path, LOOPY, "Loopy")
    block = pot_lines(*[(f"u{k}", "work", [k, 150]) for k in range(1500)])
    [(a, b)], [info] = _both(world, [block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("costly to schedule"), info


PAIRS = """\
contract Miner {
    storage seeds: map<address, u256>;

    pub fn pair(to: address, rounds: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + seeds[to] + 1;
        for i in 0..min(rounds, 5000) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        seeds[to] = h;
        return h;
    }
}
"""


def test_heavy_calls_joined_only_over_the_whole_block_run_on_lanes_in_windows(tmp_path, monkeypatch):
    # Each call writes two of 600 accounts: sparse in a window of about 150 calls, one component
    # too large for the lanes over the whole block. Merged into one window the block would be the
    # parent's; windows sized from what it writes pay on lanes.  (The calls' times and the machine's
    # speed fixed, as a loaded machine's would judge them otherwise now and then.)
    _estimate_fixed(monkeypatch, 300.0)
    world = pot_world(tmp_path, PAIRS, "Miner")
    rng = random.Random(7)
    calls = [(f"u{rng.randrange(600)}", "pair", [f"u{rng.randrange(600)}", 1500]) for _ in range(1200)]
    [(a, b)], [info] = _both(world, [pot_lines(*calls)], workers=2, force=False, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["windows"] > 1 and info["on_lanes"] >= 1000, info


PRICED = """\
contract Miner {
    storage seeds: map<address, u256>;
    storage price: u256;

    pub fn mine(rounds: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + price + 1;
        for i in 0..min(rounds, 5000) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        return h;
    }

    pub fn set(p: u256) {
        price = p;
    }
}
"""


def test_heavy_calls_reading_a_price_a_few_set_run_on_lanes_between_the_sets(tmp_path, monkeypatch):
    # Every call reads the price; one in 200 sets it: each set alone in a window (the parent's),
    # the calls between two sets on lanes. The result is the sequential one.  (The calls' times and
    # the machine's speed fixed: timed on a loaded machine, the block was once judged otherwise.  A
    # call is priced at 1 ms, twice its time here: at its time, the short windows between a set and
    # the window before it, 22-49 calls, are at the model's edge between the lanes and the parent.)
    _estimate_fixed(monkeypatch, {"mine": 1000.0, "set": 2.0})
    world = pot_world(tmp_path, PRICED, "Miner")
    rng = random.Random(11)
    calls = [("u0", "set", [i]) if i % 200 == 150 else (f"u{rng.randrange(300)}", "mine", [1500])
             for i in range(800)]
    [(a, b)], [info] = _both(world, [pot_lines(*calls)], workers=2, force=False, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    assert info["inline_windows"] == 4 and info["on_lanes"] >= 700, info  # (the sets; most of the others on lanes)


@settings(max_examples=examples(8), deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10**6), n=st.integers(256, 700), senders=st.integers(1, 60), sets=st.integers(1, 4),
       workers=st.integers(2, 3))
def test_blocks_cut_at_the_sets_of_a_price_match_sequential(tmp_path_factory, seed, n, senders, sets, workers):
    # Forced onto lanes: the sets' windows too (the model would give them to the parent).
    world = pot_world(tmp_path_factory.mktemp("priced"), PRICED, "Miner")
    rng = random.Random(seed)
    at = set(rng.sample(range(n), sets))
    calls = [(f"u{rng.randrange(senders)}", "set", [rng.randrange(9)]) if i in at else
             (f"u{rng.randrange(senders)}", "mine", [rng.randrange(3)]) for i in range(n)]
    [(a, b)], [info] = _both(world, [pot_lines(*calls)], workers=workers)
    _same(a, b)
    assert info["mode"] == "parallel", info


def _imbalance(tmp_path, senders: list[str], workers: int = 2) -> float:
    """The estimate's imbalance of a block of mine calls from ``senders`` (every call equally heavy)."""
    with Chain.open(pot_world(tmp_path, HEAVY, "Miner")) as chain:
        block = chain.decoder().decode(pot_lines(*[(s, "mine", [1]) for s in senders]).encode(), "block", 0, 1)
        run = parallel._BlockRun(parallel.ParallelExecutor(chain, workers), block, "block", 1, 12, None)
        n = len(senders)
        picked, table, _ = run._sampled_rows(block, np.ones(n, bool))
        return run._imbalance(table, picked, np.arange(n) * plan.SAMPLE_CHUNKS // n, np.ones(n))[0]


@pytest.mark.parametrize("source, apart", [(APART, True), (HEAVY, False)], ids=["apart", "mine-adds-to-light"])
def test_the_estimate_counts_light_calls_beside_the_lanes_only_where_their_variables_keep_off_the_heavy_ones(
        tmp_path, source, apart):
    """poke adds to light; mine writes seeds, and in HEAVY adds to light too: there a poke may join
    a mine of its sender in the block, however sparse the sample, so the estimate does not count
    the pokes as the parent's part."""
    from compiler.runtime.functions import FunctionTable

    with Chain.open(pot_world(tmp_path, source, "Miner")) as chain:
        ex = parallel.ParallelExecutor(chain, 2)
        ex.table = table = FunctionTable(chain.world)
        run = parallel._BlockRun(ex, b"", "block", 1, 12, None)
        miner = next(iter(chain.world.instances.values()))
        poke, mine = table.ids[miner.function("poke")], table.ids[miner.function("mine")]
        fids = [poke, mine, poke, -1, poke]
        light = np.array([True, False, True, False, True])
        assert run._apart_by_variable(fids, light).tolist() == [apart, False, apart, False, apart]
        assert run._apart_by_variable([poke, poke], np.ones(2, bool)).tolist() == [True, True]  # (no heavy call)


def test_the_estimate_warms_a_call_before_timing_it_unless_it_is_long_and_read_nothing_from_a_file(tmp_path,
                                                                                                   monkeypatch):
    # Every call taken as long (WARM_S 0): one that reads its sender's seed from a state file is run
    # twice (its first run loads it), one whose reads are all in memory once.
    monkeypatch.setattr(plan, "WARM_S", 0.0)
    world, state = pot_world(tmp_path, HEAVY, "Miner"), tmp_path / "state.sqlite"
    text = pot_lines(*[(f"u{k}", "mine", [3]) for k in range(10)])
    with Chain.open(world, state) as chain:
        chain.run_block(parse_block_text(text, "b.jsonl"))
    with Chain.open(world, state) as chain:
        first = chain.world.addresses(["u0"])[0]
        assert _runs_timed(chain, text, shared=False) == [first, first]  # (one call timed: ten calls, RUN_SHARE)
        assert _runs_timed(chain, text, shared=False) == [first]  # (its seed in memory now)
    with Chain.open(world) as chain:
        assert _runs_timed(chain, text, shared=False) == [first]


def _runs_timed(chain: Chain, text: str, shared: bool) -> list[int]:
    """The senders of the calls the estimate of block ``text`` runs while it times them, a sender each
    run; ``shared``: every call through one function object, as a block's calls of one function are
    (else each through one of its own)."""
    from compiler.runtime.functions import FunctionTable

    ex = parallel.ParallelExecutor(chain, 2)
    ex.table = FunctionTable(chain.world)
    block = chain.decoder().decode(text.encode(), "block", 0, 1)
    runs: list[int] = []

    def counted(fn):
        return lambda ctx, *call: runs.append(call[1]) or fn(ctx, *call)

    block.fns = [counted(block.fns[0])] * len(block.fns) if shared else list(map(counted, block.fns))
    parallel._BlockRun(ex, block, "block", 2, 12, None)._measure(block, [ex.table.ids[f] for f in block.functions])
    return runs


def test_the_estimate_times_a_later_call_of_a_function_once_when_it_read_nothing_from_a_file(tmp_path,
                                                                                            monkeypatch):
    # Five calls of one function timed (none taken as long: WARM_S an hour): the first run twice (it
    # warms what a second run would find warm), the others once when they read nothing from a state
    # file; each twice when each reads its sender's seed from one (its first run loads it).
    from collections import Counter

    monkeypatch.setattr(plan, "WARM_S", 3600.0)

    world, state = pot_world(tmp_path, HEAVY, "Miner"), tmp_path / "state.sqlite"
    text = pot_lines(*[(f"u{k}", "mine", [3]) for k in range(5 * plan.RUN_SHARE)])
    with Chain.open(world, state) as chain:
        chain.run_block(parse_block_text(text, "b.jsonl"))
    with Chain.open(world) as chain:
        runs = _runs_timed(chain, text, shared=True)
        assert sorted(Counter(runs).values()) == [1, 1, 1, 1, 2] and runs[0] == runs[1]
    with Chain.open(world, state) as chain:
        assert sorted(Counter(_runs_timed(chain, text, shared=True)).values()) == [2, 2, 2, 2, 2]


def test_the_estimate_times_a_function_whose_calls_differ_by_their_mean(tmp_path, monkeypatch):
    # One call in three runs 3,000 rounds, the others 5: the five calls timed first (spread over
    # the sample) differ, so more are timed and their mean kept (about a third of a heavy call's
    # time), not their median (a light call's).  Timed on a clock that each call moves by the cost
    # it is metered (a nanosecond a unit): the judgement, not this machine's pauses, is tested.
    from types import SimpleNamespace

    from compiler.runtime.functions import FunctionTable

    now = [0.0]
    monkeypatch.setattr(plan, "time", SimpleNamespace(perf_counter=lambda: now[0]))

    def metered(fn):
        def run(ctx, *call):
            before = ctx.budget
            try:
                return fn(ctx, *call)
            finally:
                now[0] += (before - ctx.budget) * 1e-9
        return run

    with Chain.open(pot_world(tmp_path, HEAVY, "Miner")) as chain:
        ex = parallel.ParallelExecutor(chain, 2)
        ex.table = FunctionTable(chain.world)

        def measured(rounds: list[int]) -> float:
            text = pot_lines(*[(f"u{k}", "mine", [r]) for k, r in enumerate(rounds)])
            block = chain.decoder().decode(text.encode(), "block", 0, 1)
            block.fns = [metered(fn) for fn in block.fns]
            run = parallel._BlockRun(ex, block, "block", 1, 12, None)
            [got] = run._measure(block, [ex.table.ids[f] for f in block.functions]).values()
            return got

        heavy = measured([3000] * 20)
        rng = random.Random(4)  # (a block long enough for every run the estimate may make: RUN_SHARE)
        mixed = measured([3000 if rng.random() < 1 / 3 else 5 for _ in range(plan.RUN_SHARE * plan.SAMPLE_MORE_RUNS)])
        assert 0.15 * heavy < mixed < 0.7 * heavy, (mixed, heavy)


ROUNDS = """\
contract Worker {
    storage rounds: u256;
    storage seeds: map<address, u256>;

    pub fn set_rounds(r: u256) {
        rounds = r;
    }

    pub fn work() -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(rounds, 5000) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        return h;
    }
}
"""


def test_the_estimate_times_calls_on_the_state_the_samples_setters_leave(tmp_path):
    # The block first lowers the rounds every later call loops over: its calls are timed after
    # that (then it is undone with them), not on the state before the block, where they are heavy:
    # the block runs inline, not on lanes for light calls.
    from compiler.runtime.functions import FunctionTable

    world = pot_world(tmp_path, ROUNDS, "Worker")
    with Chain.open(world) as chain:
        chain.run_block(parse_block_text(pot_lines(("admin", "set_rounds", [3000])), "setup.jsonl"))
        root = chain.state_root()
        ex = parallel.ParallelExecutor(chain, 2)
        ex.table = FunctionTable(chain.world)

        def measured(*first: tuple) -> dict:
            text = pot_lines(*first, *[(f"u{k}", "work", []) for k in range(40)])
            block = chain.decoder().decode(text.encode(), "block", 0, 1)
            run = parallel._BlockRun(ex, block, "block", 2, 12, None)
            got = run._measure(block, [ex.table.ids[f] for f in block.functions])
            return {f.name: got[ex.table.ids[f]] for f in set(block.functions)}

        heavy = measured()["work"]
        times = measured(("admin", "set_rounds", [1]))
        assert times["work"] < 0.2 * heavy, (times, heavy)
        assert chain.state_root() == root and not chain.ctx.journal  # (the setter undone)
    block = pot_lines(("admin", "set_rounds", [1]), *[(f"u{k}", "work", []) for k in range(300)])
    [_, (a, b)], [_, info] = _both(world, [pot_lines(("admin", "set_rounds", [3000])), block], workers=2, force=False)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("light transactions"), info


def _beyond_the_sample(setter: tuple) -> list[tuple]:
    """600 calls of ``work``, ``setter`` among them at the first place from the 40th that leaves it
    out of the estimate's sample."""
    for at in range(40, 600):
        calls = [(f"u{k}", "work", []) for k in range(600)]
        calls.insert(at, setter)
        if not any(setter[1].encode() in chunk for chunk in plan._sample_chunks((pot_lines(*calls) + "\n").encode())):
            return calls
    raise AssertionError("every place is sampled")


def test_the_estimate_times_calls_after_a_setter_beyond_its_sample_found_in_the_blocks_text(tmp_path):
    # The rounds are 1 before the block; a call from its 40th on raises them to 3,000, beyond the
    # estimate's sample (lines from SAMPLE_CHUNKS places).  Found by its function's name in the block's text, it is run
    # before the sampled calls after it are timed: they are priced heavy (light without it), and the
    # state is as it was.
    from compiler.runtime.functions import FunctionTable

    world = pot_world(tmp_path, ROUNDS, "Worker")
    with Chain.open(world) as chain:
        chain.run_block(parse_block_text(pot_lines(("admin", "set_rounds", [1])), "setup.jsonl"))
        root = chain.state_root()
        ex = parallel.ParallelExecutor(chain, 2)
        ex.table = FunctionTable(chain.world)
        work = next(fid for fn, fid in ex.table.ids.items() if fn.name == "work")

        def priced(rounds: int) -> float:
            raw = (pot_lines(*_beyond_the_sample(("admin", "set_rounds", [rounds]))) + "\n").encode()
            run = parallel._BlockRun(ex, raw, "block", 2, 12, None)
            run.estimate()
            return run.measured[work]

        assert priced(3000) > 5 * priced(1)
        assert chain.state_root() == root and not chain.ctx.journal  # (the setter undone)


def test_the_plan_prices_calls_after_a_setter_the_estimates_sample_missed_as_they_cost(tmp_path, monkeypatch):
    # A call from the block's 40th on lowers the rounds every later call loops over; the estimate's
    # sample (lines from SAMPLE_CHUNKS places) does not hold it.  Once the workers have decoded the block, the
    # calls after the setter are timed again after it: the plan prices them light, those before it
    # heavy, and leaves the state as it was.
    priced = []
    by_stretch = plan.Planning._by_stretch

    def spy(self, tx_us, valid):
        out = by_stretch(self, tx_us, valid)
        priced.append((out, self.chain.state_root()))
        return out

    monkeypatch.setattr(plan.Planning, "_by_stretch", spy)
    world = pot_world(tmp_path, ROUNDS, "Worker")
    calls = _beyond_the_sample(("admin", "set_rounds", [1]))
    at = next(k for k, call in enumerate(calls) if call[1] == "set_rounds")
    block = pot_lines(*calls) + "\n"
    [(s, _), (a, b)], [_, info] = _both(world, [pot_lines(("admin", "set_rounds", [3000])), block], workers=2,
                                        as_file=True)
    _same(a, b)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    tx_us, root = priced[-1]  # (the second block's plan)
    assert np.median(tx_us[at + 1:]) < 0.2 * np.median(tx_us[:at]), (tx_us[:at], tx_us[at + 1:])
    assert root == s.state_root  # (the setter and the calls timed undone)


def test_the_estimate_deals_the_samples_groups_of_conflicting_transactions_to_the_lanes(tmp_path):
    # mine writes seeds[sender] (and adds to light[sender]): one group per sender.
    assert _imbalance(tmp_path, ["u1"] * 40) == pytest.approx(2.0)
    # (each part of the sample holding as many calls of each of three senders: 2 to 1 on two lanes)
    thirds = ["u1", "u2", "u3"] * plan.SAMPLE_CHUNKS * 8
    assert _imbalance(tmp_path, thirds) == pytest.approx(4 / 3)
    assert _imbalance(tmp_path, thirds, workers=3) == pytest.approx(1.0)
    assert _imbalance(tmp_path, [f"u{i}" for i in range(40)]) == pytest.approx(1.0)
    assert _imbalance(tmp_path, [f"u{i // 10}" for i in range(400)]) == pytest.approx(1.0)  # (grouped by sender)


def test_the_parent_runs_its_window_while_the_lanes_run_the_next_one_that_keeps_off_its_writes(tmp_path, monkeypatch):
    # The heavy calls touch only seeds (the light ones only light): the window holding the
    # boundary runs on lanes while the parent runs the light ones before it.
    # (Not the light calls run beside the lanes in their window, as the plan would have it: ``beside``.)
    world, block = _light_then_heavy(tmp_path, monkeypatch, APART)
    [(a, b)], [info] = _both(world, [block], workers=2, force=False, beside=False, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["ahead_windows"] == 1, info
    assert info["fallback_from"] is None, info


def _lanes_then_parent(tmp_path, monkeypatch, second: list[tuple[str, list]], forget: str | None = None) -> dict:
    """Forty sets of keys 0-39 on lanes, then ``second`` run by the parent (windows of forty: the
    second one the parent's), sequentially and in parallel (``forget``: a Box function's summary
    forgetting its accesses to ``m``): the parallel run's info."""
    block = _box_txs(*[("set", [k, k + 7]) for k in range(40)], *second)
    return _forced_run(pot_world(tmp_path, BOX, "Box"), block, forget=forget and (monkeypatch, "Box", forget, "m"),
                       force_window=40, force_inline={1})


def test_the_parent_runs_its_window_while_the_lanes_run_the_one_before_that_writes_nothing_it_touches(
        tmp_path, monkeypatch):
    info = _lanes_then_parent(tmp_path, monkeypatch, [("set", [100 + k, k]) for k in range(40)])
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["behind_windows"] == 1, info
    assert info["fallback_from"] is None, info


@pytest.mark.parametrize("then", ["other-keys", "the-same-keys"])
def test_the_parents_moves_made_while_the_lanes_run_the_last_window_are_made_again_if_they_change(
        tmp_path, monkeypatch, then):
    # The parent sets forty keys in the first window; while the lanes run the second, it makes its
    # moves and rows (its windows are over).  When the lanes double other keys, those hold; when
    # they double the same keys, the values it hashed are stale, and it makes them again (the
    # state root is the sequential run's either way).
    made: list[bool] = []
    real = merge._Merge.parent_moves

    def parent_moves(self, locations):
        made.append(self._ready is not None)
        return real(self, locations)

    monkeypatch.setattr(merge._Merge, "parent_moves", parent_moves)
    offset = 0 if then == "the-same-keys" else 100
    block = _box_txs(*[("set", [k, k + 7]) for k in range(40)], *[("twice", [offset + k]) for k in range(40)])
    info = _forced_run(pot_world(tmp_path, BOX, "Box"), block, force_window=40, force_inline={0})
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["fallback_from"] is None, info
    assert made == [True]


def test_the_parents_window_behind_the_lanes_that_reads_what_they_write_runs_again_after_them(tmp_path, monkeypatch):
    # Each copy reads a key the lanes' window sets, which copy's summary forgets: predicted apart,
    # the parent runs the copies behind the lanes and reads the keys before the sets; its log is
    # outside its rows, so its writes are taken back, and it runs the copies again once the lanes'
    # writes are in.
    info = _lanes_then_parent(tmp_path, monkeypatch, [("copy", [k, 100 + k]) for k in range(40)], forget="copy")
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["behind_windows"] == 0, info
    assert info["fallback_from"] is None, info


def test_a_chain_of_blocks_on_lanes_holds_a_bounded_amount_of_deferred_writes(tmp_path, monkeypatch):
    """Block after block on lanes, the lanes' writes wait in the parent as copies (a view would keep
    the whole reply it came in alive), a block's as each lane's values after it, and at a block's
    start the oldest are applied until at most ``PENDING_MOST`` bytes of them wait: the parent's
    memory does not grow with the chain.  What it applied early and what it applies last make the
    sequential run's state."""
    from compiler.runtime import chain as chain_module

    monkeypatch.setattr(chain_module, "PENDING_MOST", 1)  # (every older write applied at each block's start)
    world = pot_world(tmp_path, APART, "Miner")
    rng = random.Random(5)
    blocks = []
    for k in range(4):
        blocks.append(tmp_path / f"b{k}.jsonl")
        calls = [(f"u{rng.randrange(60)}", "poke", [rng.randrange(1, 9)]) for _ in range(300)]
        blocks[-1].write_text(pot_lines(*calls))
    with Chain.open(world) as seq, Chain.open(world) as par:
        executor = parallel.executor_for(par, 2).__self__
        executor.force, executor.force_window = True, 100
        waiting = []
        for block in blocks:
            a = seq.run_file(block)
            b = par.run_file(block, executor="parallel", workers=2)
            assert executor.last["mode"] == "parallel" and executor.last["fallback_from"] is None, executor.last
            assert (b.state_root, b.receipts_root) == (a.state_root, a.receipts_root)
            assert par._pending and all(type(blob) is bytes for blob in par._pending)
            assert par._pending_size == sum(map(len, par._pending))
            waiting.append(len(par._pending))
        # One block's writes wait, not the chain's: each lane's values after the block, in place of
        # its windows' writes (the parent's state took nothing during the block: _Merge.coalesce).
        assert waiting == [2] * len(blocks), waiting
        assert {a: [dict(v) for v in vs] for a, vs in par.ctx.storage.items()} == \
            {a: [dict(v) for v in vs] for a, vs in seq.ctx.storage.items()}


def test_a_location_a_block_on_lanes_changes_and_puts_back_is_left_out_of_what_the_parent_defers(tmp_path,
                                                                                                monkeypatch):
    """Transfers there and back in later windows of a block on lanes: the accounts end the block as
    they began it, so the lanes' values after the block (what the parent keeps of the block in place
    of each window's writes) leave them out, and the parent's state, which took nothing during the
    block, holds them right; a block the parent then runs itself finds them so."""
    import marshal

    from compiler.runtime import chain as chain_module

    monkeypatch.setattr(chain_module, "PENDING_MOST", 1)  # (the first block's writes applied at the second's start)
    world = token_world(tmp_path)
    fund = [tx("alice", "token", "transfer", f"u{k}", 100) for k in range(40)]
    there = [tx(f"u{k}", "token", "transfer", f"v{k}", 5 + k) for k in range(40)]
    back = [tx(f"v{k}", "token", "transfer", f"u{k}", 5 + k) for k in range(40)]
    moved = [tx("alice", "token", "transfer", f"w{k}", 1) for k in range(40)]
    with Chain.open(world) as seq, Chain.open(world) as par:
        executor = parallel.executor_for(par, 2).__self__
        executor.force, executor.force_window = True, 40
        for k, txs in enumerate([fund, there + back + moved]):
            raw = block_text(txs).encode()
            a, b = seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2)
            assert executor.last["mode"] == "parallel" and executor.last["fallback_from"] is None, executor.last
            assert (b.state_root, b.receipts_root) == (a.state_root, a.receipts_root)
        assert len(par._pending) == 2  # (the second block's: one from each lane)
        kept = [marshal.loads(blob) for blob in par._pending]
        keys = {key for writes in kept for values in writes.values() for key in values}
        address = par.world.address_of
        assert {address(f"w{k}") for k in range(40)} <= keys and not keys & {address(f"u{k}") for k in range(40)}
        executor.force = False  # (a small block: the parent runs it on its state)
        last = [tx(f"u{k}", "token", "transfer", "z", 100) for k in range(40)]
        raw = block_text(last).encode()
        a, b = seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2)
        assert executor.last["mode"] == "inline" and b.executed.counts == a.executed.counts
        assert a.executed.counts["reverted"] == 0
        assert (b.state_root, b.receipts_root) == (a.state_root, a.receipts_root)


@pytest.mark.parametrize("again", [False, True])
def test_the_parents_moves_are_committed_right_with_the_lanes_writes_deferred(tmp_path, again):
    """The parent's windows' moves of the state root, and a state file's rows, are found from its
    state without the lanes' writes applied to it (they stay deferred), unless a later window on
    lanes writes again what the parent wrote (``again``); committed, the file verifies, and the
    block's roots are the sequential run's."""
    from typer.testing import CliRunner

    from compiler.cli import app

    world = pot_world(tmp_path, APART, "Miner")
    rng = random.Random(11)
    light = [[(f"u{rng.randrange(40)}", "poke", [rng.randrange(1, 9)]) for _ in range(100)] for _ in range(2)]
    heavy = [(f"u{rng.randrange(40)}", "mine", [300]) for _ in range(100)]
    block = tmp_path / "b.jsonl"
    block.write_text(pot_lines(*light[0], *heavy, *(light[1] if again else heavy)))
    with Chain.open(world) as seq, Chain.open(world, tmp_path / "s.sqlite") as par:
        executor = parallel.executor_for(par, 2).__self__
        executor.force, executor.force_window, executor.force_inline = True, 100, {0}
        a = seq.run_file(block)
        b = par.run_file(block, executor="parallel", workers=2)
        info = executor.last
        assert bool(par._pending) != again  # (the lanes' writes not applied here, unless they had to be)
    assert info["mode"] == "parallel" and info["ahead_windows"] == 1 and info["fallback_from"] is None, info
    assert (b.state_root, b.receipts_root) == (a.state_root, a.receipts_root)
    got = CliRunner().invoke(app, ["state", "verify", str(world), "--state", str(tmp_path / "s.sqlite")])
    assert got.exit_code == 0 and a.state_root in got.output, got.output


TALLY = """
contract Tally {
    storage total: u256;
    storage mark: map<address, u256>;
    pub fn add(x: u256) { total += x; }
    pub fn stamp(k: address) { mark[k] = 1; }
    pub fn stamped_total(k: address) -> u256 { mark[k] = 2; return total; }
}
"""


@pytest.mark.parametrize("reader", ["lanes", "parent"])
def test_the_merged_adds_of_a_window_on_lanes_reach_whoever_reads_them_next(tmp_path, reader):
    """Window 0 on lanes: adds to the total from both lanes, merged.  ``lanes``: window 1, the
    parent's, writes the marks window 2 writes again, so window 2 waits for it (not run beside it)
    and gets the merged total with the parent's writes; its calls return the total.  ``parent``:
    window 1, the parent's, reads the total from the parent's own state, which makes the merged
    adds' values only then (from a lane's extents and the sums of the moves: ``Chain.defer_merged``)."""
    stamps = [("u0", "stamp", [f"k{i}"]) for i in range(8)] if reader == "lanes" else []
    block = pot_lines(*[(f"u{i}", "add", [i + 1]) for i in range(8)], *stamps,
                      *[("u0", "stamped_total", [f"k{i}"]) for i in range(8)])
    a, b, info = both_ways(pot_world(tmp_path, TALLY, "Tally"), parse_block_text(block, "b.jsonl"),
                           force_window=8, force_inline={1})
    _same(a, b)
    assert [r["return"] for r in b.receipts_json[-8:]] == ["36"] * 8
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["ahead_windows"] == 0, info
    assert info["fallback_from"] is None, info


def _scattered(n: int = 400, seed: int = 7) -> tuple[str, list[int], list[str]]:
    """``n`` calls of the Miner, one ``mine`` in ten at random places among ``poke``s, from 60
    senders: the block, and each call's function and sender."""
    rng = random.Random(seed)
    calls = [("mine", f"u{rng.randrange(60)}") if rng.random() < 0.1 else ("poke", f"u{rng.randrange(60)}")
             for _ in range(n)]
    return pot_lines(*[(who, fn, [3000 if fn == "mine" else 1 + k % 9]) for k, (fn, who) in enumerate(calls)]), \
        [fn for fn, _ in calls], [who for _, who in calls]


@pytest.mark.parametrize("routed", [False, True], ids=["peers", "routed"])
def test_the_parent_runs_a_windows_light_components_beside_the_lanes(tmp_path, routed):
    """One heavy call in ten among light ones (no window of them all light): the parent runs the
    light calls of the lanes' window itself, while the lanes run the heavy ones; the result is the
    sequential one, and nothing falls back."""
    block, fns, _ = _scattered()
    info = _forced_run(pot_world(tmp_path, APART, "Miner"), block, force_window=400, force_beside=True,
                       force_routed=routed)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    assert info["beside_windows"] == 1 and info["beside"] == fns.count("poke"), info
    assert info["on_lanes"] == fns.count("mine"), info
    # The parent's CPU on its part is reported apart, within its own (a lane's work it did).
    assert 0 < info["seconds"]["beside_cpu"] <= info["seconds"]["parent_cpu"], info["seconds"]


def test_the_parents_part_of_a_window_leaves_to_the_lanes_what_they_add_to(tmp_path):
    """Each mine adds to its sender's light too: the pokes of a sender who mines in the window add
    where a lane adds, and stay with the lanes (their adds merged in block order there); the parent
    runs the pokes of the senders who do not.  Its writes reach the replicas: in the next block,
    lanes add to what its pokes set."""
    block, fns, senders = _scattered()
    pairs, infos = _both(pot_world(tmp_path, HEAVY, "Miner"), [block, _scattered(seed=8)[0]], 2, force_window=400,
                         force_beside=True)
    miners = {who for fn, who in zip(fns, senders) if fn == "mine"}
    expected = sum(1 for fn, who in zip(fns, senders) if fn == "poke" and who not in miners)
    assert 0 < expected < fns.count("poke")
    assert infos[0]["beside"] == expected, infos[0]
    for (a, b), info in zip(pairs, infos):
        _same(a, b)
        assert info["fallback_from"] is None and info["beside"] > 0, info


@pytest.mark.parametrize("forgotten", ["poke", "mine"])
def test_a_window_with_the_parents_part_that_cannot_be_trusted_runs_on_sequentially(tmp_path, monkeypatch,
                                                                                   forgotten):
    """A summary made to forget what its calls write (poke's light, the parent's: where mine adds to
    it too, the lanes' adds would overwrite the parent's; mine's seeds, the lanes'): the parent's
    part is taken back whole, and the block runs on sequentially from its first transaction or the
    lanes' first untrusted one, whichever comes first; the result is the sequential one."""
    block, fns, _ = _scattered()
    source, var = (HEAVY, "light") if forgotten == "poke" else (APART, "seeds")
    info = _forced_run(pot_world(tmp_path, source, "Miner"), block, forget=(monkeypatch, "Miner", forgotten, var),
                       force_window=400, force_beside=True)
    poke, mine = fns.index("poke"), fns.index("mine")
    assert info["beside_windows"] == 0 and info["fallback_from"] == min(poke, mine), info
    if forgotten == "poke":  # (the parent's own part: the add its journal holds, named)
        assert info["why"].startswith(merge.PART_OUTSIDE + " (an add to pot.light[0x"), info
    else:  # (the lanes' first untrusted transaction named, and where the parent's part begins if earlier)
        assert info["why"].startswith(merge.OUTSIDE), info
        assert (f"(at transaction {mine}; the parent's part of the window, from {poke}, is run again)" in
                info["why"]) == (poke < mine), info


@pytest.mark.parametrize("checked", [True, False], ids=["lanes-check-themselves", "the-parent-checks-their-logs"])
def test_a_window_run_beside_the_parents_that_touches_its_writes_is_caught(tmp_path, monkeypatch, checked):
    # Predicted apart although the heavy calls add to what the light ones wrote (as a wrong
    # prediction would have it): the first lane transaction that touched such a location is where
    # the block runs on sequentially, whether the lanes check themselves against their rows or the
    # parent checks their logs (as in a window with a wildcard).
    monkeypatch.setattr(parallel._BlockRun, "apart", lambda self, begin, middle, end: True)
    if not checked:
        monkeypatch.setattr(parallel._BlockRun, "exact", lambda self, bounds: np.zeros(len(bounds) - 1, bool))
    world, block = _light_then_heavy(tmp_path, monkeypatch, HEAVY)
    [(a, b)], [info] = _both(world, [block], workers=2, force=False, beside=False, model=CostModel(1.0))
    _same(a, b)
    assert info["mode"] == "parallel" and info["ahead_windows"] == 1, info
    assert info["fallback_from"] is not None and info["fallback_from"] >= 300 - plan.WINDOW_MIN, info
    assert (info["checked_windows"] > 0) == checked, info
    # (its lanes' window, heavy, shared in turns when they check themselves: undone whole from its first)
    first = info["fallback_from"]
    assert info["why"].startswith(merge.AHEAD), info
    assert info["why"].endswith(f": sequential from transaction {first} (line {first + 1})"), info
    assert ("undone whole" in info["why"]) == (info["shared_windows"] > 0), info


def test_a_block_whose_windows_alternate_between_lanes_and_the_parent_can_be_undone(tmp_path):
    """A block run partly by the parent and partly on lanes (a conflict too, so the rest ran
    sequentially) and refused before its commit leaves the state as it was."""
    from compiler.runtime.roots import state_root
    from runtime_helpers import fork_chain

    world = pot_world(tmp_path)
    base = Chain.open(world)
    first = parse_block_text(pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(20)]), "a.jsonl")
    base.run_block(first)
    root = base.state_root()
    executor = parallel.executor_for(base, 2).__self__
    executor.force, executor.force_window, executor.force_inline = True, 4, {0, 2, 4}
    # The last window's two adds each fit on its lane, not both in block order (the pot holds 510).
    half = str((MAX - 510) // 2 + 1)
    block = parse_block_text(pot_lines(*[(f"u{i % 7}", "give", [i + 1]) for i in range(24)],
                                       ("u5", "give", [half]), ("u6", "give", [half])), "b.jsonl")
    expected = fork_chain(base).run_block(block)
    try:
        refused_on_lanes(base, block, expected)
        assert executor.last["inline_windows"] == 3 and executor.last["fallback_from"] == 25
        assert base.state_root() == root == state_root(base.world, base.ctx.storage)
        again = base.run_block(block, executor="parallel", workers=2)
        assert again.receipts_json == expected.receipts_json and again.state_root == expected.state_root
    finally:
        base.close()


def test_lanes_writes_the_parent_took_before_its_window_are_taken_back_on_a_state_file(tmp_path):
    """On a state file, the lanes' writes the parent applies to its state before a window it runs
    are taken back, the block refused, without reading the keys it never had in memory: those
    leave its memory and are read from the file again (the block never reached it)."""
    import shutil

    world = pot_world(tmp_path)
    state, copy = tmp_path / "s.sqlite", tmp_path / "copy.sqlite"
    with Chain.open(world, state) as chain:
        chain.run_block(parse_block_text(pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(20)]), "a.jsonl"))
    shutil.copy(state, copy)
    block = parse_block_text(pot_lines(*[(f"u{i % 7}", "give", [i + 1]) for i in range(24)]), "b.jsonl")
    with Chain.open(world, copy) as other:
        expected = other.run_block(block)
    base = Chain.open(world, state)  # (nothing of the state in memory yet)
    executor = parallel.executor_for(base, 2).__self__
    executor.force, executor.force_window, executor.force_inline = True, 4, {1, 3}
    root = base.state_root()
    try:
        refused_on_lanes(base, block, expected)
        assert executor.last["inline_windows"] == 2 and executor.last["fallback_from"] is None
        assert base.state_root() == root
        again = base.run_block(block, executor="sequential")
        assert again.receipts_json == expected.receipts_json and again.state_root == expected.state_root
    finally:
        base.close()


def test_a_worker_killed_mid_block_leaves_the_result_exact(tmp_path, monkeypatch):
    import os
    import signal

    from compiler.runtime import pool

    world = pot_world(tmp_path)
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    killed: list[int] = []
    real_send = pool.Worker.send

    def send_then_kill(self, message):
        real_send(self, message)
        if not killed:  # SIGKILL the worker right after it is given its first message
            killed.append(self.process.pid)
            os.kill(self.process.pid, signal.SIGKILL)

    monkeypatch.setattr(pool.Worker, "send", send_then_kill)
    try:
        raw = parse_block_text(pot_lines(*[(f"u{i}", "give", [i + 1]) for i in range(30)]), "b.jsonl")
        a = seq.run_block(raw)
        b = par.run_block(raw, executor="parallel", workers=2)
        _same(a, b)
        assert killed and executor.last["failed_lanes"] == 1 and executor.last["fallback_from"] is None
        assert all(w.process.pid not in killed for w in executor._pool)
        # The pool is forked again for the next block, which runs on lanes as usual.
        raw2 = parse_block_text(pot_lines(*[(f"v{i}", "give", [1]) for i in range(8)]), "b.jsonl")
        _same(seq.run_block(raw2), par.run_block(raw2, executor="parallel", workers=2))
        assert executor.last["failed_lanes"] == 0 and executor.last["mode"] == "parallel"
    finally:
        par.close()
        seq.close()


def test_a_worker_killed_while_the_parent_runs_behind_the_lanes_leaves_the_result_exact(tmp_path, monkeypatch):
    # The parent doubles forty keys behind the lanes' window of sets; a worker dies as that window is
    # sent: the doublings the parent ran are taken back before it runs the whole block itself (else
    # they would be doubled twice).
    import os
    import signal

    from compiler.runtime import pool

    world = pot_world(tmp_path, BOX, "Box")
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force, executor.force_window, executor.force_inline = True, 40, {1}
    sent: list[int] = []
    behind: list[int] = []
    real_send, real_behind = pool.Worker.send, parallel._BlockRun.run_behind

    def send_then_kill(self, message):
        real_send(self, message)
        sent.append(self.process.pid)
        if len(sent) == 7:  # (Schedule, Lanes, Calls to each of the two, then the first Window)
            os.kill(self.process.pid, signal.SIGKILL)

    def run_behind(self, merge, begin, end):
        behind.append(begin)
        return real_behind(self, merge, begin, end)

    monkeypatch.setattr(pool.Worker, "send", send_then_kill)
    monkeypatch.setattr(parallel._BlockRun, "run_behind", run_behind)
    try:
        setup = parse_block_text(_box_txs(*[("set", [100 + k, k + 1]) for k in range(40)]), "setup.jsonl")
        _same(seq.run_block(setup), par.run_block(setup, executor="sequential"))
        raw = parse_block_text(_box_txs(*[("set", [k, k + 7]) for k in range(40)],
                                        *[("twice", [100 + k]) for k in range(40)]), "b.jsonl")
        _same(seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2))
        assert behind == [40] and executor.last["failed_lanes"] == 1 and executor.last["mode"] == "inline"
    finally:
        par.close()
        seq.close()


def test_windows_the_parent_runs_reach_a_state_file_like_the_lanes_ones(tmp_path):
    """Blocks run partly by the parent and partly on lanes, committed to a state file: the file then
    holds the state a sequential run gives (every stored location read back, the root recomputed)."""
    from compiler.runtime.roots import accumulate, root_of, state_root

    world = pot_world(tmp_path)
    blocks = [pot_lines(*[(f"u{i % 9}", "give", [i + 1]) for i in range(40)]),
              pot_lines(*[(f"u{i % 5}", "give", [2]) for i in range(30)], *[(f"v{i}", "give", [1]) for i in range(12)])]
    seq = Chain.open(world)
    par = Chain.open(world, tmp_path / "s.sqlite")
    executor = parallel.executor_for(par, 2).__self__
    executor.force, executor.force_window, executor.force_inline = True, 6, {1, 2, 4}
    try:
        for text in blocks:
            raw = parse_block_text(text, "b.jsonl")
            a, b = seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2)
            _same(a, b)
            assert executor.last["inline_windows"] == 2  # (windows 1 and 2 are one)
    finally:
        par.close()
        seq.close()
    with Chain.open(world, tmp_path / "s.sqlite") as again:
        stored = list(again.store.locations())
        assert again.state_root() == a.state_root == root_of(accumulate(stored))
        assert a.state_root == state_root(seq.world, seq.ctx.storage)


def test_a_big_block_on_lanes_keeps_each_lanes_compressed_receipts_as_they_came(tmp_path):
    """Each lane sends its receipts' encodings once, at the block's end, as one Zstandard frame; the
    state file keeps them between the parent's frames, and they read back as the sequential run's."""
    import json
    import marshal

    from typer.testing import CliRunner

    from compiler.cli import app
    from compiler.runtime.encoding import ZSTD_MAGIC, frames
    from compiler.runtime.store import StateStore
    from compiler.workload import GenOptions, generate

    generate(tmp_path, GenOptions("transfers", 1500, 300, 0.0, 4, 0.0, 3))
    world, state = tmp_path / "world.toml", tmp_path / "s.sqlite"
    seq = Chain.open(world)
    try:
        with Chain.open(world, state) as par:
            executor = parallel.executor_for(par, 2).__self__
            executor.force = True
            setup, block = read_block(tmp_path / "setup.jsonl"), read_block(tmp_path / "block.jsonl")
            seq.run_block(setup)
            par.run_block(setup, executor="sequential")
            a = seq.run_block(block)
            b = par.run_block(block, executor="parallel", workers=2)
            _same(a, b)
            assert executor.last["mode"] == "parallel" and executor.last["on_lanes"] == 1500
            number = b.number
        with StateStore(state, writable=False) as store:
            kept = store.receipts(number)
    finally:
        seq.close()
    parts = [marshal.loads(f) for f in frames(kept)]  # (one a lane, as each compressed its receipts)
    assert kept[:4] == ZSTD_MAGIC and len(parts) == 2
    assert sorted(np.concatenate([np.frombuffer(i, np.int64) for i, _, _ in parts]).tolist()) == list(range(1500))
    assert len(kept) * 4 < sum(len(b) for _, b, _ in parts)
    back = CliRunner().invoke(app, ["state", "receipts", str(world), "--state", str(state), "--json"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["receipts"] == [{k: v for k, v in r.items() if k != "at"} for r in a.receipts_json]


# ---------------------------------------------------------------- reads no lane need log

SCAN = """
contract Scan {
    storage table: map<u256, u256>;
    storage score: map<address, u256>;
    storage light: map<address, u256>;
    pub fn set(i: u256, v: u256) { table[i] = v; }
    pub fn scan(n: u256) -> u256 {
        let acc: u256 = light[msg.sender] + 1;
        for i in 0..min(n, 16) { acc = acc * 3 + table[i]; }
        score[msg.sender] = acc;
        return acc;
    }
    pub fn poke(v: u256) { light[msg.sender] += v; }
}
"""
_SCAN_SETUP = pot_lines(*[("u0", "set", [i, i + 1]) for i in range(16)])


def test_reads_of_a_variable_no_function_of_the_block_writes_are_not_logged(tmp_path):
    """A lane logs a read for the comparison with what other lanes write: of a variable that no
    function of the block writes or adds to by its summary (the table the scans read), the lanes
    log none (``FunctionTable.quiet``); one that a function of the block writes stays logged."""
    from compiler.runtime.block import prepare
    from compiler.runtime.functions import FunctionTable

    with Chain.open(pot_world(tmp_path, SCAN, "Scan")) as chain:
        chain.run_block(parse_block_text(_SCAN_SETUP, "setup.jsonl"))
        table = FunctionTable(chain.world)
        fid = {f.name: i for i, f in enumerate(table.functions)}
        (address, inst), = chain.world.by_address.items()
        index = inst.program.layouts["Scan"].index
        place = (address, index["table"])
        assert place in table.quiet(np.array([fid["scan"]] * 3, np.int32))
        assert (address, index["score"]) not in table.quiet(np.array([fid["scan"]], np.int32))
        assert place not in table.quiet(np.array([fid["scan"], -1, fid["set"]], np.int32))
        scan = table.logged_code(fid["scan"])
        call = prepare(chain.world, parse_block_text(pot_lines(("u1", "scan", [16])), "b.jsonl"))[0].call
        ctx = chain.ctx
        logged = []
        for quiet in (False, True):  # (as a lane marks the variables of a block: ``Var.quiet``)
            ctx.storage[address][index["table"]].quiet = quiet
            for entries in ctx.log:
                entries.clear()
            scan(ctx, *call)
            logged.append(len(ctx.log[0]))
        ctx.storage[address][index["table"]].quiet = False
        assert logged == [17, 1]  # (the scan's read of light: a variable pokes add to)


def test_a_write_the_summaries_do_not_predict_to_a_variable_read_unlogged_falls_back(tmp_path, monkeypatch):
    # The scans read the table unlogged (no summary of the block writes it: set's forgets it);
    # the set's write is outside its rows, and the block runs on sequentially from it: the scans
    # after it read what it wrote, as in block order.
    block = pot_lines(*[(f"u{i}", "scan", [16]) for i in range(30)], ("v", "set", [3, 1000]),
                      *[(f"w{i}", "scan", [16]) for i in range(30)])
    info = _forced_run(pot_world(tmp_path, SCAN, "Scan"), block, setup=_SCAN_SETUP,
                       forget=(monkeypatch, "Scan", "set", "table"))
    assert info["mode"] == "parallel" and info["lanes"] == 2 and info["fallback_from"] == 30, info


def test_a_loop_over_a_table_runs_on_lanes_with_its_writers(tmp_path):
    # Scans read the table as a whole (one wildcard row a call); sets write it: a window with a
    # set joins the scans in it, the others' scans run apart; every read logged (sets are in
    # the block), the result the sequential one's.
    rng = random.Random(5)
    block = pot_lines(*[(f"u{rng.randrange(20)}", "set", [rng.randrange(16), rng.randrange(99)]) if k % 25 == 0
                        else (f"u{rng.randrange(20)}", "scan", [rng.randrange(17)]) for k in range(200)])
    info = _forced_run(pot_world(tmp_path, SCAN, "Scan"), block, setup=_SCAN_SETUP, force_window=40)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info


SLOTS = """
contract Slots {
    storage pos: map<(address, u256), u256>;
    storage seen: map<address, u256>;
    pub fn spread(k: u256) { for j in 0..min(k, 4) { pos[msg.sender, j] = pos[msg.sender, j] * 3 + k + j; } }
    pub fn peek(a: address, j: u256) { seen[msg.sender] = seen[msg.sender] * 7 + pos[a, j] + 1; }
}
"""


def test_a_short_loops_writes_are_columns_and_run_on_lanes_with_their_readers(tmp_path, monkeypatch):
    # Each spread reads and writes its sender's slots 0 to 3 (as many as its k): a written column
    # for each slot whatever k (none walked), joining the peeks that read one of them; the result
    # the sequential one's.
    rng = random.Random(8)
    txs = [(f"u{rng.randrange(12)}", "spread", [rng.randrange(6)]) if k % 3 else
           (f"v{rng.randrange(12)}", "peek", [f"u{rng.randrange(12)}", rng.randrange(5)]) for k in range(240)]
    per_tx = _on_lanes_by_columns(monkeypatch, pot_world(tmp_path, SLOTS, "Slots"), txs, ("pos", "seen"))
    assert {per_tx[k] for k, (_, fn, _) in enumerate(txs) if fn == "spread"} == {4}


def _on_lanes_by_columns(monkeypatch, world: Path, txs: list[tuple], written: tuple[str, ...]) -> list[int]:
    """``txs`` (calls of ``pot``) run on two lanes forced, in windows of 40, as sequentially and with
    no fallback; then each one's access rows, made with no call walked, in a block whose functions
    write ``written`` (variables of the deployed contract): their count per transaction."""
    from compiler.schedule.rows import RowMaker

    info = _forced_run(world, pot_lines(*txs), force_window=40)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    monkeypatch.setattr(RowMaker, "_walk", lambda *a, **k: pytest.fail("walked"))
    with Chain.open(world) as chain:
        block = prepare(chain.world, parse_block_text(pot_lines(*txs), "b.jsonl"))
        contract = block[0].function.contract.name
        rows, _, _ = RowMaker(chain.compiled_summaries).rows(
            list(range(len(block))), [tx.function for tx in block], [tx.call for tx in block], chain.ctx.storage,
            1, 12, written=frozenset((contract, var) for var in written))
    return np.bincount(rows["tx"], minlength=len(txs)).tolist()


DROPS = """
contract Drops {
    storage bal: map<address, u256>;
    storage seen: map<address, u256>;
    pub fn drop(to: array<address, 4>, v: u256) { for i in 0..len(to) { bal[to[i]] = bal[to[i]] * 3 + v + i; } }
    pub fn first(to: array<address, 4>) { seen[msg.sender] = bal[to[0]] + 1; }
    pub fn peek(a: address) { seen[msg.sender] = seen[msg.sender] * 7 + bal[a] + 1; }
}
"""


def test_elements_of_an_array_argument_are_columns_and_run_on_lanes_with_their_readers(tmp_path, monkeypatch):
    # Each drop reads and writes the balances of its recipients (up to four, some twice): a
    # written column for each element its array has (none walked, no row for an element it
    # lacks, one row for a recipient named twice), joining the peeks that read one of them and
    # the firsts that read the first; the result the sequential one's.
    rng = random.Random(9)
    names = [f"u{k}" for k in range(10)]
    txs = [(f"v{rng.randrange(9)}", "drop", [rng.choices(names, k=rng.randrange(5)), k]) if k % 3 else
           (f"v{rng.randrange(9)}", "peek", [rng.choice(names)]) if k % 2 else
           (f"v{rng.randrange(9)}", "first", [rng.choices(names, k=rng.randrange(1, 5))]) for k in range(240)]
    per_tx = _on_lanes_by_columns(monkeypatch, pot_world(tmp_path, DROPS, "Drops"), txs, ("bal", "seen"))
    assert [per_tx[k] for k, (_, fn, _) in enumerate(txs) if fn == "drop"] == \
        [len(set(args[0])) for _, fn, args in txs if fn == "drop"]
    assert {per_tx[k] for k, (_, fn, _) in enumerate(txs) if fn != "drop"} == {2}


@pytest.mark.parametrize("forget", [False, True], ids=["apart", "a-read-the-scans-summary-forgets"])
def test_the_parent_runs_light_calls_beside_lanes_whose_window_has_a_wildcard(tmp_path, monkeypatch, forget):
    # The scans' wildcard reads of the table leave their window to the parent's check of the lanes'
    # logs; the pokes (light, no wildcard) are the parent's part beside them, and the lanes' logs
    # are compared with what it wrote too: with the scans' read of light forgotten by their
    # summary, a scan that reads what a poke before it wrote is found, and the block runs on
    # sequentially from the first poke.
    senders = [f"u{k // 2 % 12}" for k in range(120)]  # (a poke, then a scan of the same sender)
    block = pot_lines(*[(s, "scan", [16]) if k % 2 else (s if forget else f"v{k}", "poke", [k + 1])
                        for k, s in enumerate(senders)])
    info = _forced_run(pot_world(tmp_path, SCAN, "Scan"), block, setup=_SCAN_SETUP, force_beside=True,
                       forget=(monkeypatch, "Scan", "scan", "light") if forget else None)
    assert info["mode"] == "parallel" and info["checked_windows"] == 0, info
    if forget:
        assert info["fallback_from"] == 0 and info["beside_windows"] == 0, info
        assert "the parent wrote while the lanes ran" in info["why"] and "from 0, is run again" in info["why"], info
    else:
        assert info["beside_windows"] == 1 and info["beside"] == 60 and info["fallback_from"] is None, info


@pytest.mark.parametrize("forget", [None, "scan", "poke"],
                         ids=["apart", "a-read-the-scans-summary-forgets", "a-write-the-pokes-summary-forgets"])
def test_the_parent_runs_its_window_while_lanes_run_the_next_one_with_a_wildcard(tmp_path, monkeypatch, forget):
    # Forty pokes run by the parent, then scans on lanes, whose wildcard reads of the table keep
    # off what the pokes write (checked by variable): the lanes run the scans while the parent runs
    # the pokes.  With the same senders, and the scans' read of light forgotten by their summary, a
    # scan that reads what a poke wrote is found in its lane's log; with the pokes' adds to light
    # forgotten, no summary of the block writes light and the lanes do not log its reads: the
    # parent finds that its pokes wrote it, and the scans' window runs on sequentially.
    pokes = [(f"u{k}" if forget else f"v{k}", "poke", [k + 1]) for k in range(40)]
    block = pot_lines(*pokes, *[(f"u{k}", "scan", [16]) for k in range(40)])
    info = _forced_run(pot_world(tmp_path, SCAN, "Scan"), block, setup=_SCAN_SETUP, force_window=40,
                       force_inline={0}, forget=(monkeypatch, "Scan", forget, "light") if forget else None)
    assert info["mode"] == "parallel" and info["inline_windows"] == 1 and info["ahead_windows"] == 1, info
    assert info["checked_windows"] == 0, info
    if forget == "scan":
        assert info["fallback_from"] == 40 and "the parent wrote while the lanes ran" in info["why"], info
    elif forget == "poke":
        assert info["fallback_from"] == 40 and "whose reads the lanes do not log" in info["why"], info
    else:
        assert info["fallback_from"] is None, info


SHAPES = ("reverts", "events", "instances", "crosscall", "light_then_heavy_fns", "zipf_heavy", "nested_maps",
          "two_accounts", "many_fns", "pay_peers", "arrays", "stored_rounds")


@pytest.mark.parametrize("kind", SHAPES)
def test_the_blocks_of_the_shapes_benchmark_run_on_lanes_as_in_order(tmp_path, monkeypatch, kind):
    """Each block benchmarks/shapes.py measures (calls that revert, emit events, go to several
    instances or through another contract, keys nested and computed, ...), small, on two lanes
    forced: the sequential executor's receipts and roots."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import shapes

    assert set(SHAPES) == set(shapes.SHAPES)
    shapes.write(tmp_path / kind, kind, 60, 12, 1)
    folder = tmp_path / kind
    blocks = [(folder / name).read_text() for name in ("setup.jsonl", "block.jsonl")]
    [_, (a, b)], _ = _both(folder / "world.toml", blocks, workers=2)
    _same(a, b)
    statuses = {r["status"] for r in a.receipts_json}
    assert statuses == ({"ok", "reverted"} if kind == "reverts" else {"ok"})


def test_light_windows_whose_round_trips_dominate_are_sized_from_half_the_locations_written(tmp_path, monkeypatch):
    # Transfers among 400 accounts: windows of a quarter of the locations written (128 calls, the
    # least) would each cost a round trip more than their calls do; windows of half of them (200
    # calls) deal as evenly, and the plan takes them. The result is the sequential one.
    world = token_world(tmp_path, supply=10**12)
    rng = random.Random(3)
    setup = block_text([tx("alice", "token", "transfer", f"u{k}", 10**6) for k in range(400)])
    block = block_text([tx(f"u{rng.randrange(400)}", "token", "transfer", f"u{rng.randrange(400)}", 5)
                        for _ in range(3000)])
    windows = {}
    for weighed in (False, True):
        monkeypatch.setattr(plan, "ROUND_TRIPS_SHARE", 0.1 if weighed else float("inf"))
        [_, (a, b)], [_, info] = _both(world, [setup, block], workers=2, force=True)
        _same(a, b)
        windows[weighed] = info["windows"]
    assert windows == {False: 24, True: 15}, windows


SETTER = """\
contract Setter {
    storage m: map<u256, u256>;

    pub fn set(k: u256, v: u256, fail: bool) {
        m[k] = v;
        require(!fail, "asked to fail");
    }
}
"""


def test_a_location_first_written_by_a_reverted_call_on_one_lane_and_changed_on_another_moves_the_root_once(
        tmp_path):
    # Lane 0 writes m[2], then m[1] in a call that reverts: its record of values before the block
    # holds both, and it claims both. Lane 1 then writes m[1] for good. The earliest claim of m[1]
    # is lane 0's, whose record holds m[1]'s value before the block: the root moves once, from
    # that value to lane 1's, as sequentially.
    world = pot_world(tmp_path, SETTER, "Setter")
    block = pot_lines(("a", "set", [2, 5, False]), ("a", "set", [1, 7, True]), ("b", "set", [1, 9, False]))
    [(a, b)], [info] = _both(world, [block], workers=2, force_lanes=[0, 0, 1])
    _same(a, b)
    assert [r["status"] for r in b.receipts_json] == ["ok", "reverted", "ok"]
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info


# ---------------------------------------------------------------- locations of one id

SPREAD = """\
contract Spread {
    storage m: map<u256, u256>;
    pub fn put(k: u256, v: u256) { m[k] = v; }
    pub fn bump(k: u256, v: u256) { m[k] += v; }
    pub fn spin(n: u256) -> u256 {
        let h: u256 = 1;
        for i in 0..min(n, 300) { h = (h * 31 + i) % 1000000007; }
        return h;
    }
}
"""
TWIN = 5 + (2**61 - 1)  # (a location's id is a hash: m[5] and m[TWIN] have one, as keys 2^61 - 1 apart do)


def test_keys_of_one_id_are_told_apart_hash_alone_does_not():
    from compiler.vm.locations import loc_id

    assert loc_id(1, 0, 5) == loc_id(1, 0, TWIN)  # (what the tests below stand on)


@pytest.mark.parametrize("fn", ["put", "bump"])
@pytest.mark.parametrize("window", [1, 2, 3, 8, None])
def test_two_locations_of_one_id_changed_on_two_lanes_stay_two(tmp_path, fn, window):
    """Keys a sender chooses 2^61 - 1 apart have one location id: the lanes' adds to them are not
    merged as one location's, nor their moves counted as one's (a transfer to each of two such
    addresses credited one of them with both); the block is the sequential one's, whatever the
    windows (a clash the lanes find at the block's end has the parent run the block)."""
    spins = [(f"u{i}", "spin", [300]) for i in range(12)]
    block = pot_lines(*spins[:6], ("a", fn, [5, 7]), *spins[6:], ("b", fn, [TWIN, 9]), ("c", "bump", [5, 1]))
    [(a, b)], [info] = _both(pot_world(tmp_path, SPREAD, "Spread"), [block], 2, force_window=window)
    _same(a, b)
    assert info["failed_lanes"] == 0, info
    assert info["mode"] == "inline" and info["why"].startswith("two locations the block changed have one id"), info
    # (the windows run on lanes do not stand: none is reported)
    assert [info[k] for k in ("windows", "inline_windows", "checked_windows", "beside_windows", "beside")] == \
        [0] * 5, info


def test_two_locations_of_one_id_added_to_by_two_lanes_are_not_merged_as_one(tmp_path):
    """Two lanes adding to keys of one id in one window: merged as one location's by id, which the
    lanes find at the block's end; the parent runs the block (where one key got both adds)."""
    block = pot_lines(("a", "bump", [5, 7]), ("b", "bump", [TWIN, 9]))
    [(a, b)], [info] = _both(pot_world(tmp_path, SPREAD, "Spread"), [block], 2, force_lanes=[0, 1])
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("two locations the block changed have one id"), info


def test_a_clash_found_at_the_blocks_end_runs_the_block_in_the_parent(tmp_path):
    """Writes to keys of one id in two windows, on two lanes: each lane's write is the first of
    its location, but the parent owns the id's move by one lane: the lanes say so at ``Finish``,
    and the parent runs the block itself (no lane failed); in a state file too."""
    world = pot_world(tmp_path, SPREAD, "Spread")
    block = pot_lines(("a", "put", [5, 7]), ("u1", "spin", [300]), ("b", "put", [TWIN, 9]), ("u2", "spin", [300]))
    raw = parse_block_text(block, "b.jsonl")
    with Chain.open(world, tmp_path / "seq.sqlite") as seq, Chain.open(world, tmp_path / "par.sqlite") as par:
        ex = parallel.executor_for(par, 2).__self__
        ex.force, ex.force_window = True, 2
        _same(seq.run_block(raw), par.run_block(raw, executor="parallel", workers=2))
        info = dict(ex.last)
    assert info["mode"] == "inline" and info["failed_lanes"] == 0, info
    assert info["why"].startswith("two locations the block changed have one id"), info
    rows = [sqlite3.connect(tmp_path / f).execute("SELECT var, key, value FROM state ORDER BY var, key").fetchall()
            for f in ("seq.sqlite", "par.sqlite")]
    assert rows[0] == rows[1] and len(rows[0]) == 2


TAKEN_BACK = """\
contract Spread {
    storage m: map<u256, u256>;
    storage ctr: map<u256, u256>;
    storage d2: u256;
    storage d3: u256;
    storage d4: u256;
    storage d5: u256;
    storage d6: u256;
    storage owner_of: map<u256, address>;
    pub fn tick(j: u256) { ctr[j] += 1; }
    pub fn revx(j: u256, ok: bool) { m[ctr[j] * 7 + 5] = 1; require(ok, "no"); }
    pub fn setowner(id: u256, who: address) { owner_of[id] = who; }
    pub fn put(k: u256, v: u256) { m[k] = v; }
    pub fn spin(n: u256) -> u256 {
        let h: u256 = 1;
        for i in 0..min(n, 300) { h = (h * 31 + i) % 1000000007; }
        return h;
    }
}
"""
OWNER_TWIN = 988245775522525190  # (owner_of[OWNER_TWIN] and m[12] of the instance below have one id: solved for)


def test_a_write_taken_back_that_claims_an_id_is_seen_by_the_check(tmp_path):
    """A lane's write taken back (a revert) still claims its location's id, as its first write of
    the variable; another lane really changes another location of that id (a variable of its own):
    the claimer, which owns the id, is the one lane that sees both (its write and the other's),
    and finds them, where a check shared out among the lanes by id missed it (3 lanes)."""
    from compiler.vm.locations import loc_id

    world = pot_world(tmp_path, TAKEN_BACK, "Spread")
    with Chain.open(world) as chain:
        address = chain.world.instances["pot"].address
    assert loc_id(address, 7, OWNER_TWIN) == loc_id(address, 0, 12)  # (the premise)
    spins = [(f"u{i}", "spin", [300]) for i in range(16)]
    block = pot_lines(("a", "tick", [1]), ("a", "revx", [1, False]), ("a", "put", [77, 1]), *spins[:8],
                      ("b", "setowner", [OWNER_TWIN, "carol"]), *spins[8:])
    [(a, b)], [info] = _both(world, [block], 3)
    _same(a, b)
    assert info["mode"] == "inline" and info["why"].startswith("two locations the block changed have one id"), info
