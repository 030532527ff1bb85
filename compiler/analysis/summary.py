"""Access summaries (SPEC §2.1-2.3): what every ``pub`` function may read, write and add.

Every function, internal or ``pub``, is summarised once, callees first (the
call graph is acyclic, SPEC §1.3), by executing its body symbolically once:
locals hold symbolic values and every storage access is recorded with its
symbolic address, keys and path condition, over the function's own
parameters, ``self`` and ``msg.sender``.  A call is not walked again: the
callee's summary is instantiated at the call site (:class:`_CallSite`) with
the caller's arguments, the callee's address for ``self`` and the caller's
``self`` for ``msg.sender`` (a cross-contract call) or the caller's own
(an internal one), the caller's path condition joined to each of the
callee's.  So the work is linear in the program, not in its unfolded calls.

Path conditions are the conditions of the enclosing ``if`` branches (and of
``&&``/``||`` short-circuits).  Conditions that only decide whether a
transaction goes on or reverts (``require``, a branch that reverts) are not
path conditions: the conflict table keeps verdicts about locations rather
than about whether a call succeeds.  Each access carries them apart, as its
*guard*: what holds whenever the transaction gets to it.  A block's
instantiation drops an access whose guard it finds false (the transaction
reverts before it; the reads that decided it stay in the summary, so the
DAG orders them as the block does).  An equality in a ``require``
(``require(seller_of[id] == msg.sender)``) is also a *fact*: on the path after
it, the value read from storage is replaced by the other side wherever it
appears, so a key built from it is as exact as that side.

Every write records the value it stores, when the analysis can say it (over
the call's arguments, sender and reads): a block's scheduler forwards it to
later transactions that read the location (compiler/schedule/forwarding.py).

A value read from storage that the same transaction may already have written
is not followed (it becomes unknown, so a key built from it is a wildcard):
within a function as it is walked, and at a call site for the callee's reads
of what the caller wrote before the call.  A loop body is walked once, with
what it writes (its calls' writes included, computed beforehand from the
syntax and the callees' summaries) counted as written already, so a read in
one iteration that may see a write of an earlier one is unknown too.

Summaries stay bounded: a value too large to follow becomes unknown
(:mod:`.symbolic`), and a function whose accesses to one variable outnumber
:data:`MAX_ACCESSES_PER_VARIABLE` (keys that multiply through calls) keeps
one wildcard access per mode for it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..diagnostics import Location
from ..limits import MAX_LOOP_DEPTH
from ..semantics import types as T
from ..semantics.checker import CheckedProgram
from ..semantics.symbols import (Builtin, Constant, Conversion, Function, Special, StorageVar, Variable,
                                 storage_target)
from ..syntax import ast
from . import symbolic as S
from .symbolic import FALSE, TRUE, Sym, op

READ, WRITE, ADD = "read", "write", "add"
# Past this many accesses to one variable, a function's summary keeps a wildcard per mode instead
# (the examples' largest has 6).
MAX_ACCESSES_PER_VARIABLE = 64


@dataclass(frozen=True)
class Access:
    contract: str          # the contract type that declares the variable
    address: Sym           # the instance it lives in
    var: str
    keys: tuple[Sym, ...]
    mode: str              # read, write, add
    cond: Sym = TRUE       # the path condition under which it happens
    alias: Sym = FALSE     # for an add: when it may hit a location the call also reads or writes
    value: Sym | None = None  # for a write: the value it stores (None: not known, or not a write)
    guard: Sym = TRUE      # what holds whenever the call gets to it (its requires so far; see the module's doc)
    loc: Location | None = field(default=None, compare=False)   # the summarised function's statement
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


# What a loop body may do to the state, known before it is walked: (storage variables it may
# write, as (contract, variable), its calls' writes included; locals it assigns).
_LoopEffects = tuple[frozenset[tuple[str, str]], set[str]]


@dataclass
class FunctionSummary:
    """What one function may do when called, over its own parameters, ``self`` and ``msg.sender``.

    The accesses are as recorded (an ``add`` is not yet classified: that needs the whole
    transaction, see :func:`classify_adds`); path conditions start from true at its entry.
    """

    function: Function
    accesses: list[Access]
    returns: list[tuple[Sym, Sym]]     # (path condition, value) of each return, in order
    writes: frozenset[tuple[str, str]]  # (contract, variable) it may write or add to, its calls' included
    exit_guard: Sym = TRUE              # what holds whenever a call of it returns (it did not revert)


@dataclass
class _Frame:
    fn: Function
    self_: Sym
    sender: Sym
    env: dict[str, Sym]
    pc: Sym = TRUE
    returns: list[tuple[Sym, Sym]] = field(default_factory=list)
    guard: Sym = TRUE                  # what holds here unless the call reverted (see the module's doc)
    facts: dict[Sym, Sym] = field(default_factory=dict)  # a read known equal to a value here; never mutated
    exits: list[Sym] = field(default_factory=list)       # the guard at each return


class Summariser:
    """The summaries of every function of a program, each computed once, callees first."""

    def __init__(self, program: CheckedProgram) -> None:
        self.program = program
        self.written = written_variables(program)  # contract -> variables that a non-init function writes
        self.functions: dict[Function, FunctionSummary] = {}
        self.statements = 0  # statements walked: each statement of each function once

    def run(self) -> dict[Function, FunctionSummary]:
        for fn in _callees_first(self.program):
            self.functions[fn] = _Executor(self, fn).summarise()
        return self.functions


def _callees_first(program: CheckedProgram) -> list[Function]:
    """Every function but ``init`` (which no one calls), each after every function it calls.

    The calls are read from the checked AST (each call's ``target``), the very functions the
    walk will meet.  A depth-first search with its own stack: a chain of calls of any length
    cannot overflow Python's.  A call back into a function still open is recursion, which the
    checker reports; it is not followed.
    """
    order: list[Function] = []
    seen: set[Function] = set()
    for info in program.contracts.values():
        for root in info.functions.values():
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(_callees(root)))]
            while stack:
                fn, callees = stack[-1]
                callee = next(callees, None)
                if callee is None:
                    stack.pop()
                    order.append(fn)
                elif callee not in seen:
                    seen.add(callee)
                    stack.append((callee, iter(_callees(callee))))
    return order


def _callees(fn: Function) -> list[Function]:
    found = (n.target for n in ast.walk(fn.decl.body) if isinstance(n, (ast.Call, ast.MethodCall)))
    return list(dict.fromkeys(t for t in found if isinstance(t, Function)))


class _Executor:
    """Walks one function's body once."""

    def __init__(self, summariser: Summariser, fn: Function) -> None:
        self.summariser = summariser
        self.fn = fn
        self.accesses: list[Access] = []
        self.writes: set[tuple[str, str]] = set()  # (contract, var) written so far in this call
        self.top_loc: Location | None = None
        self.loops = _loop_effects(fn.decl.body, summariser.functions)

    # ---------------------------------------------------------------- entry
    def summarise(self) -> FunctionSummary:
        fn = self.fn
        env: dict[str, Sym] = {}
        for p in fn.params:
            env[p.name] = S.Param(p.name, "array" if isinstance(p.type, T.ArrayType) else str(p.type))
        frame = _Frame(fn, S.Self(), S.Sender(), env)
        self.block(frame, fn.decl.body)
        if not _returns(fn.decl.body):
            frame.exits.append(frame.guard)
        accesses = [_few_loops(a) for a in _bounded(_dedupe(self.accesses, key=_alpha))]
        writes = frozenset((a.contract, a.var) for a in accesses if a.mode != READ)
        return FunctionSummary(fn, accesses, frame.returns, writes, op("||", *frame.exits))

    # -------------------------------------------------------------- storage
    def record(self, frame: _Frame, var: StorageVar, keys: tuple[Sym, ...], mode: str, site: Location,
               value: Sym | None = None) -> None:
        if frame.pc == FALSE or frame.guard == FALSE:
            return  # code that cannot run here (after an early return whose condition holds, or a revert)
        sub = self.subst(frame)
        self.accesses.append(Access(var.contract.name, sub(frame.self_), var.name, tuple(sub(k) for k in keys), mode,
                                    sub(frame.pc), value=sub(value) if value is not None else None,
                                    guard=frame.guard, loc=self.top_loc, site=site))
        if mode != READ:
            self.writes.add((var.contract.name, var.name))

    def read_value(self, frame: _Frame, var: StorageVar, keys: tuple[Sym, ...]) -> Sym:
        if (var.contract.name, var.name) in self.writes:
            return S.unknown(f"{var.name} read after a write")
        immutable = var.name not in self.summariser.written.get(var.contract.name, set())
        return self.subst(frame)(S.bounded(S.Read(frame.self_, var.contract.name, var.name, keys, immutable)))

    def subst(self, frame: _Frame):
        """The function that applies the path's facts to a value (the identity without facts)."""
        return _Substitution.of(frame.facts)

    def require(self, frame: _Frame, cond: Sym) -> None:
        """What a require of ``cond`` teaches the rest of the path: its guard and its facts."""
        cond = self.subst(frame)(cond)
        frame.guard = op("&&", frame.guard, _guardable(cond))
        learnt = {}
        for c in _conjuncts(cond):
            learnt.update(_facts_of(c))
        if learnt:
            frame.facts = {**frame.facts, **learnt}  # a new dict: a branch's facts end with it

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
            self.summariser.statements += 1
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
            value = self.expr(frame, s.value)
            self.record(frame, var, keys, WRITE, s.loc, value)
        else:
            self.record(frame, var, keys, READ, s.loc)
            old = self.read_value(frame, var, keys)
            value = op(s.op[0], old, self.expr(frame, s.value))
            self.record(frame, var, keys, WRITE, s.loc, value)

    def s_If(self, frame: _Frame, s: ast.If) -> None:
        cond = self.expr(frame, s.cond)
        pc0, env0, guard0, facts0 = frame.pc, dict(frame.env), frame.guard, frame.facts
        frame.pc = op("&&", pc0, cond)
        self.block(frame, s.then)
        env_then, guard_then, facts_then = frame.env, frame.guard, frame.facts
        frame.pc, frame.env, frame.guard, frame.facts = op("&&", pc0, op("!", cond)), dict(env0), guard0, facts0
        if isinstance(s.orelse, ast.Block):
            self.block(frame, s.orelse)
        elif isinstance(s.orelse, ast.If):
            self.s_If(frame, s.orelse)
        env_else, guard_else, facts_else = frame.env, frame.guard, frame.facts
        frame.pc, frame.facts = pc0, facts0
        frame.env = {name: op("ite", cond, env_then.get(name, value), env_else.get(name, value))
                     for name, value in env0.items()}
        # A branch that reverts is like a require: its condition guards the rest (the module's doc).
        frame.guard = _join_guards(self.subst(frame)(cond), guard_then, guard_else)
        # A branch that returns chooses what the rest of the function touches: after
        # `if c { return; }` the code runs only when !c.
        then_returns, else_returns = _returns(s.then), _returns(s.orelse)
        if then_returns and not else_returns:
            frame.pc, frame.env, frame.guard, frame.facts = op("&&", pc0, op("!", cond)), env_else, guard_else, \
                facts_else
        elif else_returns and not then_returns:
            frame.pc, frame.env, frame.guard, frame.facts = op("&&", pc0, cond), env_then, guard_then, facts_then

    def s_For(self, frame: _Frame, s: ast.For) -> None:
        lo, hi = self.expr(frame, s.start), self.expr(frame, s.end)
        index = S.loop_index(s.var, lo, hi, s.max_iterations)
        writes, assigned = self.loops[id(s)]
        # What the body writes counts as written from its start: an iteration may read what an
        # earlier one wrote.  Locals it assigns hold any value, in it and after it.
        self.writes |= writes
        pc0, guard0, facts0 = frame.pc, frame.guard, frame.facts
        self._havoc(frame, assigned)
        frame.env[s.var] = index
        self.block(frame, s.body)
        # What a require of the body taught holds in its iteration, not after a loop of no iteration.
        frame.pc, frame.guard, frame.facts = pc0, guard0, facts0
        self._havoc(frame, assigned)

    def _havoc(self, frame: _Frame, names: set[str]) -> None:
        for name in names:
            if name in frame.env:
                frame.env[name] = S.unknown(f"{name} changes in a loop")

    def s_Require(self, frame: _Frame, s: ast.Require) -> None:
        self.require(frame, self.expr(frame, s.cond))

    def s_Revert(self, frame: _Frame, s: ast.Revert) -> None:
        frame.guard = FALSE  # nothing after it runs

    def s_Emit(self, frame: _Frame, s: ast.Emit) -> None:
        for a in s.args:
            self.expr(frame, a)

    def s_Return(self, frame: _Frame, s: ast.Return) -> None:
        value = self.expr(frame, s.value) if s.value is not None else TRUE
        frame.returns.append(_leaving_loops(frame.pc, value))
        frame.exits.append(frame.guard)

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
            return S.bounded(S.Element(array, index))
        return S.unknown("element of an array")

    def e_Binary(self, frame: _Frame, e: ast.Binary) -> Sym:
        left = self.expr(frame, e.left)
        if e.op in ("&&", "||"):
            pc0, guard0, facts0 = frame.pc, frame.guard, frame.facts
            frame.pc = op("&&", pc0, left if e.op == "&&" else op("!", left))
            right = self.expr(frame, e.right)
            # A call in the right operand may not run: what it would teach does not hold after.
            frame.pc, frame.guard, frame.facts = pc0, guard0, facts0
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
        return self.call(frame, target, frame.self_, frame.sender, args)

    def e_MethodCall(self, frame: _Frame, e: ast.MethodCall) -> Sym:
        address = self.expr(frame, e.obj)
        args = [self.expr(frame, a) for a in e.args]
        return self.call(frame, e.target, address, frame.self_, args)

    def call(self, frame: _Frame, fn: Function, self_: Sym, sender: Sym, args: list[Sym]) -> Sym:
        """Instantiate the callee's summary here: its accesses join this function's, its value is returned."""
        callee = self.summariser.functions.get(fn)
        if callee is None:  # a recursive call, in a program the checker rejects
            return S.unknown(f"{fn.name} calls itself")
        if frame.guard == FALSE:
            return S.unknown(f"{fn.name} is called after a revert")
        site = _CallSite({p.name: a for p, a in zip(fn.params, args)}, self_, sender, frozenset(self.writes))
        sub = self.subst(frame)

        def here(s: Sym) -> Sym:
            return sub(site.sym(s))

        written = set()
        for a in callee.accesses:
            cond = op("&&", sub(frame.pc), here(a.cond))
            if cond == FALSE:
                continue  # cannot happen from here
            guard = op("&&", frame.guard, _guardable(here(a.guard)))
            if guard == FALSE:
                continue
            self.accesses.append(Access(a.contract, here(a.address), a.var, tuple(here(k) for k in a.keys),
                                        a.mode, cond, value=here(a.value) if a.value is not None else None,
                                        guard=guard, loc=self.top_loc, site=a.site))
            if a.mode != READ:
                written.add((a.contract, a.var))
        self.writes |= written
        frame.guard = op("&&", frame.guard, _guardable(here(callee.exit_guard)))
        if not callee.returns:
            return S.unknown(f"{fn.name} returns nothing")
        value = here(callee.returns[-1][1])
        for pc, v in reversed(callee.returns[:-1]):
            value = op("ite", op("&&", frame.pc, here(pc)), here(v), value)
        return value


class _CallSite:
    """A callee's symbolic values as one call site sees them.

    Its parameters become the arguments, ``self`` and ``msg.sender`` the call's; a value it
    read from a variable that the transaction wrote before the call becomes unknown; its
    unknowns and loop indices become fresh ones (two calls of one function do not share them;
    each loop index is renumbered after the indices it depends on, see symbolic.loop_index).
    """

    def __init__(self, args: dict[str, Sym], self_: Sym, sender: Sym, written: frozenset[tuple[str, str]]) -> None:
        self.args, self.self_, self.sender, self.written = args, self_, sender, written
        self.memo: dict[int, tuple[Sym, Sym]] = {}      # id(value) -> (value, as seen here)
        self.fresh: dict[tuple[type, int], Sym] = {}  # unknowns and loop indices by their number

    def sym(self, s: Sym) -> Sym:
        hit = self.memo.get(id(s))
        if hit is None:
            # The value is kept beside its result so that its id stays its own meanwhile.
            hit = self.memo[id(s)] = (s, self._sym(s))
        return hit[1]

    def _sym(self, s: Sym) -> Sym:
        if isinstance(s, S.Op):
            return op(s.op, *(self.sym(a) for a in s.args))
        if isinstance(s, S.Param):
            arg = self.args.get(s.name)
            return arg if arg is not None else S.unknown(s.name)  # (a call with too few arguments)
        if isinstance(s, S.Self):
            return self.self_
        if isinstance(s, S.Sender):
            return self.sender
        if isinstance(s, S.Read):
            if (s.contract, s.var) in self.written:
                return S.unknown(f"{s.var} read after a write")
            return S.bounded(S.Read(self.sym(s.address), s.contract, s.var, tuple(self.sym(k) for k in s.keys),
                                    s.immutable))
        if isinstance(s, S.Unknown):
            key: tuple[type, int] = (S.Unknown, s.id)
            if key not in self.fresh:
                self.fresh[key] = S.unknown(s.why)
            return self.fresh[key]
        if isinstance(s, S.LoopIndex):
            key = (S.LoopIndex, s.id)
            if key not in self.fresh:
                lo, hi = self.sym(s.lo), self.sym(s.hi)  # numbered first: the index depends on them
                self.fresh[key] = S.loop_index(s.name, lo, hi, s.bound)
            return self.fresh[key]
        if isinstance(s, (S.Length, S.Element)):
            # An array is a parameter, passed on as one: the callee's array is the caller's.
            array = self.sym(s.array)
            if not isinstance(array, S.Param):
                return S.unknown("element of an array")
            return S.Length(array) if isinstance(s, S.Length) else S.bounded(S.Element(array, self.sym(s.index)))
        return s  # constants, block fields


class _Substitution:
    """Replaces each read the path's facts know (``{read: value}``) wherever it appears in a value."""

    def __init__(self, facts: dict[Sym, Sym]) -> None:
        self.facts = facts
        self.memo: dict[int, tuple[Sym, Sym]] = {}  # id(value) -> (value, substituted)

    @staticmethod
    def of(facts: dict[Sym, Sym]):
        return _Substitution(facts) if facts else _same

    def __call__(self, s: Sym) -> Sym:
        hit = self.memo.get(id(s))
        if hit is None:
            hit = self.memo[id(s)] = (s, self._sub(s))
        return hit[1]

    def _sub(self, s: Sym) -> Sym:
        known = self.facts.get(s)
        if known is not None:
            return known
        out = _rebuilt(s, self)
        return self.facts.get(out, out) if isinstance(s, S.Read) and out is not s else out


def _rebuilt(s: Sym, part: Callable[[Sym], Sym]) -> Sym:
    """``s`` with ``part`` applied to its operands, address and keys, or index (``s`` itself when
    none changes; leaves and loop indices as they are)."""
    if isinstance(s, S.Op):
        args = tuple(part(a) for a in s.args)
        return s if args == s.args else op(s.op, *args)
    if isinstance(s, S.Read):
        address, keys = part(s.address), tuple(part(k) for k in s.keys)
        if address == s.address and keys == s.keys:
            return s
        return S.bounded(S.Read(address, s.contract, s.var, keys, s.immutable))
    if isinstance(s, S.Element):
        index = part(s.index)
        return s if index == s.index else S.bounded(S.Element(s.array, index))
    return s


def _same(s: Sym) -> Sym:
    return s


def _conjuncts(s: Sym) -> list[Sym]:
    if isinstance(s, S.Op) and s.op == "&&":
        return list(s.args)
    return [] if s == TRUE else [s]


def _guardable(g: Sym) -> Sym:
    """The conjuncts of ``g`` a block's instantiation can decide once per transaction: those that
    depend on no loop index (a loop's iterations are not told apart there) and on nothing unknown.
    Leaving a conjunct out only keeps more accesses."""
    if g == TRUE or g == FALSE:
        return g
    return op("&&", *(c for c in _conjuncts(g)
                      if not any(isinstance(n, (S.LoopIndex, S.Unknown)) for n in S.walk(c))))


def _leaving_loops(pc: Sym, value: Sym) -> tuple[Sym, Sym]:
    """A return's (path condition, value) as its callers see them.  A return inside a loop may name
    the loop's index: a caller enumerates it over the loop's range, which gives every round's value,
    and nothing at all for a loop of no round, though the call then returns something else.  So each
    index named is a fresh one over at least one round, ``min(lo, 2^256 - 2) .. max(hi, that + 1)``,
    and the condition says that round was a real one (``lo <= i < hi``): a loop of no round gives
    one false condition, so the caller takes the other returns.  (``lo`` is held below 2^256 - 1 so
    that ``+ 1`` cannot overflow: such an overflow would look like a revert to the instantiation.)"""
    fresh: dict[Sym, tuple[Sym, Sym]] = {}  # an index -> (the fresh one, its condition)
    memo: dict[int, tuple[Sym, Sym]] = {}

    def rebuild(s: Sym) -> Sym:
        hit = memo.get(id(s))
        if hit is None:
            hit = memo[id(s)] = (s, renamed(s) if isinstance(s, S.LoopIndex) else _rebuilt(s, rebuild))
        return hit[1]

    def renamed(s: S.LoopIndex) -> Sym:
        lo, hi = rebuild(s.lo), rebuild(s.hi)  # (an inner loop's range may name an outer index)
        start = op("min", lo, S.Const((1 << 256) - 2))
        index = S.loop_index(s.name, start, op("max", hi, op("+", start, S.Const(1))),
                             None if s.bound is None else max(s.bound, 1))
        fresh[s] = (index, op("&&", op("<=", lo, index), op("<", index, hi)))
        return index

    if not any(isinstance(n, S.LoopIndex) for part in (pc, value) for n in S.walk(part)):
        return pc, value
    pc, value = rebuild(pc), rebuild(value)
    return op("&&", *(ran for _, ran in fresh.values()), pc), value


def _join_guards(cond: Sym, then: Sym, orelse: Sym) -> Sym:
    """The guard after ``if cond`` whose branches end with guards ``then`` and ``orelse``."""
    if then == orelse:
        return then
    if then == FALSE:  # the branch reverts: a require of !cond
        return op("&&", orelse, _guardable(op("!", cond)))
    if orelse == FALSE:
        return op("&&", then, _guardable(cond))
    mine, theirs = _conjuncts(then), _conjuncts(orelse)
    common = [c for c in mine if c in set(theirs)]
    rest_then = op("&&", *(c for c in mine if c not in common))
    rest_else = op("&&", *(c for c in theirs if c not in common))
    return op("&&", *common, _guardable(op("ite", cond, rest_then, rest_else)))


def _facts_of(c: Sym) -> dict[Sym, Sym]:
    """What a required condition says a value read from storage is: ``m[k] == e`` with ``e``
    exact or immutable, ``m[k]`` (true) or ``!m[k]`` (false)."""
    if isinstance(c, S.Read) and not c.immutable:
        return {c: TRUE}
    if isinstance(c, S.Op) and c.op == "!" and isinstance(c.args[0], S.Read) and not c.args[0].immutable:
        return {c.args[0]: FALSE}
    if isinstance(c, S.Op) and c.op == "==":
        x, y = c.args
        for read, other in ((x, y), (y, x)):
            if isinstance(read, S.Read) and not read.immutable and S.kind_of(other) in (S.EXACT, S.IMMUTABLE):
                return {read: other}
    return {}


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


def _loop_effects(body: ast.Block, summaries: dict[Function, FunctionSummary]) -> dict[int, _LoopEffects]:
    """For each loop of a function body (by id): the storage variables it may write, its calls'
    writes included, and the locals it assigns.  One pass over the body, inner loops first."""
    out: dict[int, _LoopEffects] = {}

    def block(b: ast.Block) -> _LoopEffects:
        writes: set[tuple[str, str]] = set()
        assigned: set[str] = set()
        for s in b.stmts:
            exprs: list[ast.Node] = []
            blocks: list[ast.Block] = []
            if isinstance(s, ast.For):
                exprs, blocks = [s.start, s.end], [s.body]
            elif isinstance(s, ast.If):
                node: ast.Block | ast.If | None = s
                while isinstance(node, ast.If):  # an else-if chain is one statement
                    exprs.append(node.cond)
                    blocks.append(node.then)
                    node = node.orelse
                if node is not None:
                    blocks.append(node)
            else:
                exprs = [s]  # a simple statement: expressions only, no nested block
            for e in exprs:
                for n in ast.walk(e):
                    if isinstance(n, ast.Assign):
                        if (var := storage_target(n.target)) is not None:
                            writes.add((var.contract.name, var.name))
                        elif isinstance(n.target, ast.Name) and isinstance(n.target.binding, Variable):
                            assigned.add(n.target.id)
                    elif isinstance(n, (ast.Call, ast.MethodCall)) and n.target in summaries:
                        writes |= summaries[n.target].writes
            for inner in blocks:
                w, a = block(inner)
                writes |= w
                assigned |= a
                if isinstance(s, ast.For):
                    out[id(s)] = (frozenset(w), a)
        return frozenset(writes), assigned

    block(body)
    return out


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
                  cond=x.cond, alias=x.alias, value=x.value, guard=x.guard, loc=x.loc, site=x.site)
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

    functions = Summariser(program).run()
    costs: dict = {}
    out = {}
    for info in program.contracts.values():
        for fn in info.pub_functions:
            accesses = [_few_loops(a) for a in classify_adds(functions[fn].accesses)]
            out[fn.qualname] = Summary(fn, _dedupe(accesses), function_cost(fn, costs))
    return out


