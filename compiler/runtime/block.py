"""Blocks (SPEC §3): JSON Lines of transactions, resolved against a world.

A line that is not JSON, or nests deeper than ``MAX_NESTING`` levels, makes the
file malformed (exit 1, naming the line).  A transaction that is JSON but cannot
run (a field named twice or unknown, an unknown contract or function, a
non-``pub`` function, wrong arguments) is *invalid*: it gets a receipt and
changes nothing.  :func:`prepare` is the reference for every reason a
transaction is invalid.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..diagnostics import LaneError, Location
from ..semantics import types as T
from .files import read_text
from .text_scan import MAX_NESTING, json_too_deep
from ..vm.values import U256_DIGITS, LongInteger, ValueError_, parse_value, quoted
from ..vm.transaction import Tx, gc_paused
from .world import World


def read_block(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """The JSON value of each non-empty line, with its line number."""
    display, text = read_text(path, "block")
    return parse_block_text(text, display)


def parse_block_text(text: str, display: str) -> list[tuple[int, Any]]:
    out = []
    # Lines end at '\n' only: str.splitlines also splits at U+2028, U+2029, '\v', '\f', '\x1c'...,
    # which a JSON string may hold as they are.
    for no, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):  # JSON's own white space (a '\r\n' file reads as well)
            continue
        try:
            out.append((no, decode_json(line)))
        except JsonError as err:
            raise LaneError(err.message, Location.point(display, no, err.column),
                            code="block", sources={display: text}) from None
    return out


class JsonError(Exception):
    """A JSON text that cannot be read: why (``reason``), said in full (``message``), and the
    1-based column it points at."""

    def __init__(self, message: str, reason: str, column: int) -> None:
        super().__init__(message)
        self.message, self.reason, self.column = message, reason, column


class DuplicateFields(dict):
    """A JSON object that names a field twice: Python's reader would silently keep the last value."""

    __slots__ = ("duplicate",)


def _fields(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    obj = DuplicateFields(obj)
    obj.duplicate = key
    return obj


def _long_int(digits: str) -> int | LongInteger:
    """A JSON integer, or a LongInteger if it is longer than any u256: JSON integers have no
    leading zeros, so one of more than 78 digits does not fit (and CPython refuses to convert
    one of more than 4,300)."""
    return LongInteger(digits) if len(digits) > U256_DIGITS + 1 else int(digits)


def _loads(text: str, **hooks) -> Any:
    try:
        return json.loads(text, **hooks)
    except json.JSONDecodeError as err:
        raise JsonError(f"invalid JSON: {err.msg}", err.msg, err.colno) from None
    except RecursionError:  # only if the stack is nearly full already: json_too_deep bounds the depth
        raise JsonError("JSON nested too deeply", "nested too deeply", 1) from None


def decode_json(text: str) -> Any:
    """One JSON value (a block line, a command-line argument); a JsonError if it cannot be read.

    The plain reader is the fast path.  The slow ones are taken only when needed: for an integer
    too long for CPython to convert, and for an object with more colons than fields, which
    may name a field twice (each of its fields has a colon of its own)."""
    column = json_too_deep(text)
    if column is not None:
        deep = f"nested more than {MAX_NESTING} levels deep"
        raise JsonError(f"JSON {deep}", deep, column)
    try:
        value = _loads(text)
    except ValueError:  # CPython's limit on converting long integers (not a JSONDecodeError)
        return _loads(text, parse_int=_long_int, object_pairs_hook=_fields)
    if type(value) is dict and text.count(":") > len(value):
        value = _loads(text, object_pairs_hook=_fields)
    return value


def prepare(world: World, raw: list[tuple[int, Any]], trace: bool = False) -> list[Tx]:
    """Resolve each transaction's target, function and arguments."""
    with gc_paused():
        return [_prepare_one(world, i, line, obj, trace) for i, (line, obj) in enumerate(raw)]


def _invalid(obj: Any, index: int, line: int, reason: str, sender: int = 0, to: int = 0) -> Tx:
    """An invalid transaction, with its sender, target and function as its line wrote them (a text each,
    empty where it was none: what ``lane schedule`` shows of it)."""
    written = tuple(v if isinstance(v, str) else "" for v in (obj.get("from"), obj.get("to"), obj.get("fn"))) \
        if isinstance(obj, dict) else ("", "", "")
    return Tx(index, line, sender, to, None, None, None, (), reason, written=written)


def _prepare_one(world: World, index: int, line: int, obj: Any, trace: bool) -> Tx:
    if not isinstance(obj, dict):
        return _invalid(obj, index, line, "a transaction must be a JSON object")
    if isinstance(obj, DuplicateFields):
        return _invalid(obj, index, line, f"duplicate field {quoted(obj.duplicate)}")
    unknown = set(obj) - {"from", "to", "fn", "args"}
    if unknown:
        return _invalid(obj, index, line, f"unknown field {quoted(sorted(unknown)[0])}")
    try:
        sender = parse_value(T.ADDRESS, obj.get("from"), world.parse_address, "'from'")
    except ValueError_ as err:
        return _invalid(obj, index, line, str(err))
    to_raw, fn_name = obj.get("to"), obj.get("fn")
    if not isinstance(to_raw, str):
        return _invalid(obj, index, line, "'to' must name a deployed contract", sender)
    try:
        to = parse_value(T.ADDRESS, to_raw, world.parse_address, "'to'")
    except ValueError_ as err:
        return _invalid(obj, index, line, str(err), sender)
    inst = world.by_address.get(to)
    if inst is None:
        return _invalid(obj, index, line, f"unknown contract {quoted(to_raw)}", sender, to)
    if not isinstance(fn_name, str):
        return _invalid(obj, index, line, "'fn' must name a function", sender, to)
    function = inst.contract.functions.get(fn_name)
    if function is None:
        return _invalid(obj, index, line, f"unknown function {quoted(fn_name)} of {inst.contract.name}", sender, to)
    if not function.is_pub:
        return _invalid(obj, index, line, f"function '{inst.contract.name}.{fn_name}' is not pub", sender, to)
    args = obj.get("args", [])
    if not isinstance(args, list):
        return _invalid(obj, index, line, "'args' must be a list", sender, to)
    if len(args) != len(function.params):
        n = len(function.params)
        return _invalid(obj, index, line, f"{inst.contract.name}.{fn_name} takes {n} argument{'s' if n != 1 else ''}, "
                        f"found {len(args)}", sender, to)
    try:
        values = tuple(parse_value(p.type, a, world.parse_address, f"argument '{p.name}'")
                       for p, a in zip(function.params, args))
    except ValueError_ as err:
        return _invalid(obj, index, line, str(err), sender, to)
    program = inst.data.traced if trace else inst.program
    return Tx(index, line, sender, to, inst, function, program.function(inst.contract.name, fn_name), values)
