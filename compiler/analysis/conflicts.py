"""The conflict table (SPEC §2.4): for two pub functions, can their calls touch one location?

For functions f and g the two calls are ``a`` and ``b``, with independent
arguments and senders.  Two functions of one contract run on the same
instance (one ``self``); a value read from immutable storage is the same in
both calls; everything else read from storage is free.  For every pair of
accesses to one variable with conflicting modes (write/write, read/write,
add/read, add/write, and add/add where an add may alias a read or write of
its own call) Z3 is asked whether the locations can be equal.  The verdict is
``never`` (unsatisfiable), ``always`` (its negation is unsatisfiable) or
``when`` with a readable condition over ``a.*`` and ``b.*``.  Z3's ``unknown``
or a timeout counts as a possible conflict.

What is sent to Z3 is bounded, so that large summaries cannot make the table
hang: a pair with more than :data:`MAX_SOLVER_DISJUNCTS` ways to conflict is
not solved (a possible conflict, ``when`` with a condition saying so), and the
solver calls of one pair share a time budget (past it, each answers unknown).

The printed condition keeps what can be said about the calls' arguments; a
loop index ``i`` in ``lo..hi`` equal to an argument becomes ``lo <= x && x < hi``
and facts about storage values are left out, so the condition may be weaker
than the exact one, never stronger.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Iterable

from . import symbolic as S
from .summary import ADD, READ, Access, Summary
from .symbolic import Sym

MAX = (1 << 256) - 1
ADDRESS_MAX = (1 << 160) - 1
TIMEOUT_MS = 2000
MAX_DISJUNCTS = 64
# Past this many ways for two functions to conflict (distinct pairs of accesses, after lifting
# ifs out of keys), the pair is not solved: a possible conflict.  The examples' largest has 169
# (Pool.swap with itself).
MAX_SOLVER_DISJUNCTS = 512
UNDECIDED = "(too many ways to conflict to decide)"
# Seconds of solver time for one pair of functions, all its calls together.
PAIR_BUDGET_S = 10.0

NEVER, ALWAYS, WHEN = "never", "always", "when"


@dataclass
class Verdict:
    a: str
    b: str
    verdict: str
    condition: str | None = None
    # The access pairs behind the verdict, for explanations: (access of a, access of b).
    reasons: tuple[tuple[Access, Access], ...] = ()

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "verdict": self.verdict, "condition": self.condition}


def _modes_conflict(x: Access, y: Access) -> bool:
    if x.mode == READ and y.mode == READ:
        return False
    if x.mode == ADD and y.mode == ADD:
        return x.alias != S.FALSE or y.alias != S.FALSE
    return True


# ------------------------------------------------------------------- literals
@dataclass(frozen=True)
class _Eq:
    """``left`` (of call a) equals ``right`` (of call b)."""

    left: Sym
    right: Sym


@dataclass(frozen=True)
class _Fact:
    """A boolean fact about one call's values."""

    side: str
    sym: Sym


Literal = _Eq | _Fact


def _conjuncts(s: Sym) -> list[Sym]:
    if isinstance(s, S.Op) and s.op == "&&":
        return [c for a in s.args for c in _conjuncts(a)]
    return [] if s == S.TRUE else [s]


def _dnf(s: Sym, limit: int = 16) -> list[list[Sym]]:
    """A boolean symbol as a disjunction of conjunctions (capped: past ``limit`` it stays whole)."""
    if isinstance(s, S.Op) and s.op == "||":
        out = [d for a in s.args for d in _dnf(a, limit)]
        return out if len(out) <= limit else [[s]]
    if isinstance(s, S.Op) and s.op == "&&":
        out = [[]]
        for a in s.args:
            out = [x + y for x in out for y in _dnf(a, limit)]
            if len(out) > limit:
                return [[s]]
        return out
    return [[]] if s == S.TRUE else [[s]]


