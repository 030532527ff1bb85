"""Blocks (SPEC §3): JSON Lines of transactions, resolved against a world.

A line that is not JSON makes the file malformed (exit 1, naming the line).
A transaction that is JSON but cannot run (unknown contract or function, a
non-``pub`` function, wrong arguments) is *invalid*: it gets a receipt and
changes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..diagnostics import LaneError, Location
from ..semantics.symbols import Function
from ..semantics import types as T
from .files import read_text
from .values import ValueError_, parse_value
from .world import Instance, World


@dataclass(slots=True)
class Tx:
    """One transaction, ready to run (``fn`` set) or invalid (``invalid`` says why)."""

    index: int
    line: int
    sender: int
    to: int
    instance: Instance | None
    function: Function | None
    fn: Callable | None
    args: tuple
    invalid: str | None = None
    call: tuple = ()  # (to, sender, *args): what the compiled function takes after the context

    def __post_init__(self) -> None:
        self.call = (self.to, self.sender, *self.args)


def read_block(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """The JSON value of each non-empty line, with its line number."""
    display, text = read_text(path, "block")
    return parse_block_text(text, display)


def parse_block_text(text: str, display: str) -> list[tuple[int, Any]]:
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((no, json.loads(line)))
        except json.JSONDecodeError as err:
            raise LaneError(f"invalid JSON: {err.msg}", Location.point(display, no, err.colno),
                            code="block", sources={display: text}) from None
    return out


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a block's many small acyclic objects are made.

    With millions of tuples and lists alive, each of its full passes walks all of them, which
    makes building a block's structures superlinear; nothing made here needs it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def prepare(world: World, raw: list[tuple[int, Any]], trace: bool = False) -> list[Tx]:
    """Resolve each transaction's target, function and arguments."""
    with gc_paused():
        return [_prepare_one(world, i, line, obj, trace) for i, (line, obj) in enumerate(raw)]


def _invalid(index: int, line: int, reason: str, sender: int = 0, to: int = 0) -> Tx:
    return Tx(index, line, sender, to, None, None, None, (), reason)


def _prepare_one(world: World, index: int, line: int, obj: Any, trace: bool) -> Tx:
    if not isinstance(obj, dict):
        return _invalid(index, line, "a transaction must be a JSON object")
    unknown = set(obj) - {"from", "to", "fn", "args"}
    if unknown:
        return _invalid(index, line, f"unknown field '{sorted(unknown)[0]}'")
    try:
        sender = parse_value(T.ADDRESS, obj.get("from"), world.parse_address, "'from'")
    except ValueError_ as err:
        return _invalid(index, line, str(err))
    to_raw, fn_name = obj.get("to"), obj.get("fn")
    if not isinstance(to_raw, str):
        return _invalid(index, line, "'to' must name a deployed contract", sender)
    try:
        to = parse_value(T.ADDRESS, to_raw, world.parse_address, "'to'")
    except ValueError_ as err:
        return _invalid(index, line, str(err), sender)
    inst = world.by_address.get(to)
    if inst is None:
        return _invalid(index, line, f"unknown contract '{to_raw}'", sender, to)
    if not isinstance(fn_name, str):
        return _invalid(index, line, "'fn' must name a function", sender, to)
    function = inst.contract.functions.get(fn_name)
    if function is None:
        return _invalid(index, line, f"unknown function '{fn_name}' of {inst.contract.name}", sender, to)
    if not function.is_pub:
        return _invalid(index, line, f"function '{inst.contract.name}.{fn_name}' is not pub", sender, to)
    args = obj.get("args", [])
    if not isinstance(args, list):
        return _invalid(index, line, "'args' must be a list", sender, to)
    if len(args) != len(function.params):
        n = len(function.params)
        return _invalid(index, line, f"{inst.contract.name}.{fn_name} takes {n} argument{'s' if n != 1 else ''}, "
                        f"found {len(args)}", sender, to)
    try:
        values = tuple(parse_value(p.type, a, world.parse_address, f"argument '{p.name}'")
                       for p, a in zip(function.params, args))
    except ValueError_ as err:
        return _invalid(index, line, str(err), sender, to)
    program = inst.data.traced if trace else inst.program
    return Tx(index, line, sender, to, inst, function, program.function(inst.contract.name, fn_name), values)
