"""Static worst-case cost of a function (issue: balance parallel work by it).

The unit is one simple step: a statement or an operator costs 1, a storage read 2,
a storage write 3, an event 3, a call 2 plus the callee's cost.  A loop costs its
static bound times its body; an ``if`` the costlier branch.  No recursion means
every cost is finite.
"""

from __future__ import annotations

from ..semantics.symbols import Function, StorageVar, storage_target
from ..syntax import ast

READ_COST, WRITE_COST, EVENT_COST, CALL_COST = 2, 3, 3, 2


def function_cost(fn: Function, memo: dict) -> int:
    key = id(fn)
    if key not in memo:
        memo[key] = _block(fn.decl.body, memo)
    return memo[key]


def _block(block: ast.Block, memo: dict) -> int:
    return sum(_stmt(s, memo) for s in block.stmts)


def _stmt(s: ast.Stmt, memo: dict) -> int:
    if isinstance(s, ast.If):
        other = 0
        if isinstance(s.orelse, ast.Block):
            other = _block(s.orelse, memo)
        elif isinstance(s.orelse, ast.If):
            other = _stmt(s.orelse, memo)
        return 1 + _expr(s.cond, memo) + max(_block(s.then, memo), other)
    if isinstance(s, ast.For):
        bound = s.max_iterations or 0
        return 1 + _expr(s.start, memo) + _expr(s.end, memo) + bound * (1 + _block(s.body, memo))
    if isinstance(s, ast.Assign):
        is_storage = storage_target(s.target) is not None
        keys = _keys_cost(s.target, memo)
        extra = (WRITE_COST + (READ_COST if s.op != "=" else 0)) if is_storage else 1
        return 1 + keys + extra + _expr(s.value, memo)
    if isinstance(s, ast.Emit):
        return EVENT_COST + sum(_expr(a, memo) for a in s.args)
    cost = 1
    for child in (getattr(s, "value", None), getattr(s, "cond", None), getattr(s, "expr", None)):
        if isinstance(child, ast.Expr):
            cost += _expr(child, memo)
    return cost


def _keys_cost(target: ast.Expr, memo: dict) -> int:
    cost = 0
    while isinstance(target, ast.Index):
        cost += sum(_expr(k, memo) for k in target.keys)
        target = target.base
    return cost


def _expr(e: ast.Expr, memo: dict) -> int:
    if isinstance(e, (ast.IntLit, ast.BoolLit)):
        return 0
    if isinstance(e, ast.Name):
        return READ_COST if isinstance(e.binding, StorageVar) else 0
    if isinstance(e, ast.Index):
        return READ_COST + _keys_cost(e, memo) + (0 if _is_storage(e) else _expr(e.base, memo))
    if isinstance(e, ast.Binary):
        return 1 + _expr(e.left, memo) + _expr(e.right, memo)
    if isinstance(e, ast.Unary):
        return 1 + _expr(e.operand, memo)
    if isinstance(e, ast.Call):
        args = sum(_expr(a, memo) for a in e.args)
        if isinstance(e.target, Function):
            return CALL_COST + args + function_cost(e.target, memo)
        return 1 + args
    if isinstance(e, ast.MethodCall):
        return CALL_COST + _expr(e.obj, memo) + sum(_expr(a, memo) for a in e.args) + function_cost(e.target, memo)
    return 0


def _is_storage(e: ast.Expr) -> bool:
    return storage_target(e) is not None
