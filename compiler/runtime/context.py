"""The state a block executes against, and the context generated code sees."""

from __future__ import annotations

from typing import Any


class Context:
    """What generated code reaches through ``rt`` (see :mod:`compiler.codegen.python`).

    ``storage[address]`` is the list of the instance's variables, each a dict
    from key to value; ``code[address]`` the contract type deployed there;
    ``journal`` holds ``(dict, key, old value)`` for every write, so a revert
    (and the sequential executor's per-transaction undo) restores exactly;
    ``events`` holds ``(address, event, args)`` in emission order.
    """

    __slots__ = ("storage", "code", "journal", "events", "number", "timestamp", "tracer")

    def __init__(self, storage: dict[int, list[dict]], code: dict[int, str],
                 number: int = 0, timestamp: int = 0) -> None:
        self.storage = storage
        self.code = code
        self.journal: list[tuple[dict, Any, Any]] = []
        self.events: list[tuple[int, str, tuple]] = []
        self.number = number
        self.timestamp = timestamp
        self.tracer = None

    def rollback(self, journal_mark: int, events_mark: int) -> None:
        journal = self.journal
        for i in range(len(journal) - 1, journal_mark - 1, -1):
            store, key, old = journal[i]
            store[key] = old
        del journal[journal_mark:]
        del self.events[events_mark:]

    # ---- hooks of code generated with trace=True (the soundness checker)
    def trace(self, mode: str, address: int, var: str, key: Any) -> None:
        if self.tracer is not None:
            self.tracer(mode, address, var, key)

    def traced_get(self, var: str, address: int, store: dict, key: Any, default: Any) -> Any:
        if self.tracer is not None:
            self.tracer("r", address, var, key)
        return store.get(key, default)
