"""A window's accesses on lanes: each lane's log summed up per location, and the parent's check.

A lane of the parallel executor logs every access its transactions make
(location id, mode: read, write, add).  It does not send the log: it sends one
row per location it touched (:func:`summarize`, sorted by location), with the
first and last transactions of the window that touched it, the first that
wrote it, the first that added to it, and the first and last that read or
wrote it.  The parent then looks only at the locations more than one lane
touched (:func:`shared`), and finds from their rows alone the first
transaction that cannot be trusted (:func:`first_conflict`): one that read or
wrote a location another lane wrote (or added to) earlier in block order.

From rows that keep only the first and last of each kind, the point found is
never later than the first real conflict (when a lane wrote a location at
``t`` and another touched it last after ``t``, it touched it first after ``t``
at ``t + 1`` at the earliest, and not before its own first touch): what runs on
from there runs sequentially, so a point found early costs time, never
exactness.  Every column is a block index; ``NONE`` stands for no such
transaction in a ``first`` column, -1 in a ``last`` one.
"""

from __future__ import annotations

import marshal
from itertools import repeat
from operator import add, sub

import numpy as np

from ..schedule.vectorized import grouped_order, joins, pick

R, W, A = 0, 1, 2
NONE = np.iinfo(np.int64).max
# The columns of a lane's rows (int64): the location, then transactions of the window.
LOC, FIRST, LAST, FIRST_W, FIRST_A, FIRST_RW, LAST_RW = range(7)
WIDTH = 7


