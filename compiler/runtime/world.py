"""Worlds (SPEC §3): named accounts and contract deployments, and their genesis state."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from itertools import compress, filterfalse, repeat
from operator import is_
from typing import Iterable
from pathlib import Path
from ..analysis.cost import DEFAULT_COST_LIMIT
from ..codegen.compiled import CompiledProgram
from ..diagnostics import LaneError, Location
from ..pipeline import CompilerData, program
from ..semantics import types as T
from ..semantics.loader import SourceCache
from ..semantics.symbols import ContractInfo, Function
from ..vm.context import Context
from ..vm.variables import Var
from .files import read_text
from ..vm.errors import Revert
from .text_scan import lines_of, toml_long_integer, toml_too_deep
from ..vm.values import (ValueError_, address_from_text, derive_address, derive_addresses, format_address, is_name,
                         name_match, parse_value, quoted, shown)


@dataclass(eq=False)
class Instance:
    """A deployed contract."""

    name: str
    address: int
    contract: ContractInfo
    program: CompiledProgram
    data: CompilerData

    def function(self, name: str) -> Function | None:
        return self.contract.functions.get(name)


_HEX_ADDRESSES = re.compile(r"0[xX][0-9a-fA-F]{1,40}(?:\n0[xX][0-9a-fA-F]{1,40})*")  # (one a line: address_from_text's)


@dataclass(eq=False)
class World:
    path: str
    text: str
    accounts: dict[str, int] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)  # in deployment order
    by_address: dict[int, Instance] = field(default_factory=dict)
    deployments: list[dict] = field(default_factory=list)
    cost_limit: int = DEFAULT_COST_LIMIT  # per transaction, from [chain] cost_limit
    _addresses: dict[str, int] = field(default_factory=dict, repr=False)
    _names: dict[int, str] | None = field(default=None, repr=False)

    def address_of(self, name: str) -> int:
        """What a name stands for: an account, an instance, or a derived address (SPEC §3)."""
        if name in self.accounts:
            return self.accounts[name]
        if name in self.instances:
            return self.instances[name].address
        return derive_address(name)

    def parse_address(self, text: str) -> int:
        """An address written as text: 0x hex or a name (cached: blocks repeat names)."""
        address = self._addresses.get(text)
        if address is None:
            address = self._addresses[text] = address_from_text(text, self.address_of)
        return address

    def addresses(self, texts: list) -> list:
        """Each text's address (None: it is no address), answered by the cache in C; the texts it
        lacks are read first, in bulk (:meth:`learn_addresses`), found by its answers."""
        got = list(map(self._addresses.get, texts))
        if any(map(is_, got, repeat(None))):
            self.learn_addresses(compress(texts, map(is_, got, repeat(None))))
            got = list(map(self._addresses.get, texts))
        return got

    def learn_addresses(self, texts) -> None:
        """Read every text of ``texts`` that the cache of :meth:`parse_address` lacks, in bulk: the
        plain names (neither an account nor an instance) derived by C code, and 0x hex read by it
        when all are 0x and 1 to 40 hex digits; the rest one by one; a text that is no address is
        left out (whoever needs it says why)."""
        new = set(filterfalse(self._addresses.__contains__, set(texts)))  # (not ``- keys()``: a pass over the cache)
        if not new:
            return
        names = list(filterfalse(self.instances.__contains__, filterfalse(
            self.accounts.__contains__, compress(new, map(name_match, new)))))  # (C code: a name a microsecond)
        self._addresses.update(zip(names, derive_addresses(names)))
        new.difference_update(names)
        hexes = [t for t in new if t[:2] in ("0x", "0X")]
        joined = lines_of(hexes) if hexes else None
        if joined is not None and _HEX_ADDRESSES.fullmatch(joined):
            self._addresses.update(zip(hexes, map(int, hexes, repeat(16))))
            new.difference_update(hexes)
        for text in new:
            try:
                self.parse_address(text)
            except ValueError_:
                pass

    def name_of(self, address: int) -> str | None:
        inst = self.by_address.get(address)
        if inst is not None:
            return inst.name
        if self._names is None:  # the first account of each address, made once (a DAG asks per node)
            self._names = {}
            for name, addr in self.accounts.items():
                self._names.setdefault(addr, name)
        return self._names.get(address)

    @property
    def code(self) -> dict[int, str]:
        return {addr: inst.contract.name for addr, inst in self.by_address.items()}

    def layout_of(self, address: int):
        inst = self.by_address[address]
        return inst.program.layouts[inst.contract.name]

    def identity(self) -> dict:
        """What of this world decides its chain, for --state files: not its comments, layout or
        order of accounts (:mod:`compiler.runtime.world_identity`)."""
        from .world_identity import describe

        return describe(self)

    def fingerprint(self) -> str:
        """The hash of :meth:`identity`: a state file belongs to the worlds that share it."""
        from .world_identity import fingerprint

        return fingerprint(self.identity())

    def new_storage(self) -> dict[int, list[dict]]:
        """An empty state wholly in memory: each variable a :class:`Var` that reads zero where unset."""
        out = {}
        for inst in self.instances.values():
            layout = inst.program.layouts[inst.contract.name]
            out[inst.address] = [Var(T.zero_value(layout.value_type[name])) for name in layout.index]
        return out

    # ---- a world made in code (compiler.testing), one deployment at a time
    def add_account(self, name: str) -> int:
        """Name an account: its address is the one a world derives from the name (SPEC §3)."""
        if not is_name(name):
            raise LaneError(f"{quoted(name)} is not a name ({_NAME_RULE})", code="account")
        if name in self.instances:
            raise LaneError(f"'{name}' is a deployed contract, not an account", code="account")
        address = self.accounts.get(name)
        if address is None:
            address = self.accounts[name] = derive_address(name)
            self._names = None  # name_of's table is made again, with this one
        return address

    def add_instance(self, name: str, data: CompilerData, contract: ContractInfo) -> Instance:
        """Register a deployment of ``contract`` (of the checked program ``data``) as ``name``, at the
        address derived from the name as a world file's deployments are; its storage and its init
        are the caller's.  The name must be new: one already standing for an address (an account,
        an instance, a name a call has used) keeps meaning what it meant."""
        if not is_name(name):
            raise LaneError(f"{quoted(name)} is not a name ({_NAME_RULE})", code="deploy")
        if name in self.instances or name in self.accounts or name in self._addresses:
            raise LaneError(f"the name '{name}' is already used", code="deploy")
        for other in self.instances.values():
            if other.contract.name == contract.name and \
                    os.path.realpath(other.contract.file) != os.path.realpath(contract.file):
                raise LaneError(f"two different contracts are named '{contract.name}' "
                                f"({other.contract.file} and {contract.file})", code="deploy")
        inst = Instance(name, derive_address(name, "contract"), contract, data.compiled, data)
        self.instances[name] = inst
        self.by_address[inst.address] = inst
        return inst

    def remove_instance(self, name: str) -> None:
        """Forget a deployment made by :meth:`add_instance` (a snapshot restored from before it)."""
        inst = self.instances.pop(name)
        del self.by_address[inst.address]
        self._addresses.pop(name, None)


def _line_of(text: str, pattern: str, start_line: int = 1, end_line: int | None = None) -> int | None:
    """The first line at or after ``start_line`` (and before ``end_line``) matching ``pattern`` (to
    point at a TOML entry).

    It reads the whole text: for one-off errors only; entries repeated per account or per
    deployment are found by :class:`_EntryLines` in one pass."""
    # Lines split at '\n' only, as TOML counts them (str.splitlines also splits at '\f', U+2028...).
    lines = text.split("\n")[start_line - 1:end_line - 1 if end_line else None]
    for no, line in enumerate(lines, start_line):
        if re.search(pattern, line):
            return no
    return None


# Table headers and the keys of [accounts], matched line by line over the whole text at once.
_HEADER = re.compile(r"^[ \t]*\[(\[?)[ \t]*([^\]\n]*?)[ \t]*\]", re.M)
_KEY = re.compile(r"""^[ \t]*(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([A-Za-z0-9_-]+))[ \t]*=""", re.M)


def _unescaped_key(key_equals: str) -> str | None:
    """The name a quoted key with escapes (``"a\\u0062" =``) stands for, as TOML reads it."""
    try:
        return next(iter(tomllib.loads(key_equals + " 0")))
    except tomllib.TOMLDecodeError:
        return None


class _EntryLines:
    """Where each account and each ``[[deploy]]`` of a world file is, found in one pass over its
    text (tomllib keeps no positions; searching the text per entry made loading quadratic)."""

    def __init__(self, text: str) -> None:
        self.accounts: dict[str, int] = {}  # account name -> the line of its key in [accounts]
        self.deploys: list[int] = []  # the line of each [[deploy]] header, in order
        headers = list(_HEADER.finditer(text))
        line, at = 1, 0  # line numbers are counted forward only, so the whole pass is linear
        for i, h in enumerate(headers):
            line += text.count("\n", at, h.start())
            at = h.start()
            if h.group(1) and h.group(2) == "deploy":
                self.deploys.append(line)
            elif not h.group(1) and h.group(2) == "accounts":
                end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
                key_line, key_at = line, at
                for k in _KEY.finditer(text, h.end(), end):
                    key_line += text.count("\n", key_at, k.start())
                    key_at = k.start()
                    name = k.group(k.lastindex)  # of the one quoting that matched
                    if k.lastindex == 1 and "\\" in name:
                        name = _unescaped_key(k.group())
                    self.accounts.setdefault(name, key_line)

    def deploy(self, n: int, fallback: int | None) -> int | None:
        """The line of the ``n``-th deployment (1-based); ``fallback`` when it is written inline."""
        return self.deploys[n - 1] if n <= len(self.deploys) else fallback

    def deploy_table(self, n: int) -> tuple[int, int | None] | None:
        """The lines the ``n``-th deployment's ``[[deploy]]`` table spans (its header's, the next
        header's or None); None when it is written inline."""
        if n > len(self.deploys):
            return None
        return self.deploys[n - 1], self.deploys[n] if n < len(self.deploys) else None