class _Pair:
    """One pair of functions: translation of both calls' symbols to Z3 and to text."""

    def __init__(self, z3mod, same_instance: bool) -> None:
        self.z3 = z3mod
        self.same = same_instance
        self.domain: dict[str, object] = {}
        self.loops: dict[str, object] = {}  # loop index variables: existential in "some access hits"
        self._funcs: dict[tuple[str, int], object] = {}
        self._terms: dict[tuple[Sym, str], object] = {}
        self._literals: dict[object, object] = {}

    # ---------------------------------------------------------------- sharing
    def shared(self, s: Sym) -> bool:
        """Whether ``s`` has one value in both calls."""
        if isinstance(s, (S.Const, S.BlockField)):
            return True
        if isinstance(s, S.Self):
            return self.same
        if isinstance(s, S.Read):
            return s.immutable and self.shared(s.address) and all(self.shared(k) for k in s.keys)
        if isinstance(s, S.Op):
            return all(self.shared(a) for a in s.args)
        return False

    def printable(self, s: Sym) -> bool:
        """Whether ``s`` can be written over the calls' arguments: a value in storage can, as the call
        reading it finds it (``a.owner_of[a.id]``); a loop's index or an array's element cannot."""
        return not any(isinstance(n, (S.Unknown, S.LoopIndex, S.Element)) for n in S.walk(s))

    # ---------------------------------------------------------------- text
    def text(self, s: Sym, side: str) -> str:
        """``s`` as one call (``side`` is "a" or "b") sees it: arguments as ``a.to``."""
        return S.render(s, lambda node: self._leaf(node, side))

    def _leaf(self, s: Sym, side: str) -> str:
        if isinstance(s, S.Param):
            return f"{side}.{s.name}"
        if isinstance(s, S.Sender):
            return f"{side}.sender"
        if isinstance(s, S.Self):
            return "self" if self.same else f"{side}.self"
        if isinstance(s, S.Length):
            return f"len({side}.{s.array.name})"
        if isinstance(s, S.Read):
            keys = "".join(f"[{self.text(k, side)}]" for k in s.keys)
            # (a value that transactions write, as call ``side`` reads it: ``a.owner_of[a.id]``;
            # one only init writes is the same in both calls of one instance: ``owner``)
            if isinstance(s.address, S.Self):
                head = s.var if self.same and s.immutable else f"{side}.{s.var}"
            else:
                head = f"{self.text(s.address, side)}.{s.var}"
                if not s.immutable and not self.text(s.address, side).startswith(f"{side}."):
                    head = f"{side}.{head}"
            return head + keys
        return str(s)  # constants, block fields

    def literal_text(self, lit: Literal) -> str:
        if isinstance(lit, _Eq):
            left, right = self.text(lit.left, "a"), self.text(lit.right, "b")
            return f"{left} == {right}"
        s = lit.sym
        if isinstance(s, S.Op) and s.op == "!" and isinstance(s.args[0], S.Op) and s.args[0].op == "==":
            inner = s.args[0]
            return f"{self.text(inner.args[0], lit.side)} != {self.text(inner.args[1], lit.side)}"
        return self.text(s, lit.side)

    # ------------------------------------------------------------------ z3
    def _var(self, name: str, hi: int, sort: str = "int"):
        z3 = self.z3
        if sort == "bool":
            return z3.Bool(name)
        v = z3.Int(name)
        if name not in self.domain:
            self.domain[name] = z3.And(v >= 0, v <= hi)
        return v

    def _func(self, name: str, arity: int):
        key = (name, arity)
        if key not in self._funcs:
            z3 = self.z3
            self._funcs[key] = z3.Function(name, *([z3.IntSort()] * (arity + 1)))
        return self._funcs[key]

    def outer_domain(self) -> list:
        """The domain constraints of everything but loop indices."""
        return [c for name, c in self.domain.items() if name.split("#range")[0] not in self.loops]

    def some_iteration(self, formula):
        """``formula`` for some iteration of every loop: the loop indices are existential.

        (Only matters for "always": every call of f and g conflicts when, whatever the arguments,
        some iteration of f's loops hits some iteration of g's.)
        """
        if not self.loops:
            return formula
        inner = [c for name, c in self.domain.items() if name.split("#range")[0] in self.loops]
        return self.z3.Exists(list(self.loops.values()), self.z3.And(*inner, formula))

    def as_int(self, e):
        z3 = self.z3
        return z3.If(e, z3.IntVal(1), z3.IntVal(0)) if z3.is_bool(e) else e

    def as_bool(self, e):
        return e if self.z3.is_bool(e) else e != 0

    def term(self, s: Sym, side: str):
        key = (s, side)
        hit = self._terms.get(key)
        if hit is None:
            hit = self._terms[key] = self._term(s, side)
        return hit

    def _term(self, s: Sym, side: str):
        z3 = self.z3
        if isinstance(s, S.Const):
            return z3.BoolVal(s.value) if isinstance(s.value, bool) else z3.IntVal(s.value)
        if isinstance(s, S.Param):
            if s.type == "bool":
                return self._var(f"{side}.{s.name}", 1, "bool")
            hi = MAX if s.type in ("u256", "array") else ADDRESS_MAX
            return self._var(f"{side}.{s.name}", hi)
        if isinstance(s, S.Sender):
            return self._var(f"{side}.sender", ADDRESS_MAX)
        if isinstance(s, S.Self):
            return self._var("self" if self.same else f"{side}.self", ADDRESS_MAX)
        if isinstance(s, S.BlockField):
            return self._var(f"block.{s.name}", MAX)
        if isinstance(s, S.LoopIndex):
            name = f"{side}.{s.name}#{s.id}"
            v = self._var(name, MAX)
            self.loops[name] = v
            self.domain[name + "#range"] = z3.And(v >= self.as_int(self.term(s.lo, side)),
                                                  v < self.as_int(self.term(s.hi, side)))
            return v
        if isinstance(s, S.Length):
            return self._var(f"{side}.len({s.array.name})", MAX)
        if isinstance(s, S.Element):
            return self._func(f"{side}.{s.array.name}[]", 1)(self.as_int(self.term(s.index, side)))
        if isinstance(s, S.Read):
            name = f"{s.contract}.{s.var}" if s.immutable else f"{side}:{s.contract}.{s.var}"
            args = [self.as_int(self.term(x, side)) for x in (s.address, *s.keys)]
            return self._func(name, len(args))(*args)
        if isinstance(s, S.Unknown):
            return self._var(f"{side}.?{s.id}", MAX)
        assert isinstance(s, S.Op), s
        return self._op(s, side)

    def _op(self, s: S.Op, side: str):
        z3 = self.z3
        if s.op in ("&&", "||"):
            parts = [self.as_bool(self.term(a, side)) for a in s.args]
            return z3.And(*parts) if s.op == "&&" else z3.Or(*parts)
        if s.op == "!":
            return z3.Not(self.as_bool(self.term(s.args[0], side)))
        if s.op == "ite":
            c = self.as_bool(self.term(s.args[0], side))
            x, y = self.term(s.args[1], side), self.term(s.args[2], side)
            if z3.is_bool(x) != z3.is_bool(y):
                x, y = self.as_int(x), self.as_int(y)
            return z3.If(c, x, y)
        x, y = self.term(s.args[0], side), self.term(s.args[1], side)
        if s.op in ("==", "!="):
            if z3.is_bool(x) != z3.is_bool(y):
                x, y = self.as_int(x), self.as_int(y)
            return x == y if s.op == "==" else x != y
        x, y = self.as_int(x), self.as_int(y)
        return {
            "<": lambda: x < y, "<=": lambda: x <= y, ">": lambda: x > y, ">=": lambda: x >= y,
            "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
            "/": lambda: x / y, "%": lambda: x % y,
            "min": lambda: z3.If(x <= y, x, y), "max": lambda: z3.If(x >= y, x, y),
        }[s.op]()

    def literal(self, lit: Literal):
        hit = self._literals.get(lit)
        if hit is None:
            hit = self._literals[lit] = self._literal(lit)
        return hit

    def _literal(self, lit: Literal):
        if isinstance(lit, _Eq):
            x, y = self.term(lit.left, "a"), self.term(lit.right, "b")
            if self.z3.is_bool(x) != self.z3.is_bool(y):
                x, y = self.as_int(x), self.as_int(y)
            return x == y
        return self.as_bool(self.term(lit.sym, lit.side))


