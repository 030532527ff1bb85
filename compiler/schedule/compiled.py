"""Summaries compiled to Python: instantiating a transaction's accesses without walking trees.

:mod:`compiler.schedule.instantiate` evaluates a summary's symbolic keys by
walking them, which is clear but slow for blocks of a million transactions.
This module generates, once per pub function, a Python function

    inst(sender, target, args, read, number, timestamp, out)

that appends ``(location, mode)`` pairs to ``out`` with the same meaning:
``location`` is ``(address, var_id, key)`` (``var_id`` numbers a contract's
variable; ``key`` is the runtime key, ``WILD`` for every key; ``address`` is
None for every instance), ``mode`` is ``READ``, ``WRITE`` or ``ADD``.
``read(address, var_id, key)`` returns a storage value or raises
:class:`Unresolved`, and the access becomes a wildcard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

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


def immutable_reader(storage: dict[int, list[dict]], slots: dict[int, tuple[int, Any]]) -> Callable:
    """``imm(address, var_id, key)`` for an instantiation: a variable only init writes, read once
    from the pre-block ``storage`` (its value holds for the whole block) and remembered."""
    immutable: dict[tuple, Any] = {}

    def imm(address: int, vid: int, key: Any) -> Any:
        loc = (address, vid, key)
        try:
            return immutable[loc]
        except KeyError:
            index, zero = slots[vid]
            value = immutable[loc] = storage[address][index].get(key, zero)
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

    def __post_init__(self) -> None:
        self.cost = self.summary.cost


class _Gen:
    def __init__(self, summary: Summary, var_ids: VarIds) -> None:
        self.summary = summary
        self.var_ids = var_ids
        self.lines: list[str] = []
        self.params = {p.name: f"p{i}" for i, p in enumerate(summary.function.params)}
        self.loops: dict[int, str] = {}
        # Immutable values of the called instance (a pool's token0): read once, at the top.
        self.hoisted: dict[S.Read, str] = {}

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def expr(self, s: S.Sym) -> str:
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
        if isinstance(s, S.LoopIndex):
            return self.loops[s.id]
        if isinstance(s, S.Length):
            return f"len({self.params[s.array.name]})"
        if isinstance(s, S.Element):
            return f"_elem({self.params[s.array.name]}, {self.expr(s.index)})"
        if isinstance(s, S.Read):
            if self.hoistable(s):
                if s not in self.hoisted:
                    self.hoisted[s] = f"m{len(self.hoisted)}"
                return self.hoisted[s]
            return f"read({self.expr(s.address)}, {self.var_ids(s.contract, s.var)}, {self.key(s.keys)})"
        if isinstance(s, S.Unknown):
            return "_unresolved()"
        assert isinstance(s, S.Op)
        a = [self.expr(x) for x in s.args]
        if s.op == "&&":
            return "(" + " and ".join(a) + ")"
        if s.op == "||":
            return "(" + " or ".join(a) + ")"
        if s.op == "!":
            return f"(not {a[0]})"
        if s.op == "ite":
            return f"({a[1]} if {a[0]} else {a[2]})"
        if s.op in ("+", "-", "*"):
            return f"_chk({a[0]} {s.op} {a[1]})"
        if s.op == "/":
            return f"_div({a[0]}, {a[1]})"
        if s.op == "%":
            return f"_mod({a[0]}, {a[1]})"
        if s.op in ("min", "max"):
            return f"{s.op}({a[0]}, {a[1]})"
        return f"({a[0]} {s.op} {a[1]})"

    def hoistable(self, s: S.Read) -> bool:
        """An immutable variable of the called instance, at keys known from the call: never unknown."""
        return s.immutable and isinstance(s.address, S.Self) and all(self.plain(k) for k in s.keys)

    def plain(self, s: S.Sym) -> bool:
        """A value computed from the call and immutable state alone, without arithmetic that could fail."""
        for n in S.walk(s):
            if isinstance(n, S.Read):
                # Its keys are walked here too: asking hoistable(n) would walk them again, at
                # every level of nested reads (exponential in their depth).
                if not (n.immutable and isinstance(n.address, S.Self)):
                    return False
            elif isinstance(n, (S.Unknown, S.Element, S.LoopIndex)):
                return False
            elif isinstance(n, S.Op) and n.op in ("+", "-", "*", "/", "%"):
                return False
        return True

    def key(self, keys: tuple[S.Sym, ...]) -> str:
        if not keys:
            return "()"
        if len(keys) == 1:
            return self.expr(keys[0])
        return "(" + ", ".join(self.expr(k) for k in keys) + ")"

    def access(self, access: Access) -> None:
        vid = self.var_ids(access.contract, access.var)
        indices = sorted({n.id: n for part in (access.address, *access.keys, access.cond, access.alias)
                          for n in S.walk(part) if isinstance(n, S.LoopIndex)}.values(), key=lambda i: i.id)
        wild_modes = [R, W] if access.mode == ADD else [MODES[access.mode]]
        addr = f"_address(lambda: {self.expr(access.address)})"
        wildcard = "".join(f"out.append((({addr}, {vid}, WILD), {m})); " for m in wild_modes)
        if any(isinstance(n, S.Unknown) for part in (access.address, *access.keys) for n in S.walk(part)):
            self.emit(1, wildcard.strip())
            return
        if not indices and all(self.plain(p) for p in (access.address, *access.keys)) and self.plain(access.cond):
            # Nothing here can fail or be unknown: no try, no lambda (the common case).
            depth = 1
            if access.cond != S.TRUE:
                self.emit(1, f"if {self.expr(access.cond)}:")
                depth = 2
            loc = f"({self.expr(access.address)}, {vid}, {self.key(access.keys)})"
            if access.mode == ADD and access.alias != S.FALSE:
                if self.plain(access.alias):
                    self.emit(depth, f"if {self.expr(access.alias)}:")
                else:
                    self.emit(depth, f"if _maybe(lambda: {self.expr(access.alias)}):")
                self.emit(depth + 1, f"out.append(({loc}, 1))  # read and write: the write orders it")
                self.emit(depth, "else:")
                self.emit(depth + 1, f"out.append(({loc}, 2))")
            else:
                self.emit(depth, f"out.append(({loc}, {MODES[access.mode]}))")
            return
        self.emit(1, "try:")
        depth = 2
        if indices:
            self.emit(depth, "n = 0")
        for index in indices:
            name = f"i{index.id}"
            self.loops[index.id] = name
            self.emit(depth, f"for {name} in range({self.expr(index.lo)}, {self.expr(index.hi)}):")
            depth += 1
        if indices:
            self.emit(depth, "n += 1")
            self.emit(depth, f"if n > {MAX_UNROLL}: raise _TooMany")
        if access.cond != S.TRUE:
            self.emit(depth, f"if _maybe(lambda: {self.expr(access.cond)}):")
            depth += 1
        self.emit(depth, "try:")
        loc = f"({self.expr(access.address)}, {vid}, {self.key(access.keys)})"
        self.emit(depth + 1, f"loc = {loc}")
        self.emit(depth, "except NotTaken:")
        self.emit(depth + 1, "pass")
        self.emit(depth, "else:")
        if access.mode == ADD and access.alias != S.FALSE:
            self.emit(depth + 1, f"if _maybe(lambda: {self.expr(access.alias)}):")
            self.emit(depth + 2, "out.append((loc, 1))  # read and write: the write orders it")
            self.emit(depth + 1, "else:")
            self.emit(depth + 2, "out.append((loc, 2))")
        else:
            self.emit(depth + 1, f"out.append((loc, {MODES[access.mode]}))")
        self.emit(1, "except (Unresolved, _TooMany, KeyError):")
        self.emit(2, wildcard.strip())
        self.emit(1, "except NotTaken:")
        self.emit(2, "pass  # the transaction reverts before it gets here")
        for index in indices:
            self.loops.pop(index.id, None)

    def generate(self) -> str:
        fn = self.summary.function
        unpack = ", ".join(self.params.values())
        for access in _merged(self.summary.accesses):
            self.access(access)
        body, self.lines = self.lines, []
        self.emit(0, "def inst(sender, target, args, read, number, timestamp, out, imm=None):")
        self.emit(1, f"# {fn.qualname}: {fn.signature()}")
        if self.params:
            self.emit(1, f"{unpack}{',' if len(self.params) == 1 else ''} = args")
        if self.hoisted:
            self.emit(1, "imm = imm or read")
        for read, name in self.hoisted.items():
            self.emit(1, f"{name} = imm(target, {self.var_ids(read.contract, read.var)}, {self.key(read.keys)})")
        self.lines += body
        self.emit(1, "return out")
        return "\n".join(self.lines) + "\n"


def _merged(accesses: list[Access]) -> list[Access]:
    """The accesses that order transactions: a read of a location the same statement path also
    writes adds nothing to the DAG (a write already conflicts with every access), nor does a repeat."""
    writes = {(a.contract, a.address, a.var, a.keys, a.cond) for a in accesses if a.mode == WRITE}
    out, seen = [], set()
    for a in accesses:
        where = (a.contract, a.address, a.var, a.keys, a.cond)
        if a.mode == READ and where in writes:
            continue
        if (where, a.mode, a.alias) in seen:
            continue
        seen.add((where, a.mode, a.alias))
        out.append(a)
    return out


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


_GLOBALS = {"_chk": _chk, "_div": _div, "_mod": _mod, "_elem": _elem, "_maybe": _maybe,
            "_unresolved": _unresolved, "_address": _address, "Unresolved": Unresolved, "NotTaken": NotTaken,
            "_TooMany": _TooMany, "WILD": WILD}


def compile_summary(summary: Summary, var_ids: VarIds) -> CompiledSummary:
    source = _Gen(summary, var_ids).generate()
    namespace = dict(_GLOBALS)
    exec(compile(source, f"<lane-inst:{summary.qualname}>", "exec"), namespace)
    return CompiledSummary(summary, source, namespace["inst"])