def _key_line(text: str, entry: dict, key: str) -> int | None:
    """The line of ``key = ...`` in a deployment's table of the world file ``text`` (``entry``'s
    ``table``, :meth:`_EntryLines.deploy_table`), else its header's; the line of a deployment
    written inline, or None (not from a file): where an error about that key points."""
    table = entry.get("table")
    if table is None:
        return entry.get("line")
    start, end = table
    return _line_of(text, rf"^\s*{re.escape(key)}\s*=", start, end) or start


class _WorldErrors:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def at(self, message: str, line: int | None = None, column: int = 1) -> LaneError:
        loc = Location.point(self.path, line, column) if line else None
        if loc is None:
            message = f"{self.path}: {message}"
        return LaneError(message, loc, code="world", sources={self.path: self.text})


def _cost_limit(doc: dict, text: str, errors: _WorldErrors) -> int:
    """``[chain] cost_limit``: the cost a transaction may use, a positive integer (docs/language.md)."""
    chain = doc.get("chain", {})
    header = _line_of(text, r"^\s*\[\s*chain\s*\]")
    if not isinstance(chain, dict):
        raise errors.at("[chain] must be a table, as in [chain] cost_limit = 1000000",
                        header or _line_of(text, r"^\s*chain\s*="))
    for key in chain:
        if key != "cost_limit":
            raise errors.at(f"[chain]: unknown key {quoted(key)} (it has cost_limit)",
                            _line_of(text, rf"^\s*{re.escape(key)}\s*=", header or 1) or header)
    if "cost_limit" not in chain:
        return DEFAULT_COST_LIMIT
    limit = chain["cost_limit"]
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    if isinstance(limit, int) and not isinstance(limit, bool):
        found = str(limit)
    elif isinstance(limit, str):
        found = f'the string "{shown(limit)}"'
    else:
        found = {bool: "a boolean", float: "a float", list: "a list", dict: "a table"}.get(type(limit), "a date")
    raise errors.at(f"[chain] cost_limit must be a positive integer (cost units per transaction), found {found}",
                    _line_of(text, r"\bcost_limit\s*=", header or 1) or header)