class ConflictChecker:
    """Decides verdicts with one Z3 solver, reused with push/pop."""

    def __init__(self, timeout_ms: int = TIMEOUT_MS, budget_s: float = PAIR_BUDGET_S) -> None:
        import z3

        self.z3 = z3
        self.solver = z3.Solver()
        self.solver.set("timeout", timeout_ms)
        self.budget_s = budget_s
        self.deadline = float("inf")

    def _check(self, *formulas) -> str:
        if time.monotonic() > self.deadline:
            return "unknown"  # the pair's budget is spent: as a timeout would answer
        self.solver.push()
        try:
            self.solver.add(*formulas)
            result = self.solver.check()
        finally:
            self.solver.pop()
        return str(result)  # "sat", "unsat" or "unknown"

    # ------------------------------------------------------------ disjuncts
    def _disjuncts(self, pair: _Pair, x: Access, y: Access) -> list[list[Literal]]:
        """The ways access x of call a and access y of call b can hit one location."""
        base: list[Literal] = []
        for left, right in zip((x.address, *x.keys), (y.address, *y.keys)):
            if left == right and pair.shared(left):
                continue
            if isinstance(left, S.Const) and isinstance(right, S.Const):
                if left.value != right.value:
                    return []
                continue
            base.append(_Eq(left, right))
        base += [_Fact("a", c) for c in _conjuncts(x.cond)]
        base += [_Fact("b", c) for c in _conjuncts(y.cond)]
        if x.mode == ADD and y.mode == ADD:
            extra = []
            for side, alias in (("a", x.alias), ("b", y.alias)):
                if alias != S.FALSE:
                    extra += [[_Fact(side, c) for c in d] for d in _dnf(alias)]
            return [base + e for e in extra]
        return [base]

    def _normalise(self, pair: _Pair, lits: list[Literal]) -> list[Literal] | None:
        """Drop literals that are plainly true; None when one is plainly false."""
        out = []
        for lit in lits:
            if isinstance(lit, _Eq):
                if lit.left == lit.right and pair.shared(lit.left):
                    continue
                if isinstance(lit.left, S.Const) and isinstance(lit.right, S.Const):
                    if lit.left.value != lit.right.value:
                        return None
                    continue
            elif isinstance(lit.sym, S.Const):
                if not lit.sym.value:
                    return None
                continue
            out.append(lit)
        return out

    def _printable(self, pair: _Pair, lits: list[Literal]) -> list[Literal]:
        """The literals that can be printed over the calls' arguments (others are left out)."""
        out: list[Literal] = []
        for lit in lits:
            if isinstance(lit, _Eq):
                left, right = lit.left, lit.right
                if pair.printable(left) and pair.printable(right):
                    out.append(lit)
                    continue
                # i in lo..hi equal to an argument: lo <= arg < hi; the element of an array a loop
                # walks equal to one: the argument is in the array (in its part lo..hi).
                for index, other, side, other_side in ((left, right, "a", "b"), (right, left, "b", "a")):
                    if not pair.printable(other):
                        continue
                    if isinstance(index, S.LoopIndex) and pair.printable(index.lo) and pair.printable(index.hi):
                        out.append(_Range(index.lo, other, index.hi, side, other_side))
                        break
                    if isinstance(index, S.Element) and isinstance(index.index, S.LoopIndex) and \
                            pair.printable(index.index.lo) and pair.printable(index.index.hi):
                        out.append(_Member(other, index, other_side, side))
                        break
                continue
            if pair.printable(lit.sym):
                out.append(lit)
        return out

    def verdict(self, f: Summary, g: Summary) -> Verdict:
        z3 = self.z3
        self.deadline = time.monotonic() + self.budget_s
        pair = _Pair(z3, f.function.contract is g.function.contract)
        found_all: list[list[Literal]] = []
        reasons = []
        same_var: dict[tuple[str, str], list[Access]] = {}
        for y in _located(g.accesses):
            same_var.setdefault((y.contract, y.var), []).append(y)
        for x in _located(f.accesses):
            for y in same_var.get((x.contract, x.var), ()):
                if not _modes_conflict(x, y):
                    continue
                found = self._disjuncts(pair, x, y)
                if found:
                    reasons.append((x, y))
                    found_all.extend(found)
        disjuncts: list[list[Literal]] = []
        seen: set[frozenset[Literal]] = set()  # many access pairs give one disjunct
        for d in found_all:
            for e in _split_ite(d):
                n = self._normalise(pair, e)
                if n is None or frozenset(n) in seen:
                    continue
                if not n:  # nothing to satisfy: every two calls conflict
                    return Verdict(f.qualname, g.qualname, ALWAYS, reasons=tuple(reasons))
                seen.add(frozenset(n))
                disjuncts.append(n)
            if len(disjuncts) > MAX_SOLVER_DISJUNCTS:
                return Verdict(f.qualname, g.qualname, WHEN, UNDECIDED, tuple(reasons))
        if not disjuncts:
            return Verdict(f.qualname, g.qualname, NEVER)
        if all(isinstance(lit, _Eq) and _atomic(lit.left) and _atomic(lit.right) for d in disjuncts for lit in d):
            # Equalities between independent values: satisfiable, and falsified by making them all
            # distinct, so "when" without asking the solver.
            return Verdict(f.qualname, g.qualname, WHEN, self._condition(pair, disjuncts, solve=False),
                           tuple(reasons))
        exact = [z3.And(*[pair.literal(lit) for lit in d]) for d in disjuncts]
        formula = z3.Or(*exact)
        domain = list(pair.domain.values())
        if self._check(*domain, formula) == "unsat":
            return Verdict(f.qualname, g.qualname, NEVER)
        if self._check(*pair.outer_domain(), z3.Not(pair.some_iteration(formula))) == "unsat":
            return Verdict(f.qualname, g.qualname, ALWAYS, reasons=tuple(reasons))
        # Keep the satisfiable disjuncts, printed over the arguments.
        kept: list[list[Literal]] = []
        hidden: set[str] = set()  # what the empty printed disjuncts depend on
        for d, e in zip(disjuncts, exact):
            if len(disjuncts) > 1 and self._check(*pair.domain.values(), e) == "unsat":
                continue
            printed = list(dict.fromkeys(self._printable(pair, d)))
            if len(printed) < len(set(d)):  # (a literal left out: what it depends on)
                hidden |= _unprintable(d)
            kept.append(printed)
        return Verdict(f.qualname, g.qualname, WHEN, self._condition(pair, kept, hidden=hidden), tuple(reasons))

    # ------------------------------------------------------------- printing
    def _condition(self, pair: _Pair, disjuncts: list[list[Literal]], solve: bool = True,
                   hidden: set[str] | None = None) -> str:
        z3 = self.z3
        placeholder = f"(depends on {' and '.join(sorted(hidden or {'values the analysis cannot follow'}))})"
        if any(not d for d in disjuncts):
            return placeholder
        if not solve:
            unique = []
            for d in sorted(disjuncts, key=len):
                if not any(set(u) <= set(d) for u in unique):
                    unique.append(d)
            return _render(pair, unique)
        def conj(d):
            return z3.And(*[l.z3(pair) if isinstance(l, (_Range, _Member)) else pair.literal(l) for l in d])

        whole = z3.Or(*[conj(d) for d in disjuncts])
        domain = list(pair.domain.values())
        unique: list[list[Literal]] = []
        # Each simplification asks the solver about the whole condition, once per literal: past
        # MAX_DISJUNCTS disjuncts that is too much work for a shorter text, so it stays as it is.
        simplify = len(disjuncts) <= MAX_DISJUNCTS
        for d in disjuncts:
            # Drop a literal that the rest of its disjunct does not need: (!x && y) || x is x || y.
            d = list(d)
            for lit in [l for l in d if isinstance(l, _Fact)] if simplify else []:
                rest = [l for l in d if l is not lit]
                if rest and self._check(*domain, conj(rest), z3.Not(whole)) == "unsat":
                    d = rest
            if not any(set(d) == set(u) for u in unique):
                unique.append(d)
        # Drop a disjunct implied by the others.
        exprs = [conj(d) for d in unique]
        keep = list(range(len(unique)))
        if len(unique) <= MAX_DISJUNCTS:
            for i in sorted(range(len(unique)), key=lambda i: -len(unique[i])):
                others = [exprs[j] for j in keep if j != i]
                if others and self._check(*pair.domain.values(), exprs[i], z3.Not(z3.Or(*others))) == "unsat":
                    keep.remove(i)
        if hidden and self._check(*domain, z3.Not(z3.Or(*[exprs[i] for i in keep]))) == "unsat":
            return placeholder  # (what is left holds for every two calls: `!a.c || a.c` says nothing)
        return _render(pair, [unique[i] for i in keep])


