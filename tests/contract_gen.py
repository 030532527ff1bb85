"""Hypothesis strategies for random, well-typed Lane programs, their worlds and their blocks.

Used by tests/test_random_contracts.py to test the access analysis and the
parallel executor differentially on contracts nobody wrote by hand.

A program (:func:`programs`) has one to three contracts, a chain of callers:
``Alpha`` alone, or ``Alpha`` calling ``Beta``, or ``Alpha`` calling ``Beta``
calling ``Gamma`` (the leaf).  A caller keeps a reference to its callee in
storage (set by its ``init``) and calls the callee's ``pub`` functions through
it, as a statement or inside an expression, so its summaries fold in
cross-contract accesses made with ``msg.sender`` = its instance (through two
calls from Alpha in a chain of three).  Below, "Beta" is any caller's callee.

Covered (all inside the subset the checker accepts, which is the reference):

- storage of 2-5 variables among ``u256``, ``bool``, ``map<address, u256>``,
  ``map<u256, u256>``, ``map<address, map<address, u256>>``,
  ``map<u256, address>``, ``map<address, bool>``, the tuple key
  ``map<(address, u256), u256>`` and, in a caller, ``map<Beta, u256>``; some of
  them written only by ``init`` (so their keys are *immutable* in the
  analysis' sense);
- 1-2 events per contract with ``u256``/``address``/``bool`` fields;
- 2-5 ``pub fn`` (some ``view``, some returning ``u256``, ``address`` or
  ``bool``) with 0-3 ``u256``/``address``/``bool`` parameters and 1-6
  statements each: ``let`` (typed or inferred), assignment and ``+= -= *= /=``
  to storage and to locals, ``if``/``else if``/``else``,
  ``for i in a..K`` and ``for i in a..min(p, K)`` (empty ones too), ``require``
  with and without a message, ``revert``, ``emit``, early and final ``return``,
  calls as statements;
- 0-2 internal (non-``pub``) helpers a contract, each calling only earlier
  ones (acyclic), called from ``pub`` functions as statements or values;
- expressions: parameters, locals, loop indices, ``msg.sender``, ``self``,
  ``block.number``, small literals and 2^256-1, ``address(0x..)`` literals equal
  to the world's named accounts, ``address(n)``/``u256(a)`` conversions,
  storage reads keyed by any of these and by *other storage reads* (dynamic
  keys, ``m[owner[id]]``), ``+ - * / %`` (overflow, underflow and division by
  zero happen and revert), ``min``/``max``, comparisons, ``== !=`` on
  addresses, ``! && ||``, helper and cross-contract calls returning a value
  (also on the right of compound updates).

A caller also keeps ``others: map<u256, Beta>`` (``others[1]`` set by ``init``, other
keys by its functions now and then) and calls Beta through any reference: ``other``,
``others[k]`` (an instance read per call; address zero, a call that reverts, where
nothing was set), a ``Beta`` parameter (Alpha's: a transaction passes an instance of
any contract, or an address where none lives), a ``Beta`` local (``let t = other;
if .. { t = others[k]; }``: a choice of instance) or ``Beta(address)``.

Alpha's pub functions may take ``array<u256, 4>`` and ``array<address, 3>`` parameters
(``len(a)``, ``a[i]`` as values and keys, ``for i in 0..len(a)``; transactions pass up to
``N`` elements, one more now and then).

Also: 0-2 ``u256`` constants a contract, ``block.timestamp``, ``bool`` parameters
and locals read back.

A callee may return a reference to its own callee, through which Alpha calls it
(``other.g0().k1(..)``: Alpha calls Gamma at an address Beta chose).

In a chain of three, Alpha may also keep a reference to Gamma (``third``, set by
``init``) and call Gamma's functions directly, beside those it reaches through Beta:
one contract holding references to two.

Beta's pub functions may take a ``Gamma`` parameter and call through it: Alpha passes
``third``, a Gamma a function of Beta returns, or ``Gamma(address)``; a transaction
an instance of any contract, or an address where none lives.

Half the programs of several contracts are split into files, a contract a file
(``c.lane`` Alpha's, ``beta.lane``, ``gamma.lane``), each importing the files of the
contracts it names (Alpha's both Beta's and Gamma's when it holds a Gamma: a file
imported twice); a world deploys each contract from its file.

Left out: chains of more than three contracts (a contract calling itself
is a cycle the checker refuses), string messages beyond a fixed few.

A world (:func:`world_text`) deploys one or two instances of each contract;
blocks (:func:`blocks`) call random functions of them with arguments from small
pools (keys 0-5, a few named senders and the instances) so that transactions
collide often, plus a few huge amounts and invalid calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from hypothesis import strategies as st

MAX = 2**256 - 1

# Named accounts with fixed addresses: a contract's ``address(0xa11ce)`` literal is alice.
ACCOUNTS = {
    "alice": "0x00000000000000000000000000000000000a11ce",
    "bob": "0x0000000000000000000000000000000000000b0b",
    "carol": "0x000000000000000000000000000000000000ca01",
}
ADDRESS_LITERALS = ["address(0)", "address(0xa11ce)", "address(0xb0b)", "address(0xca01)", "address(7)"]
SENDERS = ["alice", "bob", "carol", "dave"]

# Storage kinds: the declared type, and what one read or write of it needs as keys.
STORAGE_TYPES = {
    "u256": "u256",
    "bool": "bool",
    "map_au": "map<address, u256>",
    "map_uu": "map<u256, u256>",
    "map_aau": "map<address, map<address, u256>>",
    "map_ua": "map<u256, address>",
    "map_ab": "map<address, bool>",
    "map_tu": "map<(address, u256), u256>",
    "map_bu": "map<Beta, u256>",  # (a caller's only: keyed by a reference to its callee)
}
KEYS = {"u256": [], "bool": [], "map_au": ["address"], "map_uu": ["u256"], "map_aau": ["address", "address"],
        "map_ua": ["u256"], "map_ab": ["address"], "map_tu": ["address", "u256"], "map_bu": ["beta"]}
VALUE = {"u256": "u256", "bool": "bool", "map_au": "u256", "map_uu": "u256", "map_aau": "u256",
         "map_ua": "address", "map_ab": "bool", "map_tu": "u256", "map_bu": "u256"}
MAPS_U256 = ["map_au", "map_uu", "map_aau", "map_tu", "map_bu"]  # the maps of u256 values
MESSAGES = ['"no"', '"too low"', '"denied"']
# Array parameter types -> their element type.
ARRAYS = {"array<u256, 4>": "u256", "array<address, 3>": "address"}

# Internal (non-pub) helper functions, 0-2 a contract, called from pub functions and later helpers.
HELPERS = True



# ---------------------------------------------------------------------------- the program's shape

@dataclass
class Fn:
    """A pub function's signature (its body is drawn once every signature is known)."""

    name: str
    params: list[tuple[str, str]]
    ret: str | None
    view: bool
    body: str = ""
    pub: bool = True