def load_world(path: str | os.PathLike, cache: SourceCache | None = None,
               programs: dict[str, CompilerData] | None = None) -> World:
    """Read a world file and compile what it deploys (genesis is run by :func:`genesis`).

    ``programs`` holds the sources already compiled, by path: a caller that loads many worlds
    over the same contracts passes one dict to them all, and each source is compiled once."""
    display, text = read_text(path, "world")
    errors = _WorldErrors(display, text)
    doc = _read_toml(text, errors)
    world = World(display, text)
    unknown = set(doc) - {"accounts", "chain", "deploy"}
    if unknown:
        key = sorted(unknown)[0]
        raise errors.at(f"unknown section {quoted(key)} (a world has [accounts], [chain] and [[deploy]])",
                        _line_of(text, rf"^\s*\[*\s*{re.escape(key)}\b"))
    world.cost_limit = _cost_limit(doc, text, errors)
    accounts = doc.get("accounts", {})
    if not isinstance(accounts, dict):
        raise errors.at("[accounts] must be a table of name = \"0x...\"", _line_of(text, r"accounts"))
    lines = _EntryLines(text)
    named: dict[int, str] = {}  # (each fixed address's account)
    for name, raw in accounts.items():
        try:
            if not is_name(name):
                raise ValueError_(f"account {quoted(name)} is not a name ({_NAME_RULE})")
            if not isinstance(raw, str) or not raw.lower().startswith("0x"):
                raise ValueError_(f"account {quoted(name)} must be a 0x address string")
            address = parse_value(T.ADDRESS, raw, lambda t: address_from_text(t, derive_address),
                                  f"account {quoted(name)}")
            other = named.get(address)
            if other is not None:  # (two names of one account: which would outputs and errors show?)
                raise ValueError_(f"account {quoted(name)} has the address of account {quoted(other)} "
                                  f"({format_address(address)})")
            named[address] = name
            world.accounts[name] = address
        except ValueError_ as err:
            raise errors.at(str(err), lines.accounts.get(name) or _line_of(text, r"^\s*\[\s*accounts\s*\]")
                            or _line_of(text, r"^\s*accounts\s*=")) from None

    deploys = doc.get("deploy", [])
    if not isinstance(deploys, list):
        raise errors.at("deployments are written [[deploy]]", _line_of(text, r"deploy"))
    cache = cache or SourceCache()
    programs = {} if programs is None else programs
    names = _ContractNames()
    # Deployments written inline (deploy = [{...}]) have no header: their errors name that line.
    inline = _line_of(text, r"^\s*deploy\s*=") if len(lines.deploys) < len(deploys) else None
    base = Path(path).parent
    for n, entry in enumerate(deploys, 1):
        line = lines.deploy(n, inline)
        place = {"line": line, "table": lines.deploy_table(n)}  # (where its keys are: _key_line)

        def at_key(key: str, place: dict = place) -> int | None:  # (an error about one of its keys)
            return _key_line(text, place, key)

        where = f"deployment #{n}"
        if not isinstance(entry, dict):
            raise errors.at(f"{where} must be a table of name, source, contract, sender and args "
                            f"(written [[deploy]])", line)
        for key in ("name", "source", "contract"):
            if not isinstance(entry.get(key), str) or not entry.get(key):
                raise errors.at(f"{where} needs '{key}' (a string)", line)
        extra = set(entry) - {"name", "source", "contract", "sender", "args"}
        if extra:
            raise errors.at(f"{where}: unknown key {quoted(sorted(extra)[0])}", at_key(sorted(extra)[0]))
        name = entry["name"]
        if not is_name(name):
            raise errors.at(f"{where}: {quoted(name)} is not a name ({_NAME_RULE})", at_key("name"))
        if name in world.instances or name in world.accounts:
            raise errors.at(f"{where}: the name '{name}' is already used", at_key("name"))
        source = os.path.normpath(os.path.join(os.path.dirname(display), entry["source"]))
        if not _is_file(base / entry["source"]):
            raise errors.at(f"{where} ('{name}'): source file not found: {shown(source, 4096)}", at_key("source"))
        data = programs.get(source)
        if data is None:
            data = programs[source] = program(source, cache)  # checked: from the program cache if unchanged
        checked = data.checked
        contract = checked.contracts.get(entry["contract"])
        if contract is None:
            known = ", ".join(sorted(checked.contracts)) or "none"
            raise errors.at(f"{where} ('{name}'): no contract {quoted(entry['contract'])} in {source} "
                            f"(it has: {known})", at_key("contract"))
        clash = names.clash(name, contract, checked.contracts.values(), source)
        if clash is not None:
            raise errors.at(f"{where} ('{name}'): {clash}", line)
        args = entry.get("args", [])
        if not isinstance(args, list):
            raise errors.at(f"{where} ('{name}'): args must be a list", at_key("args"))
        sender = entry.get("sender", "deployer")
        if not isinstance(sender, str):
            raise errors.at(f"{where} ('{name}'): sender must be a name or 0x address", at_key("sender"))
        address = derive_address(name, "contract")
        if address in named:
            raise errors.at(f"{where}: '{name}' is deployed at {format_address(address)}, the address of account "
                            f"{quoted(named[address])}", at_key("name"))
        inst = Instance(name, address, contract, data.compiled, data)
        world.instances[name] = inst
        world.by_address[address] = inst
        world.deployments.append({"name": name, "sender": sender, "args": args, **place})
    return world


