"""The storage locations a block will touch, found a column at a time: what a state file must load.

For each pub function of each instance, each access of its summary whose
instance and keys are plain is a *column access*: its keys for all the block's
calls of that function are the column of the call tuples at the key's position,
taken by C code (``operator.itemgetter`` over the calls), and read from the
file in bulk.  Plain is the sender, a parameter, a constant, the instance
itself, or an *immutable* read (a variable only ``init`` writes: a pool's
tokens, a lending pool's oracle), whose value the deployed state fixes; so the
accesses a call makes in another contract are found too (a swap's
``transfer_from`` in the token it names: the allowance of (sender, pool)).  An
instance given as an argument is a column like any other.

A key that is a loop's index, from a constant over at most 64 values (``for i
in 0..32``, ``0..min(n, 8)``), is loaded for each of them, for every call: a
loop writing a sender's cells no longer reads each from the file as it goes.
A read of mutable storage at a fixed location (a variable, or a map's entry at
constant keys: a staking pool's token, settable by its owner) is read from the
state before the block, for every call: what is found is only what to load, so
a value the block changes before the read costs a location the block may not
touch, and a lazy read of the one it does.  Such a plan is made again when one
of the values it read has changed (an immutable's is kept).  An instance or a
key chosen by a condition (``ite``: a swap's token out) is loaded on either
side, and a key that is an element of an array argument (a split's payees) for
each of its elements, call by call.  A key (or an instance) read per call at a
fixed instance, at keys that are sources themselves (a seller:
``owner_of[id]``), is read from the state once the locations the calls name
otherwise are loaded, and what it names is loaded in a second round
(:meth:`BlockLocations.load`).
Other accesses (keys computed, longer loops) are not looked for: finding them
means instantiating each call's summary against the state
(:mod:`compiler.schedule.compiled`), which cost a defi transaction about 25 us
of Python, and its reads of the state, one key at a time, while reading those
locations when the block touches them costs a few microseconds each
(benchmarks/RESULTS.md).  The lazy state reads them, as it
reads what a wildcard names (:mod:`compiler.vm.variables`).

Conditions are ignored and every mode counts: a location loaded that the block
does not touch costs a row read, nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import product, repeat
from math import prod
from operator import itemgetter
from typing import Any, NamedTuple

from ..analysis import symbolic as S


_FIRST = itemgetter(0)
LOOP_KEYS = 64  # a key that is a loop's index is loaded for each value, up to this many an access


class _Plan:
    """How to find the locations one function of one instance touches: its column accesses, each
    ``(address source, variable name, contract, key sources)``."""

    __slots__ = ("columns", "reads")

    def __init__(self, summary, to: int, value_of) -> None:
        params = {p.name: 2 + i for i, p in enumerate(summary.function.params)}
        self.columns: list[tuple] = []
        # With a mutable read among its accesses, the plan holds while the values it read stay:
        # ``reads`` (each read and its value) says which (None: the plan always holds).
        reads: list[tuple] = []
        if any(_mutable(s) for a in summary.accesses for s in (a.address, *a.keys)):
            value_of = _recorded(value_of, reads)
        seen = set()
        for access in summary.accesses:
            addresses = _options(access.address, params, to, value_of)
            if addresses is None or any(type(a) is Each for a in addresses):
                continue  # read when touched
            options = [_options(k, params, to, value_of) or loop_values(k) for k in access.keys]
            if any(o is None for o in options) or len(addresses) * prod(map(len, options)) > LOOP_KEYS:
                continue  # read when touched
            for address, keys in product(addresses, product(*options)):
                column = (address, access.var, access.contract, tuple(keys))
                if column not in seen:
                    seen.add(column)
                    self.columns.append(column)
        self.reads = reads or None


class Element(NamedTuple):
    """A key source: element ``index`` of the array argument at ``position`` in the call tuples
    (:data:`ABSENT` in a call whose array is shorter)."""

    position: int
    index: int


ABSENT = object()  # (an element beyond its array's length: no key)


class Each(NamedTuple):
    """A key source: every element of the array argument at ``position`` in the call tuples."""

    position: int


class Computed(NamedTuple):
    """A key source: arithmetic (``op``: + - * / % min max) on two sources (positions, values or
    sources computed themselves: ``cells[msg.sender][k + 1]``), call by call.  Where it fails (an
    overflow, a division by zero) the call reverts before its access: any key is a superset there."""

    op: str
    args: tuple


COMPUTED_OPS = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "min": min, "max": max,
                "/": lambda a, b: a // b if b else 0, "%": lambda a, b: a % b if b else 0}


class Looked(NamedTuple):
    """A key (or instance) source: a location read per call (``owner_of[id]``, a seller), at an
    instance fixed for every call, at keys that are sources (positions or values) themselves: its
    value before the block, once the first round has loaded it (:meth:`BlockLocations.load`)."""

    address: int
    contract: str
    var: str
    keys: tuple


def _options(sym, params: dict[str, int], to: int, value_of) -> list | None:
    """The sources (:func:`source`) ``sym`` may come from: a choice (``ite``) may be either side, the
    condition ignored, and an element of an array argument any of them (:class:`Each`): a location
    loaded that the call does not touch costs a row read."""
    if isinstance(sym, S.Op) and sym.op == "ite":
        sides = [_options(side, params, to, value_of) for side in sym.args[1:]]
        return None if None in sides else list(dict.fromkeys(sides[0] + sides[1]))
    if isinstance(sym, S.Element) and isinstance(sym.array, S.Param) and sym.array.name in params:
        return [Each(params[sym.array.name])]
    src = source(sym, params, to, value_of, mutable=True)
    if src is None and isinstance(sym, S.Read):  # (read per call: a column of keys of one variable)
        address = source(sym.address, params, to, value_of, mutable=True)
        keys = tuple(source(k, params, to, value_of, mutable=True) for k in sym.keys)
        if type(address) is tuple and None not in keys:
            return [Looked(address[0], sym.contract, sym.var, keys)]
    return None if src is None else [src]


def _recorded(value_of, reads: list):
    """``value_of`` that also records each read and its value in ``reads``."""
    def recorded(*read):
        value = value_of(*read)
        reads.append((read, value))
        return value
    return recorded


def loop_values(sym, most: int = LOOP_KEYS) -> list[tuple] | None:
    """A loop index from a constant, over at most ``most`` values: each of them, the same for every
    call (1-tuples, as :func:`source` gives a value); no more than its static bound of iterations,
    and below its end where that is a constant or the least of one and something else
    (``min(k, 8)``).  A location the loop does not reach, when it stops early, costs a row read
    to load it, or joins more transactions than need be in the executor's rows: a superset."""
    if not isinstance(sym, S.LoopIndex) or not isinstance(sym.lo, S.Const):
        return None
    lo = int(sym.lo.value)
    ends = sym.hi.args if isinstance(sym.hi, S.Op) and sym.hi.op == "min" else (sym.hi,)
    ends = [int(e.value) for e in ends if isinstance(e, S.Const)] + ([] if sym.bound is None else [lo + sym.bound])
    if not ends:
        return None
    end = min(ends)
    return [(v,) for v in range(lo, end)] if end - lo <= most else None


