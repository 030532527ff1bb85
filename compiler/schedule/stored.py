"""What the transactions of a block store at locations read to make keys, as workers report it.

The parallel executor's workers instantiate a block's transactions in stripes
and in rounds (:mod:`compiler.runtime.parallel`), not in one pass in block
order as :class:`compiler.schedule.forwarding.Forwarding` does: each reports
what its transactions store (``compiler.schedule.rows``: ``stored``), and the
parent, with :class:`StoredValues`, tells a later reader what values the
location it read may hold.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import compress

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

    def replace(self, txs, stored: tuple[list, list, list], follows: dict | None = None) -> None:
        """The entries of transactions ``txs`` (instantiated again) are now ``stored``: (transactions,
        location ids, values; None where the value cannot be said).  ``follows``: those of ``txs``
        instantiated with values forwarded to them, each with the locations it was given values of."""
        follows = follows or {}
        new_tx, new_loc, new_values = np.array(stored[0], np.int64), np.array(stored[1], np.int64), list(stored[2])
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
            self.tx, self.loc = self.tx[keep], self.loc[keep]
            self.values = list(compress(self.values, keep))
        self.tx = np.concatenate([self.tx, new_tx])
        self.loc = np.concatenate([self.loc, new_loc])
        self.values += new_values

    def before(self, txs: np.ndarray, locs: np.ndarray, cap: int = MAX_VALUES) -> list:
        """For each reader ``txs[k]`` of location ``locs[k]``: the distinct values transactions before it
        may store there, in block order (a tuple); None when one of them cannot be said, when there
        are more than ``cap``, or when none is known (a writer that did not report is not trusted)."""
        near = np.flatnonzero(isin(self.loc, locs))
        near = near[np.lexsort((self.tx[near], self.loc[near]))]  # (by location, then transaction)
        index: dict[int, tuple] = {}
        values = [self.values[k] for k in near.tolist()]
        for where, t, value in zip(self.loc[near].tolist(), self.tx[near].tolist(), values):
            got = index.get(where)
            if got is None:
                got = index[where] = ([], {}, [], [float("inf")])
            writers, seen, counts, unknown = got
            if value is None:
                unknown[0] = min(unknown[0], t)
            elif value not in seen:
                seen[value] = None
            writers.append(t)
            counts.append(len(seen))
        index = {where: (w, list(seen), c, u[0]) for where, (w, seen, c, u) in index.items()}
        out: list = []
        for t, where in zip(np.asarray(txs).tolist(), np.asarray(locs).tolist()):
            got = index.get(where)
            if got is None:
                out.append(None)
                continue
            writers, distinct, counts, unknown = got
            k = bisect_left(writers, t)
            if not k or writers[k - 1] >= unknown or counts[k - 1] > cap:
                out.append(None)
            else:
                out.append(tuple(distinct[:counts[k - 1]]))
        return out


__all__ = ["StoredValues"]
