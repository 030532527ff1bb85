"""Receipts (SPEC §1.6, §5) and their canonical JSON."""

from __future__ import annotations

import marshal
from itertools import chain, compress, repeat
from operator import itemgetter, ne
from typing import Any, Callable

import numpy as np

from ..vm.transaction import INVALID, OK, REVERTED, Outcome, Tx, gc_paused  # noqa: F401 - the outcomes' names
from ..vm.values import format_address, format_value, kind_formatter, return_kind, value_formatter
from .grouping import by_group
from .world import World



class Receipt:
    """What one transaction did: status, reason, return value, events (raw values), the cost
    it used (0 for an invalid one, the whole limit for one that reached it), and for a reverted one
    where in the source it failed (``at``, ``file:line:column``)."""

    __slots__ = ("tx", "status", "reason", "value", "events", "cost", "at")

    def __init__(self, tx: Tx, status: str, reason: str | None, value: Any, events: tuple | list,
                 cost: int, at: str | None = None) -> None:
        self.tx = tx
        self.status = status
        self.reason = reason
        self.value = value
        self.events = events
        self.cost = cost
        self.at = at

    def to_json(self, world: World) -> dict:
        fn = self.tx.function
        ret = None
        if self.status == OK and fn is not None:
            ret = format_value(fn.return_type, self.value)
        return {
            "index": self.tx.index,
            "status": self.status,
            "reason": self.reason,
            "return": ret,
            "events": [event_json(world, ev) for ev in self.events],
            "cost": self.cost,
            "at": self.at,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Receipt) and (self.status, self.reason, self.value, list(self.events),
                                               self.cost, self.at) == (
            other.status, other.reason, other.value, list(other.events), other.cost, other.at)

    def __repr__(self) -> str:
        at = f" at {self.at}" if self.at else ""
        return (f"Receipt(#{self.tx.index} {self.status} {self.reason!r}{at} {self.value!r} {list(self.events)!r} "
                f"cost {self.cost})")


def event_json(world: World, event: tuple[int, str, tuple], shapes: dict | None = None) -> dict:
    """An event as JSON (``shapes``: a cache of each (address, event)'s maker, for many events)."""
    key = (event[0], event[1])
    make = shapes.get(key) if shapes is not None else None
    if make is None:
        make = _event_maker(world, key)
        if shapes is not None:
            shapes[key] = make
    return make([event])[0]


_ARGS = itemgetter(2)
_SHAPE = itemgetter(0, 1)


def _event_maker(world: World, shape: tuple[int, str]) -> Callable[[list], list[dict]]:
    """A function making the JSON of many events of one (address, event name), by C code."""
    address, name = shape
    inst = world.by_address[address]
    formats = [value_formatter(ty) for _, ty in inst.contract.events[name].params]
    head = (inst.name, format_address(address), name)

    def make(events: list) -> list[dict]:
        args = list(map(_ARGS, events))
        columns = [_formatted(f, list(map(itemgetter(i), args))) for i, f in enumerate(formats)]
        lists = map(list, zip(*columns)) if columns else map(list, repeat((), len(events)))
        contract, address_text, _ = head
        return [{"contract": contract, "address": address_text, "event": name, "args": x} for x in lists]

    return make


def _formatted(formatter: Callable[[Any], Any], column: list) -> Any:
    """``formatter`` over a column of values; each distinct address formatted once (a block's
    events name the same accounts again and again, and formatting one costs a microsecond)."""
    if formatter is not format_address:
        return map(formatter, column)
    distinct = set(column)
    return map(dict(zip(distinct, map(formatter, distinct))).__getitem__, column)


