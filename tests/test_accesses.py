"""The lanes' access rows (compiler/runtime/accesses.py) against the logs they sum up.

Random windows of logged accesses dealt to lanes: the point the parent finds from the rows is a
conflict exactly when the logs hold one, never after the first one (the rest of the block runs
sequentially from it), and after some write of another lane; the adds several lanes made are
found with the first add of a lane other than the first adder's.
"""

from __future__ import annotations

import marshal
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.runtime import accesses as X
from fuzzing import examples

R, W, A = X.R, X.W, X.A


@st.composite
def windows(draw):
    """(tx, loc, mode, lane) per access: transactions in block order, each on one lane."""
    n = draw(st.integers(1, 12))
    lanes = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    log = []
    for t in range(n):
        for _ in range(draw(st.integers(0, 4))):
            log.append((t, draw(st.integers(0, 5)), draw(st.sampled_from([R, W, A])), lanes[t]))
    return log


def _merged(log):
    """{(tx, loc): (mode, lane)}: one entry per transaction and location, a read and an add a write."""
    modes: dict = {}
    for t, loc, m, lane in log:
        modes.setdefault((t, loc), (set(), lane))[0].add(m)
    return {k: (W if W in ms or {R, A} <= ms else A if A in ms else R, lane) for k, (ms, lane) in modes.items()}


def _conflicts(log):
    """Every (writer's tx, victim's tx) of the logs: a write by one lane before any access of the
    location by another, or an add before a read or write."""
    merged = _merged(log)
    out = []
    for (vt, loc), (vm, vl) in merged.items():
        for (wt, wloc), (wm, wl) in merged.items():
            if wloc == loc and wl != vl and wt < vt and (wm == W or (wm == A and vm != A)):
                out.append((wt, vt))
    return out


def _rows(log):
    lanes = sorted({lane for *_, lane in log})
    tables = []
    for k in lanes:
        mine = [(t, loc, m) for t, loc, m, lane in log if lane == k]
        tables.append(X.summarize(*(np.array(c, dtype) for c, dtype in
                                    zip(zip(*mine), (np.int64, np.int64, np.int8)))))
    return X.shared(tables, lanes)


@settings(max_examples=examples(300), deadline=None)
@given(windows())
def test_the_rows_find_a_conflict_exactly_when_the_logs_hold_one_and_never_after_it(log):
    if not log:
        return
    rows, lane = _rows(log)
    got = X.first_conflict(rows, lane)
    pairs = _conflicts(log)
    if not pairs:
        assert got is None
        return
    assert got is not None
    assert got <= min(vt for _, vt in pairs)          # never after the first real conflict
    assert got > min(wt for wt, _ in pairs)           # after a write of another lane


@settings(max_examples=examples(200), deadline=None)
@given(windows())
def test_adds_of_several_lanes_are_found_with_the_second_lanes_first_add(log):
    if not log:
        return
    rows, lane = _rows(log)
    lids, seconds, adders = X.second_adders(rows, lane)
    merged = _merged(log)
    expected, lanes = {}, {}
    for loc in {loc for _, loc in merged}:
        adds = sorted((t, lane) for (t, l2), (m, lane) in merged.items() if l2 == loc and m == A)
        if len({lane for _, lane in adds}) >= 2:
            first_lane = adds[0][1]
            expected[loc] = min(t for t, lane in adds if lane != first_lane)
            lanes[loc] = len({lane for _, lane in adds})
    assert dict(zip(lids.tolist(), seconds.tolist())) == expected
    assert dict(zip(lids.tolist(), adders.tolist())) == lanes


def test_a_lanes_rows_sum_up_its_log():
    tx = np.array([3, 3, 5, 7, 7, 9], np.int64)
    loc = np.array([10, 11, 10, 10, 10, 11], np.int64)
    mode = np.array([R, A, A, R, A, W], np.int8)
    rows = X.summarize(tx, loc, mode)
    assert rows[:, X.LOC].tolist() == [10, 11]
    # location 10: read at 3, added to at 5, read and added to (a write) at 7
    assert rows[0].tolist() == [10, 3, 7, 7, 5, 3, 7]
    # location 11: added to at 3, written at 9
    assert rows[1].tolist() == [11, 3, 9, 9, 3, 9, 9]
    # (in any order: a lane sends its log's entries as its transactions made them, not sorted)
    assert X.summarize(tx[::-1].copy(), loc[::-1].copy(), mode[::-1].copy()).tolist() == rows.tolist()


