"""Receipts (SPEC §1.6, §5) and their canonical JSON."""

from __future__ import annotations

from typing import Any

from .block import Tx
from .values import format_address, format_value
from .world import World

OK, REVERTED, INVALID = "ok", "reverted", "invalid"

# What an executor produces for one transaction: (status, reason, return value, events).
Outcome = tuple[str, "str | None", Any, tuple]


class Receipt:
    """What one transaction did: status, reason, return value, events (raw values)."""

    __slots__ = ("tx", "status", "reason", "value", "events")

    def __init__(self, tx: Tx, status: str, reason: str | None, value: Any, events: tuple | list) -> None:
        self.tx = tx
        self.status = status
        self.reason = reason
        self.value = value
        self.events = events

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
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Receipt) and (self.status, self.reason, self.value, list(self.events)) == (
            other.status, other.reason, other.value, list(other.events))

    def __repr__(self) -> str:
        return f"Receipt(#{self.tx.index} {self.status} {self.reason!r} {self.value!r} {list(self.events)!r})"


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
