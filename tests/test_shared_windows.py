"""Windows whose lanes share part of their work in turns: every lane has the calls of the window's
cheapest components and, after its own part, takes chunks of them until none is left, so a lane on
a slower core runs less of the window.  The result is the sequential one whatever lane takes what,
and in whatever order."""

from __future__ import annotations

import numpy as np

from compiler.runtime import parallel
from compiler.runtime.accesses import R, W
from compiler.runtime.replica import Predicted, Replica
from runtime_helpers import pot_lines, pot_world
from test_parallel import BOX, _box_txs, _forced_run


def _run(world, block: str, setup: str | None = None, forget=None) -> dict:
    """``block`` run sequentially and on two lanes (after ``setup``), the windows shared where they
    may be; ``forget``: (monkeypatch, function), a Box function's summary forgetting its accesses
    to ``m``.  The parallel run's info."""
    forget = forget and (forget[0], "Box", forget[1], "m")
    return _forced_run(world, block, setup, forget, force_shared=True)


def test_a_shared_windows_components_run_in_block_order_and_match(tmp_path):
    # Sets of 80 keys, then each key doubled and copied, twice over: each key's calls are one
    # component, run in block order within its chunk, whichever lane takes it.
    world = pot_world(tmp_path, BOX, "Box")
    calls = [("set", [k, k + 1]) for k in range(80)]
    calls += [c for k in range(80) for c in (("twice", [k]), ("copy", [k, 100 + k]))] * 2
    info = _run(world, _box_txs(*calls))
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    assert info["shared_windows"] == info["windows"] >= 1, info


def test_a_window_whose_components_all_add_to_one_location_is_dealt_not_shared(tmp_path):
    # Every give adds to the pot: a lane taking chunks out of block order would add in another order,
    # so the window's components are dealt to the lanes (their adds merged), as without turns.
    info = _run(pot_world(tmp_path), pot_lines(*[(f"u{i % 30}", "give", [1 + i % 7]) for i in range(300)]))
    assert info["mode"] == "parallel" and info["fallback_from"] is None and info["shared_windows"] == 0, info


MIXED = """
contract Mixed {
    storage m: map<u256, u256>;
    storage pot: u256;
    pub fn set(k: u256, v: u256) {
        let h: u256 = v;
        for i in 0..20 { h = (h * 31 + i) % 1000003; }
        m[k] = h;
    }
    pub fn give(x: u256) { pot += x; }
}
"""


def test_the_shared_part_of_a_window_leaves_out_what_adds_to_a_location_others_add_to(tmp_path, monkeypatch):
    # Gives all add to the pot (their adds merged from the lanes that dealt them), cheaper than the
    # sets of their own keys beside them: only sets are shared in turns.
    planned = []
    real = parallel._BlockRun.shared_chunks

    def shared_chunks(self, *args):
        planned.append(real(self, *args))
        return planned[-1]

    monkeypatch.setattr(parallel._BlockRun, "shared_chunks", shared_chunks)
    calls = [c for k in range(60) for c in (("set", [k, k + 1]), ("give", [k + 1]))]
    info = _run(pot_world(tmp_path, MIXED, "Mixed"), _box_txs(*calls))
    assert info["mode"] == "parallel" and info["fallback_from"] is None and info["shared_windows"] == 1, info
    [chunks] = planned
    assert (chunks[1::2] == -1).all() and (chunks[0::2] >= 0).any()


def test_an_access_outside_the_summary_in_a_shared_window_undoes_the_whole_window(tmp_path, monkeypatch):
    # Each copy's read of m is forgotten: a copy may run before the set of its key, on either lane
    # (its chunk taken first) or on the same one; the copy's read is outside its chunk's rows, and
    # the whole window (not from the copy on: what a lane ran after it is no suffix) runs again
    # sequentially.
    world = pot_world(tmp_path, BOX, "Box")
    calls = [("set", [k, k + 1]) for k in range(40)] + [("copy", [k, 100 + k]) for k in range(40)]
    info = _run(world, _box_txs(*calls), setup=_box_txs(("set", [0, 9])), forget=(monkeypatch, "copy"))
    assert info["mode"] == "parallel" and info["shared_windows"] == 1 and info["fallback_from"] == 0, info


def _lane(chunks: dict, chunk_of: list[int]) -> Replica:
    """A lane's replica holding the rows of two transactions (0 writes location 10, 1 writes 20)
    in one window, shared in ``chunks`` or not."""
    lane = Replica.__new__(Replica)
    lane.predicted = Predicted(np.array([10, 20], np.int64), np.array([W, W], np.int8), np.zeros(2, bool), [0, 2],
                               np.array([0, 1], np.int64))
    lane.shared_adds = [np.zeros(0, np.int64)]
    lane.chunks, lane.chunk_of = chunks, np.array(chunk_of, np.int32)
    return lane


def test_a_lane_checks_each_chunk_it_took_against_the_chunks_own_rows():
    # Transaction 1 read location 10, which only transaction 0 was predicted to touch.  Dealt to one
    # lane, the two ran in block order there: within the lane's rows, nothing to distrust.  Taken as
    # two chunks, 1 may have run first: outside its chunk's rows.
    log = (np.array([0, 1, 1], np.int64), np.array([10, 20, 10], np.int64), np.array([W, W, R], np.int8))
    assert _lane({}, [-1, -1])._untrusted(0, *log) == -1
    assert _lane({0: [[0], [1]]}, [0, 1])._untrusted(0, *log) == 1
    assert _lane({0: [[0, 1]]}, [0, 0])._untrusted(0, *log) == -1  # (one chunk: in block order)
    # 0 dealt to the lane, 1 taken in turns after it: not in block order either.
    assert _lane({0: [[1]]}, [-1, 0])._untrusted(0, *log) == 1