@st.composite
def lanes_adds(draw):
    """Each lane's pure adds of one window (``WindowDone.adds``): sorted location ids, the first
    transaction that added to each, and the columns address, index, key, before, then after, lowest,
    highest (one before per location)."""
    # Moves from before: small, near 0 or 2^256 - 1 (sums that reach either end exactly, or pass it);
    # around the bound of the int64 moves the lanes send (accesses.moves); or anything.
    near = st.one_of(st.integers(0, 16), st.integers(2**256 - 17, 2**256 - 1))
    befores, moved = draw(st.sampled_from([
        (near, st.integers(-16, 16)), (near, st.integers(-16, 16)),
        (st.one_of(near, st.integers(0, 2**256 - 1)), st.integers(-X.MOVE_BOUND - 2, X.MOVE_BOUND + 2)),
        (st.integers(0, 2**256 - 1), st.integers(-2**257, 2**257))]))
    befores = {lid: draw(befores) for lid in range(6)}
    out = []
    for _ in range(draw(st.integers(1, 3))):
        lids = sorted(draw(st.sets(st.integers(0, 5), max_size=6)))
        cols = [[], [], [], [], [], [], []]
        for lid in lids:
            b = befores[lid]
            after, low, high = (b + draw(moved) for _ in range(3))
            for col, v in zip(cols, (7, lid % 2, ("k", lid), b, after, min(low, b, after), max(high, b, after))):
                col.append(v)
        firsts = [draw(st.integers(0, 99)) for _ in lids]
        moves = X.moves(*cols[3:]) if draw(st.integers(0, 3)) else b""  # (a lane may send none)
        out.append((np.array(lids, np.int64).tobytes(), np.array(firsts, np.int64).tobytes(),
                    marshal.dumps(tuple(cols[:4])), marshal.dumps(tuple(cols[4:])), moves))
    return out


@settings(max_examples=examples(200), deadline=None)
@given(lanes_adds(), st.dictionaries(st.integers(0, 5), st.integers(2, 3), max_size=2))
def test_adds_several_lanes_made_are_merged_and_checked_as_each_location_alone_would_be(adds, wrong):
    """``asked``: each location several lanes added to, and how many (as the lanes' extents say, but
    for the ``wrong`` ones): merged when each of them sent its extent, and in range in every order;
    otherwise it cannot be merged."""
    from compiler.runtime.merge import _merged_adds

    lanes_of = Counter(lid for got, *_ in adds for lid in np.frombuffer(got, np.int64).tolist())
    asked = {lid: count for lid, count in lanes_of.items() if count > 1} | wrong

    lids = np.array(sorted(asked), np.int64)
    parts, out = _merged_adds(lids, np.array([asked[k] for k in sorted(asked)], np.int64), adds)
    entries: dict = {}
    for got, _first, keys, ranges, _moves in adds:
        cols = marshal.loads(keys) + marshal.loads(ranges)
        for i, lid in enumerate(np.frombuffer(got, np.int64).tolist()):
            if lid in asked:
                entries.setdefault(lid, []).append(tuple(c[i] for c in cols))
    expected, bad = {}, []
    for lid in sorted(asked):
        es = entries.get(lid, [])
        if len(es) != asked[lid]:
            bad.append(lid)
            continue
        before = es[0][3]
        expected.setdefault(es[0][:2], {})[es[0][2]] = before + sum(e[4] - before for e in es)
        low, high = before + sum(e[5] - before for e in es), before + sum(e[6] - before for e in es)
        if low < 0 or high > 2**256 - 1:
            bad.append(lid)
    # (the merged values are made where they are applied, from the parts)
    assert (X.merged_writes(parts) if parts else {}) == expected and sorted(out) == bad