@dataclass
class Contract:
    name: str
    storage: list[tuple[str, str]]                      # (name, kind)
    events: list[tuple[str, list[str]]]                 # (name, field types)
    fns: list[Fn]
    init_only: set[str] = field(default_factory=set)    # storage written by init alone
    callee: Contract | None = None                    # the contract it calls, reached through storage ``other``
    direct: Contract | None = None                    # its callee's callee, called directly too (``third``)
    init: str = ""
    helpers: list[Fn] = field(default_factory=list)     # internal functions, each calling only earlier ones
    consts: list[tuple[str, int]] = field(default_factory=list)  # (name, value) of its u256 constants

    def text(self) -> str:
        lines = [f"contract {self.name} {{"]
        for name, kind in self.storage:
            declared = STORAGE_TYPES[kind]
            if kind == "map_bu":
                declared = declared.replace("Beta", self.callee.name)
            lines.append(f"    storage {name}: {declared};")
        if self.callee is not None:
            lines.append(f"    storage other: {self.callee.name};")
            lines.append(f"    storage others: map<u256, {self.callee.name}>;")
        if self.direct is not None:
            lines.append(f"    storage third: {self.direct.name};")
        for name, value in self.consts:
            lines.append(f"    const {name}: u256 = {value};")
        for name, types in self.events:
            fields = ", ".join(f"f{i}: {t}" for i, t in enumerate(types))
            lines.append(f"    event {name}({fields});")
        if self.init:
            lines.append(self.init)
        for fn in [*self.helpers, *self.fns]:
            lines.append(fn.body)
        lines.append("}")
        return "\n".join(lines)


