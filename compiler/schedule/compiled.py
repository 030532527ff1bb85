"""Summaries compiled to Python: instantiating a transaction's accesses without walking trees.

:mod:`compiler.schedule.instantiate` evaluates a summary's symbolic keys by
walking them, which is clear but slow for blocks of a million transactions.
This module generates, once per pub function, a Python function

    inst(sender, target, args, read, number, timestamp, out, imm=None, stored=None)

that appends ``(location, mode)`` pairs to ``out`` with the same meaning:
``location`` is ``(address, var_id, key)`` (``var_id`` numbers a contract's
variable; ``key`` is the runtime key, ``WILD`` for every key; ``address`` is
None for every instance), ``mode`` is ``READ``, ``WRITE`` or ``ADD``.

- ``read(address, var_id, key)`` returns a storage value; or a :class:`Choice`
  of the values the location may hold when the transaction runs (an earlier
  transaction of the block may write it: compiler/schedule/forwarding.py); or
  raises :class:`Unresolved` (or returns ``UNREAD``, which is cheaper than an
  exception where it is frequent), and what depends on it is unknown.
- ``imm(address, var_id, key)`` reads a variable only ``init`` writes (``read``
  when not given).
- Either, at an address where no contract lives or one of another type lives
  (a reference converted from an address, a parameter given another
  contract's instance), gives the variable's zero (or what that contract holds
  at the same place, when it has one): only the code of a call through that
  reference reads there, and the call reverts first (a bad call target), so
  nothing that depends on the value is reached: any value will do.
- ``stored``, when given, receives ``(location, value)`` for every write and
  add the transaction may make: the value it stores, or ``UNKNOWN`` (an add,
  a value the analysis does not follow).

How an access is instantiated:

- Its *binders*, the loop indices, the values read from storage that
  transactions write and the conditions of choices (``ite``) that may fail to
  compute, are enumerated, each after those it depends on: a loop index over
  its range, a read over its choices, a condition over its value (both
  branches when computing it fails: see ``_branches``).  Each combination gives a
  location; past :data:`MAX_UNROLL` combinations, or when something is
  unresolved, the access becomes a wildcard over its variable.
- Its path condition is evaluated in three values: ``&&`` is false when one
  operand is false, whatever the others are, ``||`` true when one is true;
  an undecided condition counts as true.
- Its guard, the requires the transaction passed to get there, is a
  conjunction of conditions each evaluated once per transaction, at the top
  (true unless false for every choice of the reads in it): an access whose
  guard is false is left out, as the transaction reverts before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..analysis import symbolic as S
from ..analysis.summary import ADD, READ, WRITE, Access, Summary

MAX = (1 << 256) - 1
MAX_UNROLL = 4096
MODES = {READ: 0, WRITE: 1, ADD: 2}
R, W, A = 0, 1, 2


class Unresolved(Exception):
    """A value that cannot be known before the block runs: its access becomes a wildcard."""


class NotTaken(Exception):
    """The transaction would revert before this access (overflow, division by zero, index out of range)."""


class _TooMany(Exception):
    """A loop too long to unroll: its accesses become wildcards."""


class _Wild:
    __slots__ = ()

    def __repr__(self) -> str:
        return "*"


WILD = _Wild()  # the key of a wildcard location


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()  # a stored value the analysis cannot say


class _Unread:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNREAD"


UNREAD = _Unread()  # what a read may return instead of raising Unresolved


class Choice(tuple):
    """The values a location may hold when a transaction reads it (more than one)."""

    __slots__ = ()


def _chk(v: int) -> int:
    if v < 0 or v > MAX:
        raise NotTaken
    return v


def _div(a: int, b: int) -> int:
    if not b:
        raise NotTaken
    return a // b


def _mod(a: int, b: int) -> int:
    if not b:
        raise NotTaken
    return a % b


def _elem(array: tuple, index: int):
    if index >= len(array):
        raise NotTaken
    return array[index]


def _each(value: Any) -> tuple:
    """The values a read gives: its choices, or itself."""
    if type(value) is Choice:
        return value
    if value is UNREAD:
        raise Unresolved
    return (value,)


class _Failed:
    """The value of a read whose key fails to compute (an index out of range, an overflow), where it
    is enumerated before the expression that uses it: the transaction reverts where that expression
    uses it, and may never get there (an operand ``||`` or ``&&`` skips, a branch not taken).  Any
    use of it raises Unresolved (an operand ``_and`` and ``_or`` leave to the others; else the
    condition is undecided, the key a wildcard); ``_known`` turns one that reaches a location or a
    stored value itself into NotTaken: computing that reverts."""

    __slots__ = ()

    def _unknown(self, *_: Any) -> Any:
        raise Unresolved

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __index__ = __int__ = _unknown
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __truediv__ = __rtruediv__ = _unknown

    def __repr__(self) -> str:
        return "FAILED"


_FAILED = _Failed()


def _reads(thunk: Callable[[], Any]) -> tuple:
    """The values of a read whose key may fail to compute: the read's one value is then ``_FAILED``
    (its transaction reverts if what uses it is computed; a condition may not compute it)."""
    try:
        value = thunk()
    except NotTaken:
        return (_FAILED,)
    return _each(value)


def _failed(value: Any) -> bool:
    """Whether a failed read (``_FAILED``) is ``value`` or a part of it (a location, a key)."""
    return value is _FAILED or type(value) is tuple and any(map(_failed, value))


def _known(value: Any) -> Any:
    """``value`` (a location, a stored value) unless a failed read is it or a part of it: computing
    it reverts (NotTaken)."""
    if _failed(value):
        raise NotTaken
    return value


def _single(value: Any) -> Any:
    """A read where one value is needed (a condition, an alias): several are not known."""
    if type(value) is Choice or value is UNREAD:
        raise Unresolved
    return value


def _cond(thunk: Callable[[], Any]) -> bool:
    """A choice's condition: unknown (raises) when it cannot be computed.  A summary's choice may
    merge a path the transaction never takes (a loop that runs no round): its condition failing
    says nothing about the transaction."""
    try:
        return thunk()
    except NotTaken:
        raise Unresolved from None


def _branches(thunk: Callable[[], Any]) -> tuple:
    """The branches a choice (``ite``) enumerated in a location may take: the one its condition
    picks, or both when the condition cannot be computed (see :func:`_cond`: it says nothing
    about the transaction; both are a superset, as the runtime's columns take them)."""
    try:
        return (True,) if thunk() else (False,)
    except NotTaken:
        return (True, False)


def _and(*thunks: Callable[[], Any]) -> bool:
    """``&&`` in three values: false when one operand is false; unknown (raises) when one is unknown."""
    unknown = False
    for thunk in thunks:
        try:
            if not thunk():
                return False
        except (Unresolved, NotTaken, KeyError):
            unknown = True
    if unknown:
        raise Unresolved
    return True


def _or(*thunks: Callable[[], Any]) -> bool:
    """``||`` in three values: true when one operand is true; unknown (raises) when one is unknown."""
    unknown = False
    for thunk in thunks:
        try:
            if thunk():
                return True
        except (Unresolved, NotTaken, KeyError):
            unknown = True
    if unknown:
        raise Unresolved
    return False


def value_before(storage: dict[int, list[dict]], slots: dict[int, tuple[int, Any]], address: int, vid: int,
                 key: Any) -> Any:
    """A location's value in the pre-block ``storage``; the variable's zero where no contract, or one of
    another type, lives (see the module's doc).  Indexed, not ``.get``: a state file's variable loads a
    location it does not hold yet."""
    index, zero = slots[vid]
    variables = storage.get(address)
    return variables[index][key] if variables is not None and index < len(variables) else zero


def immutable_reader(storage: dict[int, list[dict]], slots: dict[int, tuple[int, Any]]) -> Callable:
    """``imm(address, var_id, key)`` for an instantiation: a variable only init writes, read once
    from the pre-block ``storage`` (its value holds for the whole block) and remembered."""
    immutable: dict[tuple, Any] = {}

    def imm(address: int, vid: int, key: Any) -> Any:
        loc = (address, vid, key)
        try:
            return immutable[loc]
        except KeyError:
            value = immutable[loc] = value_before(storage, slots, address, vid, key)
            return value

    return imm


class VarIds:
    """Small integers for (contract, variable) pairs, shared by every compiled summary of a world."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self.names: list[tuple[str, str]] = []

    def __call__(self, contract: str, var: str) -> int:
        key = (contract, var)
        vid = self.ids.get(key)
        if vid is None:
            vid = self.ids[key] = len(self.names)
            self.names.append(key)
        return vid


@dataclass
class CompiledSummary:
    summary: Summary
    source: str
    inst: Callable
    code: Any = None  # the compiled module of ``source`` (what a cache keeps)

    def __post_init__(self) -> None:
        self.cost = self.summary.cost


def _may_fail(n: S.Sym) -> bool:
    """Whether a node's own code may raise or not be known: a read of a variable transactions write
    (or of another instance: its address is a value), an unknown, an array element, a loop index
    out of its loop, arithmetic that may leave 0 .. 2^256-1."""
    if isinstance(n, S.Read):
        return not (n.immutable and isinstance(n.address, S.Self))
    return isinstance(n, (S.Unknown, S.Element, S.LoopIndex)) or (isinstance(n, S.Op) and n.op in ARITHMETIC)


ARITHMETIC = frozenset(("+", "-", "*", "/", "%"))
UNKNOWN_VALUE = "_unresolved()"  # the code of a read whose value is not known


def _conjuncts(s: S.Sym) -> list[S.Sym]:
    if isinstance(s, S.Op) and s.op == "&&":
        return list(s.args)
    return [] if s == S.TRUE else [s]


def key_variables(summaries) -> set[tuple[str, str]]:
    """The (contract, variable) pairs whose values some summary reads to make a key or an address
    (compiler/schedule/forwarding.py follows more values of these than of the others)."""
    out: set[tuple[str, str]] = set()
    for summary in summaries:
        for a in summary.accesses:
            for part in (a.address, *a.keys):
                out.update((n.contract, n.var) for n in S.walk(part) if isinstance(n, S.Read))
    return out


class _Gen:
    def __init__(self, summary: Summary, var_ids: VarIds) -> None:
        self.summary = summary
        self.var_ids = var_ids
        self.lines: list[str] = []
        self.params = {p.name: f"p{i}" for i, p in enumerate(summary.function.params)}
        # The binders in scope (loop indices, reads being enumerated) -> their Python variable.
        self.names: dict[S.Sym, str] = {}
        self.failable: set[str] = set()  # those of reads whose key may fail (``_reads``: maybe ``_FAILED``)
        self.choices: dict[S.Op, str] = {}  # the choices (``ite``) enumerated -> their condition's variable
        self.fresh = itertools.count()
        # Immutable values of the called instance (a pool's token0): read once, at the top.
        self.hoisted: dict[S.Read, str] = {}
        # The conditions of guards, each evaluated once at the top -> its variable.
        self.guards: dict[S.Sym, str] = {}
        self.guarded: str | None = None  # the guard test the last access was emitted under

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    # ------------------------------------------------------------ values
    def expr(self, s: S.Sym) -> str:
        name = self.names.get(s)
        if name is not None:
            return name
        if isinstance(s, S.Const):
            return repr(s.value)
        if isinstance(s, S.Param):
            return self.params[s.name]
        if isinstance(s, S.Sender):
            return "sender"
        if isinstance(s, S.Self):
            return "target"
        if isinstance(s, S.BlockField):
            return "number" if s.name == "number" else "timestamp"
        if isinstance(s, S.Length):
            return f"len({self.params[s.array.name]})"
        if isinstance(s, S.Element):
            return f"_elem({self.params[s.array.name]}, {self.expr(s.index)})"
        if isinstance(s, S.Read):
            if self.hoistable(s):
                if s not in self.hoisted:
                    self.key(s.keys)  # (the reads its key is made of, hoisted first: read before it)
                    self.hoisted[s] = f"m{len(self.hoisted)}"
                return self.hoisted[s]
            call = f"read({self.expr(s.address)}, {self.var_ids(s.contract, s.var)}, {self.key(s.keys)})"
            # Nobody writes an immutable variable: one value.  A read not enumerated here (in an
            # alias, or the address of a wildcard) is known only when it has one value.
            return call if s.immutable else f"_single({call})"
        if isinstance(s, (S.Unknown, S.LoopIndex)):  # (a loop index out of its loop: the wildcard's address)
            return "_unresolved()"
        assert isinstance(s, S.Op)
        if s.op in ("&&", "||"):
            if all(self.safe(x) for x in s.args):
                return "(" + f" {'and' if s.op == '&&' else 'or'} ".join(self.expr(x) for x in s.args) + ")"
            return f"{'_and' if s.op == '&&' else '_or'}(" + ", ".join(f"lambda: {self.expr(x)}" for x in s.args) + ")"
        a = [self.expr(x) for x in s.args]
        if s.op == "!":
            return f"(not {a[0]})"
        if s.op == "ite":
            cond = a[0] if self.safe(s.args[0]) else f"_cond(lambda: {a[0]})"
            return f"({a[1]} if {cond} else {a[2]})"
        if s.op in ("+", "-", "*"):
            return f"_chk({a[0]} {s.op} {a[1]})"
        if s.op == "/":
            return f"_div({a[0]}, {a[1]})"
        if s.op == "%":
            return f"_mod({a[0]}, {a[1]})"
        if s.op in ("min", "max"):
            return f"{s.op}({a[0]}, {a[1]})"
        return f"({a[0]} {s.op} {a[1]})"

    def key(self, keys: tuple[S.Sym, ...]) -> str:
        if not keys:
            return "()"
        if len(keys) == 1:
            return self.expr(keys[0])
        return "(" + ", ".join(self.expr(k) for k in keys) + ")"

    def hoistable(self, s: S.Read) -> bool:
        """An immutable variable of the called instance, at keys known from the call: never unknown."""
        return s.immutable and isinstance(s.address, S.Self) and all(self.plain(k) for k in s.keys)

    def plain(self, s: S.Sym) -> bool:
        """A value computed from the call and immutable state alone, without arithmetic that could fail."""
        # A read's keys are walked here too: asking hoistable(n) would walk them again, at every
        # level of nested reads (exponential in their depth).
        return not any(_may_fail(n) for n in S.walk(s))

    def safe(self, s: S.Sym) -> bool:
        """Whether the value's code cannot raise: plain, or made of binders in scope."""
        stack = [s]
        while stack:
            n = stack.pop()
            name = self.names.get(n)
            if name is not None:
                if name == UNKNOWN_VALUE:
                    return False
                continue
            if _may_fail(n):
                return False
            stack.extend(n.children())
        return True

    def binders(self, parts: tuple[S.Sym, ...]) -> list[S.Sym]:
        """The loop indices and reads of written variables in ``parts`` not yet in scope, each after
        the binders its range or key uses (a post-order walk; trees are at most MAX_DEPTH deep)."""
        order: list[S.Sym] = []
        seen: set[S.Sym] = set()

        def visit(n: S.Sym) -> None:
            if n in seen or n in self.names:
                return
            seen.add(n)
            for child in n.children():
                visit(child)
            if isinstance(n, S.LoopIndex) or (isinstance(n, S.Read) and not n.immutable) or \
                    (isinstance(n, S.Op) and n.op == "ite" and not self.safe(n.args[0])):
                order.append(n)  # (a choice whose condition may fail: both branches, see open_binders)

        for part in parts:
            visit(part)
        return order

    def open_binders(self, binders: list[S.Sym], depth: int) -> int:
        """``for`` headers enumerating ``binders`` from ``depth``; the depth of the innermost body."""
        for b in binders:
            if isinstance(b, S.Op):  # a choice: its condition's value, each branch when it fails
                cond = b.args[0]
                if cond in self.names or self.safe(cond):  # (safe once its reads are in scope)
                    continue
                name = f"c{next(self.fresh)}"
                self.emit(depth, f"for {name} in _branches(lambda: {self.expr(cond)}):")
                self.names[cond] = self.choices[b] = name
                depth += 1
                continue
            if isinstance(b, S.LoopIndex):
                name = f"i{b.id}"
                self.emit(depth, f"for {name} in range({self.expr(b.lo)}, {self.expr(b.hi)}):")
            else:
                assert isinstance(b, S.Read)
                name = f"r{next(self.fresh)}"
                call = self.read_call(b)
                if self.safe(b.address) and all(self.safe(k) for k in b.keys):
                    self.emit(depth, f"for {name} in _each({call}):")
                else:
                    self.emit(depth, f"for {name} in _reads(lambda: {call}):")
                    self.failable.add(name)
            self.names[b] = name
            depth += 1
        return depth

    def read_call(self, s: S.Read) -> str:
        return f"read({self.expr(s.address)}, {self.var_ids(s.contract, s.var)}, {self.key(s.keys)})"

    def close_binders(self, binders: list[S.Sym]) -> None:
        for b in binders:
            if isinstance(b, S.Op):
                if self.choices.pop(b, None) is not None:  # (None: not enumerated, see open_binders)
                    del self.names[b.args[0]]
            else:
                self.failable.discard(self.names.pop(b))

    def known(self, code: str, *parts: S.Sym) -> str:
        """``code``, the value of ``parts`` (a location, a stored value), through ``_known`` where it
        may hold a failed read (a ``_reads`` binder in scope is in it): only those can."""
        names, failable = self.names, self.failable
        if failable and any(names.get(n) in failable for part in parts for n in S.walk(part)):
            return f"_known({code})"
        return code

    def test(self, cond: S.Sym) -> str:
        """A condition whose reads are in scope as an ``if`` test: an undecided one counts as true."""
        return self.expr(cond) if self.safe(cond) else f"_maybe(lambda: {self.expr(cond)})"

    def exists(self, depth: int, cond: S.Sym, target: str | None = None) -> str:
        """An ``if`` test of whether ``cond`` may hold for some values of the reads in it, emitting
        from ``depth`` what computes it.  Each conjunct is tried apart (over its own reads' values),
        so one that is false decides, whatever the others are.  A read that cannot be known is an
        unknown operand, which ``&&`` and ``||`` may still decide; too many combinations leave the
        conjunct undecided: true."""
        conjuncts = _conjuncts(cond) or [cond]
        parts = []
        for c in conjuncts:
            binders = self.binders((c,))
            if not binders:
                parts.append(self.test(c))
                continue
            var = target if target is not None and len(conjuncts) == 1 else f"e{next(self.fresh)}"
            count = f"k{next(self.fresh)}"
            self.emit(depth, f"{var} = False")
            self.emit(depth, "try:")
            inner = depth + 1
            first = binders[0]
            if isinstance(first, S.Read) and self.safe(first.address) and all(self.safe(k) for k in first.keys):
                # The common case, one read (``require(balances[msg.sender] >= amount)``): when it
                # cannot be known, no exception.
                value = f"v{next(self.fresh)}"
                self.emit(inner, f"{value} = {self.read_call(first)}")
                self.emit(inner, f"if {value} is UNREAD:")
                if any(isinstance(n, S.Op) and n.op in ("&&", "||") for n in S.walk(c)):
                    # The conjunct with that value unknown: an operand of && or || may decide it.
                    self.names[first] = UNKNOWN_VALUE
                    self.emit(inner + 1, f"{var} = {self.test(c)}")
                else:
                    self.emit(inner + 1, f"{var} = True")
                self.emit(inner, "else:")
                inner += 1
                self.names[first] = f"r{next(self.fresh)}"
                if len(binders) > 1:
                    self.emit(inner, f"{count} = 0")
                # (A read's values are at most forwarding.MAX_VALUES + 1: no count for it alone.)
                self.emit(inner, f"for {self.names[first]} in ({value} if type({value}) is Choice else ({value},)):")
                inner = self.open_binders(binders[1:], inner + 1)
            else:
                self.emit(inner, f"{count} = 0")
                inner = self.open_binders(binders, inner)
            if len(binders) > 1 or not isinstance(first, S.Read):
                self.emit(inner, f"{count} += 1")
                self.emit(inner, f"if {count} > {MAX_UNROLL}: raise _TooMany")
            self.emit(inner, f"if {self.expr(c)}:")
            self.emit(inner + 1, f"{var} = True")
            self.close_binders(binders)
            self.emit(depth, "except (Unresolved, NotTaken, KeyError, _TooMany):")
            self.emit(depth + 1, f"{var} = True")
            parts.append(var)
        return " and ".join(parts)

    # ---------------------------------------------------------- accesses
    def access(self, access: Access, values: list[S.Sym | None], unless: list[S.Sym] = ()) -> None:
        depth = 1
        # The reads and loops the location depends on are enumerated; those only its condition
        # uses are tried when the condition is (see exists).
        binders = self.binders((access.address, *access.keys))
        test = [self.guard_name(c) for c in _conjuncts(access.guard)]
        if unless and not binders:
            # A write of the location is there when these hold too.  (Not where the location is
            # enumerated: the write's guard is then also tried with each value, and a value it
            # excludes is one the read may still be made at, before the require that fails.)
            test.append(f"not ({' and '.join(self.guard_name(c) for c in unless)})")
        line = f"if {' and '.join(test)}:" if test else None
        if line is not None:
            # Accesses one after the other under one guard share its test.
            if not (self.lines and self.lines[-1].startswith("        ") and self.guarded == line):
                self.emit(1, line)
            depth = 2
        self.guarded = line
        if any(isinstance(n, S.Unknown) for part in (access.address, *access.keys) for n in S.walk(part)):
            self.wildcard(depth, access)
            return
        vid = self.var_ids(access.contract, access.var)
        if not binders and all(self.safe(p) for p in (access.address, *access.keys)):
            # The location cannot fail or be unknown: no try (the common case).
            if access.cond != S.TRUE:
                self.emit(depth, f"if {self.exists(depth, access.cond)}:")
                depth += 1
            self.emit(depth, f"loc = ({self.expr(access.address)}, {vid}, {self.key(access.keys)})")
            self.found(depth, access, values)
            return
        self.emit(depth, "try:")
        inner = depth + 1
        if binders:
            self.emit(inner, "n = 0")
        inner = self.open_binders(binders, inner)
        if binders:
            self.emit(inner, "n += 1")
            self.emit(inner, f"if n > {MAX_UNROLL}: raise _TooMany")
        # The guard's conditions on the values enumerated here are tried with each of them (the
        # guard at the top only knows that some value passes): `balances[owner_of[id]]` is not
        # paid at the owner a `require(owner_of[id] != address(0))` before it excludes.
        enumerated = set(binders)
        cond = S.op("&&", access.cond, *(c for c in _conjuncts(access.guard)
                                         if any(n in enumerated for n in S.walk(c))))
        if cond != S.TRUE:
            self.emit(inner, f"if {self.exists(inner, cond)}:")
            inner += 1
        self.emit(inner, "try:")
        location = f"({self.expr(access.address)}, {vid}, {self.key(access.keys)})"
        self.emit(inner + 1, f"loc = {self.known(location, access.address, *access.keys)}")
        self.emit(inner, "except NotTaken:")
        self.emit(inner + 1, "pass")
        self.emit(inner, "else:")
        self.found(inner + 1, access, values)
        self.close_binders(binders)
        self.emit(depth, "except (Unresolved, _TooMany, KeyError):")
        self.wildcard(depth + 1, access)
        self.emit(depth, "except NotTaken:")
        self.emit(depth + 1, "pass  # the transaction reverts before it gets here")

    def found(self, depth: int, access: Access, values: list[S.Sym | None]) -> None:
        """The lines for one location ``loc`` of the access: its mode, and what a write stores."""
        if access.mode == ADD and access.alias != S.FALSE:
            self.emit(depth, f"if {self.exists(depth, access.alias)}:")
            self.emit(depth + 1, "out.append((loc, 1))  # read and write: the write orders it")
            self.emit(depth, "else:")
            self.emit(depth + 1, "out.append((loc, 2))")
        else:
            self.emit(depth, f"out.append((loc, {MODES[access.mode]}))")
        if access.mode == READ:
            return
        self.emit(depth, "if stored is not None:")
        if access.mode == ADD or None in values:
            self.emit(depth + 1, "stored.append((loc, UNKNOWN))")
            return
        for value in values:
            self.stored_value(depth + 1, value)

    def stored_value(self, depth: int, value: S.Sym) -> None:
        """``stored.append((loc, v))`` for each value ``value`` may have here (reads it alone uses
        are enumerated); UNKNOWN when it cannot be said."""
        binders = self.binders((value,))
        if not binders and self.safe(value):
            self.emit(depth, f"stored.append((loc, {self.expr(value)}))")
            return
        self.emit(depth, "try:")
        inner = depth + 1
        if binders:
            self.emit(inner, "k = 0")
        inner = self.open_binders(binders, inner)
        if binders:
            self.emit(inner, "k += 1")
            self.emit(inner, f"if k > {MAX_UNROLL}: raise _TooMany")
        self.emit(inner, "try:")
        self.emit(inner + 1, f"stored.append((loc, {self.known(self.expr(value), value)}))")
        self.emit(inner, "except NotTaken:")
        self.emit(inner + 1, "pass  # computing it reverts: nothing is stored")
        self.close_binders(binders)
        self.emit(depth, "except (Unresolved, _TooMany, KeyError, NotTaken):")
        self.emit(depth + 1, "stored.append((loc, UNKNOWN))")

    def wildcard(self, depth: int, access: Access) -> None:
        """The access as a wildcard over its variable (of its instance when that is known)."""
        names, self.names = self.names, {}  # outside the loops: nothing enumerated is in scope
        address = self.expr(access.address)
        self.names = names
        vid = self.var_ids(access.contract, access.var)
        self.emit(depth, f"wl = (_address(lambda: {address}), {vid}, WILD)")
        for line in _wildcard_lines("wl", access.mode):
            self.emit(depth, line)

    # ------------------------------------------------------------ guards
    def guard_name(self, cond: S.Sym) -> str:
        name = self.guards.get(cond)
        if name is None:
            name = self.guards[cond] = f"g{len(self.guards)}"
        return name

    def guard(self, cond: S.Sym, name: str) -> None:
        """``name``: false when ``cond`` is false for every choice of the reads in it."""
        test = self.exists(1, cond, name)
        if test != name:
            self.emit(1, f"{name} = {test}")

    def generate(self) -> str:
        fn = self.summary.function
        unpack = ", ".join(self.params.values())
        for access, values, unless in _merged(self.summary.accesses):
            self.access(access, values, unless)
        body, self.lines = self.lines, []
        for cond, name in list(self.guards.items()):
            self.guard(cond, name)
        guards, self.lines = self.lines, []
        self.emit(0, "def inst(sender, target, args, read, number, timestamp, out, imm=None, stored=None):")
        self.emit(1, f"# {fn.qualname}: {fn.signature()}")
        if self.params:
            self.emit(1, f"{unpack}{',' if len(self.params) == 1 else ''} = args")
        if self.hoisted:
            self.emit(1, "imm = imm or read")
        for read, name in list(self.hoisted.items()):  # (each after the reads its key is made of)
            self.emit(1, f"{name} = imm(target, {self.var_ids(read.contract, read.var)}, {self.key(read.keys)})")
        self.lines += guards + body
        self.emit(1, "return out")
        return "\n".join(self.lines) + "\n"


def _merged(accesses: list[Access]) -> list[tuple[Access, list[S.Sym | None], list[S.Sym]]]:
    """The accesses that order transactions: each with the values it may store (for a write), and
    for a read, the guard conditions under which a write of its location makes it redundant.

    A read of a location that the same path also writes adds nothing to the DAG (a write already
    conflicts with every access) where the write is there: always when the write's guard is
    part of the read's, else unless the write's further guard conditions hold (the read before a
    ``require``, the write after it).  A repeat adds nothing either; writes to one location that
    differ only in their values are one access storing either."""
    writes: dict[tuple, list[list[S.Sym]]] = {}
    for a in accesses:
        if a.mode == WRITE:
            writes.setdefault((a.contract, a.address, a.var, a.keys, a.cond), []).append(_conjuncts(a.guard))
    out: dict[tuple, tuple[Access, list[S.Sym | None], list[S.Sym]]] = {}
    for a in accesses:
        where = (a.contract, a.address, a.var, a.keys, a.cond)
        unless: list[S.Sym] = []
        if a.mode == READ and where in writes:
            mine = set(_conjuncts(a.guard))
            extras = [[c for c in g if c not in mine] for g in writes[where]]
            unless = min(extras, key=len)
            if not unless:
                continue
        key = (where, a.mode, a.alias, a.guard)
        if key in out:
            values = out[key][1]
            if a.value not in values:
                values.append(a.value)
            continue
        out[key] = (a, [a.value], unless)
    return list(out.values())


def _unresolved():
    raise Unresolved


def _address(thunk):
    """The instance of a wildcard access when it can be known, else None (every instance)."""
    try:
        return thunk()
    except (Unresolved, NotTaken, KeyError):
        return None


def _maybe(thunk) -> bool:
    """A condition that may not be decidable before the block runs counts as true."""
    try:
        return bool(thunk())
    except (Unresolved, NotTaken, KeyError):
        return True


_GLOBALS = {"_chk": _chk, "_div": _div, "_mod": _mod, "_elem": _elem, "_maybe": _maybe, "_and": _and, "_or": _or,
            "_cond": _cond, "_branches": _branches, "_each": _each, "_reads": _reads, "_known": _known,
            "_single": _single, "_unresolved": _unresolved, "_address": _address, "Unresolved": Unresolved,
            "NotTaken": NotTaken, "_TooMany": _TooMany, "WILD": WILD, "UNKNOWN": UNKNOWN, "UNREAD": UNREAD,
            "Choice": Choice}


def compile_summary(summary: Summary, var_ids: VarIds) -> CompiledSummary:
    source, filename = _Gen(summary, var_ids).generate(), f"<lane-inst:{summary.qualname}>"
    try:
        code = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError):
        # Nested past what CPython compiles (20 loops and trys in one function: a key under 16 nested
        # loops enumerates each): every access a wildcard over its variable, which is always sound.
        source = _coarse(summary, var_ids)
        code = compile(source, filename, "exec")
    namespace = dict(_GLOBALS)
    exec(code, namespace)
    return CompiledSummary(summary, source, namespace["inst"], code)


