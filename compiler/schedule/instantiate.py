"""Instantiation: a summary with a transaction's concrete sender, target and arguments.

Each symbolic access becomes concrete locations ``(address, contract, var,
key)`` with a mode.  A loop index is enumerated over its range (so a loop over
an array argument is unrolled for the array's actual length); a value read
from storage is looked up through ``read`` (a callback, so the caller decides
which state a dynamic key may be resolved against); what cannot be resolved
becomes a wildcard over the whole variable.  Where a path condition or a
guard (the requires passed before the access) is known to be false, the access
is dropped; an ``add`` whose alias condition may hold becomes a read and a
write.  ``&&`` and ``||`` are evaluated in three values, as in the compiled
instantiation (:mod:`compiler.schedule.compiled`): an operand that is false
(true) decides, whatever the others are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..analysis import symbolic as S
from ..analysis.summary import ADD, READ, WRITE, Access, Summary

MAX = (1 << 256) - 1
MAX_UNROLL = 4096  # loop-index combinations enumerated before falling back to a wildcard


class Unresolved(Exception):
    """A symbolic value that cannot be made concrete (it becomes a wildcard)."""


class NotTaken(Exception):
    """The access cannot happen (its key computation would revert, or its index is out of range)."""


@dataclass(frozen=True, slots=True)
class Location:
    """A concrete storage location; ``address`` None or ``key`` None is a wildcard."""

    address: int | None
    contract: str
    var: str
    key: Any  # the runtime key: () for a scalar, k for one key, a tuple for several; None: every key

    @property
    def is_wildcard(self) -> bool:
        return self.address is None or self.key is None


# read(address, contract, var, runtime_key) -> value; raise Unresolved when not allowed.
Reader = Callable[[int, str, str, Any], Any]


class _Env:
    def __init__(self, sender: int, target: int, args: dict[str, Any], number: int, timestamp: int,
                 read: Reader | None) -> None:
        self.sender, self.target, self.args = sender, target, args
        self.number, self.timestamp = number, timestamp
        self.read = read
        self.loops: dict[int, int] = {}


def _runtime_key(keys: tuple) -> Any:
    return () if not keys else keys[0] if len(keys) == 1 else tuple(keys)


def evaluate(s: S.Sym, env: _Env) -> Any:
    if isinstance(s, S.Const):
        return s.value
    if isinstance(s, S.Param):
        return env.args[s.name]
    if isinstance(s, S.Sender):
        return env.sender
    if isinstance(s, S.Self):
        return env.target
    if isinstance(s, S.BlockField):
        return env.number if s.name == "number" else env.timestamp
    if isinstance(s, S.LoopIndex):
        if s.id not in env.loops:
            raise Unresolved(s.name)
        return env.loops[s.id]
    if isinstance(s, S.Length):
        return len(env.args[s.array.name])
    if isinstance(s, S.Element):
        array = env.args[s.array.name]
        index = evaluate(s.index, env)
        if index >= len(array):
            raise NotTaken
        return array[index]
    if isinstance(s, S.Read):
        if env.read is None:
            raise Unresolved(str(s))
        address = evaluate(s.address, env)
        key = _runtime_key(tuple(evaluate(k, env) for k in s.keys))
        return env.read(address, s.contract, s.var, key)
    if isinstance(s, S.Unknown):
        raise Unresolved(s.why)
    assert isinstance(s, S.Op), s
    return _apply(s, env)


def _apply(s: S.Op, env: _Env) -> Any:
    name, args = s.op, s.args
    if name in ("&&", "||"):
        decides = name == "||"  # the operand value that decides the whole
        unknown = False
        for a in args:
            try:
                if bool(evaluate(a, env)) == decides:
                    return decides
            except (Unresolved, NotTaken, KeyError):
                unknown = True
        if unknown:
            raise Unresolved(f"{name} of an unknown value")
        return not decides
    if name == "!":
        return not evaluate(args[0], env)
    if name == "ite":
        try:  # (a condition that cannot be computed is unknown: compiled._cond says why)
            taken = evaluate(args[0], env)
        except NotTaken:
            raise Unresolved("a choice whose condition cannot be computed") from None
        return evaluate(args[1], env) if taken else evaluate(args[2], env)
    a, b = evaluate(args[0], env), evaluate(args[1], env)
    if name in ("==", "!="):
        return (a == b) == (name == "==")
    if name in ("<", "<=", ">", ">="):
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[name]
    if name in ("/", "%") and b == 0:
        raise NotTaken
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
              "%": lambda: a % b, "min": lambda: min(a, b), "max": lambda: max(a, b)}[name]()
    if not 0 <= result <= MAX:
        raise NotTaken  # the transaction reverts before it makes this access
    return result


def _loop_indices(*parts: S.Sym, besides: Iterable[S.LoopIndex] = ()) -> list[S.LoopIndex]:
    """The loop indices ``parts`` use (but ``besides``), outer loops first: an inner loop's range
    may use an outer index."""
    skip = {ix.id for ix in besides}
    found: dict[int, S.LoopIndex] = {}
    for part in parts:
        for node in S.walk(part):
            if isinstance(node, S.LoopIndex) and node.id not in skip:
                found[node.id] = node
    return sorted(found.values(), key=lambda ix: ix.id)


def _maybe(value: Callable[[], Any]) -> Any:
    """Evaluate a condition: True, False, or None when it cannot be decided."""
    try:
        return bool(value())
    except (Unresolved, NotTaken, KeyError):
        return None


def _assignments(indices: list[S.LoopIndex], env: _Env, depth: int = 0) -> Iterator[None]:
    """Set env.loops to every combination of loop index values, outer loops first."""
    if depth == len(indices):
        yield None
        return
    index = indices[depth]
    lo, hi = evaluate(index.lo, env), evaluate(index.hi, env)
    for value in range(lo, hi):
        env.loops[index.id] = value
        yield from _assignments(indices, env, depth + 1)
    env.loops.pop(index.id, None)


def _range_size(indices: list[S.LoopIndex], env: _Env) -> int:
    total = 1
    for index in indices:
        try:
            lo, hi = evaluate(index.lo, env), evaluate(index.hi, env)
            span = max(0, hi - lo)
        except (Unresolved, NotTaken):
            span = index.bound if index.bound is not None else MAX_UNROLL + 1
        total *= max(span, 1)
    return total


def instantiate(summary: Summary, sender: int, target: int, args: Iterable[Any], number: int = 0,
                timestamp: int = 0, read: Reader | None = None) -> list[tuple[Location, str]]:
    """Concrete (location, mode) pairs; a mode is read, write or add."""
    params = [p.name for p in summary.function.params]
    env = _Env(sender, target, dict(zip(params, args)), number, timestamp, read)
    out: list[tuple[Location, str]] = []
    for access in summary.accesses:
        env.loops = {}
        # The loops the location depends on are enumerated; an add's alias may name others (the
        # loops of the accesses it may hit): those are asked whether *some* iteration aliases.
        indices = _loop_indices(access.address, *access.keys, access.cond)
        if indices and _range_size(indices, env) > MAX_UNROLL:
            out.extend(_wildcard(access, env))
            continue
        try:
            found: list[tuple[Location, str]] = []
            for _ in (_assignments(indices, env) if indices else [None]):
                found.extend(_one(access, env))
            out.extend(found)
        except (Unresolved, NotTaken):
            out.extend(_wildcard(access, env))
    return out


def _one(access: Access, env: _Env) -> list[tuple[Location, str]]:
    if _maybe(lambda: evaluate(access.cond, env)) is False:
        return []
    if access.guard != S.TRUE and _maybe(lambda: evaluate(access.guard, env)) is False:
        return []  # a require before it fails: the transaction reverts first
    try:
        address = evaluate(access.address, env)
        key = _runtime_key(tuple(evaluate(k, env) for k in access.keys))
    except NotTaken:
        return []
    except Unresolved:
        return _wildcard(access, env)
    loc = Location(address, access.contract, access.var, key)
    if access.mode == ADD and access.alias != S.FALSE and _may_alias(access, env):
        return [(loc, READ), (loc, WRITE)]
    return [(loc, access.mode)]


def _may_alias(access: Access, env: _Env) -> bool:
    """Whether an add's alias condition may hold, for some values of the loop indices only it names
    (a loop that runs no time: it never does)."""
    others = _loop_indices(access.alias, besides=_loop_indices(access.address, *access.keys, access.cond))
    if not others:
        return _maybe(lambda: evaluate(access.alias, env)) is not False
    kept = dict(env.loops)
    try:
        if _range_size(others, env) > MAX_UNROLL:
            return True
        return any(_maybe(lambda: evaluate(access.alias, env)) is not False for _ in _assignments(others, env))
    except (Unresolved, NotTaken, KeyError):
        return True
    finally:
        env.loops = kept


def _wildcard(access: Access, env: _Env) -> list[tuple[Location, str]]:
    try:
        address = evaluate(access.address, env)
    except (Unresolved, NotTaken, KeyError):
        address = None
    loc = Location(address, access.contract, access.var, None)
    modes = [READ, WRITE] if access.mode == ADD else [access.mode]
    return [(loc, m) for m in modes]