class _ContractNames:
    """One contract per name in a world.  The runtime tells contracts apart by name: a call through
    a reference of type ``Vault`` runs the caller's program's ``Vault`` code on whatever instance of
    a contract named ``Vault`` lives at the address.  So a program that imports a ``Vault`` other
    than the deployed one would run its own code on that instance's storage (and the analysis,
    which keys locations by contract name, would not see it): such a world is refused."""

    def __init__(self) -> None:
        self.deployed: dict[str, tuple[str, str, str]] = {}  # name -> (real path, file, instance)
        self.used: dict[str, tuple[str, str, str]] = {}      # name -> (real path, file, instance whose program uses it)
        self.real: dict[str, str] = {}  # file -> its real path (worlds deploy one source many times)

    def _real(self, file: str) -> str:
        got = self.real.get(file)
        if got is None:
            got = self.real[file] = os.path.realpath(file)
        return got

    def clash(self, instance: str, contract, program: Iterable, source: str) -> str | None:
        """Why deploying ``contract`` as ``instance``, from a program that uses ``program``'s
        contracts, would give one name to two contracts; None when it would not (then it is noted)."""
        real = self._real(contract.file)
        got = self.deployed.get(contract.name)
        if got is not None and got[0] != real:
            return f"two different contracts are named '{contract.name}' ({got[1]} and {contract.file})"
        got = self.used.get(contract.name)
        if got is not None and got[0] != real:
            return (f"two different contracts are named '{contract.name}': this is the one of {contract.file}, "
                    f"and '{got[2]}' uses the one of {got[1]} (its calls to this {contract.name} would run that "
                    f"one's code on this one's storage)")
        for used in program:
            got = self.deployed.get(used.name)
            if got is not None and got[0] != self._real(used.file):
                return (f"two different contracts are named '{used.name}': '{got[2]}' is the one of {got[1]}, and "
                        f"{source} uses the one of {used.file} (its calls to '{got[2]}' would run that one's code "
                        f"on the storage of '{got[2]}')")
        self.deployed.setdefault(contract.name, (real, contract.file, instance))
        for used in program:
            self.used.setdefault(used.name, (self._real(used.file), used.file, instance))
        return None


