"""Symbolic values of the access analysis.

A key, an address or a path condition is a small immutable tree over the
call's inputs: its parameters, ``msg.sender``, ``self``, constants, loop
indices, block fields and values read from storage.  Every node is hashable
and compares structurally, so two syntactically equal keys are one key.

Trees stay small: every node knows its size and depth, and a value that
would grow past :data:`MAX_SIZE` nodes or :data:`MAX_DEPTH` levels (``x = x + x``
repeated, or a value passed down a long chain of calls) becomes unknown
instead.  Unknown stands for any value, so this only loses precision; it
keeps hashing, printing, Z3 and the generated instantiation code (whose
nesting Python bounds) linear and far from Python's recursion limit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from typing import Iterator

EXACT, IMMUTABLE, DYNAMIC, WILDCARD = "exact", "immutable", "dynamic", "wildcard"
# The largest value the analysis follows.  The examples' largest is 69 nodes and 10 levels deep.
MAX_SIZE = 512
MAX_DEPTH = 48
KIND_ORDER = {EXACT: 0, IMMUTABLE: 1, DYNAMIC: 2, WILDCARD: 3}


def worst(*kinds: str) -> str:
    return max(kinds, key=KIND_ORDER.__getitem__, default=EXACT)


class Sym:
    """Base of symbolic values."""

    __slots__ = ()
    # A leaf; a node with children stores its own (see _measure).
    size = 1   # nodes in the tree (a shared subtree counts each time: hashing and printing visit it each time)
    depth = 1

    def children(self) -> tuple["Sym", ...]:
        return ()

    def __reduce__(self):
        # Rebuilt from its value when unpickled, so that a stored hash is never another process's.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init))


def _measure(node: Sym, value: tuple) -> None:
    """Set the size, depth and hash of a node with children (in __post_init__).

    ``value`` is what the node's equality compares.  The hash is kept because a node is hashed
    again and again (deduplicating accesses, building conditions), and recomputing it walks the
    whole tree each time.
    """
    kids = node.children()
    object.__setattr__(node, "size", 1 + sum(k.size for k in kids))
    object.__setattr__(node, "depth", 1 + max((k.depth for k in kids), default=0))
    object.__setattr__(node, "hash", hash(value))


def _metric():
    """A size, depth or hash field of a node with children: set by _measure, not part of its value."""
    return field(default=0, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Const(Sym):
    value: int | bool
    address: bool = field(default=False, compare=False)  # shown as 0x hex

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if self.address:
            return f"address({self.value:#x})"
        return str(self.value) if self.value < 1 << 64 else hex(self.value)


@dataclass(frozen=True, slots=True)
class Param(Sym):
    """A parameter of the summarised function (a call site puts its argument in its place)."""

    name: str
    type: str  # "u256", "bool", "address", a contract name, "array"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Sender(Sym):
    """``msg.sender`` of the summarised function's call."""

    def __str__(self) -> str:
        return "msg.sender"


@dataclass(frozen=True, slots=True)
class Self(Sym):
    """The address of the contract whose function is summarised (the one a transaction calls)."""

    def __str__(self) -> str:
        return "self"


@dataclass(frozen=True, slots=True)
class BlockField(Sym):
    name: str  # "number" or "timestamp"

    def __str__(self) -> str:
        return f"block.{self.name}"


@dataclass(frozen=True, slots=True)
class LoopIndex(Sym):
    """A loop variable: ``lo <= index < hi``, at most ``bound`` iterations."""

    id: int
    name: str
    lo: Sym
    hi: Sym
    bound: int | None

    size: int = _metric()
    depth: int = _metric()
    hash: int = _metric()

    def __post_init__(self) -> None:
        _measure(self, (self.id, self.name, self.lo, self.hi, self.bound))

    def __hash__(self) -> int:
        return self.hash

    def __str__(self) -> str:
        return self.name

    def children(self) -> tuple[Sym, ...]:
        return (self.lo, self.hi)


@dataclass(frozen=True, slots=True)
class Length(Sym):
    array: Param

    size: int = _metric()
    depth: int = _metric()
    hash: int = _metric()

    def __post_init__(self) -> None:
        _measure(self, (self.array,))

    def __hash__(self) -> int:
        return self.hash

    def __str__(self) -> str:
        return f"len({self.array.name})"

    def children(self) -> tuple[Sym, ...]:
        return (self.array,)


@dataclass(frozen=True, slots=True)
class Element(Sym):
    array: Param
    index: Sym

    size: int = _metric()
    depth: int = _metric()
    hash: int = _metric()

    def __post_init__(self) -> None:
        _measure(self, (self.array, self.index))

    def __hash__(self) -> int:
        return self.hash

    def __str__(self) -> str:
        return f"{self.array.name}[{self.index}]"

    def children(self) -> tuple[Sym, ...]:
        return (self.array, self.index)


@dataclass(frozen=True, slots=True)
class Read(Sym):
    """The value of a storage location as the transaction read it."""

    address: Sym
    contract: str
    var: str
    keys: tuple[Sym, ...]
    immutable: bool  # only init writes the variable: fixed by the deployed state

    size: int = _metric()
    depth: int = _metric()
    hash: int = _metric()

    def __post_init__(self) -> None:
        _measure(self, (self.address, self.contract, self.var, self.keys, self.immutable))

    def __hash__(self) -> int:
        return self.hash

    def __str__(self) -> str:
        head = self.var if isinstance(self.address, Self) else f"{self.address}.{self.var}"
        return head + "".join(f"[{k}]" for k in self.keys)

    def children(self) -> tuple[Sym, ...]:
        return (self.address, *self.keys)


