"""Static costs: a function's worst case, and what generated code charges as a transaction runs.

The unit is one simple step: a statement or an operator costs 1, a storage read 2,
a storage write 3, an event 3, a call 2 (plus what the callee costs).  A loop
costs its header plus, per iteration, 1 and its body; an ``if`` its condition
and its costlier branch.  No recursion and static loop bounds make every cost
finite.

One walk gives two figures for each statement, so that the analysis and the
runtime cannot disagree on what a statement costs:

* its **straight-line** cost: every loop counted by its header only, every call
  by its own call cost only, an ``if`` by its costlier branch.  Generated code
  (:mod:`compiler.codegen.python`) charges a function's straight-line cost when
  the function is entered, and ``1 +`` a loop body's straight-line cost at each
  iteration; a callee charges itself when entered.
* its **dynamic** cost: the most that the loops' iterations and the callees can
  add to that: a loop ``bound * (1 + body)``, a call its callee's worst case, an
  ``if`` the larger of its branches'.

A function's worst-case cost is the sum of the two for its body, so whatever path
a call takes, what it is charged never exceeds its worst case.  Costs are computed
in the call graph's post-order without recursion through calls, so a chain of
hundreds of functions is as safe as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, Severity
from ..semantics.symbols import Function, StorageVar, storage_target
from ..syntax import ast

READ_COST, WRITE_COST, EVENT_COST, CALL_COST = 2, 3, 3, 2

# A world's per-transaction cost limit when its file does not set [chain] cost_limit.
DEFAULT_COST_LIMIT = 1_000_000

# (straight-line, dynamic) cost of a statement, an expression or a function body.
Cost = tuple[int, int]

# For straight-line costs alone, which never depend on a callee's cost.
_NO_CALLEES: dict = {}


def function_cost(fn: Function, memo: dict) -> int:
    """The worst-case cost of a call of ``fn``; ``memo`` (by ``id``) is shared between calls."""
    straight, dynamic = _function_costs(fn, memo)
    return straight + dynamic


def entry_cost(fn: Function) -> int:
    """What a call of ``fn`` is charged when it is entered: its body's straight-line cost."""
    return _Walker(_NO_CALLEES).block(fn.decl.body)[0]


def iteration_cost(loop: ast.For) -> int:
    """What each iteration of ``loop`` is charged: 1 and its body's straight-line cost."""
    return 1 + _Walker(_NO_CALLEES).block(loop.body)[0]


def _function_costs(fn: Function, memo: dict) -> Cost:
    """``fn``'s (straight-line, dynamic) cost, its callees' computed first (post-order, no recursion).

    A call cycle (only in a program the checker rejects) counts the call that closes it as free.
    """
    if id(fn) in memo:
        return memo[id(fn)]
    visiting: set[int] = set()
    stack: list[tuple[Function, bool]] = [(fn, False)]
    while stack:
        f, callees_done = stack.pop()
        if callees_done:
            memo[id(f)] = _Walker(memo).block(f.decl.body)
            continue
        if id(f) in memo or id(f) in visiting:
            continue
        visiting.add(id(f))
        stack.append((f, True))
        for callee in _callees(f):
            if id(callee) not in memo and id(callee) not in visiting:
                stack.append((callee, False))
    return memo[id(fn)]


def _callees(fn: Function) -> list[Function]:
    out = []
    for node in ast.walk(fn.decl.body):
        if isinstance(node, (ast.Call, ast.MethodCall)) and isinstance(node.target, Function):
            out.append(node.target)
    return out


