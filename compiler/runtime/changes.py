"""What a block changed, a variable at a time, and the bytes both roots and state files make of it.

Each variable holds the value before the block of each key the block wrote
(``Var.before``), and a journal one ``(variable's dict, key, value before)``
entry per write (a lane's, every write of its block).  :func:`from_befores`
(or :func:`from_journal`, over any part of a journal) turns them into :class:`Changes`: for each variable
the keys whose value differs after the block, with their values before and
after, as columns (lists), so that whoever consumes them (the state root's
move, :meth:`compiler.runtime.roots.StateHash.moved`; a state file's rows,
:func:`compiler.runtime.store.change_rows`) runs C code over each column
instead of Python per location: a 100,000-transaction block changes up to a
few hundred thousand locations.

:func:`key_bytes` and :func:`word_bytes` are the one encoding of keys and
values as 32-byte big-endian words (booleans 0 and 1) used by both.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_not, itemgetter, ne, or_
from typing import Any, Callable, Iterable, Iterator

import numpy as np

_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)
_to_bytes = int.to_bytes


def word_bytes(values: Iterable) -> Iterator[bytes]:
    """Each integer (or boolean) as a 32-byte big-endian word."""
    return map(_to_bytes, values, repeat(32), repeat("big"))


def key_bytes(arity: int, keys: list) -> Iterable[bytes]:
    """Each location key of a variable with ``arity`` keys as its words one after the other (a
    scalar's key, ``()``, as nothing; a key of several, a tuple, as each in turn)."""
    if arity == 0:
        return repeat(b"", len(keys))
    if arity == 1:
        return word_bytes(keys)
    return map(b"".join, zip(*(word_bytes(map(itemgetter(i), keys)) for i in range(arity))))


class Changes:
    """The locations a block changed: ``groups`` is a list of ``(dict, keys, befores, afters)``,
    one per variable, each column a list; iterating gives ``(dict, key, before, after)`` for
    each location."""

    __slots__ = ("groups",)

    def __init__(self, groups: list[tuple[Any, list, list, list]]) -> None:
        self.groups = groups

    def only(self, keep: Callable[[Any, list], Iterable[bool]]) -> "Changes":
        """The locations ``keep(dict, keys)`` flags (one flag per key, for each variable)."""
        out = []
        for store, keys, olds, news in self.groups:
            flags = list(keep(store, keys))
            if any(flags):
                out.append((store, *(list(compress(col, flags)) for col in (keys, olds, news))))
        return Changes(out)

    def writes(self, where: dict) -> dict:
        """The values after, as writes: ``{(address, index): {key: value}}`` (``where``: each dict's
        place by its id, :func:`compiler.runtime.replica.places`), what replicas and a deferring
        parent apply (``marshal``)."""
        return {where[id(store)]: dict(zip(keys, news)) for store, keys, _olds, news in self.groups}

    def __iter__(self) -> Iterator[tuple]:
        for store, keys, olds, news in self.groups:
            yield from zip(repeat(store), keys, olds, news)

    def __len__(self) -> int:
        return sum(len(g[1]) for g in self.groups)

    def __bool__(self) -> bool:
        return any(g[1] for g in self.groups)


def from_befores(storage: dict[int, list[dict]]) -> Changes:
    """The locations whose value changed since the block began (:meth:`compiler.vm.context.Context.begin`),
    from each variable's record of its written keys' values then (``Var.before``), compared with
    their values now: what :func:`from_journal` finds, without going through the journal."""
    groups = []
    for variables in storage.values():
        for store in variables:
            before = store.before
            if before:
                groups.append(changed_since(store, list(before), list(before.values())))
    return Changes([g for g in groups if g is not None])


def changed_since(store, keys: list, olds: list) -> tuple | None:
    """``(store, keys, olds, news)`` of the keys whose value now is not ``olds`` (None if none is)."""
    news = list(map(dict.get, repeat(store), keys, olds))
    changed = list(map(or_, map(ne, news, olds), map(is_not, map(type, news), map(type, olds))))
    if not any(changed):
        return None
    if not all(changed):
        keys, olds, news = (list(compress(col, changed)) for col in (keys, olds, news))
    return store, keys, olds, news


def from_journal(journal: list) -> Changes:
    """The locations whose value the journal's writes changed (each entry holds a write's value
    before it, so a location's oldest entry holds its value before the block), compared with their
    values now."""
    groups = [changed_since(store, keys, olds) for store, keys, olds in journal_keys(journal)]
    return Changes([g for g in groups if g is not None])


def journal_keys(journal: list) -> list[tuple[Any, list, list]]:
    """Per variable the journal wrote, ``(store, keys, olds)``: each key it wrote, once, with its
    value before the journal's first write of it (its oldest entry's)."""
    out = []
    for store, entries in journal_groups(journal):
        befores = dict(zip(map(_second, reversed(entries)), map(_third, reversed(entries))))  # the oldest wins
        out.append((store, list(befores), list(befores.values())))
    return out


def written_keys(journal: list) -> list[tuple[Any, list]]:
    """Per variable the journal wrote, ``(store, keys)``: each key it wrote, once, in the order of
    their first writes (:func:`journal_keys` without the values before: a third of its time)."""
    return [(store, list(dict.fromkeys(map(_second, entries)))) for store, entries in journal_groups(journal)]


def journal_groups(journal: list) -> list[tuple[Any, list]]:
    """The journal's entries by variable, ``(store, entries)``, each variable's in journal order."""
    if not journal:
        return []
    ids = list(map(id, map(_first, journal)))
    if ids.count(ids[0]) == len(ids):  # (most often: one variable's, a token's balances)
        return [(journal[0][0], journal)]
    # The entries of each variable, by C code: a stable sort of the journal by variable.
    stores = dict(zip(ids, map(_first, journal)))
    which = np.fromiter(ids, np.uint64, len(ids))
    order = np.argsort(which, kind="stable")
    sorted_ids = which[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    bounds = np.r_[starts, len(order)].tolist()
    order_list = order.tolist()
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        rows = order_list[a:b]
        entries = [journal[rows[0]]] if b - a == 1 else itemgetter(*rows)(journal)
        parts.append((stores[ids[rows[0]]], entries))
    return parts


ABSENT = object()  # an undo entry's value before for a key that was not in memory: the key goes again


def known(entries: list) -> list:
    """Undo entries with each ``ABSENT`` value before replaced by what it stands for: the key's
    value in the state file (while the block is not committed there), or the variable's zero."""
    return [(var, key, old) if old is not ABSENT else (var, key, var.load(key) if hasattr(var, "load") else var.zero)
            for var, key, old in entries]


def put_back(entries: list) -> None:
    """Each ``(dict, key, value before)`` entry's value put back, the newest first: what a journal
    of writes (or of writes taken in bulk) had changed is as it was.  A key that was not in memory
    (``ABSENT``) leaves it again: a variable of a state file reads it from the file when next asked
    (the block taken back was never committed there), one wholly in memory as its zero."""
    for store, key, old in reversed(entries):
        if old is ABSENT:
            store.pop(key, None)
        else:
            store[key] = old