# What account and instance names may be: what a block can write where an address is expected.
_NAME_RULE = "letters, digits, '_', '.' and '-', starting with a letter or '_'"


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a path the system cannot even look up (too long) is not."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read_toml(text: str, errors: _WorldErrors) -> dict:
    """The world's TOML document; every way tomllib can fail is the file's error, with its place."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(err))
        if m is not None:
            where: tuple = (int(m.group(1)), int(m.group(2)))
        elif "(at end of document)" in str(err):  # (just after the file's last line that is not empty)
            body = text.rstrip("\r\n")
            where = (body.count("\n") + 1, len(body.rsplit("\n", 1)[-1]) + 1)
        else:
            where = ()
        raise errors.at(f"invalid TOML: {msg}" + (" at the end of the file" if "end of document" in str(err) else ""),
                        *where) from None
    except RecursionError:  # tomllib recurses once per level of an array or inline table
        raise errors.at("invalid TOML: values nested too deeply", *(toml_too_deep(text) or ())) from None
    except ValueError as err:  # CPython converts at most 4,300 decimal digits; a u256 has 78
        where = toml_long_integer(text)
        if where is None:
            raise errors.at(f"invalid TOML: {err}") from None
        raise errors.at("an integer exceeds 2^256-1", *where) from None


def genesis(world: World) -> Context:
    """Deploy every instance in order, running its ``init``; a failing init is the world's error."""
    errors = _WorldErrors(world.path, world.text)
    ctx = Context(world.new_storage(), world.code, number=0, timestamp=0, cost_limit=world.cost_limit)
    for entry in world.deployments:
        inst = world.instances[entry["name"]]
        init = inst.contract.init
        params = init.params if init else []
        args = entry["args"]
        if len(args) != len(params):
            raise errors.at(f"deployment '{inst.name}': init of {inst.contract.name} takes {len(params)} "
                            f"argument{'s' if len(params) != 1 else ''}, found {len(args)}",
                            _key_line(world.text, entry, "args"))
        key = "sender"
        try:
            sender = parse_value(T.ADDRESS, entry["sender"], world.parse_address, "sender")
            key = "args"
            values = [parse_value(p.type, raw, world.parse_address, f"init argument '{p.name}'")
                      for p, raw in zip(params, args)]
        except ValueError_ as err:
            raise errors.at(f"deployment '{inst.name}': {err}", _key_line(world.text, entry, key)) from None
        if init is None:
            continue
        ctx.budget = ctx.cost_limit  # an init runs under the limit of a transaction
        try:
            inst.program.function(inst.contract.name, "init")(ctx, inst.address, sender, *values)
        except Revert as r:
            if ctx.out_of_cost:
                raise errors.at(f"deployment '{inst.name}': init reached the cost limit of {ctx.cost_limit:,} "
                                f"(raise it with [chain] cost_limit = N)", entry["line"]) from None
            raise errors.at(f"deployment '{inst.name}': init reverted: {r.reason}", entry["line"]) from None
    ctx.journal.clear()
    ctx.events.clear()
    return ctx


__all__ = ["World", "Instance", "load_world", "genesis", "format_address"]
