"""The instantiated accesses of many transactions as arrays: what the parallel executor schedules with.

One row per transaction and variable's location it touches: the transaction,
the location's 64-bit id (:mod:`compiler.vm.locations`: the one the lanes log), the
variable, the instance (the hash of its address; ``EVERY`` when unknown), the
mode (a location touched in several modes is written: all the components need
of it), whether it is a wildcard
(:class:`compiler.schedule.vectorized.AccessTable`; a wildcard's location id is its
scope's, :func:`compiler.schedule.vectorized.scope_id` of its variable and instance).

A function whose accesses are all *column accesses* (instance and keys plain:
the called instance, the sender, a parameter, a constant, an immutable
variable's value, each branch of a conditional of them; an add's alias
condition an equality of two of them, or of one of them and an array element
its key is, or a conjunction holding one: written where that equality holds,
or none) gets its rows a column at a
time for all its calls of one instance at once, by C code: the keys are
columns of the call tuples (:mod:`compiler.schedule.locations`).  Conditions
are left out (a row too many only joins transactions that need not be), and
so are the keys of a read a loop enumerates (a table scanned, ``prices[i]``)
of a variable no function of the block (the worker's stripe) writes: one
wildcard row of it, read, which joins nothing.  Other keys a loop's index
makes, where it counts from a constant over at most ``_MAX_ALTERNATIVES``
values (``pos[msg.sender, j]`` for ``j in 0..min(k, 8)``), are a column for
each value it may take, whatever the call's trip count (a superset); a longer
loop's are walked, a row per key.  So are elements of an array argument at a
constant index or such a loop's (``bal[to[i]]`` for ``i in 0..len(to)``): a
column for each index, with no row for a call whose array is shorter.  A key
read from mutable storage at a location the call names (``score[owner_of[id]]``)
is a column too, of what the location holds before the block, its reads
recorded as sources, where the columns are as exact as the walk below (every
access unconditional, of one instance and key, no add's aliasing left to the
call): a function whose walk would decide more is walked.  Any
other function is instantiated call by call with its compiled summary
(:mod:`compiler.schedule.compiled`), recording the locations its keys were read
from (``sources``): a key read from a location that an earlier transaction of
the block writes must be instantiated again, with the values the earlier
writers may store there (value forwarding, as
:mod:`compiler.schedule.forwarding` does for one process), or with that
location unresolved when they cannot be said.  So every writer of a location
read to make keys says what it stores there (``stored``): a column access the
column of its value (``owner_of[id] = msg.sender``), or of each alternative;
a function that stores there a value a column cannot give (``next_id + 1``)
is instantiated call by call.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from itertools import product, repeat
from math import prod
from typing import Any, Callable

import numpy as np

from ..analysis import symbolic as S
from ..analysis.summary import ADD, READ, WRITE
from ..vm.locations import loc_id, loc_ids_of
from .compiled import WILD, Unresolved, value_before
from .forwarding import may_hold
from .locations import COMPUTED_OPS, Computed, Element, Looked, column, keys_of, loop_values, source, value_reader
from .vectorized import COLUMNS, pick, scope_id

R, W, A = 0, 1, 2
EVERY = -1
_MODE = {READ: R, WRITE: W}


class _Column:
    """One column access: where its instance comes from (:func:`locations.source`: a position in
    the call tuples, or a value for every call), variable id, key sources, its mode, for an add the
    two sources whose equality makes it a write (or None), and for a write what it stores: the
    sources of its value's alternatives, None when it cannot be said (an add), False when it can
    but not as a column (computed: ``next_id + 1``); ``()`` for a read."""

    __slots__ = ("address", "vid", "sources", "mode", "alias", "wild", "stored")

    def __init__(self, address: Any, vid: int, sources: tuple, mode: int, alias: tuple | None, wild: bool,
                 stored: Any = ()) -> None:
        self.address, self.vid, self.sources = address, vid, sources
        self.mode, self.alias, self.wild, self.stored = mode, alias, wild, stored


_MAX_ALTERNATIVES = 16  # column accesses one access may become (its conditional instances and keys)
PROGRESS_CALLS = 256    # calls walked between two calls of ``rows``' ``progress`` (a few ms at most)


def _alternatives(sym, params: dict[str, int], to: int, value_of, looked: bool = False,
                  elements: bool = False, computed: bool = False) -> list | None:
    """The sources ``sym`` may take (:func:`locations.source`): each branch of a conditional
    (``ite``) whichever its condition picks, and each value of a loop's index from a constant start
    up to its static bound where that is small (``pos[msg.sender, j]`` for ``j in 0..min(k, 8)``:
    eight keys whatever ``k``) (supersets: they order more transactions, never fewer), or None when
    one of them is not plain.  ``looked``: a key may also be read from storage at a location the
    call names (:func:`_looked`); ``elements``: a key may be an element of an array argument at an
    index that is a constant or such a loop's index (an :class:`Element` for each index it may
    take, where the calls' arrays have one); ``computed``: arithmetic on sources (:func:`_computed`)."""
    if isinstance(sym, S.Op) and sym.op == "ite":
        out: list = []
        for branch in sym.args[1:]:
            alternatives = _alternatives(branch, params, to, value_of, looked, elements, computed)
            if alternatives is None:
                return None
            out += [a for a in alternatives if a not in out]
        return out
    if isinstance(sym, S.LoopIndex):  # (each value it may take, where they are few: a superset)
        return loop_values(sym, _MAX_ALTERNATIVES)
    if elements and isinstance(sym, S.Element) and isinstance(sym.array, S.Param) and sym.array.name in params:
        index = sym.index
        indices = [(int(index.value),)] if isinstance(index, S.Const) else loop_values(index, _MAX_ALTERNATIVES)
        return None if indices is None else [Element(params[sym.array.name], i) for (i,) in indices]
    found = source(sym, params, to, value_of)
    if found is None and looked:
        found = _looked(sym, params, to, value_of)
    if found is None and computed:
        return _computed(sym, params, to, value_of)
    return None if found is None else [found]


