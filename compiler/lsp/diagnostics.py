"""Lane's diagnostics as LSP diagnostics (the third rendering, after terminal text and JSON).

A document shows the diagnostics of its own file, exactly those of ``lane
check``.  An error in a file it imports is shown at the ``import`` that brings
that file in, with the error's real place as related information; warnings of
imported files are left to those files' own documents.
"""

from __future__ import annotations

import os

from lsprotocol import types

from ..diagnostics import Diagnostic, Location, Severity
from ..semantics.loader import LoadedProgram, display_name
from ..syntax import ast
from .positions import SourceMap

SOURCE = "lane"

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}


def to_lsp(diag: Diagnostic, places: SourceMap, *, at: Location | None = None,
           message: str | None = None) -> types.Diagnostic:
    """One diagnostic, shown at its location (or at ``at``, with ``message`` instead of its own)."""
    where = at or diag.location
    start = types.Position(line=0, character=0)
    lines = [message or diag.message]
    lines += [f"note: {n.message}" for n in diag.notes if n.location is None]
    if diag.hint:
        lines.append(f"hint: {diag.hint}")
    related = [types.DiagnosticRelatedInformation(location=places.location(n.location), message=n.message)
               for n in diag.notes if n.location is not None]
    if at is not None and diag.location is not None:
        related.insert(0, types.DiagnosticRelatedInformation(location=places.location(diag.location),
                                                             message=diag.message))
    return types.Diagnostic(
        range=places.range(where) if where else types.Range(start=start, end=start),
        message="\n".join(lines),
        severity=_SEVERITY[diag.severity],
        code=diag.code,
        source=SOURCE,
        related_information=related or None,
    )


def for_document(diags: list[Diagnostic], program: LoadedProgram, places: SourceMap) -> list[types.Diagnostic]:
    """What the root file of ``program`` shows: its own diagnostics, then imported files' errors."""
    root = program.root
    gates = _imports_leading_to(program)
    out = []
    for diag in diags:
        loc = diag.location
        if loc is None or loc.file == root:
            out.append(to_lsp(diag, places))
        elif diag.is_error and loc.file in gates:
            rel = os.path.relpath(loc.file, os.path.dirname(root) or ".")
            out.append(to_lsp(diag, places, at=gates[loc.file].loc,
                              message=f"error in imported file {rel}:{loc.line}:{loc.column}: {diag.message}"))
    return out


def _imports_leading_to(program: LoadedProgram) -> dict[str, ast.ImportDecl]:
    """For every file the root imports, directly or not, the root's first import that leads to it."""
    targets: dict[str, list[str]] = {}
    for module in program.modules:
        base = os.path.dirname(module.file)
        targets[module.file] = [display_name(os.path.join(base, imp.path)) for imp in module.imports]
    root = next((m for m in program.modules if m.file == program.root), None)
    gates: dict[str, ast.ImportDecl] = {}
    if root is None:
        return gates
    for imp in root.imports:
        stack = [display_name(os.path.join(os.path.dirname(root.file), imp.path))]
        while stack:
            file = stack.pop()
            if file in gates or file == program.root:
                continue
            gates[file] = imp
            stack += targets.get(file, [])
    return gates