def _dedupe(accesses: list[Access], key=lambda a: a) -> list[Access]:
    seen, out = set(), []
    for a in accesses:
        k = key(a)
        if k not in seen:
            seen.add(k)
            out.append(a)
    return out


def _few_loops(a: Access) -> Access:
    """The access, depending on at most MAX_LOOP_DEPTH loops: past that, what depends on a loop
    index is any value (keys, address, the add's alias) and its path condition is dropped.

    An access's loops are nested when it is instantiated (schedule/compiled.py writes them as
    nested Python loops, which CPython bounds at 20); through calls, and through an add's alias
    (which names the other accesses' keys), one access could otherwise depend on many more
    loops than one function may nest.
    """
    def loops(*parts: Sym) -> set[int]:
        return {n.id for p in parts for n in S.walk(p) if isinstance(n, S.LoopIndex)}

    def any_value(s: Sym) -> Sym:
        return S.unknown("depends on too many loops") if loops(s) else s

    if a.value is not None and len(loops(a.address, *a.keys, a.cond, a.value)) > MAX_LOOP_DEPTH:
        a = _replace(a, value=None)  # a value not followed: its readers get a wildcard
    if len(loops(a.address, *a.keys, a.cond, a.alias)) <= MAX_LOOP_DEPTH:
        return a
    if len(loops(a.address, *a.keys, a.cond)) > MAX_LOOP_DEPTH:
        a = _replace(a, address=any_value(a.address), keys=tuple(any_value(k) for k in a.keys),
                     cond=TRUE if loops(a.cond) else a.cond)
    if len(loops(a.address, *a.keys, a.cond, a.alias)) > MAX_LOOP_DEPTH:
        a = _replace(a, alias=S.unknown("depends on too many loops"))  # it may alias: a read and a write
    return a