def _computed(sym, params: dict[str, int], to: int, value_of) -> list | None:
    """The keys computed from the call a key may be (:class:`Computed`: ``k + 1``, ``id * 2 + side``,
    ``k + i`` for each value of a short loop's index ``i``), or None when it reads storage or an
    array, is not arithmetic, or may be too many."""
    if not isinstance(sym, S.Op) or sym.op not in COMPUTED_OPS or len(sym.args) != 2:
        return None
    args = [_alternatives(arg, params, to, value_of, computed=True) for arg in sym.args]
    if any(a is None for a in args) or prod(map(len, args)) > _MAX_ALTERNATIVES:
        return None
    out: list = []
    for pair in product(*args):  # (constants folded: ``2 * i`` for i in 0..3 is 0, 2 and 4)
        key = (COMPUTED_OPS[sym.op](*(a[0] for a in pair)),) if all(type(a) is tuple for a in pair) else \
            Computed(sym.op, pair)
        if key not in out:
            out.append(key)
    return out


def _looked(sym, params: dict[str, int], to: int, value_of) -> Looked | None:
    """A key read from mutable storage at a location each call names, one hop (its instance fixed,
    its keys plain sources: ``score[owner_of[id]]``'s ``owner_of[id]``), or None.  Its column holds
    what each location holds before the block, each read recorded as a source: a transaction whose
    read an earlier one of the block writes is instantiated again (``RowMaker.rows``' ``unresolved``),
    as one walked call by call is."""
    if not isinstance(sym, S.Read) or sym.immutable:  # (an immutable one the walk reads unrecorded: walked)
        return None
    address = source(sym.address, params, to, value_of)
    keys = tuple(source(k, params, to, value_of) for k in sym.keys)
    if type(address) is not tuple or None in keys:
        return None
    return Looked(address[0], sym.contract, sym.var, keys)


def _loop_keyed(access) -> bool:
    """Whether a loop's index makes one of ``access``'s keys (``prices[i]``, ``bal[to[i]]``)."""
    return any(isinstance(n, S.LoopIndex) for k in access.keys for n in S.walk(k))