class _Walker:
    """(straight-line, dynamic) costs of statements and expressions; callees' costs from ``memo``."""

    def __init__(self, memo: dict) -> None:
        self.memo = memo

    def block(self, block: ast.Block) -> Cost:
        straight = dynamic = 0
        for s in block.stmts:
            cs, cd = self.stmt(s)
            straight += cs
            dynamic += cd
        return straight, dynamic

    def stmt(self, s: ast.Stmt) -> Cost:
        if isinstance(s, ast.If):
            cs, cd = self.expr(s.cond)
            ts, td = self.block(s.then)
            es = ed = 0
            if isinstance(s.orelse, ast.Block):
                es, ed = self.block(s.orelse)
            elif isinstance(s.orelse, ast.If):
                es, ed = self.stmt(s.orelse)
            return 1 + cs + max(ts, es), cd + max(td, ed)
        if isinstance(s, ast.For):
            ss, sd = self.expr(s.start)
            es, ed = self.expr(s.end)
            bs, bd = self.block(s.body)
            return 1 + ss + es, sd + ed + (s.max_iterations or 0) * (1 + bs + bd)
        if isinstance(s, ast.Assign):
            ks, kd = self.keys(s.target)
            vs, vd = self.expr(s.value)
            if storage_target(s.target) is not None:
                extra = WRITE_COST + (READ_COST if s.op != "=" else 0)
            else:
                extra = 1
            return 1 + ks + extra + vs, kd + vd
        if isinstance(s, ast.Emit):
            return self.exprs(s.args, EVENT_COST)
        straight, dynamic = 1, 0
        for child in (getattr(s, "value", None), getattr(s, "cond", None), getattr(s, "expr", None)):
            if isinstance(child, ast.Expr):
                cs, cd = self.expr(child)
                straight += cs
                dynamic += cd
        return straight, dynamic

    def keys(self, target: ast.Expr) -> Cost:
        straight = dynamic = 0
        while isinstance(target, ast.Index):
            ks, kd = self.exprs(target.keys, 0)
            straight += ks
            dynamic += kd
            target = target.base
        return straight, dynamic

    def exprs(self, exprs: list[ast.Expr], base: int) -> Cost:
        straight, dynamic = base, 0
        for e in exprs:
            cs, cd = self.expr(e)
            straight += cs
            dynamic += cd
        return straight, dynamic

    def expr(self, e: ast.Expr) -> Cost:
        if isinstance(e, ast.Name):
            return (READ_COST if isinstance(e.binding, StorageVar) else 0), 0
        if isinstance(e, ast.Index):
            ks, kd = self.keys(e)
            if storage_target(e) is not None:
                return READ_COST + ks, kd
            bs, bd = self.expr(e.base)  # an array parameter
            return READ_COST + ks + bs, kd + bd
        if isinstance(e, ast.Binary):
            ls, ld = self.expr(e.left)
            rs, rd = self.expr(e.right)
            return 1 + ls + rs, ld + rd
        if isinstance(e, ast.Unary):
            os_, od = self.expr(e.operand)
            return 1 + os_, od
        if isinstance(e, ast.Call):
            if isinstance(e.target, Function):
                args_s, args_d = self.exprs(e.args, CALL_COST)
                return args_s, args_d + self.callee(e.target)
            return self.exprs(e.args, 1)
        if isinstance(e, ast.MethodCall):
            args_s, args_d = self.exprs([e.obj, *e.args], CALL_COST)
            return args_s, args_d + self.callee(e.target)
        return 0, 0  # literals, msg.*, block.*

    def callee(self, fn: Function) -> int:
        straight, dynamic = self.memo.get(id(fn), (0, 0))
        return straight + dynamic


# ------------------------------------------------------------------ the check warning

@dataclass(frozen=True)
class CostWarning:
    """A pub function whose worst case exceeds the default limit (shaped like a hot spot)."""

    function: str  # Contract.function
    diagnostic: Diagnostic


def cost_warnings(summaries) -> list[CostWarning]:
    """A warning for each pub function (of ``summaries``, by qualified name) that may cost more
    than :data:`DEFAULT_COST_LIMIT`: a call that gets there reverts with ``cost limit exceeded``."""
    out = []
    for qualname, summary in summaries.items():
        if summary.cost <= DEFAULT_COST_LIMIT:
            continue
        out.append(CostWarning(qualname, Diagnostic(
            Severity.WARNING, "cost",
            f"the worst-case cost of {qualname} is {units(summary.cost)}, more than the default limit of "
            f"{DEFAULT_COST_LIMIT:,} per transaction: a call that reaches the limit reverts with "
            f"\"cost limit exceeded\"",
            summary.function.loc,
            hint="bound its loops more tightly (for i in a..min(n, K)), or raise the limit of the world "
                 "that deploys it with [chain] cost_limit = N")))
    return out


def units(cost: int) -> str:
    """A cost for people: exact up to a trillion, then its order of magnitude (``about 8.1e77``)."""
    if cost < 10**12:
        return f"{cost:,}"
    digits = str(cost)  # not float(): a nest of huge loops can pass 1e308
    return f"about {digits[0]}.{digits[1]}e{len(digits) - 1}"