def _render(pair: _Pair, disjuncts: list[list]) -> str:
    """Sorted, deduplicated, with the literals common to every disjunct factored out."""
    texts = [sorted({_lit_text(pair, l) for l in d}) for d in disjuncts]
    common = set(texts[0]).intersection(*texts[1:]) if len(texts) > 1 else set()
    rest = [[t for t in d if t not in common] for d in texts]
    # A disjunct that is exactly the common part absorbs the others.
    parts = [] if len(rest) > 1 and any(not d for d in rest) else sorted({" && ".join(d) for d in rest if d})
    body = " || ".join(f"({p})" if " && " in p and len(parts) > 1 else p for p in parts)
    head = " && ".join(sorted(common))
    if head and body:
        return f"{head} && ({body})" if len(parts) > 1 else f"{head} && {body}"
    return head or body


@dataclass(frozen=True)
class _Range:
    """``lo <= value < hi`` for a loop index of one call equal to a value of the other."""

    lo: Sym
    value: Sym
    hi: Sym
    index_side: str
    value_side: str

    def z3(self, pair: _Pair):
        v = pair.as_int(pair.term(self.value, self.value_side))
        return pair.z3.And(pair.as_int(pair.term(self.lo, self.index_side)) <= v,
                           v < pair.as_int(pair.term(self.hi, self.index_side)))

    def text(self, pair: _Pair) -> str:
        value = pair.text(self.value, self.value_side)
        lo, hi = pair.text(self.lo, self.index_side), pair.text(self.hi, self.index_side)
        return f"{value} < {hi}" if self.lo == S.Const(0) else f"{lo} <= {value} && {value} < {hi}"