def _scan(access) -> bool:
    """Whether ``access`` reads at keys a loop enumerates (``prices[i]``)."""
    return access.mode == READ and _loop_keyed(access)


def column_plan(summary, var_ids, to: int, value_of, scanned: frozenset = frozenset()) -> list[_Column] | None:
    """The accesses of a function called at ``to`` as column accesses, or None when one of them is
    not.  Plain instances are the called one, one an argument names, or one an immutable variable
    holds (``value_of`` reads it: a pool's tokens), in another contract as well as in this one.
    A key read from storage (:func:`_looked`) makes a plan only as exact as walking each call would
    be: with every access unconditional, of one instance and key each, and no add whose aliasing
    the columns cannot decide (such a function is walked, its conditions decided per call).
    ``scanned``: variables ((contract, name)) whose reads at keys a loop enumerates are one wildcard
    row each (:func:`_scan`; others make the function walked)."""
    params = {p.name: 2 + i for i, p in enumerate(summary.function.params)}
    looks = coarse = False  # (a key read from storage; a column that is a superset of the walk's rows)
    out: list[_Column] = []
    at: dict[tuple, _Column] = {}  # (instance, variable, key sources, wildcard) -> its column
    seen: set[tuple] = set()

    def add(sig: tuple) -> None:
        """One column per location: a location the call reads and writes (or adds to) is one column,
        written (the write joins whatever the read would: a location joins its accessors when one
        writes it, or when it is read and added to), a row fewer a call.  An add whose alias
        condition each call decides keeps a column of its own."""
        address, vid, sources, mode, alias, wild = sig[:6]
        if alias is not None:
            if sig not in seen:
                seen.add(sig)
                out.append(_Column(*sig))
            return
        stored = sig[6] if len(sig) > 6 else ()
        column = at.get((address, vid, sources, wild))
        if column is None:
            at[(address, vid, sources, wild)] = column = _Column(address, vid, sources, mode, None, wild, stored)
            out.append(column)
            return
        if column.mode != mode:
            column.mode = W
        column.stored = _either(column.stored, stored)

    for access in summary.accesses:
        addresses = _alternatives(access.address, params, to, value_of)
        if addresses is None:
            return None
        vid = var_ids(access.contract, access.var)
        if any(isinstance(n, S.Unknown) for k in access.keys for n in S.walk(k)):
            modes = [R, W] if access.mode == ADD else [_MODE[access.mode]]
            for address in addresses:
                for mode in modes:
                    add((address, vid, (), mode, None, True))
            continue
        if (access.contract, access.var) in scanned and _scan(access):
            # A read at keys a loop enumerates (a table scanned: ``prices[i]``): one row for its
            # variable, not one per iteration found by walking each call.  A superset, which joins
            # nothing where no transaction of the block writes the variable (``scanned``: none of the
            # worker's stripe does; another stripe's writers are joined to it, exactly if coarsely).
            for address in addresses:
                add((address, vid, (), R, None, True))
            coarse = True
            continue
        keys = [_alternatives(k, params, to, value_of, looked=True, elements=True, computed=True)
                for k in access.keys]
        if any(k is None for k in keys):
            return None
        looks = looks or any(type(k) is Looked for options in keys for k in options)
        coarse = coarse or access.cond != S.TRUE or len(addresses) > 1 or any(len(k) > 1 for k in keys) or \
            _loop_keyed(access) or any(type(k) is Computed for options in keys for k in options)
        combinations = list(product(addresses, *keys))
        if len(combinations) > _MAX_ALTERNATIVES:
            return None
        alias: list | None = None  # (an add's: :func:`_alias_sides`)
        if access.mode == ADD:
            mode = A
            if access.alias == S.TRUE:
                mode = W
            elif access.alias != S.FALSE:
                alias = _alias_sides(access, keys, params, to, value_of)
                if alias is None:
                    mode, coarse = W, True  # read and write when it may alias: the write orders it
        else:
            mode = _MODE[access.mode]
        stored: Any = ()
        if access.mode == ADD or (access.mode == WRITE and access.value is None):
            stored = None
        elif access.mode == WRITE:
            values = _alternatives(access.value, params, to, value_of)
            stored = False if values is None else tuple(values)
        for address, *sources in combinations:
            pair = None if alias is None else tuple(sources[at] if kind == "key" else at for kind, at in alias)
            add((address, vid, tuple(sources), mode, pair, False, stored))
    return None if looks and coarse else out