def summarize(tx: np.ndarray, loc: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """A lane's rows (``WIDTH`` columns, sorted by location) from its log (each access's transaction,
    location and mode, in any order): a read and an add of one location by one transaction count as
    a write."""
    if not len(tx):
        return np.zeros((0, WIDTH), np.int64)
    order = grouped_order(loc, tx)  # (by location, then block order)
    tx, loc, mode = tx[order], loc[order], mode[order]
    # One entry per (transaction, location), with its modes merged.
    entry = np.ones(len(tx), bool)
    entry[1:] = (tx[1:] != tx[:-1]) | (loc[1:] != loc[:-1])
    group = np.cumsum(entry) - 1
    has = np.zeros((int(group[-1]) + 1, 3), bool)
    has[group, mode] = True
    tx, loc = tx[entry], loc[entry]
    m = np.where(has[:, W] | (has[:, R] & has[:, A]), W, np.where(has[:, A], A, R))
    start = np.flatnonzero(np.concatenate(([True], loc[1:] != loc[:-1])))
    rw = m != A
    rows = np.empty((len(start), WIDTH), np.int64)
    rows[:, LOC] = loc[start]
    rows[:, FIRST] = tx[start]
    rows[:, LAST] = np.maximum.reduceat(tx, start)
    rows[:, FIRST_W] = np.minimum.reduceat(np.where(m == W, tx, NONE), start)
    rows[:, FIRST_A] = np.minimum.reduceat(np.where(m == A, tx, NONE), start)
    rows[:, FIRST_RW] = np.minimum.reduceat(np.where(rw, tx, NONE), start)
    rows[:, LAST_RW] = np.maximum.reduceat(np.where(rw, tx, -1), start)
    return rows


def shared(tables: list[np.ndarray], lanes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the locations more than one lane touched, and each one's lane, sorted by
    location (each lane has one row per location)."""
    if len(tables) < 2:
        return np.zeros((0, WIDTH), np.int64), np.zeros(0, np.int64)
    rows = np.concatenate(tables)
    lane = np.repeat(np.array(lanes, np.int64), [len(t) for t in tables])
    order = np.argsort(rows[:, LOC], kind="stable")
    loc = rows[order, LOC]
    same = loc[1:] == loc[:-1]
    keep = np.zeros(len(loc), bool)
    keep[1:] |= same
    keep[:-1] |= same
    picked = order[keep]
    return rows[picked], lane[picked]


def expected(loc: np.ndarray, mode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a lane's rows of a window allow (each row's location and mode, in any order): the
    locations, sorted, each with R or A when all its rows say so and W otherwise (W allows any
    access; a read and an add of one location by the lane are what a write is to the others)."""
    if not len(loc):
        return loc, mode.astype(np.int8)
    order = np.argsort(loc)
    loc, mode = loc[order], mode[order]
    heads = np.flatnonzero(np.concatenate(([True], loc[1:] != loc[:-1])))
    seen = np.bitwise_or.reduceat(np.left_shift(1, mode.astype(np.int64)), heads)
    return loc[heads], np.where(joins(seen), W, np.where(seen == 1 << A, A, R)).astype(np.int8)


def first_outside(allowed: tuple[np.ndarray, np.ndarray], shared: np.ndarray, tx: np.ndarray, loc: np.ndarray,
                  mode: np.ndarray) -> int:
    """The first transaction of a lane's log (each access's transaction, location and mode; a
    reverted transaction's accesses are reads) that touched a location ``allowed`` (:func:`expected`)
    does not name, or in a way it does not allow; -1: none.  A read of a location the rows only add
    to is allowed unless other lanes add to it too (``shared``, sorted): a reverted add, most often.

    With every lane within its rows, and the plan's lanes sharing only locations all their rows
    read or all add to (the adds marked, to be merged), no lane touched what another wrote: the
    lanes check themselves, and the parent compares nothing.  A transaction found is the first
    that cannot be trusted: the others' accesses were predicted, so a conflict takes one outside
    its rows, on this lane or another, and what runs from there runs sequentially."""
    if not len(tx):
        return -1
    ok, alone = allows(allowed, loc, mode)
    if not ok.all() and alone.any():
        ok |= alone & ~np.isin(loc, shared)
    return -1 if ok.all() else int(tx[~ok].min())


def allows(allowed: tuple[np.ndarray, np.ndarray], loc: np.ndarray, mode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per access (its location and mode), whether ``allowed`` (:func:`expected`) names its location
    and allows its mode; and whether it is a read of a location ``allowed`` only adds to (allowed
    unless other lanes add to it too: :func:`first_outside`)."""
    where, said = allowed
    if not len(where):
        return np.zeros(len(loc), bool), np.zeros(len(loc), bool)
    at = np.searchsorted(where, loc).clip(max=len(where) - 1)
    found, said = where[at] == loc, said[at]
    return found & ((said == W) | (said == mode)), found & (said == A) & (mode == R)


def several_adders(extents: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`second_adders`'s answer from the extents of the pure adds each lane sent
    (``WindowDone.adds``: its locations, sorted, each once, and the first transaction that added
    to each), where the lanes checked their own accesses and sent no rows: the locations several
    lanes added to, for each the first add by a lane other than the first adder's (the second
    least of the lanes' first adds), and how many lanes added to it."""
    if len(extents) == 2:  # (two lanes: the locations of one looked up in the other's, sorted)
        (a, fa), (b, fb) = ((np.frombuffer(e[0], np.int64), np.frombuffer(e[1], np.int64)) for e in extents)
        at = np.minimum(np.searchsorted(a, b), max(len(a) - 1, 0))
        both = (a[at] == b) if len(a) else np.zeros(len(b), bool)
        return b[both], np.maximum(fa[at[both]], fb[both]), np.full(int(both.sum()), 2, np.int64)
    loc = np.concatenate([np.frombuffer(e[0], np.int64) for e in extents] or [np.zeros(0, np.int64)])
    first = np.concatenate([np.frombuffer(e[1], np.int64) for e in extents] or [np.zeros(0, np.int64)])
    if not len(loc):
        return loc, first, np.zeros(0, np.int64)
    order = np.lexsort((first, loc))
    loc, first = loc[order], first[order]
    heads = np.flatnonzero(np.concatenate(([True], loc[1:] != loc[:-1])))
    count = np.diff(np.append(heads, len(loc)))
    several = heads[count > 1]
    return loc[several], first[several + 1], count[count > 1]


def _first_two(loc: np.ndarray, lane: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row (``loc`` sorted), the least ``t`` of its location (t1, and its lane n1) and the
    second least (t2: the least of the other lanes; NONE if there is none)."""
    order = np.lexsort((t, loc))
    st, sl, sn = t[order], loc[order], lane[order]
    head = np.flatnonzero(np.concatenate(([True], sl[1:] != sl[:-1])))
    nxt = np.minimum(head + 1, len(st) - 1)
    second = np.where((head + 1 < len(st)) & (sl[nxt] == sl[head]), st[nxt], NONE)
    g = np.searchsorted(sl[head], loc)
    return st[head][g], sn[head][g], second[g]


def first_conflict(rows: np.ndarray, lane: np.ndarray) -> int | None:
    """The first transaction that cannot be trusted, from :func:`shared`'s rows (None: none): a
    write (or add) by one lane before an access by another (adds on both sides do not conflict)."""
    if not len(rows):
        return None
    loc = rows[:, LOC]
    bad = NONE
    for writer, victim_first, victim_last in ((FIRST_W, FIRST, LAST), (FIRST_A, FIRST_RW, LAST_RW)):
        t1, n1, t2 = _first_two(loc, lane, rows[:, writer])
        earlier = np.where(lane != n1, t1, t2)  # the first such access by another lane
        hit = (earlier != NONE) & (rows[:, victim_last] > earlier)
        if hit.any():
            bad = min(bad, int(np.maximum(earlier[hit] + 1, rows[hit, victim_first]).min()))
    return None if bad == NONE else bad


def second_adders(rows: np.ndarray, lane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The locations several lanes added to, for each the first add by a lane other than the
    first adder's, and how many lanes added to it (from :func:`shared`'s rows)."""
    added = rows[:, FIRST_A] != NONE
    if not added.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    loc, t = rows[added, LOC], rows[added, FIRST_A]
    _, _, t2 = _first_two(loc, lane[added], t)
    several = t2 != NONE
    first = np.concatenate(([True], loc[1:] != loc[:-1]))
    count = np.diff(np.append(np.flatnonzero(first), len(loc)))  # (one row per lane and location)
    pick = first & several
    return loc[pick], t2[pick], count[several[first]]


# A lane's pure adds to one location as int64 moves from the value before the window (``WindowDone.adds``'
# fourth part): after, lowest and highest less before, then how far before is from 0 and from 2^256 - 1
# (each at most ``ROOM``).  Sent when every move is below ``MOVE_BOUND``: the moves of up to ``MOST_LANES``
# lanes then sum within int64 and within ``ROOM``, so the sums decide the range exactly.
AFTER, LOWEST, HIGHEST, FLOOR, CEILING = range(5)
MOVES = 5
MOVE_BOUND = 2**55
MOST_LANES = 128
ROOM = 2**62
_U256_MAX = 2**256 - 1


def merged_writes(parts) -> dict:
    """The merged adds of a window (``Window.fixups``, made by ``_Merge.check``) as writes,
    ``{(address, index): {key: value}}``.  ``parts``: a marshal blob of such writes (b"": none), then
    three for each lane whose extents give some of the locations: its extents' first part
    (``WindowDone.adds``: the marshal of their address, index, key and before columns), each
    location's place in them (int64) and its moves summed over the lanes (int64): its value is its
    before and that sum.  Whoever applies the writes makes them (each worker, and the parent only
    when its own state is read: ``Chain.defer_merged``), by C code over the columns."""
    out = marshal.loads(parts[0]) if len(parts[0]) else {}
    for k in range(1, len(parts), 3):
        address, index, key, before = marshal.loads(parts[k])
        at = np.frombuffer(parts[k + 1], np.int64).tolist()
        values = map(add, pick(before, at), np.frombuffer(parts[k + 2], np.int64).tolist())
        by_variable(pick(address, at), pick(index, at), pick(key, at), values, out)
    return out


def by_variable(addresses: list, indices: list, keys: list, values, out: dict) -> dict:
    """Columns of writes (each one's instance's address, variable's index, key and value) added to
    ``out``, ``{(address, index): {key: value}}``: by C code when they are all one variable's (most
    often: a token's balances)."""
    if len(set(addresses)) == 1 and len(set(indices)) == 1:
        out.setdefault((addresses[0], indices[0]), {}).update(zip(keys, values))
    else:
        for place, name, value in zip(zip(addresses, indices), keys, values):
            out.setdefault(place, {})[name] = value
    return out


def moves(before: list, after: list, low: list, high: list) -> bytes:
    """The extents' moves (``MOVES`` int64 columns per location), or b"" when one is too big for them."""
    if not before:
        return b""
    columns = [list(map(sub, values, before)) for values in (after, low, high)]
    if max(map(max, columns)) >= MOVE_BOUND or min(map(min, columns)) <= -MOVE_BOUND:
        return b""
    columns.append(list(map(min, before, repeat(ROOM))))
    columns.append(list(map(min, map(sub, repeat(_U256_MAX), before), repeat(ROOM))))
    return np.array(columns, np.int64).T.tobytes()
