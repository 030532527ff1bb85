"""The state a block executes against, and the context generated code sees."""

from __future__ import annotations

from typing import Any

from ..analysis.cost import DEFAULT_COST_LIMIT


class Context:
    """What generated code reaches through ``rt`` (see :mod:`compiler.codegen.python`).

    ``storage[address]`` is the list of the instance's variables, each a dict
    from key to value; ``code[address]`` the contract type deployed there;
    ``journal`` holds ``(dict, key, old value)`` for every write since it was
    last cleared (the sequential executor clears it at each transaction), so a
    revert restores exactly; each variable records, at a key's first write
    of the block, its value before the block (``Var.before``);
    ``events`` holds ``(address, event, args)`` in emission order.

    ``cost_limit`` is the world's per-transaction cost limit and ``budget`` what
    the running transaction may still spend: an executor sets ``budget`` to
    ``cost_limit`` before each transaction, generated code takes each charge
    from it and reverts when it goes below zero, and :meth:`cost_used` is then
    the transaction's cost.
    """

    __slots__ = ("storage", "code", "journal", "events", "number", "timestamp", "tracer", "cost_limit", "budget",
                 "log")

    def __init__(self, storage: dict[int, list[dict]], code: dict[int, str],
                 number: int = 0, timestamp: int = 0, cost_limit: int = DEFAULT_COST_LIMIT) -> None:
        self.storage = storage
        self.code = code
        self.journal: list[tuple[dict, Any, Any]] = []
        self.events: list[tuple[int, str, tuple]] = []
        self.number = number
        self.timestamp = timestamp
        self.tracer = None
        self.cost_limit = cost_limit
        self.budget = cost_limit
        # Code compiled for a lane appends each access's location id (``loc_id``) to the list of its
        # mode: reads, writes, adds (but reads of a variable marked ``quiet``: compiler.vm.variables).
        self.log: tuple[list, list, list] = ([], [], [])

    def cost_used(self) -> int:
        """The cost of the transaction run since ``budget`` was last reset: the whole limit for
        one that ran out (its last charge went past it)."""
        budget = self.budget
        return self.cost_limit - budget if budget >= 0 else self.cost_limit

    @property
    def out_of_cost(self) -> bool:
        """Whether the last transaction reverted because it reached the cost limit."""
        return self.budget < 0

    def begin(self) -> None:
        """A block begins (or one is over): no write in the journal, no event, nothing in the
        variables' record of their values before the block (``Var.before``)."""
        self.journal.clear()
        self.events.clear()
        for variables in self.storage.values():
            for var in variables:
                var.before.clear()

    def rollback(self, journal_mark: int, events_mark: int) -> None:
        journal = self.journal
        for i in range(len(journal) - 1, journal_mark - 1, -1):
            store, key, old = journal[i]
            store[key] = old
        del journal[journal_mark:]
        del self.events[events_mark:]

    # ---- a hook of code generated with log=True (a lane's), for a read whose key nests deep
    def logged_read(self, store: dict, address: int, index: int, key: Any) -> Any:
        if not store.quiet:
            self.log[0].append(hash((address, index, key)))
        return store[key]

    # ---- hooks of code generated with trace=True (the soundness checker)
    def trace(self, mode: str, address: int, var: str, key: Any) -> None:
        if self.tracer is not None:
            self.tracer(mode, address, var, key)

    def traced_get(self, var: str, address: int, store: dict, key: Any) -> Any:
        if self.tracer is not None:
            self.tracer("r", address, var, key)
        return store[key]