def _alpha(a: Access) -> tuple:
    """The access with its loop indices and unknowns numbered in order of appearance.

    Two call sites of one function give accesses that differ only in those (each call site makes
    them fresh); they stand for the same locations, so a function keeps one of them.  Without
    this, g(){ h(); h(); } would double h's loops at every level of such calls.
    """
    numbers: dict[tuple[type, int], tuple] = {}

    def canon(s: Sym):
        if isinstance(s, (S.LoopIndex, S.Unknown)):
            key = (type(s), s.id)
            if key not in numbers:
                if isinstance(s, S.Unknown):
                    numbers[key] = ("?", len(numbers))
                else:  # its bounds first: they may hold indices not numbered yet
                    lo, hi = canon(s.lo), canon(s.hi)
                    numbers[key] = ("i", len(numbers), lo, hi, s.bound)
            return numbers[key]
        if isinstance(s, S.Op):
            return (s.op, *(canon(x) for x in s.args))
        if isinstance(s, S.Read):
            return ("read", canon(s.address), s.contract, s.var, tuple(canon(k) for k in s.keys), s.immutable)
        if isinstance(s, S.Element):
            return ("element", s.array, canon(s.index))
        return s  # a leaf, or a length (of a parameter)

    return (a.contract, canon(a.address), a.var, tuple(canon(k) for k in a.keys), a.mode, canon(a.cond),
            canon(a.alias), canon(a.value) if a.value is not None else None, canon(a.guard))