@dataclass(frozen=True)
class _Member:
    """A value of one call equal to some element of an array the other call's loop walks:
    ``a.asset in b.assets`` (``b.assets[lo..hi]`` when the loop walks a part of it)."""

    value: Sym
    element: S.Element
    value_side: str
    element_side: str

    def z3(self, pair: _Pair):
        z3, index, side = pair.z3, self.element.index, self.element_side
        k = z3.FreshInt("element")
        lo, hi = (pair.as_int(pair.term(x, side)) for x in (index.lo, index.hi))
        element = pair._func(f"{side}.{self.element.array.name}[]", 1)(k)
        return z3.Exists([k], z3.And(lo <= k, k < hi, element == pair.as_int(pair.term(self.value, self.value_side))))

    def text(self, pair: _Pair) -> str:
        index, side = self.element.index, self.element_side
        array = f"{side}.{self.element.array.name}"
        if not (index.lo == S.Const(0) and index.hi == S.Length(self.element.array)):
            array += f"[{pair.text(index.lo, side)}..{pair.text(index.hi, side)}]"
        return f"{pair.text(self.value, self.value_side)} in {array}"


def _unprintable(lits: list) -> set[str]:
    """What keeps a disjunct from being printed over the calls' arguments."""
    out: set[str] = set()
    for lit in lits:
        stack = [lit.left, lit.right] if isinstance(lit, _Eq) else [lit.sym]
        while stack:
            n = stack.pop()
            if isinstance(n, S.Unknown):
                out.add("values the analysis cannot follow")
            elif isinstance(n, S.Element):
                out.add("array elements")
                continue
            elif isinstance(n, S.LoopIndex):
                out.add("loop iterations")
                continue
            stack.extend(n.children())
    return out or {"values the analysis cannot follow"}