def source(sym, params: dict[str, int], to: int | None = None, value_of=None, mutable: bool = False) -> Any:
    """Where a key (or an instance) of a function's access comes from: an int, its position in
    the call tuples ``(to, sender, *args)``; a 1-tuple, its value, the same for every call; None
    when neither (it is computed, read from mutable storage, an array, ...).

    With ``to`` (the calls of one instance), the instance itself is its address, and the value of
    an *immutable* read (a variable only ``init`` writes, such as a pool's tokens) is what the
    deployed state holds: ``value_of(address, contract, var, key)`` reads it (None when it cannot:
    then the access is left to the lazy state).  Without, the instance is position 0.
    ``mutable``: a read of mutable storage at a fixed location too, as the state holds it now (what
    a block may change: for what to load only, never for what a transaction touches)."""
    if isinstance(sym, S.Sender):
        return 1
    if isinstance(sym, S.Self):
        return 0 if to is None else (to,)
    if isinstance(sym, S.Param):
        return params[sym.name] if sym.type != "array" else None
    if isinstance(sym, S.Const):
        return (int(sym.value),)
    if isinstance(sym, S.Read) and (sym.immutable or mutable) and value_of is not None:
        address = source(sym.address, params, to, value_of, mutable)
        keys = [source(k, params, to, value_of, mutable) for k in sym.keys]
        if type(address) is not tuple or any(type(k) is not tuple for k in keys):
            return None
        key = keys[0][0] if len(keys) == 1 else tuple(k[0] for k in keys)
        value = value_of(address[0], sym.contract, sym.var, key)
        return None if value is None else (int(value),)
    return None