def _bounded(accesses: list[Access]) -> list[Access]:
    """At most MAX_ACCESSES_PER_VARIABLE accesses to each variable: past it, one wildcard per mode.

    Without the cap, keys that multiply through calls (``g(x) { h(2 * x); h(2 * x + 1); }`` nested
    k deep has 2^k keys) would make summaries, and every later phase, exponential.
    """
    groups: dict[tuple[str, str], list[Access]] = {}
    for a in accesses:
        groups.setdefault((a.contract, a.var), []).append(a)
    if all(len(g) <= MAX_ACCESSES_PER_VARIABLE for g in groups.values()):
        return accesses
    out: list[Access] = []
    for a in accesses:
        group = groups[a.contract, a.var]
        if len(group) <= MAX_ACCESSES_PER_VARIABLE:
            out.append(a)
        elif a is group[0]:  # the wildcards take the place of the variable's first access
            addresses = {b.address for b in group}
            address = a.address if len(addresses) == 1 else S.unknown(f"too many instances of {a.var}")
            keys = tuple(S.unknown(f"too many keys of {a.var}") for _ in a.keys)
            for mode in dict.fromkeys(b.mode for b in group):
                out.append(Access(a.contract, address, a.var, keys, mode, TRUE, loc=a.loc, site=a.site))
    return out