def _atomic(s: Sym) -> bool:
    """A value that is a single free input: an argument, a sender, an address, an immutable value."""
    if isinstance(s, S.Param):
        return s.type not in ("bool", "array")
    if isinstance(s, (S.Sender, S.Self, S.Const)):
        return not isinstance(s, S.Const) or not isinstance(s.value, bool)
    if isinstance(s, S.Read):
        return s.immutable and all(isinstance(k, (S.Self, S.Const, S.Param, S.Sender)) for k in s.keys) \
            and isinstance(s.address, S.Self)
    return False


def _located(accesses: list[Access]) -> list[Access]:
    """One access per location, mode, condition and alias: what Z3 is asked about.  Accesses that
    differ only in the value they store or in their guard (the requires before them, which
    verdicts leave out) meet the same locations."""
    seen: set[tuple] = set()
    out = []
    for a in accesses:
        key = (a.contract, a.address, a.var, a.keys, a.mode, a.cond, a.alias)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _ite_in(s: Sym) -> S.Op | None:
    for n in S.walk(s):
        if isinstance(n, S.Op) and n.op == "ite":
            return n
    return None


def _substitute(s: Sym, old: Sym, new: Sym) -> Sym:
    if s == old:
        return new
    if isinstance(s, S.Op):
        return S.op(s.op, *(_substitute(a, old, new) for a in s.args))
    if isinstance(s, S.Read):
        return S.Read(_substitute(s.address, old, new), s.contract, s.var,
                      tuple(_substitute(k, old, new) for k in s.keys), s.immutable)
    return s


