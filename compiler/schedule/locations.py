"""The storage locations a block will touch, found a column at a time: what a state file must load.

For each pub function, each access of its summary whose instance is the called
contract and whose keys are plain (the sender, a parameter, a constant) is a
*column access*: its keys for all the block's calls of that function are the
column of the call tuples at the key's position, taken by C code
(``operator.itemgetter`` over the calls).  Other accesses (keys computed or
read from storage, loops, other contracts) are found by instantiating the
summary for each call (:mod:`compiler.schedule.compiled`), against the state
before the block.

Conditions are ignored and every mode counts: a location loaded that the block
does not touch costs a row read, nothing else.  A wildcard names no location:
the lazy state reads what the block touches of it (:mod:`compiler.vm.variables`).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import repeat
from operator import itemgetter
from typing import Any, Callable

from ..analysis import symbolic as S
from .compiled import WILD


class _Plan:
    """How to find one function's locations: column accesses, and whether anything needs a walk."""

    __slots__ = ("columns", "walk")

    def __init__(self, summary, layout) -> None:
        params = {p.name: 2 + i for i, p in enumerate(summary.function.params)}
        self.columns: list[tuple[int, list]] = []   # (variable's index in the instance, key sources)
        self.walk = False
        seen = set()
        for access in summary.accesses:
            sources = _plain_keys(access, params)
            if sources is None or access.contract != summary.function.contract.name:
                self.walk = True
                continue
            column = (layout.index[access.var], tuple(sources))
            if column not in seen:
                seen.add(column)
                self.columns.append(column)


def _plain_keys(access, params: dict[str, int]) -> list | None:
    """Each key's source in a call tuple (an int position) or a constant (a 1-tuple), or None."""
    if not isinstance(access.address, S.Self):
        return None
    out: list = []
    for key in access.keys:
        if isinstance(key, S.Sender):
            out.append(1)
        elif isinstance(key, S.Self):
            out.append(0)
        elif isinstance(key, S.Param) and key.type != "array":
            out.append(params[key.name])
        elif isinstance(key, S.Const):
            out.append((int(key.value),))
        else:
            return None
    return out


def _keys(sources: tuple, calls: list) -> Any:
    """The keys of ``calls`` for one column access (an iterable; a scalar's key is ``()``)."""
    if not sources:
        return ((),)
    columns = [repeat(s[0], len(calls)) if type(s) is tuple else map(itemgetter(s), calls) for s in sources]
    return columns[0] if len(columns) == 1 else zip(*columns)


class BlockLocations:
    """The locations of blocks of one world: ``find(block)`` -> {(address, index): set of keys}."""

    def __init__(self, compiled, storage: dict[int, list[dict]]) -> None:
        self.compiled = compiled
        self.storage = storage
        self._plans: dict[Any, _Plan] = {}

    def _plan(self, function, entry, to: int) -> _Plan:
        plan = self._plans.get(function)
        if plan is None:  # (every instance of a contract has its layout)
            plan = self._plans[function] = _Plan(entry.summary, self.compiled.world.layout_of(to))
        return plan

    def find(self, functions: list, calls: list, number: int, timestamp: int) -> dict[tuple[int, int], set]:
        entries = self.compiled.by_function_object
        groups: dict[tuple, list] = defaultdict(list)
        for function, call in zip(functions, calls):
            if function is not None:
                groups[(function, call[0])].append(call)
        out: dict[tuple[int, int], set] = defaultdict(set)
        walked: list[tuple] = []
        for (function, to), group in groups.items():
            entry = entries.get(function)
            if entry is None:
                continue
            plan = self._plan(function, entry, to)
            for index, sources in plan.columns:
                out[(to, index)].update(_keys(sources, group))
            if plan.walk:
                walked.append((entry, group))
        if walked:
            self._walk(walked, out, number, timestamp)
        return out

    def _walk(self, walked: list, out: dict, number: int, timestamp: int) -> None:
        """The other accesses: each call's summary instantiated against the state before the block."""
        storage, slots = self.storage, self.compiled.slots
        read: Callable = lambda address, vid, key: storage[address][slots[vid][0]][key]  # noqa: E731
        found: list = []
        for entry, group in walked:
            inst = entry.inst
            for call in group:
                found.clear()
                try:
                    inst(call[1], call[0], call[2:], read, number, timestamp, found, read)
                except (KeyError, LookupError):
                    continue  # a contract that is not there: the call reverts before touching it
                for (address, vid, key), _mode in found:
                    if key is not WILD and address in storage:
                        out[(address, slots[vid][0])].add(key)