def _alias_sides(access, keys: list, params: dict[str, int], to: int, value_of) -> list | None:
    """Where an add's alias condition holds, call by call: the sides of one equality, itself or the
    first ``==`` it is a conjunction of whose sides the call gives (``part > 0 && payee == msg.sender``:
    a write where that one holds is a superset of where the whole does), each ``("src", source)``
    from the call (an argument, the sender, a constant) or, for an element of an array a loop walks
    (``payees[j]``), ``("key", i)``: the element key ``i`` is in each combination of ``keys`` (the
    access's keys' alternatives); None when there is no such equality."""
    alias = access.alias
    for eq in alias.args if isinstance(alias, S.Op) and alias.op == "&&" else (alias,):
        if not (isinstance(eq, S.Op) and eq.op == "==" and len(eq.args) == 2):
            continue
        sides = []
        for a in eq.args:
            got = source(a, params, to, value_of)
            if got is not None:
                sides.append(("src", got))
            elif a in access.keys and all(type(k) is Element for k in keys[access.keys.index(a)]):
                sides.append(("key", access.keys.index(a)))
            else:
                break
        else:
            return sides
    return None


def _may_meet(plan: list[_Column]) -> list[tuple[int, int, bool]]:
    """The pairs of exact columns of a plan (i before j) of one variable that may name one location
    in some call, and whether both name one location for every call (their instances and keys all
    constants: the same location only when they are one column, or when one is an add whose alias
    each call decides, which keeps a column of its own: ``u += 5`` after a read of ``u``; but a
    location's id is a hash, and two constant keys may have one, ``-1`` and ``-2`` say, which a
    column of a reverting call's key can be: ``_columns`` compares their ids once)."""
    out = []
    for j, b in enumerate(plan):
        for i, a in enumerate(plan[:j]):
            if a.wild or b.wild or a.vid != b.vid:
                continue
            if (a.address, a.sources) == (b.address, b.sources):
                if a.alias is not None or b.alias is not None:
                    out.append((i, j, False))
                continue
            out.append((i, j, type(a.address) is tuple and type(b.address) is tuple and
                        all(type(x) is tuple and type(y) is tuple for x, y in zip(a.sources, b.sources))))
    return out


def _either(a: Any, b: Any) -> Any:
    """What a location holds after a call that stores ``a`` or ``b`` there (a column's ``stored``:
    ``()`` nothing, None what cannot be said, False what a column cannot say, else the sources
    of the alternatives): either one's alternatives."""
    if a == ():
        return b
    if b == () or a == b:
        return a
    if a is None or b is None:
        return None
    if a is False or b is False:
        return False
    return a + tuple(x for x in b if x not in a)


