"""Access summaries (SPEC §2.1-2.3): what every ``pub`` function may read, write and add.

The summary of a function is found by executing its body symbolically once:
locals hold symbolic values, internal calls and cross-contract calls are
inlined with their arguments substituted (in a callee, ``self`` is the
callee's address and ``msg.sender`` the caller's ``self``), and every storage
access is recorded with its symbolic address and keys.

Path conditions are the conditions of the enclosing ``if`` branches (and of
``&&``/``||`` short-circuits).  Conditions that only decide whether a
transaction goes on or reverts (``require``, an early ``revert`` or
``return``) are left out: leaving a condition out only makes the summary
larger, never unsound, and it keeps verdicts about locations rather than
about whether a call succeeds.

A value read from storage that the same transaction may already have written
is not followed (it becomes unknown, so a key built from it is a wildcard).
A loop body is executed twice: first to learn what it writes, then for real,
so a read in one iteration that sees a write of an earlier one is unknown too.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..diagnostics import Location
from ..semantics import types as T
from ..semantics.checker import CheckedProgram
from ..semantics.symbols import (Builtin, Constant, ContractInfo, Conversion, Function, Special, StorageVar,
                                 Variable, storage_target)
from ..syntax import ast
from . import symbolic as S
from .symbolic import FALSE, TRUE, Sym, op

READ, WRITE, ADD = "read", "write", "add"


@dataclass(frozen=True)
class Access:
    contract: str          # the contract type that declares the variable
    address: Sym           # the instance it lives in
    var: str
    keys: tuple[Sym, ...]
    mode: str              # read, write, add
    cond: Sym = TRUE       # the path condition under which it happens
    alias: Sym = FALSE     # for an add: when it may hit a location the call also reads or writes
    loc: Location | None = field(default=None, compare=False)   # the pub function's statement
    site: Location | None = field(default=None, compare=False)  # the statement itself (maybe in a callee)

    @property
    def kind(self) -> str:
        return S.worst(S.kind_of(self.address), *(S.kind_of(k) for k in self.keys))

    def location_text(self) -> str:
        head = self.var if isinstance(self.address, S.Self) else f"{self.address}.{self.var}"
        return head + "".join(f"[{k}]" for k in self.keys)


@dataclass
class Summary:
    function: Function
    accesses: list[Access]
    cost: int

    @property
    def qualname(self) -> str:
        return self.function.qualname


@dataclass
class _Frame:
    info: ContractInfo
    fn: Function
    self_: Sym
    sender: Sym
    env: dict[str, Sym]
    pc: Sym = TRUE
    returns: list[tuple[Sym, Sym]] = field(default_factory=list)


class _Executor:
    def __init__(self, program: CheckedProgram, written: dict[str, set[str]]) -> None:
        self.program = program
        self.written = written  # contract -> variables that a non-init function writes
        self.accesses: list[Access] = []
        self.writes: set[tuple[str, str]] = set()  # (contract, var) written so far in this call
        self.top_loc: Location | None = None
        self.depth = 0
        self.loop_ids = itertools.count(1)

    # ---------------------------------------------------------------- entry
    def summarise(self, fn: Function) -> list[Access]:
        env = {}
        for p in fn.params:
            env[p.name] = S.Param(p.name, "array" if isinstance(p.type, T.ArrayType) else str(p.type))
        frame = _Frame(fn.contract, fn, S.Self(), S.Sender(), env)
        self.block(frame, fn.decl.body)
        return classify_adds(self.accesses)

    # -------------------------------------------------------------- storage
    def record(self, frame: _Frame, var: StorageVar, keys: tuple[Sym, ...], mode: str, site: Location) -> None:
        if frame.pc == FALSE:
            return  # code that cannot run here (after an early return whose condition holds)
        self.accesses.append(Access(var.contract.name, frame.self_, var.name, keys, mode, frame.pc,
                                    loc=self.top_loc, site=site))
        if mode != READ:
            self.writes.add((var.contract.name, var.name))

    def read_value(self, frame: _Frame, var: StorageVar, keys: tuple[Sym, ...]) -> Sym:
        if (var.contract.name, var.name) in self.writes:
            return S.unknown(f"{var.name} read after a write")
        immutable = var.name not in self.written.get(var.contract.name, set())
        return S.Read(frame.self_, var.contract.name, var.name, keys, immutable)

    def storage_target(self, frame: _Frame, e: ast.Expr) -> tuple[StorageVar, tuple[Sym, ...]]:
        keys: list[ast.Expr] = []
        while isinstance(e, ast.Index):
            keys[:0] = e.keys
            e = e.base
        assert isinstance(e, ast.Name) and isinstance(e.binding, StorageVar)
        return e.binding, tuple(self.expr(frame, k) for k in keys)

    # ----------------------------------------------------------- statements
    def block(self, frame: _Frame, block: ast.Block) -> None:
        for stmt in block.stmts:
            if self.depth == 0:
                self.top_loc = stmt.loc
            getattr(self, "s_" + type(stmt).__name__)(frame, stmt)

    def s_Let(self, frame: _Frame, s: ast.Let) -> None:
        frame.env[s.name] = self.expr(frame, s.value)

    def s_Assign(self, frame: _Frame, s: ast.Assign) -> None:
        t = s.target
        if isinstance(t, ast.Name) and isinstance(t.binding, Variable):
            value = self.expr(frame, s.value)
            if s.op != "=":
                value = op(s.op[0], frame.env.get(t.id, S.unknown(t.id)), value)
            frame.env[t.id] = value
            return
        var, keys = self.storage_target(frame, t)
        if s.op in ("+=", "-="):
            self.expr(frame, s.value)
            self.record(frame, var, keys, ADD, s.loc)
        elif s.op == "=":
            self.expr(frame, s.value)
            self.record(frame, var, keys, WRITE, s.loc)
        else:
            self.record(frame, var, keys, READ, s.loc)
            self.expr(frame, s.value)
            self.record(frame, var, keys, WRITE, s.loc)

    def s_If(self, frame: _Frame, s: ast.If) -> None:
        cond = self.expr(frame, s.cond)
        pc0, env0 = frame.pc, dict(frame.env)
        frame.pc = op("&&", pc0, cond)
        self.block(frame, s.then)
        env_then = frame.env
        frame.pc, frame.env = op("&&", pc0, op("!", cond)), dict(env0)
        if isinstance(s.orelse, ast.Block):
            self.block(frame, s.orelse)
        elif isinstance(s.orelse, ast.If):
            self.s_If(frame, s.orelse)
        env_else = frame.env
        frame.pc = pc0
        frame.env = {name: op("ite", cond, env_then.get(name, value), env_else.get(name, value))
                     for name, value in env0.items()}
        # A branch that returns chooses what the rest of the function touches: after
        # `if c { return; }` the code runs only when !c.  (A branch that reverts is like a
        # require: left out, see the module's doc.)
        then_returns, else_returns = _returns(s.then), _returns(s.orelse)
        if then_returns and not else_returns:
            frame.pc, frame.env = op("&&", pc0, op("!", cond)), env_else
        elif else_returns and not then_returns:
            frame.pc, frame.env = op("&&", pc0, cond), env_then

    def s_For(self, frame: _Frame, s: ast.For) -> None:
        lo, hi = self.expr(frame, s.start), self.expr(frame, s.end)
        index = S.LoopIndex(next(self.loop_ids), s.var, lo, hi, s.max_iterations)
        assigned = _assigned_locals(s.body)
        pc0 = frame.pc
        # First pass: learn what the body writes; its accesses are recomputed below.
        mark, returns = len(self.accesses), len(frame.returns)
        self._loop_body(frame, s, index, assigned)
        del self.accesses[mark:]
        del frame.returns[returns:]
        self._loop_body(frame, s, index, assigned)
        frame.pc = pc0
        self._havoc(frame, assigned)

    def _loop_body(self, frame: _Frame, s: ast.For, index: S.LoopIndex, assigned: set[str]) -> None:
        self._havoc(frame, assigned)
        frame.env[s.var] = index
        self.block(frame, s.body)

    def _havoc(self, frame: _Frame, names: set[str]) -> None:
        for name in names:
            if name in frame.env:
                frame.env[name] = S.unknown(f"{name} changes in a loop")

    def s_Require(self, frame: _Frame, s: ast.Require) -> None:
        self.expr(frame, s.cond)

    def s_Revert(self, frame: _Frame, s: ast.Revert) -> None:
        pass

    def s_Emit(self, frame: _Frame, s: ast.Emit) -> None:
        for a in s.args:
            self.expr(frame, a)

    def s_Return(self, frame: _Frame, s: ast.Return) -> None:
        value = self.expr(frame, s.value) if s.value is not None else TRUE
        frame.returns.append((frame.pc, value))

    def s_ExprStmt(self, frame: _Frame, s: ast.ExprStmt) -> None:
        self.expr(frame, s.expr)

    # ---------------------------------------------------------- expressions
    def expr(self, frame: _Frame, e: ast.Expr) -> Sym:
        return getattr(self, "e_" + type(e).__name__)(frame, e)

    def e_IntLit(self, frame: _Frame, e: ast.IntLit) -> Sym:
        return S.Const(e.value)

    def e_BoolLit(self, frame: _Frame, e: ast.BoolLit) -> Sym:
        return S.Const(e.value)

    def e_Name(self, frame: _Frame, e: ast.Name) -> Sym:
        b = e.binding
        if isinstance(b, Variable):
            return frame.env.get(e.id) or S.unknown(e.id)
        if isinstance(b, Constant):
            return S.Const(b.value)
        if isinstance(b, StorageVar):
            self.record(frame, b, (), READ, e.loc)
            return self.read_value(frame, b, ())
        if isinstance(b, Special):
            return frame.self_
        raise AssertionError(e.id)  # pragma: no cover

    def e_Member(self, frame: _Frame, e: ast.Member) -> Sym:
        return frame.sender if e.name == "sender" else S.BlockField(e.name)

    def e_Index(self, frame: _Frame, e: ast.Index) -> Sym:
        root = e
        while isinstance(root, ast.Index):
            root = root.base
        if isinstance(root, ast.Name) and isinstance(root.binding, StorageVar):
            var, keys = self.storage_target(frame, e)
            self.record(frame, var, keys, READ, e.loc)
            return self.read_value(frame, var, keys)
        array = self.expr(frame, e.base)
        index = self.expr(frame, e.keys[0])
        if isinstance(array, S.Param):
            return S.Element(array, index)
        return S.unknown("element of an array")

    def e_Binary(self, frame: _Frame, e: ast.Binary) -> Sym:
        left = self.expr(frame, e.left)
        if e.op in ("&&", "||"):
            pc0 = frame.pc
            frame.pc = op("&&", pc0, left if e.op == "&&" else op("!", left))
            right = self.expr(frame, e.right)
            frame.pc = pc0
            return op(e.op, left, right)
        return op(e.op, left, self.expr(frame, e.right))

    def e_Unary(self, frame: _Frame, e: ast.Unary) -> Sym:
        return op("!", self.expr(frame, e.operand))

    def e_Call(self, frame: _Frame, e: ast.Call) -> Sym:
        args = [self.expr(frame, a) for a in e.args]
        target = e.target
        if isinstance(target, Builtin):
            if target.name == "len":
                return S.Length(args[0]) if isinstance(args[0], S.Param) else S.unknown("length")
            return op(target.name, *args)
        if isinstance(target, Conversion):
            if target.type is T.ADDRESS and isinstance(args[0], S.Const):
                return S.Const(args[0].value, address=True)
            return args[0]
        assert isinstance(target, Function)
        return self.inline(frame, target, frame.self_, frame.sender, args)

    def e_MethodCall(self, frame: _Frame, e: ast.MethodCall) -> Sym:
        address = self.expr(frame, e.obj)
        args = [self.expr(frame, a) for a in e.args]
        return self.inline(frame, e.target, address, frame.self_, args)

    def inline(self, caller: _Frame, fn: Function, self_: Sym, sender: Sym, args: list[Sym]) -> Sym:
        env = {p.name: a for p, a in zip(fn.params, args)}
        frame = _Frame(fn.contract, fn, self_, sender, env, pc=caller.pc)
        self.depth += 1
        try:
            self.block(frame, fn.decl.body)
        finally:
            self.depth -= 1
        if not frame.returns:
            return S.unknown(f"{fn.name} returns nothing")
        value = frame.returns[-1][1]
        for pc, v in reversed(frame.returns[:-1]):
            value = op("ite", pc, v, value)
        return value


def _returns(node: "ast.Block | ast.If | None") -> bool:
    """Whether every path through a block (or an if statement) ends in ``return``."""
    if node is None:
        return False
    if isinstance(node, ast.If):
        return _returns(node.then) and _returns(node.orelse)
    if not node.stmts:
        return False
    last = node.stmts[-1]
    return isinstance(last, ast.Return) or (isinstance(last, ast.If) and _returns(last))


def _assigned_locals(block: ast.Block) -> set[str]:
    names = set()
    for node in ast.walk(block):
        if isinstance(node, ast.Assign) and isinstance(node.target, ast.Name) and \
                isinstance(node.target.binding, Variable):
            names.add(node.target.id)
    return names


def location_equal(x: Access, y: Access) -> Sym:
    """When two accesses hit one location (they name the same variable)."""
    parts = [op("==", x.address, y.address)] + [op("==", a, b) for a, b in zip(x.keys, y.keys)]
    return op("&&", *parts)


def classify_adds(accesses: list[Access]) -> list[Access]:
    """An ``add`` stays an add only where the call does not also read or write its location (§2.3).

    Where that depends on aliasing, the add keeps the condition (``alias``) under which it
    becomes a read and a write; where it always aliases, it is replaced by a read and a write.
    """
    out: list[Access] = []
    for x in accesses:
        if x.mode != ADD:
            out.append(x)
            continue
        others = [y for y in accesses if y.mode != ADD and y.contract == x.contract and y.var == x.var]
        alias = op("||", *(op("&&", y.cond, location_equal(x, y)) for y in others))
        if alias == TRUE or any(location_equal(x, y) == TRUE and _implies(x.cond, y.cond) for y in others):
            out.append(_replace(x, mode=READ))
            out.append(_replace(x, mode=WRITE))
        else:
            out.append(_replace(x, alias=alias))
    return out


def _implies(c: Sym, d: Sym) -> bool:
    """Whether path condition ``c`` plainly implies ``d``: every conjunct of ``d`` is one of ``c``."""
    def conjuncts(s: Sym) -> list[Sym]:
        return list(s.args) if isinstance(s, S.Op) and s.op == "&&" else [] if s == TRUE else [s]
    have = set(conjuncts(c))
    return all(p in have for p in conjuncts(d))


def _replace(x: Access, **changes) -> Access:
    fields = dict(contract=x.contract, address=x.address, var=x.var, keys=x.keys, mode=x.mode,
                  cond=x.cond, alias=x.alias, loc=x.loc, site=x.site)
    fields.update(changes)
    return Access(**fields)


def written_variables(program: CheckedProgram) -> dict[str, set[str]]:
    """For each contract, the storage variables some non-init function may write (the rest are immutable)."""
    out: dict[str, set[str]] = {}
    for info in program.contracts.values():
        names = set()
        for fn in info.functions.values():
            for node in ast.walk(fn.decl.body):
                if isinstance(node, ast.Assign) and (var := storage_target(node.target)) is not None:
                    names.add(var.name)
        out[info.name] = names
    return out


def summarise(program: CheckedProgram) -> dict[str, Summary]:
    """The summary of every pub function, by qualified name, in declaration order."""
    from .cost import function_cost

    written = written_variables(program)
    costs: dict = {}
    out = {}
    for info in program.contracts.values():
        for fn in info.pub_functions:
            accesses = _Executor(program, written).summarise(fn)
            out[fn.qualname] = Summary(fn, _dedupe(accesses), function_cost(fn, costs))
    return out


def _dedupe(accesses: list[Access]) -> list[Access]:
    seen, out = set(), []
    for a in accesses:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out
