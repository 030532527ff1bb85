"""What names refer to once a program is resolved.

These are the checked program's tables, shared by every phase after the
checker: code generation, access analysis and the language server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Location
from ..syntax import ast
from .types import Type


@dataclass(eq=False)
class Variable:
    """A parameter, a local (``let``) or a loop variable of one function."""

    name: str
    type: Type
    kind: str  # "param", "local", "loop"
    loc: Location

    @property
    def assignable(self) -> bool:
        return self.kind == "local"


@dataclass(eq=False)
class StorageVar:
    name: str
    type: Type
    contract: "ContractInfo"
    decl: ast.StorageDecl

    @property
    def loc(self) -> Location:
        return self.decl.name_loc


@dataclass(eq=False)
class Constant:
    name: str
    type: Type
    decl: ast.ConstDecl
    value: Any = None  # an int or a bool, once evaluated

    @property
    def loc(self) -> Location:
        return self.decl.name_loc


@dataclass(eq=False)
class Event:
    name: str
    params: list[tuple[str, Type]]
    decl: ast.EventDecl

    @property
    def loc(self) -> Location:
        return self.decl.name_loc


@dataclass(eq=False)
class Function:
    name: str
    contract: "ContractInfo"
    decl: ast.FunctionDecl
    params: list[Variable] = field(default_factory=list)
    return_type: Type | None = None  # None: returns nothing

    @property
    def is_pub(self) -> bool:
        return self.decl.is_pub

    @property
    def is_view(self) -> bool:
        return self.decl.is_view

    @property
    def is_init(self) -> bool:
        return self.decl.is_init

    @property
    def qualname(self) -> str:
        return f"{self.contract.name}.{self.name}"

    @property
    def loc(self) -> Location:
        return self.decl.name_loc

    def signature(self) -> str:
        params = ", ".join(f"{p.name}: {p.type}" for p in self.params)
        mods = ("pub " if self.is_pub else "") + ("view " if self.is_view else "")
        ret = f" -> {self.return_type}" if self.return_type is not None else ""
        head = "init" if self.is_init else f"{mods}fn {self.name}"
        return f"{head}({params}){ret}"


@dataclass(eq=False)
class ContractInfo:
    name: str
    decl: ast.ContractDecl
    file: str
    storage: dict[str, StorageVar] = field(default_factory=dict)
    constants: dict[str, Constant] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    init: Function | None = None

    @property
    def loc(self) -> Location:
        return self.decl.name_loc

    def member(self, name: str):
        for table in (self.storage, self.constants, self.events, self.functions):
            if name in table:
                return table[name]
        return None

    @property
    def pub_functions(self) -> list[Function]:
        return [f for f in self.functions.values() if f.is_pub]


@dataclass(frozen=True)
class Builtin:
    """``min``, ``max``, ``len``."""

    name: str


@dataclass(frozen=True)
class Conversion:
    """``u256(x)``, ``address(x)``, ``C(x)``: the target type."""

    type: Type


@dataclass(frozen=True)
class Special:
    """``self``, ``msg.sender``, ``block.number``, ``block.timestamp``."""

    name: str


BUILTINS = ("min", "max", "len")
# Names that are not keywords of the grammar but may not be declared either.
RESERVED = frozenset({"u256", "bool", "address", "msg", "block", "self", *BUILTINS})


def storage_target(target: ast.Expr) -> StorageVar | None:
    """The storage variable that ``x``, ``m[k]``, ``m[a][b]`` or ``m[a, b]`` names, if any."""
    while isinstance(target, ast.Index):
        target = target.base
    if isinstance(target, ast.Name) and isinstance(target.binding, StorageVar):
        return target.binding
    return None
