"""What a key read from storage may be when a transaction of the block runs: value forwarding.

A dynamic key (``owner_of[id]``, ``seller_of[id]``, ``next_id + 1``) is read
from storage.  Before the block runs, its location holds one value; when an
earlier transaction of the block may write that location, the transaction may
see that value or any value an earlier writer stores there (a writer may
revert, so the value before the block stays possible).  The compiled
summaries say what each write stores, in terms of the writer's own arguments,
sender and reads, and report it while they are instantiated (``stored``); so
the scheduler keeps, per location, the values earlier transactions of the
block may have written there, and a later read of the location answers the
finite set of them (a :class:`Choice`).  The key becomes as many exact
locations.  Only when some writer's value cannot be said (an add, a value the
analysis does not follow, a wildcard write over the variable) or the set
grows past :data:`MAX_VALUES` does the read stay unresolved and the key a
wildcard (SPEC §3, *Instantiation*).

Values of a variable that no summary reads to make a key (a pool's reserves)
only decide conditions and guards; each value is one more to try with the
others a condition reads (a swap's price reads both reserves), so they are
followed while they are at most :data:`MAX_OTHER_VALUES`.

:func:`compiler.schedule.dag.build` and :func:`compiler.schedule.components.partition`
share this state so that they instantiate every transaction alike.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import compress
from typing import Any

import numpy as np

from .compiled import UNKNOWN, UNREAD, WILD, Choice

# Values remembered per location of a variable read to make keys (of another variable): past it,
# the location's value is unknown to later readers.
MAX_VALUES = 64
MAX_OTHER_VALUES = 4


class Forwarding:
    """The state a block's instantiation reads: the pre-block storage and the values earlier
    transactions of the block may have stored.  ``read`` is the ``read`` of a compiled summary;
    ``record`` takes what one transaction's instantiation stored, after it.  (Both are closures
    over the state: they run for every dynamic key of the block.)"""

    def __init__(self, storage: dict[int, list[dict]], slots: dict[int, tuple[int, Any]],
                 key_vids: frozenset[int] | None = None) -> None:
        """``key_vids``: the variables read to make keys (None: every variable is taken as one)."""
        # location -> {value: None} (ordered, so that instantiation is deterministic), or UNKNOWN
        values: dict[tuple, Any] = {}
        wild: set[tuple] = set()  # (address or None, var id) written at every key
        self.values, self.wild = values, wild
        self.choices = 0  # reads answered with several values

        def read(address: int, vid: int, key: Any) -> Any:
            """The value, a Choice of values, or UNREAD when it cannot be known (see compiled.py)."""
            if wild and ((address, vid) in wild or (None, vid) in wild):
                return UNREAD
            got = values.get((address, vid, key))
            if got is UNKNOWN:
                return UNREAD
            index, zero = slots[vid]
            try:
                # Indexed, not .get: a state file's variable loads a location it does not hold yet.
                before = storage[address][index][key]
            except KeyError:
                before = zero
            if got is None:
                return before
            if len(got) == 1 and before in got:
                return before
            self.choices += 1
            return Choice(dict.fromkeys((before, *got)))

        def record(stored: list) -> None:
            """``stored``: (location, value or UNKNOWN) for each write or add one transaction may make."""
            for loc, value in stored:
                if value is UNKNOWN:  # (an add, most often)
                    if loc[2] is WILD:
                        wild.add((loc[0], loc[1]))
                    else:
                        values[loc] = UNKNOWN
                    continue
                got = values.get(loc)
                if got is UNKNOWN:
                    continue
                if got is None:
                    values[loc] = {value: None}
                else:
                    got[value] = None
                    if len(got) > (MAX_VALUES if key_vids is None or loc[1] in key_vids else MAX_OTHER_VALUES):
                        values[loc] = UNKNOWN

        self.read, self.record = read, record


class StoredValues:
    """What the transactions of a block may store at locations of variables read to make keys, as
    instantiations in several processes reported it (``compiler.schedule.rows``: ``stored``): per
    location, the values written before a given transaction.  The parallel executor's plan forwards
    them to the re-instantiation of a later reader, as :class:`Forwarding` does in one pass.

    Those instantiations run in rounds, not in block order: a writer instantiated again with values
    forwarded to it may store other values than it said before (a guard that failed before the
    block passes now: a sale of a token minted earlier in the block), and its readers take them in
    the next round.  But a writer whose stored values follow the values forwarded to it (a counter
    read and written back: ``next_id = next_id + 1``) would change again at every round, and its
    readers, and theirs.  So a writer given forwarded values whose entries change a second time
    stores values not known from then on: its readers take the location unresolved, and the rounds
    end.  (A writer instantiated again with locations unresolved only stores what does not follow
    forwarded values: its entries are taken as they come.)"""

    def __init__(self) -> None:
        # One entry per value a transaction may store at a location: block order not kept.
        self.tx = np.zeros(0, np.int64)
        self.loc = np.zeros(0, np.int64)
        self.values: list = []  # (each a value, or None: not known)
        self.changed: set[int] = set()  # writers given forwarded values whose entries changed once

    def replace(self, txs, stored: tuple[list, list, list], follows=()) -> None:
        """The entries of transactions ``txs`` (instantiated again) are now ``stored``: (transactions,
        location ids, values; None where the value cannot be said).  ``follows``: those of ``txs``
        instantiated with values forwarded to them."""
        new_tx, new_loc, new_values = np.array(stored[0], np.int64), np.array(stored[1], np.int64), list(stored[2])
        if len(txs):
            old = np.isin(self.tx, np.asarray(txs, np.int64))
            entries: dict[int, tuple[set, set]] = {int(t): (set(), set()) for t in txs}  # old, new
            for t, where, value in zip(self.tx[old].tolist(), self.loc[old].tolist(), compress(self.values, old)):
                entries[t][0].add((where, value))
            for t, where, value in zip(new_tx.tolist(), new_loc.tolist(), new_values):
                entries[t][1].add((where, value))
            moved = {t for t in follows if entries[t][0] != entries[t][1]}
            moved, first = moved & self.changed, moved - self.changed
            self.changed |= first
            if moved:  # (their entries, old and new, as values not known)
                unknown = [(t, where) for t in moved for where in dict.fromkeys(w for w, _ in entries[t][0] | entries[t][1])]
                again = np.flatnonzero(~np.isin(new_tx, np.array(sorted(moved), np.int64)))
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
        near = np.flatnonzero(np.isin(self.loc, locs))
        near = near[np.lexsort((self.tx[near], self.loc[near]))]  # (by location, then transaction)
        index: dict[int, tuple] = {}
        for where, t, value in zip(self.loc[near].tolist(), self.tx[near].tolist(), [self.values[k] for k in near.tolist()]):
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
