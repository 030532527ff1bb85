"""Name resolution and type checking (SPEC §1): everything decidable without running.

The checker fills in the AST (each expression's ``ty``, each name's
``binding``, each call's ``target``, each loop's ``max_iterations``) and
builds the program's tables (:mod:`compiler.semantics.symbols`).  It reports
every independent error it finds instead of stopping at the first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

from ..diagnostics import Diagnostics, Location, Note
from ..syntax import ast
from . import types as T
from .symbols import (
    BUILTINS,
    RESERVED,
    Builtin,
    Constant,
    ContractInfo,
    Conversion,
    Event,
    Function,
    Special,
    StorageVar,
    Variable,
)

U256_MAX = 2**256 - 1
ADDRESS_MAX = 2**160 - 1


class NotConstant(Exception):
    """The expression is not a compile-time constant."""


class _BadConstant(NotConstant):
    """The expression names a constant whose own error is already reported."""


class _NeedConstant(Exception):
    """A constant expression names a constant not evaluated yet: evaluate that one first, then retry."""

    def __init__(self, const: Constant) -> None:
        super().__init__(const.name)
        self.const = const


class _ConstFault(Exception):
    def __init__(self, message: str, loc: Location) -> None:
        super().__init__(message)
        self.message, self.loc = message, loc


@dataclass
class CallSite:
    caller: Function
    callee: Function
    loc: Location


@dataclass
class CheckedProgram:
    """The tables of a checked program; the AST nodes are annotated in place."""

    contracts: dict[str, ContractInfo] = field(default_factory=dict)
    internal_calls: list[CallSite] = field(default_factory=list)
    external_calls: list[CallSite] = field(default_factory=list)


def _did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'?" if close else None


class Checker:
    def __init__(self, modules: list[ast.Module], diags: Diagnostics) -> None:
        self.modules = modules
        self.diags = diags
        self.program = CheckedProgram()
        self._const_state: dict[int, str] = {}
        self._const_types: dict[int, T.Type | None] = {}  # each constant's type, checked once

    # ================================================================ driver
    def check(self) -> CheckedProgram:
        self._collect_contracts()
        for info in self.program.contracts.values():
            self._collect_members(info)
        for info in self.program.contracts.values():
            self._resolve_signatures(info)
        for info in self.program.contracts.values():
            for const in info.constants.values():
                self._evaluate_constant(info, const)
        for info in self.program.contracts.values():
            for fn in self._all_functions(info):
                _BodyChecker(self, info, fn).check()
        from .callgraph import check_call_graphs  # the graphs need every body checked

        check_call_graphs(self.program, self.diags)
        return self.program

    @staticmethod
    def _all_functions(info: ContractInfo) -> list[Function]:
        fns = list(info.functions.values())
        return fns + [info.init] if info.init else fns

    # ======================================================== declarations
    def _collect_contracts(self) -> None:
        for module in self.modules:
            for decl in module.contracts:
                if self._reserved(decl.name, decl.name_loc):
                    continue
                prev = self.program.contracts.get(decl.name)
                if prev is not None:
                    self.diags.error("duplicate-name", f"contract '{decl.name}' is already declared",
                                     decl.name_loc, notes=[Note("first declared here", prev.loc)])
                    continue
                self.program.contracts[decl.name] = ContractInfo(decl.name, decl, module.file)

    def _reserved(self, name: str, loc: Location) -> bool:
        if name in RESERVED:
            what = "a builtin function" if name in BUILTINS else "reserved"
            self.diags.error("reserved-name", f"'{name}' is {what} and cannot be declared", loc)
            return True
        return False

    def _collect_members(self, info: ContractInfo) -> None:
        seen: dict[str, Location] = {}
        for member in info.decl.members:
            if isinstance(member, ast.FunctionDecl) and member.is_init:
                if info.init is not None:
                    self.diags.error("duplicate-name", f"contract '{info.name}' has more than one init",
                                     member.name_loc, notes=[Note("first init here", info.init.loc)])
                else:
                    info.init = Function("init", info, member)
                continue
            name, loc = member.name, member.name_loc
            if self._reserved(name, loc):
                continue
            if name in seen:
                self.diags.error("duplicate-name", f"'{name}' is already declared in contract '{info.name}'",
                                 loc, notes=[Note("first declared here", seen[name])])
                continue
            if name in self.program.contracts:
                self.diags.error("duplicate-name", f"'{name}' is already the name of a contract", loc)
                continue
            seen[name] = loc
            if isinstance(member, ast.StorageDecl):
                info.storage[name] = StorageVar(name, T.VOID, info, member)
            elif isinstance(member, ast.ConstDecl):
                info.constants[name] = Constant(name, T.VOID, member)
            elif isinstance(member, ast.EventDecl):
                info.events[name] = Event(name, [], member)
            else:
                info.functions[name] = Function(name, info, member)

    # ---------------------------------------------------------------- types
    def resolve_type(self, info: ContractInfo, node: ast.TypeExpr, where: str) -> T.Type | None:
        """Resolve a type written in ``where``: storage, param, return, local, event, const."""
        ty = self._resolve_type(info, node)
        if ty is None:
            return None
        if isinstance(ty, T.MapType) and where != "storage":
            self.diags.error("map-outside-storage",
                             f"map types are only allowed for storage variables, not in {_WHERE[where]}",
                             node.loc)
            return None
        if isinstance(ty, T.ArrayType) and where != "param":
            self.diags.error("array-outside-params",
                             f"array types are only allowed for function parameters, not in {_WHERE[where]}",
                             node.loc)
            return None
        if where == "const" and not (ty in (T.U256, T.BOOL, T.ADDRESS)):
            self.diags.error("bad-const-type", f"a constant must be u256, bool or address, not {ty}", node.loc)
            return None
        return ty

    def _resolve_type(self, info: ContractInfo, node: ast.TypeExpr) -> T.Type | None:
        if isinstance(node, ast.NamedType):
            if node.name in T.PRIMITIVES:
                return T.PRIMITIVES[node.name]
            if node.name in self.program.contracts:
                return T.ContractType(node.name)
            self.diags.error("unknown-type", f"unknown type '{node.name}'", node.loc,
                             hint=_did_you_mean(node.name, [*T.PRIMITIVES, *self.program.contracts]))
            return None
        if isinstance(node, ast.TupleType):
            self.diags.error("bad-tuple", "a tuple type can only be the key of a map", node.loc)
            return None
        if isinstance(node, ast.MapType):
            key = self._resolve_key(info, node.key)
            value = self._resolve_type(info, node.value)
            if key is None or value is None:
                return None
            if isinstance(value, T.ArrayType):
                self.diags.error("array-outside-params",
                                 "array types are only allowed for function parameters, not as map values",
                                 node.value.loc)
                return None
            return T.MapType(key, value)
        if isinstance(node, ast.ArrayType):
            elem = self._resolve_type(info, node.elem)
            size = self._array_size(info, node.size)
            if elem is None or size is None:
                return None
            if not elem.is_scalar:
                self.diags.error("bad-array-element",
                                 f"array elements must be u256, bool, address or a contract, not {elem}",
                                 node.elem.loc)
                return None
            return T.ArrayType(elem, size)
        raise AssertionError(node)  # pragma: no cover

    def _resolve_key(self, info: ContractInfo, node: ast.TypeExpr) -> T.Type | None:
        if isinstance(node, ast.TupleType):
            items = [self._resolve_key(info, item) for item in node.items]
            if any(i is None for i in items):
                return None
            if any(isinstance(i, T.TupleType) for i in items):
                self.diags.error("bad-map-key", "tuple keys cannot be nested", node.loc)
                return None
            return T.TupleType(tuple(items))
        key = self._resolve_type(info, node)
        if key is None:
            return None
        if not T.is_key_type(key):
            self.diags.error("bad-map-key",
                             f"a map key must be u256, bool, address, a contract or a tuple of those, not {key}",
                             node.loc)
            return None
        return key

    def _array_size(self, info: ContractInfo, node: ast.Expr) -> int | None:
        if isinstance(node, ast.IntLit):
            value = node.value
        else:
            assert isinstance(node, ast.Name)
            const = info.constants.get(node.id)
            if const is None:
                self.diags.error("bad-array-size",
                                 f"array size must be an integer or a u256 constant; '{node.id}' is not a constant",
                                 node.loc)
                return None
            value = self._evaluate_constant(info, const)
            if not isinstance(value, int) or isinstance(value, bool) or const.type is not T.U256:
                if value is not None:
                    self.diags.error("bad-array-size", f"array size '{node.id}' is not a u256 constant", node.loc)
                return None
        if value < 1:
            self.diags.error("bad-array-size", "array size must be at least 1", node.loc)
            return None
        return value

    # ----------------------------------------------------------- signatures
    def _resolve_signatures(self, info: ContractInfo) -> None:
        for var in info.storage.values():
            var.type = self.resolve_type(info, var.decl.type, "storage") or T.VOID
        for const in info.constants.values():
            const.type = self.resolve_type(info, const.decl.type, "const") or T.VOID
        for event in info.events.values():
            event.params = self._params(info, event.decl.params, "event")
        for fn in self._all_functions(info):
            params = self._params(info, fn.decl.params, "param")
            fn.params = [Variable(n, t, "param", loc) for (n, t, loc) in params]
            if fn.decl.return_type is not None:
                fn.return_type = self.resolve_type(info, fn.decl.return_type, "return") or T.VOID

    def _params(self, info: ContractInfo, params: list[ast.Param], where: str):
        out, seen = [], {}
        for p in params:
            ty = self.resolve_type(info, p.type, where) or T.VOID
            if self._reserved(p.name, p.name_loc):
                continue
            if p.name in seen:
                self.diags.error("duplicate-name", f"parameter '{p.name}' is declared twice", p.name_loc,
                                 notes=[Note("first declared here", seen[p.name])])
                continue
            seen[p.name] = p.name_loc
            if where == "param":
                out.append((p.name, ty, p.name_loc))
                self._warn_shadow(info, p.name, p.name_loc, "parameter")
            else:
                out.append((p.name, ty))
        return out

    def _warn_shadow(self, info: ContractInfo, name: str, loc: Location, what: str) -> None:
        member = info.member(name)
        if member is not None:
            kind = {StorageVar: "storage variable", Constant: "constant", Event: "event",
                    Function: "function"}[type(member)]
            self.diags.warning("shadowing", f"{what} '{name}' shadows the {kind} '{name}'", loc,
                               notes=[Note(f"the {kind} is declared here", member.loc)])

    # ------------------------------------------------------------ constants
    def _evaluate_constant(self, info: ContractInfo, const: Constant):
        """The value of a constant (None after an error), evaluating first the constants it names.

        Those are evaluated from an explicit stack rather than by recursion, so that a chain of
        constants each defined through the next, however long, cannot overflow Python's stack.
        A constant met again while it is being evaluated is a cycle.
        """
        state = self._const_state.get(id(const))
        if state == "done":
            return const.value
        if state == "busy":
            self.diags.error("const-cycle", f"constant '{const.name}' is defined in terms of itself",
                             const.decl.name_loc)
            self._const_state[id(const)] = "done"
            return None
        pending = [const]
        while pending:
            try:
                self._evaluate_one(info, pending[-1])
            except _NeedConstant as need:
                pending.append(need.const)  # constants are those of one contract: `info` is theirs too
                continue
            pending.pop()
        return const.value

    def _evaluate_one(self, info: ContractInfo, const: Constant) -> None:
        """Check and evaluate one constant whose named constants are evaluated (else _NeedConstant)."""
        state = self._const_state.get(id(const))
        if state == "done":  # a cycle through it was reported while it waited
            return
        if state is None:
            self._const_state[id(const)] = "busy"
            self._const_types[id(const)] = _BodyChecker(self, info, None).expr(const.decl.value)
        ty = self._const_types[id(const)]
        value = None
        if ty is not None and const.type is not T.VOID:
            if ty != const.type:
                self.diags.error("type-mismatch",
                                 f"constant '{const.name}' is {const.type} but its value is {ty}",
                                 const.decl.value.loc)
            else:
                try:
                    value = self.const_value(info, const.decl.value)
                except _BadConstant:
                    pass  # reported at the constant it names
                except NotConstant:
                    self.diags.error("not-constant",
                                     f"the value of constant '{const.name}' must be a constant expression",
                                     const.decl.value.loc)
                except _ConstFault as fault:
                    self.diags.error("const-eval", fault.message, fault.loc)
        if self._const_state.get(id(const)) == "busy":
            const.value = value
            self._const_state[id(const)] = "done"

    def const_value(self, info: ContractInfo, e: ast.Expr):
        """The value of a type-checked constant expression, or NotConstant."""
        if isinstance(e, ast.IntLit):
            return e.value
        if isinstance(e, ast.BoolLit):
            return e.value
        if isinstance(e, ast.Name):
            if isinstance(e.binding, Constant):
                if id(e.binding) not in self._const_state:
                    raise _NeedConstant(e.binding)
                value = self._evaluate_constant(info, e.binding)
                if value is None:
                    raise _BadConstant
                return value
            raise NotConstant
        if isinstance(e, ast.Unary):
            return not self.const_value(info, e.operand)
        if isinstance(e, ast.Binary):
            if e.op == "&&":
                return self.const_value(info, e.left) and self.const_value(info, e.right)
            if e.op == "||":
                return self.const_value(info, e.left) or self.const_value(info, e.right)
            a, b = self.const_value(info, e.left), self.const_value(info, e.right)
            return _fold(e.op, a, b, e.loc)
        if isinstance(e, ast.Call):
            if isinstance(e.target, Builtin) and e.target.name in ("min", "max"):
                vals = [self.const_value(info, a) for a in e.args]
                return min(vals) if e.target.name == "min" else max(vals)
            if isinstance(e.target, Conversion) and e.target.type in (T.U256, T.ADDRESS):
                value = self.const_value(info, e.args[0])
                if e.target.type is T.ADDRESS and value > ADDRESS_MAX:
                    raise _ConstFault("address out of range: the value needs more than 160 bits", e.loc)
                return value
        raise NotConstant


_WHERE = {
    "storage": "storage",
    "param": "a parameter",
    "return": "a return type",
    "local": "a local variable",
    "event": "an event parameter",
    "const": "a constant",
}


def _fold(op: str, a, b, loc: Location):
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op in ("/", "%") and b == 0:
        raise _ConstFault("division by zero in a constant expression", loc)
    result = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0, "%": a % b if b else 0}[op]
    if result < 0:
        raise _ConstFault("arithmetic underflow in a constant expression", loc)
    if result > U256_MAX:
        raise _ConstFault("arithmetic overflow in a constant expression", loc)
    return result


# ====================================================================== bodies


class _BodyChecker:
    """Checks one function body (or, with ``fn`` None, a constant's initialiser)."""

    def __init__(self, checker: Checker, info: ContractInfo, fn: Function | None) -> None:
        self.c = checker
        self.diags = checker.diags
        self.info = info
        self.fn = fn
        self.scopes: list[dict[str, Variable]] = []

    # --------------------------------------------------------------- scopes
    def lookup(self, name: str) -> Variable | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, var: Variable) -> None:
        if self.c._reserved(var.name, var.loc):
            return
        prev = self.lookup(var.name)
        if prev is not None:
            self.diags.error("duplicate-name", f"'{var.name}' is already declared in this function",
                             var.loc, notes=[Note("first declared here", prev.loc)])
            return
        self.c._warn_shadow(self.info, var.name, var.loc,
                            {"local": "local variable", "loop": "loop variable"}[var.kind])
        self.scopes[-1][var.name] = var

    # ------------------------------------------------------------- function
    def check(self) -> None:
        fn = self.fn
        assert fn is not None
        self.scopes = [{p.name: p for p in fn.params}]
        falls_through = self.block(fn.decl.body)
        if falls_through and fn.return_type not in (None, T.VOID):
            self.diags.error("missing-return",
                             f"function '{fn.name}' must return a value of type {fn.return_type} on every path",
                             fn.decl.name_loc,
                             hint="end every path with 'return <value>;' or 'revert(...);'")

    def block(self, block: ast.Block) -> bool:
        """Check a block; True when control can fall off its end."""
        self.scopes.append({})
        falls, warned = True, False
        for stmt in block.stmts:
            if not falls and not warned:
                self.diags.warning("unreachable", "unreachable statement", stmt.loc)
                warned = True  # once per block
            # Unreachable statements are checked too: code generation still compiles them.
            stmt_falls = self.stmt(stmt)
            falls = falls and stmt_falls
        self.scopes.pop()
        return falls

    # ----------------------------------------------------------- statements
    def stmt(self, s: ast.Stmt) -> bool:
        method = getattr(self, "stmt_" + type(s).__name__)
        return method(s)

    def stmt_Block(self, s: ast.Block) -> bool:  # pragma: no cover - blocks only nest via if/for
        return self.block(s)

    def stmt_Let(self, s: ast.Let) -> bool:
        declared = self.c.resolve_type(self.info, s.type, "local") if s.type is not None else None
        value = self.expr(s.value)
        ty = declared
        if s.type is None:
            ty = value
            if value is not None and not value.is_scalar:
                self._value_error(s.value, value)
                ty = None
        elif declared is not None and value is not None:
            self.expect(s.value, value, declared, f"'{s.name}' is {declared}")
        var = Variable(s.name, ty or T.VOID, "local", s.name_loc)
        s.binding = var
        self.declare(var)
        return True

    def stmt_Assign(self, s: ast.Assign) -> bool:
        target_ty = self.assign_target(s.target, s)
        value_ty = self.expr(s.value)
        if target_ty is None or value_ty is None:
            return True
        if s.op != "=":
            if target_ty is not T.U256:
                self.diags.error("type-mismatch", f"'{s.op}' needs a u256 target, not {target_ty}", s.op_loc)
            else:
                self.expect(s.value, value_ty, T.U256, f"'{s.op}' needs a u256 value")
        else:
            self.expect(s.value, value_ty, target_ty, f"the target is {target_ty}")
        return True

    def assign_target(self, target: ast.Expr, s: ast.Assign) -> T.Type | None:
        if isinstance(target, ast.Name):
            ty = self.expr(target, allow_aggregate=True)
            b = target.binding
            if isinstance(b, Variable):
                if not b.assignable:
                    kind = {"param": "parameter", "loop": "loop variable"}[b.kind]
                    self.diags.error("assign-immutable", f"cannot assign to {kind} '{b.name}'", target.loc,
                                     hint="copy it into a local: let x = ...;" if b.kind == "param" else None)
                    return None
                return ty
            if isinstance(b, Constant):
                self.diags.error("assign-immutable", f"cannot assign to constant '{b.name}'", target.loc)
                return None
            if isinstance(b, StorageVar):
                if isinstance(b.type, T.MapType):
                    self.diags.error("bad-assignment", f"cannot assign to map '{b.name}' as a whole; "
                                     "assign to one of its keys", target.loc)
                    return None
                self.storage_write(b, target.loc)
                return ty
            if ty is not None:
                self.diags.error("bad-assignment", "cannot assign to this expression", target.loc)
            return None
        if isinstance(target, ast.Index):
            ty = self.expr(target, allow_aggregate=True)
            root = target
            while isinstance(root, ast.Index):
                root = root.base
            b = root.binding if isinstance(root, ast.Name) else None
            if isinstance(b, Variable) and isinstance(b.type, T.ArrayType):
                self.diags.error("assign-immutable", f"array parameter '{b.name}' is read-only", target.loc)
                return None
            if not isinstance(b, StorageVar):
                if ty is not None:
                    self.diags.error("bad-assignment", "cannot assign to this expression", target.loc)
                return None
            if ty is not None and isinstance(ty, T.MapType):
                self.diags.error("bad-assignment", f"cannot assign to a whole map of type {ty}; "
                                 "index it down to a value", target.loc)
                return None
            self.storage_write(b, target.loc)
            return ty
        self.expr(target, allow_aggregate=True)
        self.diags.error("bad-assignment", "cannot assign to this expression", target.loc,
                         hint="assign to a local variable, a storage variable or a map entry")
        return None

    def storage_write(self, var: StorageVar, loc: Location) -> None:
        fn = self.fn
        if fn is not None and fn.is_view:
            self.diags.error("view-writes", f"view function '{fn.name}' writes storage variable '{var.name}'", loc)

    def stmt_If(self, s: ast.If) -> bool:
        self.condition(s.cond, "an if condition")
        then_falls = self.block(s.then)
        if s.orelse is None:
            return True
        else_falls = self.block(s.orelse) if isinstance(s.orelse, ast.Block) else self.stmt_If(s.orelse)
        return then_falls or else_falls

    def stmt_For(self, s: ast.For) -> bool:
        start = self.expr(s.start)
        if start is not None:
            self.expect(s.start, start, T.U256, "a loop runs over u256")
        end = self.expr(s.end)
        if end is not None:
            if self.expect(s.end, end, T.U256, "a loop runs over u256"):
                s.max_iterations = self.loop_bound(s.end)
        var = Variable(s.var, T.U256, "loop", s.var_loc)
        s.binding = var
        self.scopes.append({})
        self.declare(var)
        self.block(s.body)
        self.scopes.pop()
        return True

    def loop_bound(self, end: ast.Expr) -> int | None:
        """The static bound of ``a..end`` (SPEC §1.4), or an error."""
        try:
            return self.c.const_value(self.info, end)
        except _BadConstant:
            return None  # the constant's own error is reported
        except NotConstant:
            pass
        except _ConstFault as fault:
            self.diags.error("const-eval", fault.message, fault.loc)
            return None
        if isinstance(end, ast.Call) and isinstance(end.target, Builtin):
            if end.target.name == "len":
                arg = end.args[0]
                if isinstance(arg, ast.Name) and isinstance(arg.binding, Variable) and \
                        arg.binding.kind == "param" and isinstance(arg.binding.type, T.ArrayType):
                    return arg.binding.type.size
            if end.target.name == "min":
                for arg in end.args:
                    try:
                        return self.c.const_value(self.info, arg)
                    except (NotConstant, _ConstFault):
                        continue
        self.diags.error("unbounded-loop",
                         "loop bound must be static: a constant expression, len(p) of an array parameter, "
                         "or min(e, K) with K constant", end.loc,
                         hint="cap the bound with min(e, K), e.g. for i in 0..min(n, 100)")
        return None

    def stmt_Require(self, s: ast.Require) -> bool:
        self.condition(s.cond, "require")
        return True

    def stmt_Revert(self, s: ast.Revert) -> bool:
        return False

    def stmt_Emit(self, s: ast.Emit) -> bool:
        event = self.info.events.get(s.event)
        arg_types = [self.expr(a) for a in s.args]
        if event is None:
            self.diags.error("unknown-name", f"unknown event '{s.event}'", s.event_loc,
                             hint=_did_you_mean(s.event, self.info.events))
            return True
        s.target = event
        if self.fn is not None and self.fn.is_view:
            self.diags.error("view-emits", f"view function '{self.fn.name}' emits event '{s.event}'", s.loc)
        self.check_args(f"event '{event.name}'", [t for (_, t) in event.params],
                        [n for (n, _) in event.params], s.args, arg_types, s.event_loc, s.loc)
        return True

    def stmt_Return(self, s: ast.Return) -> bool:
        fn = self.fn
        assert fn is not None
        expected = fn.return_type
        if s.value is None:
            if expected is not None:
                self.diags.error("missing-return-value",
                                 f"function '{fn.name}' must return a value of type {expected}", s.loc)
            return False
        ty = self.expr(s.value)
        if expected is None:
            what = "init" if fn.is_init else f"function '{fn.name}'"
            self.diags.error("unexpected-return-value",
                             f"{what} does not return a value; use 'return;'", s.value.loc,
                             hint=None if fn.is_init else "declare the return type with '-> type'")
        elif ty is not None and expected is not T.VOID:
            self.expect(s.value, ty, expected, f"function '{fn.name}' returns {expected}")
        return False

    def stmt_ExprStmt(self, s: ast.ExprStmt) -> bool:
        e = s.expr
        ty = self.expr(e, allow_void=True)
        if isinstance(e, (ast.Call, ast.MethodCall)) and e.target is None:
            return True  # an unknown callee is already reported
        is_call = (isinstance(e, ast.Call) and isinstance(e.target, Function)) or isinstance(e, ast.MethodCall)
        if not is_call and ty is not None:  # an expression with an error is reported once, for that error
            self.diags.error("useless-expression", "this expression does nothing; only calls can be statements",
                             e.loc)
        return True

    # ---------------------------------------------------------- expressions
    def condition(self, e: ast.Expr, what: str) -> None:
        ty = self.expr(e)
        if ty is not None:
            self.expect(e, ty, T.BOOL, f"{what} must be bool")

    def expect(self, e: ast.Expr, actual: T.Type, expected: T.Type, why: str) -> bool:
        if actual == expected:
            return True
        hint = None
        if expected is T.ADDRESS and isinstance(actual, T.ContractType):
            hint = "convert it with address(...)"
        elif isinstance(expected, T.ContractType) and actual is T.ADDRESS:
            hint = f"convert it with {expected.name}(...)"
        elif expected is T.U256 and actual is T.ADDRESS:
            hint = "convert it with u256(...)"
        elif expected is T.ADDRESS and actual is T.U256:
            hint = "convert it with address(...)"
        self.diags.error("type-mismatch", f"expected {expected}, found {actual}: {why}", e.loc, hint=hint)
        return False

    def _value_error(self, e: ast.Expr, ty: T.Type) -> None:
        if isinstance(ty, T.MapType):
            self.diags.error("map-as-value", f"a map ({ty}) can only be indexed, not used as a value", e.loc)
        elif isinstance(ty, T.ArrayType):
            self.diags.error("array-as-value",
                             f"an array ({ty}) can only be indexed, measured with len() or passed to a function",
                             e.loc)
        elif ty is T.VOID:
            self.diags.error("void-value", "this call returns nothing; it cannot be used as a value", e.loc)

    def expr(self, e: ast.Expr, allow_aggregate: bool = False, allow_void: bool = False) -> T.Type | None:
        """Type-check ``e``; None when an error was already reported."""
        method = getattr(self, "expr_" + type(e).__name__)
        ty = method(e)
        e.ty = ty
        if ty is None:
            return None
        if (isinstance(ty, (T.MapType, T.ArrayType)) and not allow_aggregate) or (ty is T.VOID and not allow_void):
            self._value_error(e, ty)
            return None
        return ty

    def expr_IntLit(self, e: ast.IntLit) -> T.Type:
        return T.U256

    def expr_BoolLit(self, e: ast.BoolLit) -> T.Type:
        return T.BOOL

    def expr_Name(self, e: ast.Name) -> T.Type | None:
        var = self.lookup(e.id)
        if var is not None:
            e.binding = var
            return var.type if var.type is not T.VOID else None
        info = self.info
        const = info.constants.get(e.id)
        if const is not None:
            e.binding = const
            return const.type if const.type is not T.VOID else None
        var = info.storage.get(e.id)
        if var is not None:
            if self.fn is None:
                self.diags.error("not-constant", f"storage variable '{e.id}' cannot be used in a constant",
                                 e.loc)
                return None
            e.binding = var
            return var.type if var.type is not T.VOID else None
        if e.id == "self":
            e.binding = Special("self")
            if self.fn is None:
                self.diags.error("not-constant", "'self' cannot be used in a constant", e.loc)
                return None
            return T.ADDRESS
        if e.id in info.functions:
            self.diags.error("bad-name-use", f"function '{e.id}' must be called: {e.id}(...)", e.loc)
        elif e.id in info.events:
            self.diags.error("bad-name-use", f"event '{e.id}' can only be emitted: emit {e.id}(...);", e.loc)
        elif e.id in self.c.program.contracts or e.id in T.PRIMITIVES:
            self.diags.error("bad-name-use", f"'{e.id}' is a type, not a value", e.loc,
                             hint=f"convert a value with {e.id}(...)")
        elif e.id in ("msg", "block"):
            member = "sender" if e.id == "msg" else "number"
            self.diags.error("bad-name-use", f"'{e.id}' is not a value; use {e.id}.{member}", e.loc)
        elif e.id in BUILTINS:
            self.diags.error("bad-name-use", f"builtin '{e.id}' must be called: {e.id}(...)", e.loc)
        else:
            scope_names = [n for s in self.scopes for n in s]
            self.diags.error("unknown-name", f"unknown name '{e.id}'", e.loc,
                             hint=_did_you_mean(e.id, [*scope_names, *info.constants, *info.storage]))
        return None

    def expr_Member(self, e: ast.Member) -> T.Type | None:
        obj = e.obj
        if isinstance(obj, ast.Name) and obj.id in ("msg", "block") and self.lookup(obj.id) is None:
            members = {"msg": {"sender": T.ADDRESS},
                       "block": {"number": T.U256, "timestamp": T.U256}}[obj.id]
            if e.name not in members:
                names = " and ".join(f"{obj.id}.{m}" for m in members)
                self.diags.error("unknown-name", f"'{obj.id}' has no member '{e.name}'; Lane has {names}",
                                 e.name_loc)
                return None
            if self.fn is None:
                self.diags.error("not-constant", f"'{obj.id}.{e.name}' cannot be used in a constant", e.loc)
                return None
            e.ty = members[e.name]
            return members[e.name]
        ty = self.expr(obj)
        if ty is None:
            return None
        if isinstance(ty, T.ContractType):
            self.diags.error("bad-member", f"cannot read '{e.name}' of contract {ty.name}: another contract's "
                             "storage is reached only through its pub functions", e.name_loc)
        else:
            self.diags.error("bad-member", f"a value of type {ty} has no member '{e.name}'", e.name_loc)
        return None

    def expr_Index(self, e: ast.Index) -> T.Type | None:
        base = self.expr(e.base, allow_aggregate=True)
        keys = [self.expr(k) for k in e.keys]
        if base is None:
            return None
        if isinstance(base, T.MapType):
            if len(e.keys) != base.key_arity:
                self.diags.error("wrong-arity",
                                 f"map {base} takes {base.key_arity} key{'s' if base.key_arity > 1 else ''}, "
                                 f"found {len(e.keys)}", e.loc)
                return base.value
            for k, kt, want in zip(e.keys, keys, base.key_types):
                if kt is not None:
                    self.expect(k, kt, want, f"the map's key is {want}")
            return base.value
        if isinstance(base, T.ArrayType):
            if len(e.keys) != 1:
                self.diags.error("wrong-arity", f"an array takes one index, found {len(e.keys)}", e.loc)
            elif keys[0] is not None:
                self.expect(e.keys[0], keys[0], T.U256, "an array index is u256")
            return base.elem
        self.diags.error("not-indexable", f"cannot index a value of type {base}", e.base.loc)
        return None

    def expr_Binary(self, e: ast.Binary) -> T.Type | None:
        left = self.expr(e.left)
        right = self.expr(e.right)
        if left is None or right is None:
            return None
        op = e.op
        if op in ("&&", "||"):
            ok = self.expect(e.left, left, T.BOOL, f"'{op}' needs bool operands")
            ok = self.expect(e.right, right, T.BOOL, f"'{op}' needs bool operands") and ok
            return T.BOOL if ok else None
        if op in ("==", "!="):
            if left != right:
                self.diags.error("type-mismatch", f"cannot compare {left} with {right}", e.op_loc,
                                 hint="both sides of '==' must have the same type; convert one of them")
                return None
            return T.BOOL
        ok = self.expect(e.left, left, T.U256, f"'{op}' needs u256 operands")
        ok = self.expect(e.right, right, T.U256, f"'{op}' needs u256 operands") and ok
        if not ok:
            return None
        return T.BOOL if op in ("<", "<=", ">", ">=") else T.U256

    def expr_Unary(self, e: ast.Unary) -> T.Type | None:
        ty = self.expr(e.operand)
        if ty is None:
            return None
        return T.BOOL if self.expect(e.operand, ty, T.BOOL, "'!' needs a bool") else None

    # ----------------------------------------------------------------- calls
    def expr_Call(self, e: ast.Call) -> T.Type | None:
        name = e.func
        if name in BUILTINS:
            return self.builtin(e)
        if name in T.PRIMITIVES or name in self.c.program.contracts:
            return self.conversion(e)
        fn = self.info.functions.get(name)
        arg_types = [self.expr(a, allow_aggregate=True) for a in e.args]
        if fn is None:
            if name == "init":
                self.diags.error("bad-call", "init runs once at deployment and cannot be called", e.func_loc)
            elif self.lookup(name) is not None or name in self.info.storage or name in self.info.constants:
                self.diags.error("bad-call", f"'{name}' is not a function", e.func_loc)
            elif name in self.info.events:
                self.diags.error("bad-call", f"'{name}' is an event; emit it with: emit {name}(...);", e.func_loc)
            else:
                self.diags.error("unknown-name", f"unknown function '{name}'", e.func_loc,
                                 hint=_did_you_mean(name, [*self.info.functions, *BUILTINS]))
            return None
        e.target = fn
        caller = self.fn
        if caller is None:
            self.diags.error("not-constant", "a function call cannot be used in a constant", e.loc)
            return None
        if caller.is_view and not fn.is_view:
            self.diags.error("view-calls", f"view function '{caller.name}' calls non-view function '{name}'",
                             e.func_loc, hint=f"declare '{name}' as view if it does not write or emit")
        self.c.program.internal_calls.append(CallSite(caller, fn, e.func_loc))
        self.check_args(f"function '{name}'", [p.type for p in fn.params], [p.name for p in fn.params],
                        e.args, arg_types, e.func_loc, e.loc)
        return fn.return_type if fn.return_type is not None else T.VOID

    def expr_MethodCall(self, e: ast.MethodCall) -> T.Type | None:
        obj = self.expr(e.obj)
        arg_types = [self.expr(a, allow_aggregate=True) for a in e.args]
        if obj is None:
            return None
        if not isinstance(obj, T.ContractType):
            hint = "convert an address to a contract with C(addr) first" if obj is T.ADDRESS else None
            self.diags.error("bad-call", f"cannot call '{e.method}' on a value of type {obj}", e.method_loc,
                             hint=hint)
            return None
        callee_info = self.c.program.contracts[obj.name]
        fn = callee_info.functions.get(e.method)
        if fn is None:
            self.diags.error("unknown-name", f"contract '{obj.name}' has no function '{e.method}'", e.method_loc,
                             hint=_did_you_mean(e.method, [f.name for f in callee_info.pub_functions]))
            return None
        e.target = fn
        if not fn.is_pub:
            self.diags.error("not-pub", f"function '{obj.name}.{e.method}' is not pub; another contract can "
                             "call only pub functions", e.method_loc, notes=[Note("declared here", fn.loc)])
        caller = self.fn
        if caller is not None:
            if caller.is_view and not fn.is_view:
                self.diags.error("view-calls",
                                 f"view function '{caller.name}' calls non-view function '{obj.name}.{e.method}'",
                                 e.method_loc)
            self.c.program.external_calls.append(CallSite(caller, fn, e.method_loc))
        self.check_args(f"function '{obj.name}.{e.method}'", [p.type for p in fn.params],
                        [p.name for p in fn.params], e.args, arg_types, e.method_loc, e.loc)
        return fn.return_type if fn.return_type is not None else T.VOID

    def check_args(self, what: str, want: list[T.Type], names: list[str], args: list[ast.Expr],
                   got: list[T.Type | None], name_loc: Location, call_loc: Location) -> None:
        if len(args) != len(want):
            s = "" if len(want) == 1 else "s"
            self.diags.error("wrong-arity", f"{what} takes {len(want)} argument{s}, found {len(args)}", call_loc)
            return
        for arg, actual, expected, pname in zip(args, got, want, names):
            if actual is None or expected is T.VOID:
                continue
            if isinstance(actual, T.MapType):
                self._value_error(arg, actual)
                continue
            self.expect(arg, actual, expected, f"parameter '{pname}' of {what} is {expected}")

    def builtin(self, e: ast.Call) -> T.Type | None:
        name = e.func
        e.target = Builtin(name)
        if name == "len":
            if len(e.args) != 1:
                self.diags.error("wrong-arity", f"len takes 1 argument, found {len(e.args)}", e.loc)
                return None
            ty = self.expr(e.args[0], allow_aggregate=True)
            if ty is not None and not isinstance(ty, T.ArrayType):
                self.diags.error("type-mismatch", f"len needs an array, found {ty}", e.args[0].loc)
                return None
            return T.U256 if ty is not None else None
        if len(e.args) != 2:
            self.diags.error("wrong-arity", f"{name} takes 2 arguments, found {len(e.args)}", e.loc)
            for a in e.args:
                self.expr(a)
            return None
        ok = True
        for a in e.args:
            ty = self.expr(a)
            ok = ty is not None and self.expect(a, ty, T.U256, f"{name} needs u256 arguments") and ok
        return T.U256 if ok else None

    def conversion(self, e: ast.Call) -> T.Type | None:
        name = e.func
        target = T.PRIMITIVES.get(name) or T.ContractType(name)
        e.target = Conversion(target)
        if len(e.args) != 1:
            self.diags.error("wrong-arity", f"conversion {name}(...) takes 1 argument, found {len(e.args)}", e.loc)
            for a in e.args:
                self.expr(a)
            return None
        arg = e.args[0]
        ty = self.expr(arg)
        if target is T.ADDRESS and isinstance(arg, ast.IntLit):
            digits = arg.text[2:].replace("_", "") if arg.text[:2].lower() == "0x" else None
            if digits is not None and len(digits) > 40:
                self.diags.error("bad-address", f"address literal has {len(digits)} hex digits; at most 40 allowed",
                                 arg.loc)
                return None
            if arg.value > ADDRESS_MAX:
                self.diags.error("bad-address", "address literal out of range: it needs more than 160 bits", arg.loc)
                return None
        if ty is None:
            return None
        allowed = {
            T.U256: (T.U256, T.ADDRESS),
            T.ADDRESS: (T.ADDRESS, T.U256),
            T.BOOL: (T.BOOL,),
        }.get(target, (T.ADDRESS,))
        if ty in allowed or (target is T.ADDRESS and isinstance(ty, T.ContractType)) or ty == target:
            return target
        sources = " or ".join(str(t) for t in allowed) + (" or a contract" if target is T.ADDRESS else "")
        self.diags.error("bad-conversion", f"cannot convert {ty} to {target}; {name}(...) takes {sources}",
                         arg.loc, hint="convert to address first: address(...)"
                         if isinstance(target, T.ContractType) and isinstance(ty, T.ContractType) else None)
        return None


def check(modules: list[ast.Module], diags: Diagnostics) -> CheckedProgram:
    return Checker(modules, diags).check()
