"""Receipts (SPEC §1.6, §5) and their canonical JSON."""

from __future__ import annotations

from typing import Any

from .block import Tx
from .values import format_address, format_value
from .world import World

OK, REVERTED, INVALID = "ok", "reverted", "invalid"

# What an executor produces for one transaction: (status, reason, return value, events, cost, at),
# ``at`` where a reverted one failed (``file:line:column``, see Revert.at), else None.  Only the
# first five are canonical (compiler.runtime.encoding): reformatting a contract's source moves
# ``at`` but changes no receipts root.
Outcome = tuple[str, "str | None", Any, tuple, int, "str | None"]


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


def event_json(world: World, event: tuple[int, str, tuple]) -> dict:
    address, name, args = event
    inst = world.by_address[address]
    params = inst.contract.events[name].params
    return {
        "contract": inst.name,
        "address": format_address(address),
        "event": name,
        "args": [format_value(ty, v) for (_, ty), v in zip(params, args)],
    }