@dataclass
class Program:
    contracts: list[Contract]   # callee first
    split: bool = False         # each contract in a file of its own, importing those of the contracts it names

    @property
    def source(self) -> str:
        """The program as the files hold it (each file's name on a comment line before it when split)."""
        files = self.files
        if len(files) == 1:
            return files[MAIN]
        return "\n".join(f"// --- {name}\n{text}" for name, text in files.items())

    @cached_property
    def files(self) -> dict[str, str]:
        """File name -> text: ``c.lane`` (:data:`MAIN`, Alpha's) and, when split, one file per other
        contract, imported by the files of the contracts that name it (Alpha's imports Gamma's too when it
        holds a Gamma: a file imported twice).  Made once: a program is not changed once drawn."""
        if not self.split or len(self.contracts) == 1:
            return {MAIN: "\n\n".join(c.text() for c in self.contracts) + "\n"}
        out: dict[str, str] = {}
        for c in self.contracts:
            named = [d for d in (c.callee, c.direct) if d is not None]
            imports = "".join(f'import "{file_of(d)}";\n' for d in named)
            out[file_of(c)] = imports + ("\n" if imports else "") + c.text() + "\n"
        return {MAIN: out.pop(MAIN), **out}

    def write(self, root) -> None:
        """The program's files (:attr:`files`) under the directory ``root``."""
        for name, text in self.files.items():
            (root / name).write_text(text, encoding="utf-8")

    @property
    def caller(self) -> Contract:
        return self.contracts[-1]


MAIN = "c.lane"  # the file a world's analysis starts from: Alpha's


def file_of(contract: Contract) -> str:
    """The file a contract of a split program lives in."""
    return MAIN if contract.name == "Alpha" else f"{contract.name.lower()}.lane"


# ---------------------------------------------------------------------------- function bodies

