"""Worlds (SPEC §3): named accounts and contract deployments, and their genesis state."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from ..codegen.compiled import CompiledProgram
from ..diagnostics import LaneError, Location
from ..pipeline import CompilerData
from ..semantics import types as T
from ..semantics.loader import SourceCache
from ..semantics.symbols import ContractInfo, Function
from .context import Context
from .files import read_text
from .errors import Revert
from .values import ValueError_, address_from_text, derive_address, format_address, parse_value


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


@dataclass(eq=False)
class World:
    path: str
    text: str
    accounts: dict[str, int] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)  # in deployment order
    by_address: dict[int, Instance] = field(default_factory=dict)
    deployments: list[dict] = field(default_factory=list)
    _addresses: dict[str, int] = field(default_factory=dict, repr=False)

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

    def name_of(self, address: int) -> str | None:
        inst = self.by_address.get(address)
        if inst is not None:
            return inst.name
        for name, addr in self.accounts.items():
            if addr == address:
                return name
        return None

    @property
    def code(self) -> dict[int, str]:
        return {addr: inst.contract.name for addr, inst in self.by_address.items()}

    def layout_of(self, address: int):
        inst = self.by_address[address]
        return inst.program.layouts[inst.contract.name]

    def fingerprint(self) -> str:
        """Identifies the world file and the sources it deploys (for --state files)."""
        h = hashlib.sha256(self.text.encode())
        # Source paths relative to the world file, so that the same world named
        # from another directory (or by an absolute path) has the same fingerprint.
        base = os.path.dirname(os.path.abspath(self.path))
        for inst in self.instances.values():
            sources = {os.path.relpath(os.path.abspath(name), base).replace(os.sep, "/"): text
                       for name, text in inst.data.sources.items()}
            for name in sorted(sources):
                h.update(name.encode() + b"\0" + sources[name].encode())
        return h.hexdigest()

    def new_storage(self) -> dict[int, list[dict]]:
        return {inst.address: [{} for _ in inst.program.layouts[inst.contract.name].index]
                for inst in self.instances.values()}


def _line_of(text: str, pattern: str, start_line: int = 1) -> int | None:
    """The first line at or after ``start_line`` matching ``pattern`` (to point at a TOML entry)."""
    for no, line in enumerate(text.splitlines()[start_line - 1:], start_line):
        if re.search(pattern, line):
            return no
    return None


class _WorldErrors:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def at(self, message: str, line: int | None = None) -> LaneError:
        loc = Location.point(self.path, line, 1) if line else None
        if loc is None:
            message = f"{self.path}: {message}"
        return LaneError(message, loc, code="world", sources={self.path: self.text})


def load_world(path: str | os.PathLike, cache: SourceCache | None = None) -> World:
    """Read a world file and compile what it deploys (genesis is run by :func:`genesis`)."""
    display, text = read_text(path, "world")
    errors = _WorldErrors(display, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        loc = Location.point(display, int(m.group(1)), int(m.group(2))) if m else None
        raise LaneError(f"invalid TOML: {msg}", loc, code="world", sources={display: text}) from None

    world = World(display, text)
    unknown = set(doc) - {"accounts", "deploy"}
    if unknown:
        key = sorted(unknown)[0]
        raise errors.at(f"unknown section '{key}' (a world has [accounts] and [[deploy]])",
                        _line_of(text, rf"^\s*\[*\s*{re.escape(key)}\b"))
    accounts = doc.get("accounts", {})
    if not isinstance(accounts, dict):
        raise errors.at("[accounts] must be a table of name = \"0x...\"", _line_of(text, r"accounts"))
    for name, raw in accounts.items():
        line = _line_of(text, rf"^\s*{re.escape(name)}\s*=")
        try:
            if not isinstance(raw, str) or not raw.lower().startswith("0x"):
                raise ValueError_(f"account '{name}' must be a 0x address string")
            world.accounts[name] = parse_value(T.ADDRESS, raw, lambda t: address_from_text(t, derive_address),
                                               f"account '{name}'")
        except ValueError_ as err:
            raise errors.at(str(err), line) from None

    deploys = doc.get("deploy", [])
    if not isinstance(deploys, list):
        raise errors.at("deployments are written [[deploy]]", _line_of(text, r"deploy"))
    cache = cache or SourceCache()
    programs: dict[str, CompilerData] = {}
    declared_in: dict[str, str] = {}  # contract type -> the file that declares it
    line = 1
    base = Path(path).parent
    for n, entry in enumerate(deploys, 1):
        line = _line_of(text, r"^\s*\[\[\s*deploy\s*\]\]", line) or line
        where = f"deployment #{n}"
        for key in ("name", "source", "contract"):
            if not isinstance(entry.get(key), str) or not entry.get(key):
                raise errors.at(f"{where} needs '{key}' (a string)", line)
        extra = set(entry) - {"name", "source", "contract", "sender", "args"}
        if extra:
            raise errors.at(f"{where}: unknown key '{sorted(extra)[0]}'", line)
        name = entry["name"]
        if name in world.instances or name in world.accounts:
            raise errors.at(f"{where}: the name '{name}' is already used", line)
        source = os.path.normpath(os.path.join(os.path.dirname(display), entry["source"]))
        if not (base / entry["source"]).is_file():
            raise errors.at(f"{where} ('{name}'): source file not found: {source}", line)
        data = programs.get(source)
        if data is None:
            data = programs[source] = CompilerData(source, cache)
            data.require_checked()
        checked = data.checked
        contract = checked.contracts.get(entry["contract"])
        if contract is None:
            known = ", ".join(sorted(checked.contracts)) or "none"
            raise errors.at(f"{where} ('{name}'): no contract '{entry['contract']}' in {source} "
                            f"(it has: {known})", line)
        first = declared_in.setdefault(contract.name, os.path.realpath(contract.file))
        if first != os.path.realpath(contract.file):
            raise errors.at(f"{where} ('{name}'): two different contracts are named '{contract.name}' "
                            f"({first} and {contract.file})", line)
        args = entry.get("args", [])
        if not isinstance(args, list):
            raise errors.at(f"{where} ('{name}'): args must be a list", line)
        sender = entry.get("sender", "deployer")
        if not isinstance(sender, str):
            raise errors.at(f"{where} ('{name}'): sender must be a name or 0x address", line)
        address = derive_address(name, "contract")
        inst = Instance(name, address, contract, data.compiled, data)
        world.instances[name] = inst
        world.by_address[address] = inst
        world.deployments.append({"name": name, "sender": sender, "args": args, "line": line})
        line += 1
    return world


def genesis(world: World) -> Context:
    """Deploy every instance in order, running its ``init``; a failing init is the world's error."""
    errors = _WorldErrors(world.path, world.text)
    ctx = Context(world.new_storage(), world.code, number=0, timestamp=0)
    for entry in world.deployments:
        inst = world.instances[entry["name"]]
        init = inst.contract.init
        params = init.params if init else []
        args = entry["args"]
        if len(args) != len(params):
            raise errors.at(f"deployment '{inst.name}': init of {inst.contract.name} takes {len(params)} "
                            f"argument{'s' if len(params) != 1 else ''}, found {len(args)}", entry["line"])
        try:
            sender = parse_value(T.ADDRESS, entry["sender"], world.parse_address, "sender")
            values = [parse_value(p.type, raw, world.parse_address, f"init argument '{p.name}'")
                      for p, raw in zip(params, args)]
        except ValueError_ as err:
            raise errors.at(f"deployment '{inst.name}': {err}", entry["line"]) from None
        if init is None:
            continue
        try:
            inst.program.function(inst.contract.name, "init")(ctx, inst.address, sender, *values)
        except Revert as r:
            raise errors.at(f"deployment '{inst.name}': init reverted: {r.reason}", entry["line"]) from None
    ctx.journal.clear()
    ctx.events.clear()
    return ctx


__all__ = ["World", "Instance", "load_world", "genesis", "format_address"]
