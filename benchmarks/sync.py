"""How many values keeping the lanes' replicas in step moves: every write to every replica, or only what each reads.

The parallel executor keeps every worker's replica of the state in step by
applying, after each window, every write the other lanes made (``Window.sync``):
on c lanes each write is applied c - 1 times, so this work grows with the
lanes (``benchmarks/floors.py`` measures what one applied value costs).  A
replica only needs the values its own later transactions read, though: a
location's latest value, when the lane is about to touch it and another lane
wrote it since the lane last had it.

This script runs a generated block on lanes (forced, 2 workers) to get the
plan's predicted access rows and windows, deals the same windows' components
to 2, 4 and 16 lanes as the plan does, and counts, per transaction of the
block, the values applied when every write goes to every other replica and
when each lane receives only the latest value of each location its window's
transactions are predicted to touch that another lane wrote since; and how
long finding those values by array passes takes (what a parent would pay a
transaction to plan it).  It runs nothing on 16 lanes: it counts, from the
plan's predictions.  With ``--sticky`` it counts the second figure again for
components dealt *sticky* (:func:`sticky`: each to the lane that last touched
one of its locations, where that keeps the window even), with the busiest
lane of the worst window against an even share: what a plan that kept
locations on their lanes would save replicas that receive what they read.

    python benchmarks/sync.py [-n 100000] [--accounts 10000] [--workloads transfers,savings] [--sticky]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.bench import _prepare, _run  # noqa: E402
from compiler.runtime import parallel  # noqa: E402
from compiler.runtime.plan import EVEN, _deal  # noqa: E402
from compiler.runtime.accesses import R  # noqa: E402
from compiler.schedule.vectorized import AccessTable, components  # noqa: E402
from compiler.workload import GenOptions, generate  # noqa: E402


def planned(folder: Path) -> tuple[dict, dict, np.ndarray]:
    """The predicted rows of the block's transactions, the plan the executor made for them (forced
    onto lanes, 2 workers) and each transaction's static cost."""
    got: dict = {}
    plan = parallel._BlockRun.plan

    def keep(run):
        out = plan(run)
        got.update(rows=run.all_rows, plan=out, costs=run.costs.copy())
        return out

    parallel._BlockRun.plan = keep
    try:
        _run(folder, folder / "base.sqlite", "parallel", 2, True)
    finally:
        parallel._BlockRun.plan = plan
    return got["rows"], got["plan"], got["costs"]


def counts(rows: dict, window: np.ndarray, lanes: np.ndarray, w: int) -> tuple[int, int]:
    """Values applied to the replicas over the block: every write to every other lane, and only the
    latest value of each location a lane's window touches that another lane wrote since it last
    had it.  A wildcard row stands for locations nobody can name: it is counted as one location."""
    tx, loc, mode = rows["tx"], rows["loc"], rows["mode"]
    on = lanes[tx] >= 0
    tx, loc, mode = tx[on], loc[on], mode[on]
    lane, win = lanes[tx], window[tx]
    order = np.lexsort((lane, win))
    lane, win, loc, mode = lane[order].tolist(), win[order].tolist(), loc[order].tolist(), mode[order].tolist()
    version: dict[int, int] = {}          # each location's writes so far, window by window
    have = [dict() for _ in range(w)]     # each lane's version of the locations it has
    every = only = 0
    k = 0
    while k < len(win):
        current = win[k]
        touched: list[set] = [set() for _ in range(w)]
        written: list[set] = [set() for _ in range(w)]
        while k < len(win) and win[k] == current:
            touched[lane[k]].add(loc[k])
            if mode[k] != R:
                written[lane[k]].add(loc[k])
            k += 1
        for j in range(w):
            mine = have[j]
            only += sum(1 for place in touched[j] if version.get(place, 0) != mine.get(place, 0))
        total = sum(len(s) for s in written)
        every += sum(total - len(written[j]) for j in range(w))
        for j in range(w):
            for place in written[j]:
                version[place] = version.get(place, 0) + 1
                have[j][place] = version[place]
        for j in range(w):  # (what a lane read from another it has now too)
            for place in touched[j]:
                have[j][place] = version.get(place, 0)
    return every, only


def wanted(rows: dict, window: np.ndarray, lanes: np.ndarray) -> np.ndarray:
    """The same count by array passes, as a parent would have to make it (what it costs is the
    point): one event per (location, window, lane) that touched it; an event needs the latest value
    when a write to the location happened in a window after the lane's previous event there (or in
    any earlier window, for its first), whoever made it (the lane itself has no event between).
    Returns, per event, whether it needs one."""
    tx, loc, mode = rows["tx"], rows["loc"], rows["mode"]
    on = lanes[tx] >= 0
    tx, loc, mode = tx[on], loc[on], mode[on]
    win, lane, wrote = window[tx], lanes[tx], mode != R
    order = np.lexsort((lane, win, loc))
    loc, win, lane, wrote = loc[order], win[order], lane[order], wrote[order]
    first = np.ones(len(loc), bool)
    first[1:] = (loc[1:] != loc[:-1]) | (win[1:] != win[:-1]) | (lane[1:] != lane[:-1])
    starts = np.flatnonzero(first)
    if not len(starts):
        return np.zeros(0, bool)
    loc, win, lane = loc[starts], win[starts], lane[starts]
    wrote = np.logical_or.reduceat(wrote, starts).astype(np.int64)
    # The writes to each location in its earlier windows, and up to its event's window.
    head = np.ones(len(loc), bool)
    head[1:] = (loc[1:] != loc[:-1]) | (win[1:] != win[:-1])
    group = np.cumsum(head) - 1
    heads = np.flatnonzero(head)
    in_window = np.add.reduceat(wrote, heads)
    new_loc = np.ones(len(heads), bool)
    new_loc[1:] = loc[heads][1:] != loc[heads][:-1]
    total = np.cumsum(in_window)
    at = np.maximum.accumulate(np.where(new_loc, np.arange(len(heads)), 0))
    earlier = (total - in_window - (total[at] - in_window[at]))[group]
    upto = earlier + in_window[group]
    # Each event against the same lane's previous event at that location.
    by_lane = np.lexsort((win, lane, loc))
    again = np.zeros(len(by_lane), bool)
    again[1:] = (loc[by_lane][1:] == loc[by_lane][:-1]) & (lane[by_lane][1:] == lane[by_lane][:-1])
    before = np.zeros(len(by_lane), np.int64)
    before[1:] = upto[by_lane][:-1]
    need = np.empty(len(by_lane), bool)
    need[by_lane] = np.where(again, earlier[by_lane] > before, earlier[by_lane] > 0)
    return need