class Body:
    """Draws the statements and expressions of one function body, keeping the names in scope."""

    def __init__(self, draw, contract: Contract, fn: Fn | None, fresh: list[int]) -> None:
        self.draw, self.c, self.fn = draw, contract, fn
        self.view = fn.view if fn else False
        self.scopes: list[list[tuple[str, str, bool]]] = [[(p, t, False) for p, t in (fn.params if fn else [])]]
        self.fresh = fresh  # a counter shared by the contract: local names never repeat (no shadowing)

    # ------------------------------------------------------------ names
    def new_name(self, prefix: str) -> str:
        self.fresh[0] += 1
        return f"{prefix}{self.fresh[0]}"

    def names(self, ty: str, mutable: bool = False) -> list[str]:
        return [n for scope in self.scopes for n, t, m in scope if t == ty and (m or not mutable)]

    def instance(self, depth: int) -> str:
        """A reference to a Beta: ``other``, ``others[k]`` (set by ``init`` at key 1, by functions
        elsewhere), a parameter or local of type Beta, or ``Beta(address)`` (a conversion: a call through
        it reverts unless a Beta lives there)."""
        ty = self.c.callee.name
        kind = self.choose([(3, "other"), (2, "others"), (3 if self.names(ty) else 0, "name"),
                            (1 if depth > 0 else 0, "conv")])
        if kind == "other":
            return "other"
        if kind == "others":
            return f"others[{self.u256(max(depth - 1, 0))}]"
        if kind == "name":
            return self.pick(self.names(ty))
        return f"{ty}({self.address(depth - 1)})"

    def arrays(self, elem: str | None = None) -> list[str]:
        """The array parameters in scope (of ``elem`` elements if given)."""
        params = self.fn.params if self.fn else []
        return [n for n, t in params if t in ARRAYS and (elem is None or ARRAYS[t] == elem)]

    def element(self, elem: str, depth: int) -> str:
        """An element of an array parameter: mostly at a loop index or a small literal (out of range reverts)."""
        index = self.pick(self.names("u256") + ["0", "1"]) if depth == 0 or self.draw(st.booleans()) \
            else self.u256(depth - 1)
        return f"{self.pick(self.arrays(elem))}[{index}]"

    def pick(self, options: list[str]) -> str:
        return self.draw(st.sampled_from(options))

    def choose(self, weighted: list[tuple[int, str]]) -> str:
        """One of the labels, drawn in proportion to the weights (weight 0: never)."""
        pool = [label for w, label in weighted for _ in range(w)]
        return self.pick(pool)

    def storage(self, kinds) -> list[tuple[str, str]]:
        return [(n, k) for n, k in self.c.storage if k in kinds]

    # ------------------------------------------------------------ expressions
    def expr(self, ty: str, depth: int) -> str:
        if ty in ("u256", "address", "bool"):
            return {"u256": self.u256, "address": self.address, "bool": self.boolean}[ty](depth)
        if ty == "beta" or (self.c.callee is not None and ty == self.c.callee.name):
            return self.instance(depth)
        return self.reference(ty, depth)

    def reference(self, ty: str, depth: int) -> str:
        """A reference to a contract ``ty`` other than the callee (an argument of that type to a callee's
        function: Alpha passing a Gamma to Beta): ``third``, a parameter or local of that type, what a
        call returns (Beta's function returning its Gamma), or ``Gamma(address)``."""
        kind = self.choose([(2 if self.c.direct is not None and self.c.direct.name == ty else 0, "third"),
                            (2 if self.names(ty) else 0, "name"), (1 if depth > 0 and self.calls(ty) else 0, "call"),
                            (1, "conv")])
        if kind == "third":
            return "third"
        if kind == "name":
            return self.pick(self.names(ty))
        if kind == "call":
            return self.call(ty, depth - 1)
        return f"{ty}({self.address(max(depth - 1, 0))})"

    def read(self, kinds, depth: int) -> str | None:
        """A storage read of one of ``kinds``, keys drawn as expressions (so possibly other reads)."""
        vars_ = self.storage(kinds)
        if not vars_:
            return None
        name, kind = self.draw(st.sampled_from(vars_))
        keys = [self.key(t, depth - 1) for t in KEYS[kind]]
        if kind == "map_tu":
            return f"{name}[{keys[0]}, {keys[1]}]"
        return name + "".join(f"[{k}]" for k in keys)

    def key(self, ty: str, depth: int) -> str:
        """A map key: mostly a parameter, a sender or a literal, sometimes any expression (dynamic)."""
        if depth > 0 and self.draw(st.integers(0, 3)) == 0:
            return self.expr(ty, depth)
        return self.expr(ty, 0)

    def u256(self, depth: int) -> str:
        atoms = self.names("u256")
        kind = self.choose([(3, "lit"), (4 if atoms else 0, "name"), (1, "big"), (1, "number"),
                            (1 if self.c.consts else 0, "const"),
                            (2 if self.storage(["u256"]) else 0, "scalar"),
                            (4 if depth > 0 and self.storage(MAPS_U256) else 0, "map"),
                            (4 if depth > 0 else 0, "arith"), (1 if depth > 0 else 0, "minmax"),
                            (1 if depth > 0 else 0, "conv"), (1 if depth > 0 and self.calls("u256") else 0, "call"),
                            (3 if self.arrays("u256") else 0, "elem"), (1 if self.arrays() else 0, "len")])
        if kind == "elem":
            return self.element("u256", depth)
        if kind == "len":
            return f"len({self.pick(self.arrays())})"
        if kind == "lit":
            return str(self.draw(st.integers(0, 5)))
        if kind == "name":
            return self.pick(atoms)
        if kind == "big":
            return self.pick(["100", "0x" + "f" * 64, str(2**255)])
        if kind == "number":
            return self.pick(["block.number", "block.timestamp"])
        if kind == "const":
            return self.pick([name for name, _ in self.c.consts])
        if kind == "scalar":
            return self.read(["u256"], depth)
        if kind == "map":
            return self.read(MAPS_U256, depth)
        if kind == "arith":
            op = self.pick(["+", "-", "*", "/", "%", "+", "-"])
            return f"({self.u256(depth - 1)} {op} {self.u256(depth - 1)})"
        if kind == "minmax":
            return f"{self.pick(['min', 'max'])}({self.u256(depth - 1)}, {self.u256(depth - 1)})"
        if kind == "conv":
            return f"(u256({self.address(depth - 1)}) % {self.draw(st.integers(1, 7))})"
        return self.call("u256", depth)

    def address(self, depth: int) -> str:
        atoms = self.names("address")
        kind = self.choose([(3 if atoms else 0, "name"), (3, "sender"), (1, "self"), (2, "lit"),
                            (3 if depth > 0 and self.storage(["map_ua"]) else 0, "map"),
                            (1 if depth > 0 else 0, "conv"), (3 if self.arrays("address") else 0, "elem"),
                            (1 if depth > 0 and self.calls("address") else 0, "call")])
        if kind == "elem":
            return self.element("address", depth)
        if kind == "call":
            return self.call("address", depth)
        if kind == "name":
            return self.pick(atoms)
        if kind == "sender":
            return "msg.sender"
        if kind == "self":
            return "self"
        if kind == "lit":
            return self.pick(ADDRESS_LITERALS)
        if kind == "map":
            return self.read(["map_ua"], depth)
        number = self.u256(depth - 1)
        if number.isalnum() and not number.isdigit() or number.isdigit() and int(number) >= 2**160:
            number = f"{number} % 97"  # a literal wider than 160 bits is a compile error, not a revert
        return f"address({number})"

    def boolean(self, depth: int) -> str:
        kind = self.choose([(1, "lit"), (2 if self.storage(["bool", "map_ab"]) else 0, "read"),
                            (2 if self.names("bool") else 0, "name"),
                            (5, "cmp"), (3, "eq"), (1 if depth > 0 else 0, "not"), (2 if depth > 0 else 0, "logic"),
                            (1 if depth > 0 and self.calls("bool") else 0, "call")])
        if kind == "lit":
            return self.pick(["true", "false"])
        if kind == "call":
            return self.call("bool", depth)
        if kind == "name":
            return self.pick(self.names("bool"))
        if kind == "read":
            return self.read(["bool", "map_ab"], max(depth, 1))
        if kind == "cmp":
            op = self.pick(["<", "<=", ">", ">=", "==", "!="])
            return f"({self.u256(depth)} {op} {self.u256(depth)})"
        if kind == "eq":
            return f"({self.address(depth)} {self.pick(['==', '!='])} {self.address(depth)})"
        if kind == "not":
            return f"!({self.boolean(depth - 1)})"
        return f"({self.boolean(depth - 1)} {self.pick(['&&', '||'])} {self.boolean(depth - 1)})"

    def calls(self, ret: str | None = None) -> list[tuple[str, Fn]]:
        """(prefix, function) this body may call, returning ``ret`` if given: the callee's pub functions
        through a reference to a Beta (:meth:`instance`), its callee's through a reference a function of
        the callee returns (``("via", that function)``), and internal helpers (a helper only earlier ones:
        no recursion).  A view calls views only."""
        callee = self.c.callee
        out: list[tuple] = [("instance", f) for f in (callee.fns if callee is not None else [])]
        if callee is not None and callee.callee is not None:  # through a reference the callee returns
            out += [(("via", f), g) for f in callee.fns if f.ret == callee.callee.name and (f.view or not self.view)
                    for g in callee.callee.fns]
        if self.c.direct is not None:  # a second reference, to another contract (Alpha's to Gamma)
            out += [("third", f) for f in self.c.direct.fns]
        helpers = self.c.helpers
        if self.fn is not None and not self.fn.pub:
            helpers = helpers[:helpers.index(self.fn)]
        elif self.fn is None:
            helpers = []
        out += [("", f) for f in helpers]
        return [(p, f) for p, f in out if (f.view or not self.view) and (ret is None or f.ret == ret)]

    def call(self, ret: str | None, depth: int) -> str:
        prefix, fn = self.draw(st.sampled_from(self.calls(ret)))
        if prefix == "instance":
            prefix = f"{self.instance(depth)}."
        elif prefix == "third":
            prefix = "third."
        elif isinstance(prefix, tuple):  # ``other.f(..).g(..)``: g called on the reference f returns
            via = prefix[1]
            prefix = f"{self.instance(depth)}.{via.name}({', '.join(self.expr(t, 0) for _, t in via.params)})."
        args = ", ".join(self.expr(t, max(depth - 1, 0)) for _, t in fn.params)
        return f"{prefix}{fn.name}({args})"

    # ------------------------------------------------------------ statements
    def block(self, n: int, depth: int, indent: str, tail_return: bool = False) -> list[str]:
        """``n`` statements in a new scope; with ``tail_return`` the last one returns (or reverts)."""
        self.scopes.append([])
        out = []
        for _ in range(n):
            out += self.stmt(depth, indent)
        if tail_return:
            out.append(indent + self.ret_stmt())
        self.scopes.pop()
        return out

    def ret_stmt(self) -> str:
        if self.draw(st.integers(0, 5)) == 0:
            return f"revert({self.pick(MESSAGES)});"
        if self.fn is None or self.fn.ret is None:
            return "return;"
        if self.c.callee is not None and self.fn.ret == self.c.callee.name:
            return f"return {self.instance(2)};"
        return f"return {self.expr(self.fn.ret, 2)};"

    def stmt(self, depth: int, indent: str) -> list[str]:
        writable = not self.view and bool(self.c.storage)
        kind = self.choose([(3, "let"), (2 if self.assignable() else 0, "local"),
                            (6 if writable else 0, "store"), (3 if depth > 0 else 0, "if"),
                            (2 if depth > 0 else 0, "for"), (2, "require"),
                            (1 if not self.view and self.c.events else 0, "emit"),
                            (2 if self.calls() else 0, "call"),
                            (1 if not self.view and self.c.callee is not None else 0, "rebind")])
        return getattr(self, "stmt_" + kind)(depth, indent)

    def assignable(self) -> list[str]:
        """The mutable locals: of type u256, address or Beta."""
        beta = [self.c.callee.name] if self.c.callee is not None else []
        return [n for ty in ["u256", "address", *beta] for n in self.names(ty, True)]

    def stmt_let(self, depth: int, indent: str) -> list[str]:
        beta = self.c.callee.name if self.c.callee is not None else None
        ty = self.choose([(4, "u256"), (2, "address"), (1, "bool"), (1 if beta else 0, "beta")])
        name = self.new_name("l")
        if ty == "beta":
            ty, value = beta, self.instance(2)
        else:
            value = self.expr(ty, 2)
        self.scopes[-1].append((name, ty, True))
        annotation = f": {ty}" if self.draw(st.booleans()) else ""
        return [f"{indent}let {name}{annotation} = {value};"]

    def stmt_local(self, depth: int, indent: str) -> list[str]:
        name = self.pick(self.assignable())
        if name not in self.names("u256", True) + self.names("address", True):  # a Beta: another instance
            return [f"{indent}{name} = {self.instance(2)};"]
        ty = "u256" if name in self.names("u256", True) else "address"
        op = self.pick(["=", "+=", "-=", "*="]) if ty == "u256" else "="
        return [f"{indent}{name} {op} {self.expr(ty, 2)};"]

    def stmt_rebind(self, depth: int, indent: str) -> list[str]:
        """``others[k] = ...``: the map of references written by a transaction (a dynamic instance)."""
        return [f"{indent}others[{self.u256(1)}] = {self.instance(1)};"]

    def stmt_store(self, depth: int, indent: str) -> list[str]:
        writable = [(n, k) for n, k in self.c.storage if n not in self.c.init_only]
        if not writable:
            return self.stmt_require(depth, indent)
        name, kind = self.draw(st.sampled_from(writable))
        keys = [self.key(t, 2) for t in KEYS[kind]]
        target = f"{name}[{keys[0]}, {keys[1]}]" if kind == "map_tu" else name + "".join(f"[{k}]" for k in keys)
        ty = VALUE[kind]
        op = self.choose([(3, "="), (3, "+="), (2, "-="), (1, "*="), (1, "/=")]) if ty == "u256" else "="
        return [f"{indent}{target} {op} {self.expr(ty, 2)};"]

    def stmt_if(self, depth: int, indent: str) -> list[str]:
        out = [f"{indent}if {self.boolean(2)} {{"]
        out += self.block(self.draw(st.integers(1, 3)), depth - 1, indent + "    ",
                          tail_return=self.draw(st.integers(0, 4)) == 0)
        shape = self.pick(["none", "else", "elif"])
        if shape == "elif":
            out.append(f"{indent}}} else if {self.boolean(1)} {{")
            out += self.block(self.draw(st.integers(1, 2)), depth - 1, indent + "    ")
        if shape != "none":
            out.append(f"{indent}}} else {{")
            out += self.block(self.draw(st.integers(1, 2)), depth - 1, indent + "    ")
        out.append(f"{indent}}}")
        return out

    def stmt_for(self, depth: int, indent: str) -> list[str]:
        params = [p for p, t in (self.fn.params if self.fn else []) if t == "u256"]
        start = self.pick(["0", "0", "1"])
        if params and self.draw(st.booleans()):
            end = f"min({self.pick(params)}, {self.pick(['3', '8'])})"
        elif self.arrays() and self.draw(st.booleans()):
            end = f"len({self.pick(self.arrays())})"
        else:
            end = str(self.draw(st.integers(0, 4)))
        var = self.new_name("i")
        self.scopes.append([(var, "u256", False)])
        out = [f"{indent}for {var} in {start}..{end} {{"]
        out += self.block(self.draw(st.integers(1, 3)), depth - 1, indent + "    ")
        out.append(f"{indent}}}")
        self.scopes.pop()
        return out

    def stmt_require(self, depth: int, indent: str) -> list[str]:
        message = f", {self.pick(MESSAGES)}" if self.draw(st.booleans()) else ""
        return [f"{indent}require({self.boolean(2)}{message});"]

    def stmt_emit(self, depth: int, indent: str) -> list[str]:
        name, types = self.draw(st.sampled_from(self.c.events))
        return [f"{indent}emit {name}({', '.join(self.expr(t, 1) for t in types)});"]

    def stmt_call(self, depth: int, indent: str) -> list[str]:
        return [f"{indent}{self.call(None, 1)};"]