def _mutable(sym) -> bool:
    """Whether ``sym`` reads mutable storage anywhere in it."""
    if isinstance(sym, S.Read) and not sym.immutable:
        return True
    return any(map(_mutable, sym.children())) if isinstance(sym, S.Sym) else False


def variable_index(world, address: int, contract: str, var: str) -> int | None:
    """The index of ``var`` in the instance at ``address``, if that is a ``contract``."""
    inst = world.by_address.get(address)
    if inst is None or inst.contract.name != contract:
        return None
    return inst.program.layouts[contract].index.get(var)


def value_reader(world, storage: dict | None):
    """``value_of(address, contract, var, key)`` over ``storage`` for :func:`source` (None when no
    instance of ``contract`` is at ``address``, or there is no state)."""
    def value_of(address: int, contract: str, var: str, key: Any) -> Any:
        index = variable_index(world, address, contract, var)
        if index is None or storage is None or address not in storage:
            return None
        return storage[address][index][key]

    return value_of


def column(src, calls: list) -> Any:
    """The values of ``src`` (see :func:`source`) for each of ``calls``, by C code (a list: the
    values themselves, one per call: a :class:`Looked` key read already; an :class:`Element` or a
    :class:`Computed` key, call by call)."""
    if type(src) is list:
        return src
    if type(src) is Element:
        position, index = src
        return [c[position][index] if index < len(c[position]) else ABSENT for c in calls]
    if type(src) is Computed:
        return list(map(COMPUTED_OPS[src.op], *(column(a, calls) for a in src.args)))
    return repeat(src[0], len(calls)) if type(src) is tuple else map(itemgetter(src), calls)


def keys_of(sources: tuple, calls: list, per_call: bool = False) -> Any:
    """The keys of ``calls`` for one column access (an iterable, one key per call with
    ``per_call``; a scalar's key is ``()``)."""
    if not sources:
        return repeat((), len(calls)) if per_call else ((),)
    columns = [column(s, calls) for s in sources]
    return columns[0] if len(columns) == 1 else zip(*columns)


