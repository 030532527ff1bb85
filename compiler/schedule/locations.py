"""The storage locations a block will touch, found a column at a time: what a state file must load.

For each pub function, each access of its summary whose instance is the called
contract and whose keys are plain (the sender, a parameter, a constant) is a
*column access*: its keys for all the block's calls of that function are the
column of the call tuples at the key's position, taken by C code
(``operator.itemgetter`` over the calls), and read from the file in bulk.

Other accesses (keys computed or read from storage, loops, other contracts)
are not looked for: finding them means instantiating each call's summary
against the state (:mod:`compiler.schedule.compiled`), which cost a defi
transaction about 25 us of Python, and its reads of the state, one key at a
time, while reading those locations when the block touches them costs a few
microseconds each (measured: a 100,000-transaction defi block 18% faster;
benchmarks/RESULTS.md).  The lazy state reads them, as it reads what a
wildcard names (:mod:`compiler.vm.variables`).

Conditions are ignored and every mode counts: a location loaded that the block
does not touch costs a row read, nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import repeat
from operator import itemgetter
from typing import Any

from ..analysis import symbolic as S


class _Plan:
    """How to find one function's locations: its column accesses."""

    __slots__ = ("columns",)

    def __init__(self, summary, layout) -> None:
        params = {p.name: 2 + i for i, p in enumerate(summary.function.params)}
        self.columns: list[tuple[int, list]] = []   # (variable's index in the instance, key sources)
        seen = set()
        for access in summary.accesses:
            sources = _plain_keys(access, params)
            if sources is None or access.contract != summary.function.contract.name:
                continue  # read when touched
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

    def __init__(self, world) -> None:
        self.world = world
        self.summaries: dict[Any, Any] = {}  # a deployed contract's pub Function -> its summary
        for inst in world.instances.values():
            by_name = {(s.function.contract.name, s.function.name): s for s in inst.data.summaries.values()}
            for fn in inst.contract.functions.values():
                summary = by_name.get((fn.contract.name, fn.name))
                if summary is not None:
                    self.summaries[fn] = summary
        self._plans: dict[Any, _Plan] = {}

    def _plan(self, function, summary, to: int) -> _Plan:
        plan = self._plans.get(function)
        if plan is None:  # (every instance of a contract has its layout)
            plan = self._plans[function] = _Plan(summary, self.world.layout_of(to))
        return plan

    def find(self, functions: list, calls: list) -> dict[tuple[int, int], set]:
        summaries = self.summaries
        groups: dict[tuple, list] = defaultdict(list)
        for function, call in zip(functions, calls):
            if function is not None:
                groups[(function, call[0])].append(call)
        out: dict[tuple[int, int], set] = defaultdict(set)
        for (function, to), group in groups.items():
            summary = summaries.get(function)
            if summary is None:
                continue
            for index, sources in self._plan(function, summary, to).columns:
                out[(to, index)].update(_keys(sources, group))
        return out