# ---------------------------------------------------------------------------- contracts

@st.composite
def signatures(draw, prefix: str, least: int = 2, most: int = 5, arrays: bool = False,
               instance: str | None = None, returns: str | None = None) -> list[Fn]:
    """Functions' signatures; with ``arrays``, parameters may be arrays too (for functions only
    transactions call: a call in the language has no array to pass but a parameter), and of the
    contract type ``instance``; with ``returns``, functions may return a reference of that contract
    type (a caller's caller calls through it)."""
    n = draw(st.integers(least, most))
    types = ["u256", "u256", "address", "bool"] + (list(ARRAYS) if arrays else []) + ([instance] if instance else [])
    out = []
    for i in range(n):
        params = [(f"p{j}", draw(st.sampled_from(types))) for j in range(draw(st.integers(0, 3)))]
        rets = [None, None, "u256", "u256", "address", "bool"] + ([returns] * 2 if returns else [])
        ret = draw(st.sampled_from(rets))
        view = draw(st.integers(0, 4)) == 4
        out.append(Fn(f"{prefix}{i}", params, ret, view))
    return out


def fn_text(draw, contract: Contract, fn: Fn, fresh: list[int]) -> str:
    body = Body(draw, contract, fn, fresh)
    n = draw(st.integers(1, 6 if fn.pub else 3))
    lines = body.block(n, 2 if fn.pub else 1, " " * 8, tail_return=fn.ret is not None)
    params = ", ".join(f"{p}: {t}" for p, t in fn.params)
    head = (f"    {'pub ' if fn.pub else ''}{'view ' if fn.view else ''}fn {fn.name}({params})"
            + (f" -> {fn.ret}" if fn.ret else ""))
    return "\n".join([head + " {", *lines, "    }"])