class RowMaker:
    """Rows of accesses for transactions of one world (plans made once per function)."""

    def __init__(self, compiled) -> None:
        self.compiled = compiled
        self.key_vids: frozenset[int] = compiled.key_vids
        self._plans: dict[tuple, list[_Column] | None] = {}
        self._scans: dict = {}  # function -> the variables it reads at keys a loop enumerates

    def plan(self, function, to: int, storage: dict, written: frozenset | None = None) -> list[_Column] | None:
        """``function``'s column plan for calls at ``to`` (kept: the immutable values it holds never
        change once deployed), in a block whose functions write or add to ``written`` ((contract,
        name) pairs; None: not known, every loop's reads as where something writes them)."""
        entry = self.compiled.by_function_object.get(function)
        scans = self._scans.get(function)
        if scans is None:
            scans = self._scans[function] = frozenset(
                (a.contract, a.var) for a in entry.summary.accesses if _scan(a)) if entry is not None else frozenset()
        scanned = scans - written if scans and written is not None else frozenset()
        key = (function, to, scanned)
        if key not in self._plans:
            plan = None if entry is None else column_plan(
                entry.summary, self.compiled.var_ids, to, value_reader(self.compiled.world, storage), scanned)
            if plan is not None and any(c.stored is False and c.vid in self.key_vids for c in plan):
                plan = None  # (it writes keys of other accesses, values a column cannot say: walked)
            self._plans[key] = plan
        return self._plans[key]

    def rows(self, txs: list[int], functions: list, calls: list, storage: dict, number: int, timestamp: int,
             unresolved: dict[int, dict] | None = None, written: frozenset | None = None,
             progress: Callable[[int], None] | None = None) -> tuple[dict, dict, tuple]:
        """The rows of transactions ``txs`` (their block indices; ``functions[k]`` and ``calls[k]`` are
        transaction ``txs[k]``'s), the sources of the values read from storage, and what the
        transactions instantiated call by call store at locations of variables read to make keys:
        (transactions, location ids, values; None where the analysis cannot say).

        ``unresolved``: per transaction, locations (ids) written earlier in the block, each with the
        values earlier writers may store there (read as a :class:`Choice` with the value before the
        block), or None: unresolved.  ``written``: the variables the block's functions write or add
        to (:meth:`plan`).  ``progress``: called now and then while calls are walked one by one, with
        how many were (a worker says it is still at work)."""
        parts: dict[str, list] = defaultdict(list)
        src: dict[str, list] = defaultdict(list)
        stored: tuple[list, list, list] = ([], [], [])
        walk: list[int] = []
        if unresolved:
            walk = [k for k, tx in enumerate(txs) if tx in unresolved and functions[k] is not None]
        # The others by (function, contract called), numbered by dict.fromkeys and grouped by a
        # stable sort: no Python per transaction.
        pairs = list(zip(functions, [c[0] if c else None for c in calls]))  # invalid: no call
        numbers = {pair: i for i, pair in enumerate(dict.fromkeys(pairs))}
        code = np.fromiter(map(numbers.__getitem__, pairs), np.int64, len(pairs))
        if walk:
            code[walk] = -1
        order = np.argsort(code, kind="stable")
        sorted_code = code[order]
        cuts = np.flatnonzero(np.diff(sorted_code)) + 1
        for members in np.split(order, cuts) if len(order) else ():
            if code[members[0]] < 0:
                continue
            function, to = pairs[members[0]]
            if function is None:
                continue
            plan = self.plan(function, to, storage, written)
            if plan is None:
                walk += members.tolist()
                continue
            picked = members.tolist()
            self._columns(plan, to, pick(txs, picked), pick(calls, picked), parts, stored, storage, src)
        walk.sort()
        if walk:
            self._walk([txs[k] for k in walk], [functions[k] for k in walk], [calls[k] for k in walk],
                       storage, number, timestamp, unresolved, parts, src, stored, progress)
        rows = {name: (np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype)) for name, dtype in COLUMNS}
        wild = rows["wild"]
        if wild.any():  # (a wildcard's location: its scope's id, what a lane checks its writes against)
            rows["loc"][wild] = scope_id(rows["var"][wild], rows["inst"][wild])
        sources = {name: np.array(src[name], np.int64) for name in ("tx", "loc", "var", "inst")}
        return rows, sources, stored

    def _columns(self, plan: list[_Column], to: int, txs: list[int], calls: list, parts: dict,
                 stored: tuple[list, list, list], storage: dict, src: dict) -> None:
        n = len(calls)
        tx = np.array(txs, np.int64)
        made = []  # per column: (instance ids, location ids, modes)
        keep: list = []  # per column: the calls it has a row for (None: all; not those whose array lacks its element)
        lengths: dict[int, np.ndarray] = {}  # per array argument (its place in the calls): each call's array's length
        looked: dict[Looked, list] = {}  # each key read from storage: its column (read once for the plan)
        for c in plan:
            if type(c.address) is tuple:  # one instance for every call
                inst = np.full(n, hash(c.address[0]), np.int64)
                addresses: Any = repeat(c.address[0], n)
            else:  # the instance an argument names, call by call
                addresses = list(column(c.address, calls))
                inst = np.fromiter(map(hash, addresses), np.int64, n)
            if c.wild:
                loc = np.zeros(n, np.int64)
            else:
                sources = c.sources
                if any(type(s) is Looked for s in sources):
                    sources = tuple(self._looked_column(s, txs, calls, storage, src, looked) if type(s) is Looked
                                    else s for s in sources)
                keys = keys_of(sources, calls, per_call=True)
                loc = loc_ids_of(addresses, self.compiled.slots[c.vid][0], keys, n)
            present = None
            for position, index in (x for x in c.sources if type(x) is Element):
                if position not in lengths:
                    lengths[position] = np.fromiter(map(len, map(operator.itemgetter(position), calls)), np.int64, n)
                has = lengths[position] > index
                present = has if present is None else present & has
            if c.alias is not None:
                same = np.fromiter(map(operator.eq, *(column(s, calls) for s in c.alias)), bool, n)
                mode = np.where(same, W, A).astype(np.int8)
            else:
                mode = np.full(n, c.mode, np.int8)
            made.append((inst, loc, mode))
            keep.append(present)
            if c.mode != R and not c.wild and c.vid in self.key_vids:  # (what it stores, for readers of keys:
                # where an array lacks its element, at a location no key is read from)
                locs = loc.tolist()
                for values in ([repeat(None, n)] if c.stored is None else [column(v, calls) for v in c.stored]):
                    stored[0].extend(txs)
                    stored[1].extend(locs)
                    stored[2].extend(values)
        # Two columns of one variable may name one location in some calls (``reserves[token_in]``
        # and ``reserves[token0]``): one row of it there, written if their modes differ.
        presents = list(keep)
        for i, j, constant in _may_meet(plan):
            (inst_i, loc_i, mode_i), (inst_j, loc_j, mode_j) = made[i], made[j]
            if constant and (not n or loc_i[0] != loc_j[0]):  # (one location each, for every call: told by one)
                continue
            meet = (loc_i == loc_j) & (inst_i == inst_j)
            for mask in (keep[i], presents[j]):
                if mask is not None:
                    meet &= mask
            if meet.any():
                mode_j[meet & (mode_i != mode_j)] = W
                keep[i] = ~meet if keep[i] is None else keep[i] & ~meet
        for c, (inst, loc, mode), mask in zip(plan, made, keep):
            if mask is not None:  # (its rows where its array lacks its element, or a later column names the
                # same location: dropped)
                inst, loc, mode = inst[mask], loc[mask], mode[mask]
            parts["tx"].append(tx if mask is None else tx[mask])
            parts["var"].append(np.full(len(loc), c.vid, np.int64))
            parts["inst"].append(inst)
            parts["loc"].append(loc)
            parts["mode"].append(mode)
            parts["wild"].append(np.full(len(loc), c.wild, bool))

    def _looked_column(self, s: Looked, txs: list[int], calls: list, storage: dict, src: dict, done: dict) -> list:
        """The column of a key read from storage (:func:`_looked`): what the location each call names
        holds before the block, and each read recorded as a source (``src``, as ``_walk`` records
        its reads), once per plan (``done``)."""
        got = done.get(s)
        if got is not None:
            return got
        compiled = self.compiled
        vid = compiled.var_ids(s.contract, s.var)
        index, zero = compiled.slots[vid]
        n = len(calls)
        keys = list(keys_of(s.keys, calls, per_call=True))
        variables = storage.get(s.address)
        got = done[s] = list(map(variables[index].__getitem__, keys)) \
            if variables is not None and index < len(variables) else [zero] * n
        src["tx"].extend(txs)
        src["loc"].extend(loc_ids_of(repeat(s.address, n), index, keys, n).tolist())
        src["var"].extend(repeat(vid, n))
        src["inst"].extend(repeat(hash(s.address), n))
        return got

    def _walk(self, txs: list[int], functions: list, calls: list, storage: dict, number: int, timestamp: int,
              unresolved: dict | None, parts: dict, src: dict, stored_out: tuple,
              progress: Callable[[int], None] | None = None) -> None:
        """Call by call: the compiled summary, reads from storage recorded as sources, the values
        stored at locations of key variables recorded in ``stored_out``."""
        compiled, key_vids = self.compiled, self.key_vids
        entries, slots = compiled.by_function_object, compiled.slots
        tx_col, loc_col, var_col, inst_col, mode_col, wild_col = [], [], [], [], [], []
        current: list = [0, None]

        def read(address: int, vid: int, key: Any) -> Any:
            loc = loc_id(address, slots[vid][0], key)
            src["tx"].append(current[0])
            src["loc"].append(loc)
            src["var"].append(vid)
            src["inst"].append(hash(address))
            forwarded = current[1].get(loc, _ASIS) if current[1] is not None else _ASIS
            if forwarded is None:
                raise Unresolved
            before = value_before(storage, slots, address, vid, key)
            return before if forwarded is _ASIS else may_hold(before, forwarded)

        def imm(address: int, vid: int, key: Any) -> Any:
            return value_before(storage, slots, address, vid, key)

        out: list = []
        stored: list = []
        s_tx, s_loc, s_value = stored_out
        for done, (tx, function, call) in enumerate(zip(txs, functions, calls)):
            if progress is not None and not done % PROGRESS_CALLS:
                progress(done)
            entry = entries.get(function)
            if entry is None:
                continue
            current[0] = tx
            current[1] = unresolved.get(tx) if unresolved else None
            out.clear()
            stored.clear()
            try:
                entry.inst(call[1], call[0], call[2:], read, number, timestamp, out, imm, stored)
            except LookupError:  # (a lookup the summary's code could not make: the call's rows are left out,
                out.clear()      # and the lane's log of what it touched finds them)
                stored.clear()
            for (address, vid, key), value in stored:
                if vid in key_vids and key is not WILD and address is not None:
                    s_tx.append(tx)
                    s_loc.append(loc_id(address, slots[vid][0], key))
                    s_value.append(value if type(value) in _PLAIN else None)
            for (address, vid, key), mode in out:
                wild = key is WILD
                tx_col.append(tx)
                loc_col.append(0 if wild else loc_id(address, slots[vid][0], key))
                var_col.append(vid)
                inst_col.append(EVERY if address is None else hash(address))
                mode_col.append(mode)
                wild_col.append(wild)
        walked = one_per_location({"tx": np.array(tx_col, np.int64), "loc": np.array(loc_col, np.int64),
                                   "var": np.array(var_col, np.int64), "inst": np.array(inst_col, np.int64),
                                   "mode": np.array(mode_col, np.int8), "wild": np.array(wild_col, bool)})
        for name, values in walked.items():
            parts[name].append(values)