@dataclass(frozen=True, slots=True)
class Unknown(Sym):
    """A value the analysis cannot follow (it stands for any value)."""

    id: int
    why: str

    def __str__(self) -> str:
        return "*"


@dataclass(frozen=True, slots=True)
class Op(Sym):
    """Arithmetic (+ - * / % min max), comparison (== != < <= > >=), logic (&& || !), ``ite``."""

    op: str
    args: tuple[Sym, ...]

    size: int = _metric()
    depth: int = _metric()
    hash: int = _metric()

    def __post_init__(self) -> None:
        _measure(self, (self.op, self.args))

    def __hash__(self) -> int:
        return self.hash

    def __str__(self) -> str:
        return render(self, str)

    def children(self) -> tuple[Sym, ...]:
        return self.args


def render(s: Sym, leaf) -> str:
    """Text of a symbolic value: operations written here, every other node by ``leaf(node)``."""
    if not isinstance(s, Op):
        return leaf(s)
    a = s.args
    if s.op == "!":
        return f"!{_paren(a[0], leaf)}"
    if s.op in ("min", "max"):
        return f"{s.op}({render(a[0], leaf)}, {render(a[1], leaf)})"
    if s.op == "ite":
        return f"({render(a[1], leaf)} if {render(a[0], leaf)} else {render(a[2], leaf)})"
    if s.op in ("&&", "||"):
        return f" {s.op} ".join(_paren(x, leaf) for x in a)
    return f"{_paren(a[0], leaf)} {s.op} {_paren(a[1], leaf)}"


def _paren(s: Sym, leaf) -> str:
    text = render(s, leaf)
    return f"({text})" if isinstance(s, Op) and s.op not in ("min", "max", "ite", "!") else text


TRUE, FALSE = Const(True), Const(False)
_unknown_ids = itertools.count(1)
# One numbering for the loops of every summary: an inner loop's index is numbered after the outer
# ones it may depend on, also when a call site renumbers a callee's (instantiation relies on it).
_loop_ids = itertools.count(1)


def unknown(why: str) -> Unknown:
    return Unknown(next(_unknown_ids), why)


def loop_index(name: str, lo: Sym, hi: Sym, bound: int | None) -> Sym:
    """A new loop index (numbered after every index made before it)."""
    return bounded(LoopIndex(next(_loop_ids), name, lo, hi, bound))


def bounded(s: Sym) -> Sym:
    """``s``, or unknown when it is too large to follow (see the module's doc)."""
    if s.size > MAX_SIZE or s.depth > MAX_DEPTH:
        return unknown("value too large to follow")
    return s


def walk(s: Sym) -> Iterator[Sym]:
    stack = [s]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children())


def kind_of(s: Sym) -> str:
    """exact, immutable, dynamic or wildcard (SPEC §2.2) for a key or an address."""
    k = EXACT
    for node in walk(s):
        if isinstance(node, Unknown):
            return WILDCARD
        if isinstance(node, Read):
            k = worst(k, IMMUTABLE if node.immutable else DYNAMIC)
    return k


def depends_on_call(s: Sym) -> bool:
    """Whether the value depends on what the call is given (its arguments or sender)."""
    return any(isinstance(n, (Param, Sender, Unknown, Element, Length)) for n in walk(s))


# ------------------------------------------------------------ construction


def op(name: str, *args: Sym) -> Sym:
    """Build an operation, folding constants and trivial logic."""
    if name == "&&":
        flat = []
        for a in args:
            if a == FALSE:
                return FALSE
            if a == TRUE:
                continue
            flat.extend(a.args if isinstance(a, Op) and a.op == "&&" else (a,))
        flat = list(dict.fromkeys(flat))
        return TRUE if not flat else flat[0] if len(flat) == 1 else bounded(Op("&&", tuple(flat)))
    if name == "||":
        flat = []
        for a in args:
            if a == TRUE:
                return TRUE
            if a == FALSE:
                continue
            flat.extend(a.args if isinstance(a, Op) and a.op == "||" else (a,))
        flat = list(dict.fromkeys(flat))
        return FALSE if not flat else flat[0] if len(flat) == 1 else bounded(Op("||", tuple(flat)))
    if name == "!":
        (a,) = args
        if isinstance(a, Const):
            return Const(not a.value)
        if isinstance(a, Op) and a.op == "!":
            return a.args[0]
        return bounded(Op("!", (a,)))
    if name == "ite":
        c, x, y = args
        if c == TRUE or x == y:
            return x
        if c == FALSE:
            return y
        return bounded(Op("ite", args))
    if all(isinstance(a, Const) for a in args):
        value = _fold(name, [a.value for a in args])
        if value is not None:
            return Const(value)
    if name in ("==", "!=") and args[0] == args[1]:
        return Const(name == "==")
    return bounded(Op(name, tuple(args)))


def _fold(name: str, v: list):
    a, b = v
    if isinstance(a, bool) != isinstance(b, bool) and name not in ("==", "!="):
        return None
    result = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
        "/": lambda: a // b if b else None, "%": lambda: a % b if b else None,
        "min": lambda: min(a, b), "max": lambda: max(a, b),
        "==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b, "<=": lambda: a <= b,
        ">": lambda: a > b, ">=": lambda: a >= b,
    }[name]()
    if result is None or (not isinstance(result, bool) and not 0 <= result < 1 << 256):
        return None
    return result