def init_text(draw, contract: Contract, fresh: list[int]) -> str:
    """``init``: stores the callee reference and sets the init-only variables (and maybe others)."""
    params = f"o: {contract.callee.name}" if contract.callee is not None else ""
    lines = ["        other = o;", "        others[1] = o;"] if contract.callee is not None else []
    if contract.direct is not None:
        params += f", t: {contract.direct.name}"
        lines.append("        third = t;")
    body = Body(draw, contract, None, fresh)
    for name, kind in contract.storage:
        if name in contract.init_only or draw(st.integers(0, 3)) == 0:
            keys = [body.expr(t, 0) for t in KEYS[kind]]
            target = f"{name}[{keys[0]}, {keys[1]}]" if kind == "map_tu" else name + "".join(f"[{k}]" for k in keys)
            value = {"u256": str(draw(st.integers(1, 5))), "bool": "true",
                     "address": body.pick(["msg.sender"] + ADDRESS_LITERALS[1:])}[VALUE[kind]]
            lines.append(f"        {target} = {value};")
    return "\n".join([f"    init({params}) {{", *lines, "    }"])


@st.composite
def contracts(draw, name: str, prefix: str, callee: Contract | None) -> Contract:
    kinds = draw(st.lists(st.sampled_from(sorted(k for k in STORAGE_TYPES if callee is not None or k != "map_bu")),
                          min_size=2, max_size=5))
    storage = [(f"{k.removeprefix('map_')}{i}", k) for i, k in enumerate(kinds)]
    init_only = {n for n, _ in storage if draw(st.integers(0, 4)) == 4}
    fields = st.lists(st.sampled_from(["u256", "address", "bool"]), min_size=1, max_size=3)
    events = [(f"{prefix.upper()}Ev{i}", draw(fields)) for i in range(draw(st.integers(1, 2)))]
    # Only Alpha's pub functions take arrays: nothing calls them but transactions.
    alpha = name == "Alpha"
    # A caller's pub functions take references to its callee (Alpha's from transactions; Beta's from Alpha
    # too, which passes a Gamma it holds, gets from Beta, or converts from an address), and a callee of
    # Alpha's may return a reference to its own callee: Alpha calls through it.
    c = Contract(name, storage, events, draw(signatures(prefix, arrays=alpha, instance=callee.name if callee else None,
                                                        returns=callee.name if callee and not alpha else None)),
                 init_only, callee)
    if HELPERS:
        c.helpers = draw(signatures(prefix + "h", 0, 2))
        for fn in c.helpers:
            fn.pub = False
    c.consts = [(f"{prefix.upper()}K{i}", draw(st.sampled_from([0, 1, 7, 1000, MAX])))
                for i in range(draw(st.integers(0, 2)))]
    # In a chain of three, Alpha may also keep a reference to Gamma and call it directly (``third``).
    if alpha and callee is not None and callee.callee is not None and draw(st.booleans()):
        c.direct = callee.callee
    fresh = [0]
    c.init = init_text(draw, c, fresh)
    for fn in [*c.helpers, *c.fns]:
        fn.body = fn_text(draw, c, fn, fresh)
    return c


