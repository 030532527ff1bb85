"""What the transactions of a block store at locations read to make keys, as workers report it.

The parallel executor's workers instantiate a block's transactions in stripes
and in rounds (:mod:`compiler.runtime.parallel`), not in one pass in block
order as :class:`compiler.schedule.forwarding.Forwarding` does: each reports
what its transactions store (``compiler.schedule.rows``: ``stored``), and the
parent, with :class:`StoredValues`, tells a later reader what values the
location it read may hold.
"""

from __future__ import annotations

from itertools import compress, count, repeat
from operator import is_, itemgetter

import numpy as np

from .forwarding import MAX_VALUES
from .vectorized import isin


class StoredValues:
    """What the transactions of a block may store at locations of variables read to make keys, as
    instantiations in several processes reported it (``compiler.schedule.rows``: ``stored``): per
    location, the values written before a given transaction.  The parallel executor's plan forwards
    them to the re-instantiation of a later reader, as :class:`~compiler.schedule.forwarding.Forwarding`
    does in one pass.

    Those instantiations run in rounds, not in block order: a writer instantiated again with values
    forwarded to it may store other values than it said before (a guard that failed before the
    block passes now: a sale of a token minted earlier in the block), and its readers take them in
    the next round.  But a writer whose stored values follow the values forwarded to it (a counter
    read and written back: ``next_id = next_id + 1``) would change again at every round, and its
    readers, and theirs.  So a writer given forwarded values whose entries change a second time
    stores values not known from then on: its readers take the location unresolved, and the rounds
    end.  A counter is known sooner: a writer that stores more than one value at a location whose
    values were forwarded to it (``next_id`` read as 0 or 1, written back as 1 or 2) stores values
    not known at once.  (A writer instantiated again with locations unresolved only stores what
    does not follow forwarded values: its entries are taken as they come.)"""

    def __init__(self) -> None:
        # One entry per value a transaction may store at a location: block order not kept.
        self.tx = np.zeros(0, np.int64)
        self.loc = np.zeros(0, np.int64)
        self.values: list = []  # (each a value, or None: not known)
        self.changed: set[int] = set()  # writers given forwarded values whose entries changed once

    def replace(self, txs, stored: tuple[list, list, list], follows: dict | None = None) -> np.ndarray:
        """The entries of transactions ``txs`` (instantiated again) are now ``stored``: (transactions,
        location ids, values; None where the value cannot be said).  ``follows``: those of ``txs``
        instantiated with values forwarded to them, each with the locations it was given values of.
        The locations of the entries taken out and put in (the only ones whose answers it moved)."""
        follows = follows or {}
        new_tx, new_loc, new_values = np.array(stored[0], np.int64), np.array(stored[1], np.int64), list(stored[2])
        gone = new_loc[:0]
        if len(txs):
            old = isin(self.tx, np.asarray(txs, np.int64))
            entries: dict[int, tuple[set, set]] = {int(t): (set(), set()) for t in txs}  # old, new
            for t, where, value in zip(self.tx[old].tolist(), self.loc[old].tolist(), compress(self.values, old)):
                entries[t][0].add((where, value))
            for t, where, value in zip(new_tx.tolist(), new_loc.tolist(), new_values):
                entries.setdefault(t, (set(), set()))[1].add((where, value))
            moved = {t for t in follows if entries[t][0] != entries[t][1]}
            moved, first = moved & self.changed, moved - self.changed
            self.changed |= first
            for t in first:  # (a counter: several values stored where forwarded ones were read)
                given = follows[t]
                stored_at = [where for where, _ in entries[t][1] if where in given]
                if len(stored_at) != len(set(stored_at)):
                    moved.add(t)
            if moved:  # (their entries, old and new, as values not known)
                unknown = [(t, where) for t in moved
                           for where in dict.fromkeys(w for w, _ in entries[t][0] | entries[t][1])]
                again = np.flatnonzero(~isin(new_tx, np.array(sorted(moved), np.int64)))
                new_tx = np.concatenate([new_tx[again], np.array([t for t, _ in unknown], np.int64)])
                new_loc = np.concatenate([new_loc[again], np.array([w for _, w in unknown], np.int64)])
                new_values = [new_values[k] for k in again.tolist()] + [None] * len(unknown)
            keep = ~old
            gone = self.loc[old]
            self.tx, self.loc = self.tx[keep], self.loc[keep]
            self.values = list(compress(self.values, keep))
        self.tx = np.concatenate([self.tx, new_tx])
        self.loc = np.concatenate([self.loc, new_loc])
        self.values += new_values
        return np.concatenate([gone, new_loc])

    def before(self, txs: np.ndarray, locs: np.ndarray, cap: int = MAX_VALUES) -> list:
        """For each reader ``txs[k]`` of location ``locs[k]``: the distinct values transactions before it
        may store there, in block order (a tuple); None when one of them cannot be said, when there
        are more than ``cap``, or when none is known (a writer that did not report is not trusted).

        By whole-array passes: the entries of the locations read, by location then transaction;
        each value's first entry at its location (a dict, by C code); each entry's count of distinct
        values so far at its location; each reader's last entry before it, by binary search."""
        txs, locs = np.asarray(txs, np.int64), np.asarray(locs, np.int64)
        out: list = [None] * len(txs)
        near = np.flatnonzero(isin(self.loc, locs))
        if not len(near) or not len(txs):
            return out
        near = near[np.lexsort((self.tx[near], self.loc[near]))]  # (by location, then transaction: stable)
        loc, tx = self.loc[near], self.tx[near]
        values = list(itemgetter(*near.tolist())(self.values)) if len(near) > 1 else [self.values[int(near[0])]]
        starts = np.r_[True, loc[1:] != loc[:-1]]
        head = np.flatnonzero(starts)
        rank = np.cumsum(starts) - 1      # (each entry's location, numbered in order)
        unknown = np.fromiter(map(is_, values, repeat(None)), bool, len(values))
        seen: dict = {}                   # (location, value) -> its first entry
        first = np.fromiter(map(seen.setdefault, zip(rank.tolist(), values), count()), np.int64, len(values))
        new = (first == np.arange(len(values))) & ~unknown
        so_far = np.cumsum(new)
        offset = so_far[head] - new[head]  # (each location's first distinct value among ``distinct``)
        counts = so_far - offset[rank]
        distinct = list(compress(values, new.tolist()))
        first_unknown = np.minimum.reduceat(np.where(unknown, tx, np.iinfo(np.int64).max), head)
        # Each reader's last entry before it at its location, by (location, transaction) as one key.
        where = np.minimum(np.searchsorted(loc[head], locs), len(head) - 1)
        span = int(max(tx.max(), txs.max())) + 1
        last = np.searchsorted(rank * span + tx, where * span + txs) - 1
        ok = (loc[head][where] == locs) & (last >= head[where])
        ok[ok] &= (first_unknown[where[ok]] >= txs[ok]) & (counts[last[ok]] <= cap)
        readers = np.flatnonzero(ok)
        begin = offset[where[readers]]
        end = begin + counts[last[readers]]
        told = map(tuple, map(distinct.__getitem__, map(slice, begin.tolist(), end.tolist())))
        for k, value in zip(readers.tolist(), told):
            out[k] = value
        return out


__all__ = ["StoredValues"]
