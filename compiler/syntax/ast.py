"""The typed AST of Lane.

Every node carries its :class:`~compiler.diagnostics.Location`.  Expression
nodes get their type (``ty``) and names their binding from the semantic
checker; before that those fields are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..diagnostics import Location

if TYPE_CHECKING:  # pragma: no cover
    from ..semantics.types import Type


@dataclass(eq=False)
class Node:
    loc: Location


# ------------------------------------------------------------------ types


@dataclass(eq=False)
class TypeExpr(Node):
    """A type as written; ``str()`` gives it back as source text (``map<address, u256>``)."""


@dataclass(eq=False)
class NamedType(TypeExpr):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False)
class MapType(TypeExpr):
    key: TypeExpr
    value: TypeExpr

    def __str__(self) -> str:
        return f"map<{self.key}, {self.value}>"


@dataclass(eq=False)
class ArrayType(TypeExpr):
    elem: TypeExpr
    size: "Expr"  # an IntLit or a Name of a constant

    def __str__(self) -> str:
        size = self.size.text if isinstance(self.size, IntLit) else getattr(self.size, "id", "?")
        return f"array<{self.elem}, {size}>"


@dataclass(eq=False)
class TupleType(TypeExpr):
    items: list[TypeExpr]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.items)) + ")"


# ------------------------------------------------------------ expressions


@dataclass(eq=False)
class Expr(Node):
    # Filled in by the checker.
    ty: "Type | None" = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class IntLit(Expr):
    value: int
    text: str


@dataclass(eq=False)
class BoolLit(Expr):
    value: bool


@dataclass(eq=False)
class Name(Expr):
    id: str
    # What the name refers to (a Symbol of compiler.semantics.symbols); set by the checker.
    binding: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Member(Expr):
    """``obj.name`` that is not a call: ``msg.sender``, ``block.number``, ``block.timestamp``."""

    obj: Expr
    name: str
    name_loc: Location


@dataclass(eq=False)
class Index(Expr):
    base: Expr
    keys: list[Expr]


@dataclass(eq=False)
class Call(Expr):
    """``f(args)``: an internal function, a builtin (min, max, len) or a conversion."""

    func: str
    func_loc: Location
    args: list[Expr]
    # What ``func`` is (a FunctionInfo, a builtin name or a conversion target type); set by the checker.
    target: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class MethodCall(Expr):
    """``obj.method(args)``: a call to a ``pub`` function of another contract."""

    obj: Expr
    method: str
    method_loc: Location
    args: list[Expr]
    target: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Binary(Expr):
    op: str
    op_loc: Location
    left: Expr
    right: Expr


@dataclass(eq=False)
class Unary(Expr):
    op: str
    operand: Expr


# ------------------------------------------------------------- statements


@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class Block(Stmt):
    stmts: list[Stmt]


@dataclass(eq=False)
class Let(Stmt):
    name: str
    name_loc: Location
    type: TypeExpr | None
    value: Expr
    binding: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Assign(Stmt):
    target: Expr
    op: str  # "=", "+=", "-=", "*=", "/="
    op_loc: Location
    value: Expr


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: Block
    orelse: "Block | If | None"


@dataclass(eq=False)
class For(Stmt):
    var: str
    var_loc: Location
    start: Expr
    end: Expr
    body: Block
    binding: Any = field(default=None, init=False, repr=False)
    # The static bound on the number of iterations; set by the checker.
    max_iterations: int | None = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Require(Stmt):
    cond: Expr
    message: str | None


@dataclass(eq=False)
class Revert(Stmt):
    message: str | None


@dataclass(eq=False)
class Emit(Stmt):
    event: str
    event_loc: Location
    args: list[Expr]
    target: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


# ----------------------------------------------------------- declarations


@dataclass(eq=False)
class Param(Node):
    name: str
    name_loc: Location
    type: TypeExpr


@dataclass(eq=False)
class StorageDecl(Node):
    name: str
    name_loc: Location
    type: TypeExpr


@dataclass(eq=False)
class ConstDecl(Node):
    name: str
    name_loc: Location
    type: TypeExpr
    value: Expr


@dataclass(eq=False)
class EventDecl(Node):
    name: str
    name_loc: Location
    params: list[Param]


@dataclass(eq=False)
class FunctionDecl(Node):
    name: str
    name_loc: Location
    params: list[Param]
    return_type: TypeExpr | None
    body: Block
    is_pub: bool = False
    is_view: bool = False
    is_init: bool = False


Member_ = StorageDecl | ConstDecl | EventDecl | FunctionDecl


@dataclass(eq=False)
class ContractDecl(Node):
    name: str
    name_loc: Location
    members: list[Member_]

    @property
    def storage(self) -> list[StorageDecl]:
        return [m for m in self.members if isinstance(m, StorageDecl)]

    @property
    def consts(self) -> list[ConstDecl]:
        return [m for m in self.members if isinstance(m, ConstDecl)]

    @property
    def events(self) -> list[EventDecl]:
        return [m for m in self.members if isinstance(m, EventDecl)]

    @property
    def functions(self) -> list[FunctionDecl]:
        return [m for m in self.members if isinstance(m, FunctionDecl) and not m.is_init]

    @property
    def inits(self) -> list[FunctionDecl]:
        return [m for m in self.members if isinstance(m, FunctionDecl) and m.is_init]


@dataclass(eq=False)
class ImportDecl(Node):
    path: str


@dataclass(eq=False)
class Module(Node):
    """One source file: its imports and contracts in source order."""

    file: str
    imports: list[ImportDecl]
    contracts: list[ContractDecl]


def walk(node: Any):
    """Yield ``node`` and every AST node below it, depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Node):
            yield n
            # Children are the constructor's fields; the checker's annotations
            # (ty, binding, target, max_iterations) are init=False.  Skipping them
            # by name would also skip Assign.target, a real child.
            children = [getattr(n, f.name) for f in fields(n) if f.init and f.name != "loc"]
            stack.extend(reversed(children))
        elif isinstance(n, list):
            stack.extend(reversed(n))
