"""The components of a block's DAG from arrays of accesses, with numpy.

:mod:`compiler.schedule.components` finds the components with a union-find in
Python, one access at a time.  This module finds the same components from an
:class:`AccessTable` (one row per instantiated access: the transaction, the
location as a 64-bit id, its variable and instance, the mode, whether it is a
wildcard) with whole-array operations: one sort puts each location's rows
together (made once for every windowing of a block), a location that joins
its accessors links each of its rows to the one before, and a union-find over
arrays (``_connected``: roots hooked to the smaller, then paths halved, a few
rounds) runs over the graph whose nodes are the transactions and one node per
variable touched by a wildcard.  So its cost per access is a few machine
operations, whatever process builds the table (and no scipy to import: half a
second of every command that plans lanes).

The rules are those of :mod:`compiler.schedule.components`: a location joins
its accessors when someone writes it, or when it is both read and added to; a
location only read, or only added to (a *pure add*), joins nobody.  A
wildcard stands for every key of its variable, of one instance or of every
instance: it joins the wildcard's accessors with each accessor of the
variable's keys that writes or adds to them, and with every accessor of its
keys when the wildcard writes.

Location ids are hashes: two locations with one id are joined as if they were
one, which can only make components coarser, never wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import NamedTuple

import numpy as np

R, W, A = 0, 1, 2
_R, _W, _A = 1 << R, 1 << W, 1 << A  # (a location's modes as bits)
_RA = _R | _A
EVERY = -1  # the instance of a wildcard whose instance is not known: every instance


# An access table's columns and their types: the rows a worker sends are these, in this order.
COLUMNS = (("tx", np.int64), ("loc", np.int64), ("var", np.int64), ("inst", np.int64), ("mode", np.int8),
           ("wild", bool))


@dataclass
class AccessTable:
    """One row per access: ``tx`` (index in the block), ``loc`` (a location's 64-bit id; a
    wildcard's scope's, :func:`scope_id`), ``var`` (the variable's id), ``inst`` (the instance's
    number, or EVERY), ``mode`` (R, W or A) and ``wild``."""

    tx: np.ndarray
    loc: np.ndarray
    var: np.ndarray
    inst: np.ndarray
    mode: np.ndarray
    wild: np.ndarray

    @classmethod
    def empty(cls) -> "AccessTable":
        return cls(*(np.zeros(0, dtype) for _, dtype in COLUMNS))

    @classmethod
    def of(cls, columns: dict[str, np.ndarray]) -> "AccessTable":
        """The table of columns named as its fields (:class:`compiler.schedule.rows.RowMaker`'s rows)."""
        return cls(*(columns[name] for name, _ in COLUMNS))

    @classmethod
    def concat(cls, tables: list["AccessTable"]) -> "AccessTable":
        if not tables:
            return cls.empty()
        return cls(*(np.concatenate([getattr(t, name) for t in tables]) for name, _ in COLUMNS))

    def where(self, keep: np.ndarray) -> "AccessTable":
        """The rows ``keep`` (a mask or indices) picks."""
        return AccessTable(*(getattr(self, name)[keep] for name, _ in COLUMNS))

    def __len__(self) -> int:
        return len(self.tx)

    @cached_property
    def by_location(self) -> "ByLocation":
        """The exact rows sorted by location, then transaction: made once (one sort), for every
        windowing of the table's components (a table is not changed once it was asked for)."""
        tx, loc, mode = self.tx, self.loc, self.mode
        if self.wild.any():
            exact = np.flatnonzero(~self.wild)
            tx, loc, mode = tx[exact], loc[exact], mode[exact]
        order = grouped_order(loc, tx)  # (a transaction's rows of one location: in any order)
        loc = loc[order]
        start = np.ones(len(order), bool)
        start[1:] = loc[1:] != loc[:-1]
        return ByLocation(tx[order], mode[order], np.cumsum(start) - 1, start, loc[start])

    @cached_property
    def wild_scopes(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The rows (sorted) of the wildcard scopes that hold a wildcard somewhere in the table, the
        only rows a wildcard can join in any windowing; each one's scope, numbered 0, 1, ... among
        the scopes of those variables; and how many those are (made once, for every windowing).
        A row's scope is its variable of its instance, or of every instance when some wildcard on
        the variable does not know its instance.  (Only the rows of variables some wildcard is on
        are looked at: a few of a block's.)"""
        wild = self.wild
        rows = np.flatnonzero(isin(self.var, distinct(self.var[wild])))
        var, inst, wild = self.var[rows], self.inst[rows], wild[rows]
        every_vars = distinct(var[wild & (inst == EVERY)])
        scope, count = inverse(scope_id(var, np.where(isin(var, every_vars), EVERY, inst)))
        has_wild = np.zeros(count, bool)
        has_wild[scope[wild]] = True
        keep = np.flatnonzero(has_wild[scope])
        return rows[keep], scope[keep], count


class ByLocation(NamedTuple):
    """An access table's exact rows in the order of their locations, then of their transactions:
    each row's transaction, mode and location (numbered 0, 1, ...) in that order, and where a
    location's rows start."""

    tx: np.ndarray
    mode: np.ndarray
    dense: np.ndarray
    start: np.ndarray
    locations: np.ndarray  # (each location once, sorted: numbered 0, 1, ... as ``dense``)


def joins(modes: np.ndarray) -> np.ndarray:
    """Whether a location whose accesses' modes are ``modes`` (bits ``1 << mode``, or-ed) joins
    those who access it: written, or read and added to (what a write is to the others)."""
    return (modes & _W != 0) | (modes & _RA == _RA)


@dataclass
class Components:
    """``label[j]``: transaction j's component (numbered 0..count-1).  (The locations several lanes
    only add to, the shared adds, are found once the lanes are dealt: ``runtime.plan._lanes_apart``.)"""

    label: np.ndarray
    count: int


def linked(tx: np.ndarray, mode: np.ndarray, start: np.ndarray, adds: bool = False
           ) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Rows grouped by location (``start``: a group's first row), each row's transaction and mode:
    each group's first row and its modes, or-ed (bits ``1 << mode``), and the edges that join
    the transactions of the groups that join their accessors (each row to the one before; with
    ``adds``, a location added to joins them too)."""
    heads = np.flatnonzero(start)
    sizes = np.diff(heads, append=len(tx))
    modes = np.bitwise_or.reduceat(np.left_shift(1, mode, dtype=np.int8), heads) if len(heads) else \
        np.zeros(0, np.int8)
    join = joins(modes) | (modes & _A != 0) if adds else joins(modes)
    link = np.flatnonzero(~start & np.repeat(join, sizes))
    return heads, modes, (tx[link - 1], tx[link])


def components(table: AccessTable, n: int, window: np.ndarray | None = None, adds: bool = False) -> Components:
    """The components of ``n`` transactions whose accesses are ``table``; with ``window`` (each
    transaction's window number), of each window apart: a location joins only the transactions of
    one window (the windows run one after the other).  With ``adds``, a location only added to
    joins its accessors too (components whose adds no other touches: the parent's part of a
    window, ``runtime.plan.Planning.plan``).

    The rows of one location (of one window) are consecutive in the table's order by location
    (:attr:`AccessTable.by_location`, sorted once for every windowing asked): a location that
    joins its accessors links each of its rows to the one before, a pass over the rows."""
    s = table.by_location
    tx, mode, start, dense = s.tx, s.mode, s.start, s.dense
    by_window = False  # (the groups in the order of their windows, then locations)
    if window is not None and len(tx):
        w = window[tx]
        if (np.diff(window) < 0).any():  # (windows out of block order: by window, then location)
            again = np.argsort(w, kind="stable")
            tx, mode, w, dense = tx[again], mode[again], w[again], dense[again]
            start = np.ones(len(tx), bool)
            start[1:] = dense[1:] != dense[:-1]
            by_window = True
        else:
            start = start.copy()
        start[1:] |= w[1:] != w[:-1]  # (a location's first row in a window)
    heads, modes, (a, b) = linked(tx, mode, start, adds)
    rows, cols = [a], [b]

    nodes = n
    if table.wild.any():
        def group_of(exact_rows: np.ndarray) -> np.ndarray:
            """The group of each of these exact rows of the table: its location's number (and its
            window) looked up among the groups' by binary search, with no pass over the table."""
            number = np.searchsorted(s.locations, table.loc[exact_rows])
            if window is None or not len(exact_rows):
                return number
            span = max(int(window.max()) + 1, len(s.locations))
            at = window[table.tx[exact_rows]]
            head, row = ((w[heads] * span + dense[heads], at * span + number) if by_window else
                         (dense[heads] * span + w[heads], number * span + at))
            return np.searchsorted(head, row)

        wrows, wcols, groups = _wildcard_edges(table, group_of, (modes & (_W | _A)) != 0, nodes, window)
        rows += wrows
        cols += wcols
        nodes += groups
    label = _connected(nodes, np.concatenate(rows), np.concatenate(cols))[:n]
    # Number the transactions' components 0..k-1 in the order of their roots (the other nodes'
    # labels are not needed): a mark per root and a running count, no sort.
    root = np.zeros(nodes, bool)
    root[label] = True
    number = np.cumsum(root) - 1
    return Components(number[label], int(root.sum()))


SAMPLE_SEED = 8  # (:func:`every_th`'s draws)


def every_th(n: int, every: int) -> np.ndarray:
    """One of each ``every`` transactions of ``n`` (of the first ``n // every`` runs of them), at a
    place in its run drawn at random, the same each time (a fixed seed): a sample no period of the
    block lines up with (transactions 0, every, 2 * every, ... of calls from two senders in turn
    were all one sender's, and the block looked joined whole)."""
    m = n // every
    return np.arange(m, dtype=np.int64) * every + (scrambled(m, SAMPLE_SEED) % np.uint64(every)).astype(np.int64)


def scrambled(m: int, seed: int) -> np.ndarray:
    """``m`` pseudo-random 64-bit numbers, the same for the same ``seed``: SplitMix64's outputs
    (Steele, Lea and Flood, 2014), by numpy over the whole array.  Not ``numpy.random``, whose
    import a process's first block on lanes would pay (10-25 ms, measured on 2026-12-06)."""
    with np.errstate(over="ignore"):  # (arithmetic modulo 2^64, as the generator's)
        z = np.arange(1, m + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def largest_in_sample(table: AccessTable, n: int, every: int) -> int:
    """How many transactions the largest component holds of the ``n // every`` of :func:`every_th`
    alone: their rows taken in the table's order by location (no sort of their own), or, where a
    wildcard is, a table of their own."""
    m = n // every
    sampled = np.zeros(n, bool)  # (looked up for each row: no arithmetic over them)
    sampled[every_th(n, every)] = True
    if table.wild.any():  # (a wildcard joins its scope's rows: the sample's own scopes)
        sample = table.where(np.flatnonzero(sampled[table.tx]))  # (one pass over the rows, for every column)
        sample.tx = sample.tx // every
        return int(np.bincount(components(sample, m).label, minlength=1).max())
    s = table.by_location
    keep = np.flatnonzero(sampled[s.tx])
    dense = s.dense[keep]
    start = np.ones(len(keep), bool)
    start[1:] = dense[1:] != dense[:-1]
    _, _, (a, b) = linked(s.tx[keep] // every, s.mode[keep], start)
    return int(np.bincount(_connected(m, a, b), minlength=1).max())


HOT_SHARE = 16   # a location read by at least 1/16 of a block's transactions ...
HOT_FEW = 64     # ... and written by at most 1/64 as many is hot
HOT_SAMPLE = 16  # (candidates found among every 16th read)


def hot_writers(table: AccessTable, n: int) -> np.ndarray:
    """The transactions (sorted) that write or add to a *hot* location: one that many of the ``n``
    transactions read and few change (a price, a flag, a setting; at least 1/HOT_SHARE of them
    read it, at most 1/HOT_FEW as many change it).  Its readers are joined in any window that
    holds one of its writers; each writer alone in a window, the readers between two of them
    need not wait for one another.  Candidates are the locations frequent among every
    HOT_SAMPLE-th read (a pass over a sixteenth of the reads), then counted exactly."""
    empty = np.zeros(0, np.int64)
    exact = ~table.wild
    reads = exact & (table.mode == R)
    least = max(2, n // HOT_SHARE)
    locs, counts = np.unique(table.loc[reads][::HOT_SAMPLE], return_counts=True)
    candidates = locs[counts * HOT_SAMPLE >= least // 2]
    if not len(candidates):
        return empty
    near = isin(table.loc, candidates) & exact
    which = np.searchsorted(candidates, table.loc[near])
    changes = table.mode[near] != R
    readers = np.bincount(which[~changes], minlength=len(candidates))
    writers = np.bincount(which[changes], minlength=len(candidates))
    hot = (readers >= least) & (writers > 0) & (writers * HOT_FEW <= readers)
    if not hot.any():
        return empty
    return distinct(table.tx[near][changes & hot[which]])


def isin(values, among) -> np.ndarray:
    """Whether each of ``values`` is among ``among``: ``np.isin`` by binary search in ``among``
    sorted.  (``np.isin`` sorts both arrays whole, the larger one as well, and its first call
    imports ``numpy.ma``: 40 ms of the first block a process plans.)"""
    return isin_sorted(values, np.sort(np.asarray(among)))


_TABLE_FROM = 256  # values looked up at once from which a table of bits screens them (int64 ones)


def isin_sorted(values, ordered: np.ndarray) -> np.ndarray:
    """:func:`isin` where ``ordered`` is sorted already.  Many int64 values against fewer: a table
    of ``ordered``'s low bits (16 to 32 slots for each, a pass) says which values may be among them, and
    only those are looked for by binary search (location ids are hashes, their low bits spread:
    a few per cent pass the screen but are not there)."""
    values = np.asarray(values)
    if not len(ordered) or not values.size:
        return np.zeros(values.shape, bool)
    if values.dtype == np.int64 and ordered.dtype == np.int64 and values.size >= max(_TABLE_FROM, 4 * len(ordered)):
        mask = (1 << max(10, (16 * len(ordered)).bit_length())) - 1
        table = np.zeros(mask + 1, bool)
        table[ordered & mask] = True
        flat = values.reshape(-1)
        maybe = np.flatnonzero(table[flat & mask])
        out = np.zeros(flat.shape, bool)
        if len(maybe):
            candidates = flat[maybe]
            at = np.searchsorted(ordered, candidates).clip(max=len(ordered) - 1)
            out[maybe] = ordered[at] == candidates
        return out.reshape(values.shape)
    at = np.searchsorted(ordered, values).clip(max=len(ordered) - 1)
    return ordered[at] == values


def sort_order(primary: np.ndarray, secondary: np.ndarray | None = None) -> np.ndarray:
    """The stable order of rows by ``primary``, then ``secondary`` (integer columns; rows equal in
    both keep their places): ``np.lexsort((secondary, primary))``, or without ``secondary``
    ``np.argsort(primary, kind="stable")``.

    By two of numpy's unstable sorts (vectorised: three to five times faster than a stable pass
    on hashed location ids): by ``primary``; then by each row's rank in that order, its
    ``secondary`` and its place, packed in one integer (unique: the order is exactly the stable
    one).  Where they cannot be packed in 62 bits, by numpy's stable sorts."""
    places = len(primary)
    first = np.argsort(primary)
    ranked = primary[first]
    new = np.empty(places, bool)
    if places:
        new[0] = True
        np.not_equal(ranked[1:], ranked[:-1], out=new[1:])
    rank = np.cumsum(new) - 1
    low, span, minor = 0, 1, 0
    if places and secondary is not None:
        low = int(secondary.min())
        span = int(secondary.max()) - low + 1
    if not places or (int(rank[-1]) + 1) * span * places >= 1 << 62:
        return np.argsort(primary, kind="stable") if secondary is None else np.lexsort((secondary, primary))
    if secondary is not None:
        minor = secondary[first] - low
    return first[np.argsort((rank * span + minor) * places + first)]


RUNS_MOST = 64  # runs sorted already, fewer than this, that a stable sort merges (more: numpy's quicksort)


def grouped_order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """An order of rows by ``primary``, then ``secondary`` (nonnegative): :func:`sort_order`'s, but
    for rows equal in both, which come in any order among themselves.

    One of numpy's vectorised sorts (half :func:`sort_order`'s time on hashed location ids), of
    ``primary`` with its low bits replaced by ``secondary``: exact unless two values of ``primary``
    share the bits kept (about one chance in 30,000 for 100,000 locations of 64-bit ids in a block
    of 100,000 transactions), which shows as two of them side by side; then :func:`sort_order`.
    Rows that come as a few runs sorted so already (the workers' stripes of a block's rows, each
    sorted by location and transaction) are merged by numpy's stable sort, in about a tenth of a
    sort's time."""
    if not len(primary):
        return np.zeros(0, np.int64)
    low = np.int64((1 << max(1, int(secondary.max()).bit_length())) - 1)
    if int(secondary.min()) < 0 or low >= 1 << 40:
        return sort_order(primary, secondary)
    key = (primary & ~low) | secondary
    order = np.argsort(key, kind="stable" if np.count_nonzero(key[1:] < key[:-1]) < RUNS_MOST else None)
    whole = primary[order]
    kept = whole & ~low
    if ((kept[1:] == kept[:-1]) & (whole[1:] != whole[:-1])).any():
        return sort_order(primary, secondary)
    return order


def pick(seq: list, positions) -> list:
    """``[seq[i] for i in positions]`` (a list, or an array of positions) at C speed."""
    positions = positions.tolist() if hasattr(positions, "tolist") else positions
    if len(positions) == 1:
        return [seq[positions[0]]]
    return list(itemgetter(*positions)(seq)) if len(positions) else []


def distinct(values) -> np.ndarray:
    """``np.unique(values)``: sorted, each once (without ``numpy.ma``, which its plain form imports)."""
    ordered = np.sort(np.asarray(values).reshape(-1))
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


_MIX = np.uint64(0x9E3779B97F4A7C15)  # (Fibonacci hashing: the product's top bits mix all of a value's)
_INVERSE_SAMPLE = 4096                 # values sampled for the distinct ones, at first
_INVERSE_MOST = 1 << 10                # distinct values a table of slots is tried for (more: numpy's sort)


def inverse(values) -> tuple[np.ndarray, int]:
    """``np.unique(values, return_inverse=True)``'s inverse (each value's place among the distinct
    ones, sorted) and how many are distinct, for int64 values of which few are: the distinct ones
    of a sample, sorted, then each value's place among them read from a table of slots made from
    their hashes (a few passes, no sort of the values); those the sample missed are added, and
    read again.  When two distinct values fall in one slot, or there are many (the table would be
    large beside the values), numpy's sort."""
    values = np.ascontiguousarray(values, np.int64).reshape(-1)
    known = distinct(values[::max(1, len(values) // _INVERSE_SAMPLE)])
    for _ in range(3):
        if not len(values) or len(known) > _INVERSE_MOST:
            break
        bits = np.uint64(max(10, 2 * len(known).bit_length() + 2))
        if 1 << int(bits) > 4 * len(values):  # (a table larger than the values: their sort is cheaper)
            break
        slots = _slots(known, bits)
        if len(distinct(slots)) < len(known):
            break
        table = np.zeros(1 << int(bits), np.int32)
        table[slots] = np.arange(len(known), dtype=np.int32)
        at = table[_slots(values, bits)].astype(np.int64)
        missed = known[at] != values
        if not missed.any():
            return at, len(known)
        known = distinct(np.concatenate([known, values[missed]]))
    used, at = np.unique(values, return_inverse=True)
    return at.reshape(-1).astype(np.int64), len(used)


def _slots(values: np.ndarray, bits: np.uint64) -> np.ndarray:
    """Each int64 value's slot in a table of ``2 ** bits`` (the top bits of its Fibonacci hash)."""
    return ((values.view(np.uint64) * _MIX) >> (np.uint64(64) - bits)).astype(np.int64)


def _connected(nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each node's root in the undirected graph of edges ``a[i] -- b[i]``: one node per component.

    Array union-find: every edge between two trees hooks the larger root under the smaller
    (``np.minimum.at``: a root hooked by several edges takes the smallest), then every node jumps
    to its root.  A tree not hooked in a round has a neighbour that was, so the trees of a
    component at least halve each round: a few rounds, each a few passes over the edges (of 32-bit
    node numbers where they fit: half the memory each pass moves, half its time)."""
    small = np.int32 if nodes < 1 << 31 else np.int64
    parent = np.arange(nodes, dtype=small)
    a, b = a.astype(small), b.astype(small)
    while len(a):
        ra, rb = parent[a], parent[b]
        differ = np.flatnonzero(ra != rb)
        if not len(differ):
            break
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]  # edges inside one tree are done
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:  # every node to its root (parents only ever point lower: no cycles)
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent.astype(np.int64)


def scope_id(var: np.ndarray, inst: np.ndarray) -> np.ndarray:
    """(variable, instance) as one integer (an instance of EVERY: every instance)."""
    return var.astype(np.int64) * (1 << 32) + (inst.astype(np.int64) + 1)


def _wildcard_edges(table: AccessTable, group_of, written_or_added: np.ndarray, first_node: int,
                    window: np.ndarray | None) -> tuple[list, list, int]:
    """Edges to one node per wildcard scope (:attr:`AccessTable.wild_scopes`) of each window: the
    node of scope s in window w is ``first_node + s * windows + w``.  ``group_of(rows)``: the
    location (of its window) of each of these exact rows of the table."""
    candidates, scope, count = table.wild_scopes  # (the rows of scopes with a wildcard in some window)
    if window is None:
        g, k = scope, count
    else:
        windows = int(window.max()) + 1
        g, k = scope * windows + window[table.tx[candidates]], count * windows
    is_wild = table.wild[candidates]
    has_wild = np.zeros(k, bool)
    has_wild[g[is_wild]] = True
    keep = np.flatnonzero(has_wild[g])   # the rows of a scope some wildcard of its window is in
    rows_in, g, is_wild = candidates[keep], g[keep], is_wild[keep]
    # A scope's wildcards write?  Does some key of it get written or added to?
    writes = np.zeros(k, bool)
    writes[g[is_wild & (table.mode[rows_in] != R)]] = True
    key_wa = np.zeros(len(rows_in), bool)
    ex = ~is_wild
    key_wa[ex] = written_or_added[group_of(rows_in[ex])]
    others = np.zeros(k, bool)
    others[g[ex & key_wa]] = True
    active = writes | others
    member = active[g] & (is_wild | writes[g] | key_wa)
    node = g[member]
    if k > len(table):  # (scopes of many windows: the nodes used only, numbered 0, 1, ...)
        node, k = inverse(node)
    return [table.tx[rows_in[member]]], [first_node + node], k