@st.composite
def programs(draw) -> Program:
    """``Alpha`` alone, or with the callee ``Beta``, or with ``Beta`` and its callee ``Gamma``."""
    chain: list[Contract] = []
    for name, prefix in [("Gamma", "k"), ("Beta", "g")][2 - draw(st.sampled_from([0, 1, 1, 2])):]:
        chain.append(draw(contracts(name, prefix, chain[-1] if chain else None)))
    chain.append(draw(contracts("Alpha", "f", chain[-1] if chain else None)))
    return Program(chain, split=draw(st.booleans()))


# ---------------------------------------------------------------------------- worlds and blocks

@dataclass
class World:
    program: Program
    instances: dict[str, Contract]   # name -> contract, in deployment order
    args: dict[str, list]

    def source_of(self, name: str) -> str:
        """The file the instance ``name`` is deployed from."""
        file = file_of(self.instances[name])
        return file if file in self.program.files else MAIN

    def text(self) -> str:
        from runtime_helpers import world_toml

        deploys = [{"name": n, "source": self.source_of(n), "contract": c.name, "sender": "alice",
                    "args": self.args[n]} for n, c in self.instances.items()]
        return world_toml(deploys, ACCOUNTS)


@st.composite
def worlds(draw, program: Program) -> World:
    """One or two instances of each contract (``a0``, ``b1``, ``g0``...), callees first; each caller's
    ``init`` is given one instance of its callee (and Alpha's one of Gamma, when it holds one)."""
    instances: dict[str, Contract] = {}
    args: dict[str, list] = {}
    of: dict[str, list[str]] = {}  # contract -> its instances
    for contract in program.contracts:
        mine = of[contract.name] = [f"{contract.name[0].lower()}{i}" for i in range(draw(st.integers(1, 2)))]
        for name in mine:
            instances[name] = contract
            held = [c for c in (contract.callee, contract.direct) if c is not None]  # (init's parameters)
            args[name] = [draw(st.sampled_from(of[c.name])) for c in held]
    return World(program, instances, args)