class BlockLocations:
    """The locations of blocks of one world: ``find(functions, calls)`` -> {(address, index): set of
    keys}.  ``storage`` is the state immutable reads are read from (None: no such read is used)."""

    def __init__(self, world, storage: dict | None = None) -> None:
        self.world = world
        self.storage = storage
        self.summaries: dict[Any, Any] = {}  # a deployed contract's pub Function -> its summary
        for inst in world.instances.values():
            by_name = {(s.function.contract.name, s.function.name): s for s in inst.data.summaries.values()}
            for fn in inst.contract.functions.values():
                summary = by_name.get((fn.contract.name, fn.name))
                if summary is not None:
                    self.summaries[fn] = summary
        self._plans: dict[tuple, _Plan] = {}

    def _plan(self, function, summary, to: int) -> _Plan:
        plan = self._plans.get((function, to))
        value_of = value_reader(self.world, self.storage)
        # (immutable values never change once deployed; a plan with mutable reads is made again
        # when one of the values it read has changed)
        if plan is None or plan.reads is not None and any(value_of(*read) != v for read, v in plan.reads):
            plan = self._plans[(function, to)] = _Plan(summary, to, value_of)
        return plan

    def load(self, store, functions: list, calls: list) -> int:
        """Load from ``store`` (:class:`compiler.runtime.store.Store`), in bulk, what the calls name:
        first what their arguments name, then what keys read from those locations name (a seller's
        balance); how many locations were read."""
        planned = self._planned(functions, calls)  # (grouped and planned once for both rounds)
        loaded = store.prefetch(self.storage, self._named(planned))
        later = self._named(planned, later=True)
        return loaded + (store.prefetch(self.storage, later) if later else 0)

    def find(self, functions: list, calls: list, later: bool = False) -> dict[tuple[int, int], set]:
        """What the calls name: with ``later``, only what keys read per call name (:class:`Looked`:
        read from the state, which holds them once the first round is loaded)."""
        return self._named(self._planned(functions, calls), later)

    def _planned(self, functions: list, calls: list) -> list[tuple[_Plan, list]]:
        """The calls grouped by function and instance, each group with its function's plan there."""
        summaries = self.summaries
        groups: dict[tuple, list] = defaultdict(list)
        n = len(calls)
        if n and functions.count(functions[0]) == n and (tos := list(map(_FIRST, calls))).count(tos[0]) == n:
            groups[(functions[0], tos[0])] = calls  # (one function at one instance: counted by C code)
        else:
            for function, call in zip(functions, calls):
                if function is not None:
                    groups[(function, call[0])].append(call)
        return [(self._plan(function, summaries[function], to), group) for (function, to), group in groups.items()
                if function in summaries]

    def _named(self, planned: list[tuple[_Plan, list]], later: bool = False) -> dict[tuple[int, int], set]:
        """What the groups' calls name (:meth:`find`)."""
        out: dict[tuple[int, int], set] = defaultdict(set)
        for plan, group in planned:
            for address, var, contract, sources in plan.columns:
                looked = type(address) is Looked or any(type(src) is Looked for src in sources)
                if looked != later:
                    continue
                if looked or any(type(src) is Each for src in sources):
                    self._per_call(out, address, var, contract, sources, group)
                    continue
                if type(address) is tuple:  # one instance for every call
                    index = variable_index(self.world, address[0], contract, var)
                    if index is not None:
                        out[(address[0], index)].update(keys_of(sources, group))
                    continue
                # an instance per call (a contract passed as an argument): by distinct pairs
                pairs = set(zip(column(address, group), keys_of(sources, group, per_call=True)))
                indices: dict[int, int | None] = {}
                for at, key in pairs:
                    if at not in indices:
                        indices[at] = variable_index(self.world, at, contract, var)
                    index = indices[at]
                    if index is not None:
                        out[(at, index)].add(key)
        return out

    def _per_call(self, out: dict, address, var: str, contract: str, sources: tuple, calls: list) -> None:
        """The keys of a column access whose sources include elements of an array argument or
        locations read per call: call by call, every combination (an array holds at most a few
        elements; what is not a plain value is skipped)."""
        address_column = self._column(address, calls)
        columns = [self._column(src, calls) for src in sources]
        indices: dict[int, int | None] = {}
        for k in range(len(calls)):
            if not address_column[k]:
                continue
            at = address_column[k][0]
            if at not in indices:
                indices[at] = variable_index(self.world, at, contract, var)
            index = indices[at]
            if index is None:
                continue
            keys = product(*(c[k] for c in columns))  # (a scalar's key: the empty tuple)
            out[(at, index)].update(keys if len(columns) != 1 else (key[0] for key in keys))

    def _column(self, src, calls: list) -> list[list]:
        """Per call, the values a source gives (a list each: an array's elements are several)."""
        if type(src) is Each:
            return [[e for e in call[src.position] if type(e) in (int, bool)] for call in calls]
        if type(src) is Looked:
            index = variable_index(self.world, src.address, src.contract, src.var)
            if index is None or self.storage is None or src.address not in self.storage:
                return [[] for _ in calls]
            values = map(self.storage[src.address][index].__getitem__, keys_of(src.keys, calls, per_call=True))
            return [[v] if type(v) in (int, bool) else [] for v in values]
        return [[v] for v in column(src, calls)]
