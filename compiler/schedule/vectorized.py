"""The components of a block's DAG from arrays of accesses, with numpy.

:mod:`compiler.schedule.components` finds the components with a union-find in
Python, one access at a time.  This module finds the same components from an
:class:`AccessTable` (one row per instantiated access: the transaction, the
location as a 64-bit id, its variable and instance, the mode, whether it is a
wildcard) with whole-array operations: ``np.unique`` numbers the locations,
and a union-find over arrays (``_connected``: roots hooked to the smaller,
then paths halved, a few rounds) runs over the graph whose nodes are the
transactions, the locations that join their accessors, and one node per
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

import numpy as np

R, W, A = 0, 1, 2
EVERY = -1  # the instance of a wildcard whose instance is not known: every instance


# An access table's columns and their types: the rows a worker sends are these, in this order.
COLUMNS = (("tx", np.int64), ("loc", np.int64), ("var", np.int64), ("inst", np.int64), ("mode", np.int8),
           ("wild", bool))


@dataclass
class AccessTable:
    """One row per access: ``tx`` (index in the block), ``loc`` (a location's 64-bit id; unused for
    a wildcard), ``var`` (the variable's id), ``inst`` (the instance's number, or EVERY), ``mode``
    (R, W or A) and ``wild``."""

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


@dataclass
class Components:
    """``label[j]``: transaction j's component (numbered 0..count-1); ``pure_loc``/``pure_tx``: the
    rows adding to a pure-add location (its id, the adder), the candidates for shared adds."""

    label: np.ndarray
    count: int
    pure_loc: np.ndarray
    pure_tx: np.ndarray


def components(table: AccessTable, n: int, window: np.ndarray | None = None) -> Components:
    """The components of ``n`` transactions whose accesses are ``table``; with ``window`` (each
    transaction's window number), of each window apart: a location joins only the transactions of
    one window (the windows run one after the other)."""
    exact = ~table.wild
    tx, mode = table.tx[exact], table.mode[exact]
    loc = table.loc[exact]
    if window is not None:  # one id per (location, window): a mix of both (a collision only joins more)
        loc = _mix(loc, window[tx])
    locs, inv = np.unique(loc, return_inverse=True)
    inv = inv.reshape(-1)
    m = len(locs)
    read, write, add = (np.zeros(m, bool) for _ in range(3))
    read[inv[mode == R]] = True
    write[inv[mode == W]] = True
    add[inv[mode == A]] = True
    joins = write | (read & add)
    pure = add & ~write & ~read
    rows = [tx[joins[inv]]]
    cols = [n + inv[joins[inv]]]

    nodes = n + m
    if table.wild.any():
        wrows, wcols, groups = _wildcard_edges(table, exact, inv, write | add, nodes, window)
        rows += wrows
        cols += wcols
        nodes += groups
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    label = _connected(nodes, r, c)[:n]
    # Number the transactions' components 0..k-1 in the order of their roots (the other nodes'
    # labels are not needed): a mark per root and a running count, no sort.
    root = np.zeros(nodes, bool)
    root[label] = True
    number = np.cumsum(root) - 1
    in_pure = pure[inv] & (mode == A)
    return Components(number[label], int(root.sum()), table.loc[exact][in_pure], tx[in_pure])


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
    near = np.isin(table.loc, candidates) & exact
    which = np.searchsorted(candidates, table.loc[near])
    changes = table.mode[near] != R
    readers = np.bincount(which[~changes], minlength=len(candidates))
    writers = np.bincount(which[changes], minlength=len(candidates))
    hot = (readers >= least) & (writers > 0) & (writers * HOT_FEW <= readers)
    if not hot.any():
        return empty
    return np.unique(table.tx[near][changes & hot[which]])


def _connected(nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each node's root in the undirected graph of edges ``a[i] -- b[i]``: one node per component.

    Array union-find: every edge between two trees hooks the larger root under the smaller
    (``np.minimum.at``: a root hooked by several edges takes the smallest), then every node jumps
    to its root.  A tree not hooked in a round has a neighbour that was, so the trees of a
    component at least halve each round: a few rounds, each a few passes over the edges."""
    parent = np.arange(nodes, dtype=np.int64)
    while len(a):
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]  # edges inside one tree are done
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:  # every node to its root (parents only ever point lower: no cycles)
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent


def _wildcard_edges(table: AccessTable, exact: np.ndarray, inv: np.ndarray, written_or_added: np.ndarray,
                    first_node: int, window: np.ndarray | None) -> tuple[list, list, int]:
    """Edges to one node per wildcard scope: a variable of one instance, or of every instance when
    some wildcard on it does not know its instance."""
    wild = table.wild
    var, inst = table.var, table.inst
    every_vars = np.unique(var[wild & (inst == EVERY)])
    # A row's scope: (variable, instance), or (variable, EVERY) for a variable with such a wildcard.
    scope_inst = np.where(np.isin(var, every_vars), EVERY, inst)
    key = _mix(scope_inst, var)
    if window is not None:
        key = _mix(key, window[table.tx])
    _, scope = np.unique(key, return_inverse=True)
    scope = scope.reshape(-1)
    wild_scopes = np.unique(scope[wild])
    in_scope = np.isin(scope, wild_scopes)
    g = np.searchsorted(wild_scopes, scope[in_scope])   # the scope's number, for rows in a wild scope
    rows_in = np.flatnonzero(in_scope)
    k = len(wild_scopes)
    # A scope's wildcards write?  Does some key of it get written or added to?
    is_wild = wild[rows_in]
    writes = np.zeros(k, bool)
    writes[g[is_wild & (table.mode[rows_in] != R)]] = True
    # The exact rows: whether their location is written or added to by anyone.
    exact_pos = np.cumsum(exact) - 1                      # row -> its position among exact rows
    key_wa = np.zeros(len(rows_in), bool)
    ex = ~is_wild
    key_wa[ex] = written_or_added[inv[exact_pos[rows_in[ex]]]]
    others = np.zeros(k, bool)
    others[g[ex & key_wa]] = True
    active = writes | others
    member = active[g] & (is_wild | writes[g] | key_wa)
    return [table.tx[rows_in[member]]], [first_node + g[member]], k


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One 64-bit id for a pair of ids (an odd multiplier and a rotation: a collision is as unlikely as
    one of the locations' own hashes, and only ever joins transactions that need not be)."""
    a = a.astype(np.uint64)
    b = b.astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (a * np.uint64(0x9E3779B97F4A7C15)) ^ ((b << np.uint64(29)) | (b >> np.uint64(35))) ^ b
    return mixed.view(np.int64)