@pytest.mark.parametrize("moves", [True, False])
def test_merged_adds_reaching_either_end_of_the_range_exactly_stay_in_it(moves):
    """Two lanes' adds whose lowest running values sum to exactly 0, or to -1, and whose highest
    to exactly 2^256 - 1, or one more: in range, or not (from the int64 moves, or the columns)."""
    from compiler.runtime.merge import _merged_adds

    top = 2**256 - 1
    # location: (before, [(after, lowest, highest) of each lane])
    cases = {1: (10, [(4, 4, 10), (6, 4, 10)]),          # lowest: 10 - 6 - 6 = -2
             2: (10, [(5, 5, 10), (5, 5, 10)]),          # 10 - 5 - 5 = 0
             3: (top - 10, [(top - 5, top - 10, top - 5)] * 2),      # top - 10 + 5 + 5 = top
             4: (top - 10, [(top - 5, top - 10, top - 5), (top - 4, top - 10, top - 4)])}  # top + 1
    adds = []
    for lane in range(2):
        cols = [[], [], [], [], [], [], []]
        for lid, (before, extents) in cases.items():
            for col, v in zip(cols, (7, 0, lid, before, *extents[lane])):
                col.append(v)
        blob = X.moves(*cols[3:]) if moves else b""
        assert bool(blob) == moves
        adds.append((np.arange(1, 5, dtype=np.int64).tobytes(), np.zeros(4, np.int64).tobytes(),
                     marshal.dumps(tuple(cols[:4])), marshal.dumps(tuple(cols[4:])), blob))
    parts, out = _merged_adds(np.arange(1, 5, dtype=np.int64), np.full(4, 2, np.int64), adds)
    assert sorted(out) == [1, 4]
    assert X.merged_writes(parts) == {(7, 0): {1: 0, 2: 0, 3: top, 4: top + 1}}


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 4), st.sampled_from([R, W, A])), max_size=40),
       st.lists(st.integers(-1, 2), min_size=12, max_size=12), st.sets(st.integers(1, 11)))
def test_the_plans_lanes_are_checked_apart_and_their_shared_adds_found_window_by_window(rows, lanes, cuts):
    """``rows``: (transaction, location, mode) predicted; a lane of -1 is the parent's.  The lanes
    are apart when no location of a window that some rows write (or read and add to) is on two
    lanes; the shared adds are each window's locations only added to, on two lanes or more."""
    from compiler.runtime.plan import _lanes_apart
    from compiler.schedule.vectorized import AccessTable

    bounds = [0, *sorted(cuts), 12]
    table = AccessTable.of({"tx": np.array([t for t, _, _ in rows], np.int64),
                            "loc": np.array([loc for _, loc, _ in rows], np.int64),
                            "var": np.zeros(len(rows), np.int64), "inst": np.zeros(len(rows), np.int64),
                            "mode": np.array([m for _, _, m in rows], np.int8), "wild": np.zeros(len(rows), bool)})
    apart, got, offsets = _lanes_apart(table, np.array(lanes, np.int64), bounds)
    assert len(offsets) == len(bounds)
    expected_apart = True
    for w in range(len(bounds) - 1):
        on: dict = {}
        for t, where, m in rows:
            if bounds[w] <= t < bounds[w + 1] and lanes[t] >= 0:
                ls, ms = on.setdefault(where, (set(), set()))
                ls.add(lanes[t])
                ms.add(m)
        expected = sorted(where for where, (ls, ms) in on.items() if len(ls) >= 2 and ms == {A})
        assert got[offsets[w]:offsets[w + 1]].tolist() == expected
        expected_apart &= not any(len(ls) >= 2 and (W in ms or {R, A} <= ms) for ls, ms in on.values())
    assert apart == expected_apart


def test_what_a_lanes_rows_allow_at_each_location():
    loc = np.array([7, 3, 7, 5, 3, 9, 9], np.int64)
    mode = np.array([R, A, R, W, A, R, A], np.int8)
    where, said = X.expected(loc, mode)
    # 3 only added to, 5 written, 7 only read, 9 read and added to: written, to the others
    assert where.tolist() == [3, 5, 7, 9] and said.tolist() == [A, W, R, W]
    allowed = (where, said)
    tx = np.array([4, 2, 6], np.int64)
    assert X.first_outside(allowed, np.zeros(0, np.int64), tx, np.array([3, 5, 9]), np.array([A, R, A])) == -1
    assert X.first_outside(allowed, np.zeros(0, np.int64), tx, np.array([3, 4, 7]), np.array([A, R, W])) == 2
    # a read of what the rows only add to: allowed unless other lanes add to it too
    assert X.first_outside(allowed, np.zeros(0, np.int64), tx, np.array([3, 5, 7]), np.array([R, R, R])) == -1
    assert X.first_outside(allowed, np.array([3], np.int64), tx, np.array([3, 5, 7]), np.array([R, R, R])) == 4


