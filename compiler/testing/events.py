"""Events and receipts as a test reads them: names, and Python values (:mod:`.values`)."""

from __future__ import annotations

from typing import Any, Callable

from ..runtime.receipts import OK


class Event:
    """An emitted event: the ``contract`` that emitted it (an :class:`~.values.Address` with the
    instance's name), its ``name`` and its ``args`` by parameter name, in declaration order.

    An argument reads as ``event["amount"]`` or ``event.amount`` (``event["from"]`` for a name
    that Python reserves); an event equals another with the same contract, name and arguments,
    and the tuple ``(name, *args)``, so ``chain.last_events == [("Transfer", alice, bob, 10)]``."""

    __slots__ = ("contract", "name", "args")

    def __init__(self, contract, name: str, args: dict[str, Any]) -> None:
        self.contract = contract
        self.name = name
        self.args = args

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return list(self.args.values())[key]
        return self.args[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.args[key]
        except KeyError:
            raise AttributeError(f"event {self.name} has no argument {key!r} "
                                 f"(it has: {', '.join(self.args) or 'none'})") from None

    def as_tuple(self) -> tuple:
        return (self.name, *self.args.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Event):
            return (self.contract, self.name, self.args) == (other.contract, other.name, other.args)
        if isinstance(other, tuple):
            return self.as_tuple() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((int(self.contract), self.name, tuple(self.args.values())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        where = self.contract.name or str(self.contract)
        return f"{self.name}({args}) from {where}"


class Receipt:
    """What one transaction did: ``status`` (``ok``, ``reverted``, ``invalid``), ``reason``, the
    return ``value`` (as Python reads it), its ``events``, the ``cost`` it used, and for a
    reverted one ``at``, where in the source it failed.  ``function`` names what it called."""

    __slots__ = ("status", "reason", "value", "cost", "at", "function", "_raw_events", "_decode", "_events")

    def __init__(self, outcome: tuple, function: str, value: Any, decode: Callable[[tuple], list[Event]]) -> None:
        self.status, self.reason, _, self._raw_events, self.cost = outcome[:5]
        self.at = outcome[5] if len(outcome) > 5 else None
        self.value = value
        self.function = function
        self._decode = decode
        self._events: list[Event] | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def events(self) -> list[Event]:
        if self._events is None:
            self._events = self._decode(self._raw_events)
        return self._events

    def __repr__(self) -> str:
        if self.status == OK:
            return f"<{self.function}: ok, returned {self.value!r}, {len(self._raw_events)} events, cost {self.cost}>"
        at = f" at {self.at}" if self.at else ""
        return f"<{self.function or 'transaction'}: {self.status}, {self.reason!r}{at}>"