def one_per_location(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows with one row per transaction and variable's location (or wildcard of a variable and
    instance), as :func:`column_plan` makes them: a location a transaction touches in several modes
    is written.  (Rows in block order stay so.)"""
    if not len(rows["tx"]):
        return rows
    columns = [rows[name] for name in ("inst", "var", "loc", "wild", "tx")]
    order = np.lexsort(columns)
    ordered = [c[order] for c in columns]
    start = np.zeros(len(order), bool)
    start[0] = True
    for c in ordered:
        start[1:] |= c[1:] != c[:-1]
    if start.all():
        return rows
    heads = np.flatnonzero(start)
    modes = np.bitwise_or.reduceat(np.left_shift(1, rows["mode"][order], dtype=np.int8), heads)
    single = (modes & (modes - 1)) == 0
    picked = order[heads]
    out = {name: values[picked] for name, values in rows.items()}
    out["mode"] = np.where(single, out["mode"], W).astype(np.int8)
    return out


_ASIS = object()  # (a location read as it is before the block)
_PLAIN = (int, bool, tuple)  # stored values sent as they are (UNKNOWN, and anything else, as None)


def row_bytes(rows: dict) -> tuple:
    return tuple(rows[name].tobytes() for name, _ in COLUMNS)


def source_bytes(sources: dict) -> tuple:
    return tuple(sources[name].tobytes() for name in ("tx", "loc", "var", "inst"))


__all__ = ["RowMaker", "column_plan", "row_bytes", "source_bytes", "Callable"]