@st.composite
def planned_windows(draw):
    """A window's rows (tx, loc, mode), its transactions dealt to lanes as a plan would (each
    location that some rows write, or read and others add to, joins its transactions on one lane),
    and a log (tx, loc, mode) that mostly keeps within the rows: (rows, lanes, log)."""
    n = draw(st.integers(1, 10))
    rows = [(t, draw(st.integers(0, 5)), draw(st.sampled_from([R, W, A])))
            for t in range(n) for _ in range(draw(st.integers(0, 3)))]
    parent = list(range(n))

    def root(t):
        while parent[t] != t:
            t = parent[t]
        return t

    for loc in {loc for _, loc, _ in rows}:
        modes = {m for _, l2, m in rows if l2 == loc}
        if modes not in ({R}, {A}):
            txs = [t for t, l2, _ in rows if l2 == loc]
            for t in txs[1:]:
                parent[root(t)] = root(txs[0])
    lane_of = {r: draw(st.integers(0, 2)) for r in {root(t) for t in range(n)}}
    lanes = [lane_of[root(t)] for t in range(n)]
    log = []
    for t in range(n):
        mine = [(loc, m) for t2, loc, m in rows if t2 == t]
        for _ in range(draw(st.integers(0, 3))):
            if mine and draw(st.integers(0, 4)):
                loc, m = draw(st.sampled_from(mine))
                log.append((t, loc, draw(st.sampled_from([R, W, A])) if m == W else m))
            else:
                log.append((t, draw(st.integers(0, 5)), draw(st.sampled_from([R, W, A]))))
    return rows, lanes, log


@settings(max_examples=examples(300), deadline=None)
@given(planned_windows())
def test_lanes_checking_their_own_rows_find_every_conflict_at_or_before_it(window):
    """Each lane checks its log against its rows (``first_outside``): the least transaction found is
    never after the first real conflict of the logs (a write by one lane before an access by
    another, an add before a read or write), nor after a second lane's add to a location the plan
    did not predict several lanes add to; and when every lane kept within its rows, there is none."""
    rows, lanes, log = window
    pure = {loc for loc in {loc for _, loc, _ in rows} if {m for _, l2, m in rows if l2 == loc} == {A}}
    shared = np.array(sorted(loc for loc in pure if len({lanes[t] for t, l2, _ in rows if l2 == loc}) > 1), np.int64)
    found = []
    for k in sorted(set(lanes)):
        mine = [r for r in rows if lanes[r[0]] == k]
        allowed = X.expected(np.array([r[1] for r in mine], np.int64), np.array([r[2] for r in mine], np.int8))
        entries = [e for e in log if lanes[e[0]] == k]
        got = X.first_outside(allowed, shared, *(np.array(c, dtype) for c, dtype in
                                                 zip(zip(*entries) if entries else ((), (), ()),
                                                     (np.int64, np.int64, np.int8))))
        if got >= 0:
            found.append(got)
    point = min(found) if found else None
    lane_log = [(t, loc, m, lanes[t]) for t, loc, m in log]
    victims = [vt for _, vt in _conflicts(lane_log)]
    merged = _merged(lane_log)
    for loc in {loc for _, loc in merged} - set(shared.tolist()):
        adds = sorted((t, lane) for (t, l2), (m, lane) in merged.items() if l2 == loc and m == A)
        victims += [t for t, lane in adds if lane != adds[0][1]]
    if victims:
        assert point is not None and point <= min(victims)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.dictionaries(st.integers(0, 8), st.integers(0, 30)), min_size=1, max_size=4))
def test_the_adders_of_a_checked_window_are_found_from_the_lanes_extents_alone(lanes):
    """``lanes``: each lane's pure adds ({location: its first add}), as its extents carry them; the
    locations several lanes added to, their second lanes' first adds and their adders are what the
    rows of the same adds give :func:`second_adders` (the parent's reading of logs)."""
    extents = [(np.array(sorted(adds), np.int64).tobytes(),
                np.array([adds[k] for k in sorted(adds)], np.int64).tobytes(), b"", b"") for adds in lanes]
    got = X.several_adders(extents)
    loc = [k for adds in lanes for k in sorted(adds)]
    rows = np.full((len(loc), X.WIDTH), X.NONE, np.int64)
    rows[:, X.LOC] = loc
    rows[:, X.FIRST_A] = [adds[k] for adds in lanes for k in sorted(adds)]
    lane = np.repeat(np.arange(len(lanes)), [len(adds) for adds in lanes])
    order = np.argsort(rows[:, X.LOC], kind="stable")
    expected = X.second_adders(rows[order], lane[order])
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]
