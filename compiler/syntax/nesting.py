"""Nesting limits (docs/limits.md), checked on Lark's parse tree before the AST is built.

Every phase after the parser walks the AST recursively (the checker, the
analysis, code generation) and the generated Python nests as the contract
does, so how deep a contract may nest is decided here, once, by an iterative
walk that no input can overflow.  A contract over a limit gets a ``limit`` error
where each expression, type or function first passes it, and no AST.
"""

from __future__ import annotations

from typing import NamedTuple

from lark import Tree

from ..diagnostics import Diagnostic, Location, Severity
from ..limits import MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH, MAX_LOOP_DEPTH, MAX_TYPE_DEPTH

# Rules of grammar/lane.lark whose nodes are one level of each kind.
EXPRESSIONS = frozenset({"binary", "unary", "member", "method_call", "index", "call",
                         "name", "bool_lit", "integer"})
TYPES = frozenset({"named_type", "map_type", "array_type", "tuple_type"})
# Blocks are counted at their `block` node; an `else if` at its `if_stmt`, which nests
# inside the `if` before it (in the AST and in the generated code alike).


class _Depth(NamedTuple):
    expr: int = 0
    block: int = 0
    loop: int = 0
    type: int = 0
    # The outermost node of the current expression, type and function: one error for each at most.
    expr_root: Tree | None = None
    type_root: Tree | None = None
    function: Tree | None = None


def check_nesting(tree: Tree, file: str) -> list[Diagnostic]:
    """A ``limit`` error where each expression, type or function first nests past its limit, in source order."""
    found: list[Diagnostic] = []
    reported: set[tuple[str, int]] = set()

    def too_deep(node: Tree, scope: Tree | None, what: str, message: str, hint: str) -> None:
        if (what, id(scope)) in reported:
            return
        reported.add((what, id(scope)))
        meta = node.meta
        loc = Location(file, meta.line, meta.column, meta.end_line, meta.end_column)
        found.append(Diagnostic(Severity.ERROR, "limit", message, loc, hint=hint))

    stack: list[tuple[Tree, Tree | None, _Depth]] = [(tree, None, _Depth())]
    while stack:
        node, parent, depth = stack.pop()
        kind = node.data
        if kind in ("fn_decl", "init_decl"):
            depth = depth._replace(function=node)
        if kind in EXPRESSIONS:
            depth = depth._replace(expr=depth.expr + 1, expr_root=depth.expr_root or node)
            if depth.expr > MAX_EXPR_DEPTH:
                too_deep(node, depth.expr_root, "expr",
                         f"expression nested too deeply: more than {MAX_EXPR_DEPTH} levels",
                         "compute parts of it first, into local variables (let x = ...;)")
                continue
        elif kind == "block" or (kind == "if_stmt" and parent is not None and parent.data == "if_stmt"):
            depth = depth._replace(block=depth.block + 1)
            if depth.block > MAX_BLOCK_DEPTH:
                too_deep(node, depth.function, "block",
                         f"blocks nested too deeply: more than {MAX_BLOCK_DEPTH} levels "
                         "(each 'else if' counts as one more)",
                         "move the inner part into a function of its own")
                continue
        elif kind == "for_stmt":
            depth = depth._replace(loop=depth.loop + 1)
            if depth.loop > MAX_LOOP_DEPTH:
                too_deep(node, depth.function, "loop",
                         f"loops nested too deeply: more than {MAX_LOOP_DEPTH} 'for' loops inside one another",
                         "move the inner loops into a function of its own")
                continue
        elif kind in TYPES:
            depth = depth._replace(type=depth.type + 1, type_root=depth.type_root or node)
            if depth.type > MAX_TYPE_DEPTH:
                too_deep(node, depth.type_root, "type", f"type nested too deeply: more than {MAX_TYPE_DEPTH} levels",
                         "flatten nested maps into one map with a tuple key: map<(K1, K2), V>")
                continue
        # Children pushed last first, so that they are visited, and reported, in source order.
        for child in reversed(node.children):
            if isinstance(child, Tree):
                stack.append((child, node, depth))
    return found
