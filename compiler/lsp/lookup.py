"""What a position in a checked file names: a declaration or a use of one, and where it is declared.

The checker has already resolved every use (each name's ``binding``, each
call's ``target``); this module only lists the spans of names in one file with
what they mean, and picks the one under the cursor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, TypeVar

from ..diagnostics import Location
from ..semantics import types as T
from ..semantics.checker import CheckedProgram
from ..semantics.loader import display_name
from ..semantics.symbols import Constant, ContractInfo, Conversion, Event, Function, Special, StorageVar, Variable
from ..syntax import ast


@dataclass(frozen=True)
class ImportTarget:
    """The file an ``import`` names."""

    path: str  # as written
    file: str  # Lane's name of the file


@dataclass(frozen=True)
class Occurrence:
    loc: Location  # the span of the name
    meaning: object  # a symbol of compiler.semantics.symbols, a Builtin, a Conversion, a Special or an ImportTarget


def occurrences(module: ast.Module, program: CheckedProgram) -> Iterator[Occurrence]:
    """Every name of ``module`` that means something, declarations included."""
    for imp in module.imports:
        yield Occurrence(imp.loc, ImportTarget(imp.path, display_name(os.path.join(os.path.dirname(module.file),
                                                                                   imp.path))))
    for decl in module.contracts:
        info = program.contracts.get(decl.name)
        if info is None or info.decl is not decl:
            continue  # a duplicate: the checker did not look inside
        yield Occurrence(decl.name_loc, info)
        for member in decl.members:
            meaning = _member(info, member)
            if meaning is not None:
                yield Occurrence(member.name_loc, meaning)
            yield from _uses(member, info, program)


def _member(info: ContractInfo, member: ast.Member_):
    if isinstance(member, ast.FunctionDecl) and member.is_init:
        return info.init if info.init is not None and info.init.decl is member else None
    found = info.member(member.name)
    return found if found is not None and found.decl is member else None


def _uses(member: ast.Member_, info: ContractInfo, program: CheckedProgram) -> Iterator[Occurrence]:
    params: dict[Location, Variable] = {}
    if isinstance(member, ast.FunctionDecl):
        fn = _member(info, member)
        params = {p.loc: p for p in fn.params} if isinstance(fn, Function) else {}
    for node in ast.walk(member):
        if isinstance(node, ast.Param) and node.name_loc in params:
            yield Occurrence(node.name_loc, params[node.name_loc])
        elif isinstance(node, (ast.Let, ast.For)) and node.binding is not None:
            yield Occurrence(node.name_loc if isinstance(node, ast.Let) else node.var_loc, node.binding)
        elif isinstance(node, ast.Name):
            meaning = node.binding if node.binding is not None else info.constants.get(node.id)  # array sizes
            if meaning is not None:
                yield Occurrence(node.loc, meaning)
        elif isinstance(node, ast.Member) and isinstance(node.obj, ast.Name) and node.obj.id in ("msg", "block") \
                and node.obj.binding is None:
            yield Occurrence(node.loc, Special(f"{node.obj.id}.{node.name}"))
        elif isinstance(node, ast.Call) and node.target is not None:
            yield Occurrence(node.func_loc, node.target)
        elif isinstance(node, ast.MethodCall) and node.target is not None:
            yield Occurrence(node.method_loc, node.target)
        elif isinstance(node, ast.Emit) and node.target is not None:
            yield Occurrence(node.event_loc, node.target)
        elif isinstance(node, ast.NamedType) and node.name in program.contracts:
            yield Occurrence(node.loc, program.contracts[node.name])


def at(module: ast.Module, program: CheckedProgram, line: int, column: int) -> Occurrence | None:
    """The innermost name at Lane's 1-based ``line`` and ``column``; touching its end counts too."""
    return innermost(occurrences(module, program), line, column)


_Spanned = TypeVar("_Spanned", bound="HasLoc")


class HasLoc(Protocol):
    @property
    def loc(self) -> Location: ...


def innermost(items: Iterable[_Spanned], line: int, column: int) -> _Spanned | None:
    """Of ``items`` (each with a ``loc``), the innermost one at ``line`` and ``column``, as :func:`at` picks."""
    best, best_key = None, None
    for occ in items:
        loc = occ.loc
        if not ((loc.line, loc.column) <= (line, column) <= (loc.end_line, loc.end_column)):
            continue
        key = ((line, column) == (loc.end_line, loc.end_column), loc.end_line - loc.line,
               loc.end_column - loc.column if loc.end_line == loc.line else 0)
        if best_key is None or key < best_key:
            best, best_key = occ, key
    return best


def declaration(meaning: object, program: CheckedProgram) -> Location | None:
    """Where what a name means is declared (an imported file: its first character)."""
    if isinstance(meaning, (ContractInfo, StorageVar, Constant, Event, Function, Variable)):
        return meaning.loc
    if isinstance(meaning, Conversion) and isinstance(meaning.type, T.ContractType):
        info = program.contracts.get(meaning.type.name)
        return info.loc if info is not None else None
    if isinstance(meaning, ImportTarget):
        return Location(meaning.file, 1, 1, 1, 1)
    return None