def sticky(rows: dict, label: np.ndarray, count: int, costs: np.ndarray, window: np.ndarray, w: int
           ) -> np.ndarray:
    """Each transaction's lane, window after window: each component to the lane that last touched a
    location of it in an earlier window (its last row's with one, by the rows' order), but for
    the costliest of a lane whose preferred share passes ``EVEN`` times an even one; the others
    (and those) to the least loaded lane, the costliest first.  Python per component: a count, not
    a plan."""
    tx = rows["tx"]
    _, dense = np.unique(rows["loc"], return_inverse=True)
    last = np.full(int(dense.max(initial=0)) + 1, -1, np.int64)  # each location's last lane
    lanes = np.full(len(label), -1, np.int64)
    comp_cost = np.bincount(label, weights=costs, minlength=count)
    row_window = window[tx]
    order = np.argsort(row_window, kind="stable")
    windows = int(window.max(initial=-1)) + 1
    row_cuts = np.searchsorted(row_window[order], np.arange(windows + 1))
    tx_cuts = np.searchsorted(window, np.arange(windows + 1))
    for k in range(windows):
        r = order[row_cuts[k]:row_cuts[k + 1]]
        comp, was = label[tx[r]], last[dense[r]]
        prefer = np.full(count, -1, np.int64)
        prefer[comp[was >= 0]] = was[was >= 0]
        comps = np.unique(label[tx_cuts[k]:tx_cuts[k + 1]])
        share = comp_cost[comps].sum() / w
        lane_of = prefer.copy()
        loads = np.zeros(w)
        for j in range(w):
            mine = comps[prefer[comps] == j]
            mine = mine[np.argsort(-comp_cost[mine], kind="stable")]
            keep = np.cumsum(comp_cost[mine][::-1])[::-1] <= share * EVEN  # (the cheapest that fit stay)
            lane_of[mine[~keep]] = -1
            loads[j] = comp_cost[mine[keep]].sum()
        free = comps[lane_of[comps] < 0]
        for c in free[np.argsort(-comp_cost[free], kind="stable")].tolist():
            j = int(np.argmin(loads))
            lane_of[c] = j
            loads[j] += comp_cost[c]
        lanes[tx_cuts[k]:tx_cuts[k + 1]] = lane_of[label[tx_cuts[k]:tx_cuts[k + 1]]]
        last[dense[r]] = lane_of[comp]
    return lanes


def _uneven(lanes: np.ndarray, window: np.ndarray, costs: np.ndarray, w: int) -> float:
    """The worst window's busiest lane against an even share of its work."""
    windows = int(window.max(initial=-1)) + 1
    loads = np.bincount(window * w + np.maximum(lanes, 0), weights=np.where(lanes >= 0, costs, 0.0),
                        minlength=windows * w).reshape(-1, w)
    return float((loads.max(axis=1) / np.maximum(loads.sum(axis=1) / w, 1e-12)).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--transactions", type=int, default=100_000)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--workloads", default="transfers,savings")
    ap.add_argument("--sticky", action="store_true", help="also deal the components sticky (see the doc)")
    args = ap.parse_args()
    print(f"{'workload':<10} {'lanes':>5} {'every write':>12} {'what it reads':>14}  (values applied a transaction)"
          f"  {'to find them':>12} (us a transaction, array passes)")
    for workload in args.workloads.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            generate(folder, GenOptions(workload, args.transactions, args.accounts, 0.0, 64, 0.0, 1))
            _prepare(folder)
            rows, plan, costs = planned(folder)
        n = len(costs)
        bounds = plan["bounds"]
        window = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        comps = components(AccessTable.of(rows), n, window)
        for w in (2, 4, 16):
            lanes, _ = _deal(comps.label, comps.count, costs.astype(float), window, w)
            lanes[plan["lanes"] < 0] = -1  # (invalid transactions, and the parent's windows)
            every, only = counts(rows, window, lanes, w)
            spent = []
            for _ in range(5):
                start = time.perf_counter()
                need = wanted(rows, window, lanes)
                spent.append(time.perf_counter() - start)
            assert int(need.sum()) == only, (int(need.sum()), only)
            line = f"{workload:<10} {w:>5} {every / n:>12.2f} {only / n:>14.2f}  {min(spent) / n * 1e6:>12.2f}"
            if args.sticky:
                kept = sticky(rows, comps.label, comps.count, costs.astype(float), window, w)
                kept[plan["lanes"] < 0] = -1
                line += (f"  sticky: {counts(rows, window, kept, w)[1] / n:.2f} (busiest lane "
                         f"{_uneven(kept, window, costs, w):.2f}x even, dealt {_uneven(lanes, window, costs, w):.2f}x)")
            print(line, flush=True)


if __name__ == "__main__":
    main()