def world_text(world: World) -> str:
    return world.text()


def argument(draw, ty: str, world: World):
    if ty in ARRAYS:  # up to N elements; one more now and then (an invalid transaction)
        most = int(ty.rsplit(",", 1)[1].strip(" >"))
        size = draw(st.integers(0, most + 1 if draw(st.integers(0, 9)) == 0 else most))
        return [argument(draw, ARRAYS[ty], world) for _ in range(size)]
    if ty in {c.name for c in world.program.contracts}:  # an instance (of any contract), or no contract
        return draw(st.sampled_from(list(world.instances) + ["0x0000000000000000000000000000000000000007"]))
    if ty == "bool":
        return draw(st.booleans())
    if ty == "u256":
        huge = st.sampled_from([8, 100, MAX, str(MAX), str(2**255)])
        return draw(st.one_of(st.integers(0, 5), st.integers(0, 5), huge))
    others = ["0x" + "0" * 40, "0x0000000000000000000000000000000000000007"]
    return draw(st.sampled_from(SENDERS + list(world.instances) + others))


@st.composite
def transactions(draw, world: World) -> dict:
    to = draw(st.sampled_from(list(world.instances)))
    fn = draw(st.sampled_from(world.instances[to].fns))
    args = [argument(draw, t, world) for _, t in fn.params]
    tx = {"from": draw(st.sampled_from(SENDERS)), "to": to, "fn": fn.name, "args": args}
    if draw(st.integers(0, 24)) == 24:  # an invalid transaction: recorded, changes nothing
        if draw(st.booleans()):
            tx["fn"] = "nope"
        else:
            tx["args"] = args + [1]
    return tx


@st.composite
def blocks(draw, world: World, min_size: int = 10, max_size: int = 80) -> list[dict]:
    return draw(st.lists(transactions(world), min_size=min_size, max_size=max_size))