def _coarse(summary: Summary, var_ids: VarIds) -> str:
    """An instantiation that makes every access of ``summary`` a wildcard over its variable (of the
    called instance where the access is to it, else of every instance), whatever the arguments."""
    lines = ["def inst(sender, target, args, read, number, timestamp, out, imm=None, stored=None):"]
    for a in summary.accesses:
        loc = f"({'target' if isinstance(a.address, S.Self) else 'None'}, {var_ids(a.contract, a.var)}, WILD)"
        lines += ["    " + line for line in _wildcard_lines(loc, a.mode)]
    lines.append("    return out")
    return "\n".join(lines) + "\n"


def _wildcard_lines(loc: str, mode: str) -> list[str]:
    """The lines recording the wildcard location ``loc`` (an expression) for an access of ``mode``: an
    add as a read and a write, and what a write or an add stores as unknown."""
    lines = [f"out.append(({loc}, {m}))" for m in ([R, W] if mode == ADD else [MODES[mode]])]
    if mode != READ:
        lines.append(f"if stored is not None: stored.append(({loc}, UNKNOWN))")
    return lines


def restore_summary(summary: Summary, source: str, code: bytes) -> CompiledSummary:
    """A summary compiled by :func:`compile_summary` before, from its source and its code
    (``marshal``), both kept (:class:`compiler.schedule.dag.Compiled`'s cache)."""
    import marshal

    compiled = marshal.loads(code)
    namespace = dict(_GLOBALS)
    exec(compiled, namespace)
    return CompiledSummary(summary, source, namespace["inst"], compiled)
