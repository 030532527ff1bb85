"""Receipts (SPEC §1.6, §5) and their canonical JSON."""

from __future__ import annotations

from typing import Any

from ..vm.transaction import INVALID, OK, REVERTED, Outcome, Tx  # noqa: F401 - the outcomes' names, for the runtime
from ..vm.values import format_address, format_value
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
    """An event as JSON (``shapes``: a cache of each (address, event)'s instance, address text and
    parameter types, for many events of one block)."""
    address, name, args = event
    shape = shapes.get((address, name)) if shapes is not None else None
    if shape is None:
        inst = world.by_address[address]
        shape = (inst.name, format_address(address), [ty for _, ty in inst.contract.events[name].params])
        if shapes is not None:
            shapes[(address, name)] = shape
    return {
        "contract": shape[0],
        "address": shape[1],
        "event": name,
        "args": [format_value(ty, v) for ty, v in zip(shape[2], args)],
    }


def receipts_json(world: World, functions: list, first: int, outcomes: list) -> list[dict]:
    """The receipts of a block's transactions as JSON (``functions[k]``: transaction ``first + k``'s
    function, None for an invalid one), without making their Receipt objects."""
    shapes: dict = {}
    out = []
    for k, (fn, (status, reason, value, events, cost, at)) in enumerate(zip(functions, outcomes)):
        out.append({
            "index": first + k,
            "status": status,
            "reason": reason,
            "return": format_value(fn.return_type, value) if status == OK and fn is not None else None,
            "events": [event_json(world, ev, shapes) for ev in events] if events else [],
            "cost": cost,
            "at": at,
        })
    return out
