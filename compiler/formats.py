"""Output formats of ``lane compile -f NAME``: one registry, from which the help is built."""

from __future__ import annotations

import dataclasses
import json
from typing import Callable

from typing import TYPE_CHECKING

from .diagnostics import Location

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import CompilerData


def _ast_json(node):
    from .syntax import ast

    if isinstance(node, ast.Node):
        out = {"node": type(node).__name__}
        for f in dataclasses.fields(node):
            if f.name in ("ty", "binding", "target"):
                continue
            out[f.name] = _ast_json(getattr(node, f.name))
        if isinstance(node, ast.Expr) and node.ty is not None:
            out["type"] = str(node.ty)
        return out
    if isinstance(node, Location):
        return f"{node.file}:{node.line}:{node.column}-{node.end_line}:{node.end_column}"
    if isinstance(node, list):
        return [_ast_json(n) for n in node]
    return node


def _format_ast(data: "CompilerData") -> str:
    data.require_checked()
    return json.dumps([_ast_json(m) for m in data.loaded.modules], indent=2) + "\n"


def _format_abi(data: "CompilerData") -> str:
    checked = data.require_checked()
    layouts = data.compiled.layouts
    contracts = []
    for info in checked.contracts.values():
        fns = list(info.functions.values()) + ([info.init] if info.init else [])
        contracts.append({
            "contract": info.name,
            "file": info.file,
            "functions": [{
                "name": fn.name,
                "pub": fn.is_pub,
                "view": fn.is_view,
                "inputs": [{"name": p.name, "type": str(p.type)} for p in fn.params],
                "output": str(fn.return_type) if fn.return_type is not None else None,
            } for fn in fns],
            "events": [{"name": e.name, "inputs": [{"name": n, "type": str(t)} for n, t in e.params]}
                       for e in info.events.values()],
            "storage": [{"name": v.name, "type": str(v.type), "slot": layouts[info.name].index[v.name]}
                        for v in info.storage.values()],
            "constants": [{"name": c.name, "type": str(c.type),
                           "value": c.value if isinstance(c.value, bool) else str(c.value)}
                          for c in info.constants.values()],
        })
    return json.dumps(contracts, indent=2) + "\n"


def _format_python(data: "CompilerData") -> str:
    return data.compiled.source


FORMATS: dict[str, tuple[Callable[["CompilerData"], str], str]] = {
    "python": (_format_python, "the generated Python that executes the contracts"),
    "ast": (_format_ast, "the typed AST as JSON, with each expression's type"),
    "abi": (_format_abi, "functions, events, storage layout and constants as JSON"),
}


def formats_help() -> str:
    return "; ".join(f"{name}: {text}" for name, (_, text) in FORMATS.items())