def _split_ite(lits: list, depth: int = 0) -> list[list]:
    """Lift ``(x if c else y)`` out of literals: one disjunct with ``c`` and x, one with ``!c`` and y."""
    if depth > 6:
        return [lits]
    for i, lit in enumerate(lits):
        syms = (lit.left, lit.right) if isinstance(lit, _Eq) else (lit.sym,)
        for pos, sym in enumerate(syms):
            ite = _ite_in(sym)
            if ite is None:
                continue
            side = lit.side if isinstance(lit, _Fact) else ("a" if pos == 0 else "b")
            cond, then, other = ite.args
            out = []
            for fact, value in ((cond, then), (S.op("!", cond), other)):
                new = (_Eq(_substitute(lit.left, ite, value), lit.right) if pos == 0 else
                       _Eq(lit.left, _substitute(lit.right, ite, value))) if isinstance(lit, _Eq) else \
                    _Fact(side, _substitute(lit.sym, ite, value))
                rest = lits[:i] + [new] + lits[i + 1:] + [_Fact(side, c) for c in _conjuncts(fact)]
                out.extend(_split_ite(rest, depth + 1))
            return out
    return [lits]


def _lit_text(pair: _Pair, lit) -> str:
    return lit.text(pair) if isinstance(lit, (_Range, _Member)) else pair.literal_text(lit)


def conflict_table(summaries: Iterable[Summary], memo: dict | None = None) -> list[Verdict]:
    """Verdicts for every unordered pair of functions, each function with itself included."""
    checker = ConflictChecker()
    items = list(summaries)
    out = []
    for i, j in itertools.combinations_with_replacement(range(len(items)), 2):
        f, g = items[i], items[j]
        key = (f.qualname, f.function.contract.file, g.qualname, g.function.contract.file)
        if memo is not None and key in memo:
            out.append(memo[key])
            continue
        v = checker.verdict(f, g)
        if memo is not None:
            memo[key] = v
        out.append(v)
    return out