def return_kinds(functions: list) -> bytes:
    """How each receipt's return is shown (``functions[k]``: transaction k's function, None for an
    invalid one), as a state file keeps it beside the block's receipts, which hold raw values (an
    address is a number there): the marshal encoding of ``(kinds, index)``, ``kinds`` the distinct
    codes of :func:`compiler.vm.values.return_kind` and ``index`` a byte per receipt, its code's
    place among them (empty when there is one code: a block of one function's calls).  A map over
    the block by C code: a dict per distinct function."""
    code_of = {fn: return_kind(fn.return_type if fn is not None else None) for fn in set(functions)}
    kinds = sorted(set(code_of.values()))
    if len(kinds) == 1:
        return marshal.dumps((tuple(kinds), b""))
    place = {fn: kinds.index(code) for fn, code in code_of.items()}
    return marshal.dumps((tuple(kinds), bytes(map(place.__getitem__, functions))))


def return_kinds_of_ids(fnids: np.ndarray, functions: list) -> bytes:
    """:func:`return_kinds` of a block given as function ids (``fnids``: places in ``functions``,
    -1 for an invalid transaction), by numpy."""
    codes = [return_kind(fn.return_type) for fn in functions] + ["n"]
    every = sorted(set(codes))
    index = np.array([every.index(code) for code in codes], np.uint8)[np.where(fnids >= 0, fnids, len(functions))]
    used = np.flatnonzero(np.bincount(index, minlength=len(every)))  # (the codes the block's calls have)
    kinds = [every[k] for k in used.tolist()]
    if len(kinds) == 1:
        return marshal.dumps((tuple(kinds), b""))
    return marshal.dumps((tuple(kinds), np.searchsorted(used, index).astype(np.uint8).tobytes()))


def return_formatters(data: bytes | None, n: int) -> list | None:
    """Per receipt of a block of ``n``, what shows its return (:func:`return_kinds`' ``data``), or
    None when the file kept none (a block committed before Lane kept them) or they do not fit."""
    if not data:
        return None
    try:
        kinds, index = marshal.loads(data)
        formatters = [kind_formatter(k) for k in kinds]
    except (ValueError, EOFError, TypeError, AttributeError):
        return None
    if None in formatters or not isinstance(index, bytes):
        return None
    if not index and len(formatters) == 1:  # (one code for every receipt)
        return formatters * n
    if len(index) != n or (index and max(index) >= len(formatters)):
        return None
    return list(map(formatters.__getitem__, index))


def receipts_json(world: World, functions: list, first: int, outcomes: list) -> list[dict]:
    """The receipts of a block's transactions as JSON (``functions[k]``: transaction ``first + k``'s
    function, None for an invalid one), without making their Receipt objects: a column at a time,
    grouped by function (return values) and by event, by C code (``map``, ``zip``, ``dict``)."""
    with gc_paused():  # (a dict and a list or two per receipt, none in a cycle)
        return _receipts_json(world, functions, first, outcomes)


def _receipts_json(world: World, functions: list, first: int, outcomes: list) -> list[dict]:
    n = len(outcomes)
    if not n:
        return []
    statuses, reasons, values, events, costs, ats = (list(map(itemgetter(i), outcomes)) for i in range(6))

    def returns_of(fn):
        formatter = value_formatter(fn.return_type if fn is not None else None)
        return lambda group: list(_formatted(formatter, group))

    keys = list(functions)
    for k in compress(range(n), map(ne, statuses, repeat(OK))):
        keys[k] = None  # a transaction that failed returns nothing (its value is not of its type)
    returns = by_group(keys, values, returns_of)
    flat = list(chain.from_iterable(events))
    if flat:
        made = by_group(list(map(_SHAPE, flat)), flat, lambda shape: _event_maker(world, shape))
        counts = np.fromiter(map(len, events), np.int64, n)
        ends = np.cumsum(counts)
        events_json = list(map(made.__getitem__, map(slice, (ends - counts).tolist(), ends.tolist())))
    else:
        events_json = list(map(list, repeat((), n)))
    # (a dict display in a comprehension: about three times faster than ``dict(zip(keys, row))``)
    return [{"index": i, "status": st, "reason": why, "return": ret, "events": ev, "cost": c, "at": at}
            for i, st, why, ret, ev, c, at in zip(range(first, first + n), statuses, reasons, returns, events_json,
                                                  costs, ats)]
