"""Document symbols: a file's contracts and, inside each, its storage, constants, events and functions.

Built from the syntax tree alone, so the outline stays while the file has type
errors; types are shown as written.  A client that cannot show a tree gets the
same symbols as a flat list, each member naming its contract.
"""

from __future__ import annotations

from lsprotocol import types

from ..syntax import ast
from .positions import LineIndex

_KIND = {
    ast.StorageDecl: types.SymbolKind.Field,
    ast.ConstDecl: types.SymbolKind.Constant,
    ast.EventDecl: types.SymbolKind.Event,
}


def _params(params: list[ast.Param]) -> str:
    return "(" + ", ".join(f"{p.name}: {p.type}" for p in params) + ")"


def _detail(member: ast.Member_) -> str:
    if isinstance(member, (ast.StorageDecl, ast.ConstDecl)):
        return str(member.type)
    if isinstance(member, ast.EventDecl):
        return _params(member.params)
    mods = ("pub " if member.is_pub else "") + ("view " if member.is_view else "")
    ret = f" -> {member.return_type}" if member.return_type is not None else ""
    return f"{mods}fn{_params(member.params)}{ret}" if not member.is_init else f"init{_params(member.params)}"


def _kind(member: ast.Member_) -> types.SymbolKind:
    if isinstance(member, ast.FunctionDecl):
        return types.SymbolKind.Constructor if member.is_init else types.SymbolKind.Method
    return _KIND[type(member)]


def document_symbols(module: ast.Module, index: LineIndex) -> list[types.DocumentSymbol]:
    out = []
    for contract in module.contracts:
        children = [types.DocumentSymbol(name=member.name, detail=_detail(member), kind=_kind(member),
                                         range=index.range(member.loc), selection_range=index.range(member.name_loc))
                    for member in contract.members]
        out.append(types.DocumentSymbol(name=contract.name, detail="contract", kind=types.SymbolKind.Class,
                                        range=index.range(contract.loc),
                                        selection_range=index.range(contract.name_loc), children=children))
    return out


def flat_symbols(symbols: list[types.DocumentSymbol], uri: str) -> list[types.SymbolInformation]:
    """The tree of :func:`document_symbols` as a list, for clients without hierarchical symbols."""
    out = []
    for contract in symbols:
        out.append(types.SymbolInformation(name=contract.name, kind=contract.kind,
                                           location=types.Location(uri=uri, range=contract.range)))
        out += [types.SymbolInformation(name=member.name, kind=member.kind, container_name=contract.name,
                                        location=types.Location(uri=uri, range=member.range))
                for member in contract.children or []]
    return out
