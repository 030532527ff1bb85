"""Values in files and on the command line (SPEC §3), and in output.

In memory every value is a Python ``int`` (u256, an address, a contract
reference) or ``bool``; arrays are tuples.  In files a value is read by the
parameter's type; in output integers are decimal strings, addresses ``0x`` +
40 hex digits, booleans JSON booleans.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any, Callable

from ..semantics import types as T

U256_MAX = 2**256 - 1
ADDRESS_MAX = 2**160 - 1


class ValueError_(Exception):
    """A value that does not fit its type; the message says why."""


@functools.lru_cache(maxsize=65536)
def derive_address(name: str, domain: str = "account") -> int:
    """The deterministic address a name stands for: the last 20 bytes of sha256("lane:<domain>:<name>")."""
    digest = hashlib.sha256(f"lane:{domain}:{name}".encode()).digest()
    return int.from_bytes(digest[-20:], "big")


def format_address(value: int) -> str:
    return f"0x{value:040x}"


def format_value(ty: T.Type | None, value: Any) -> Any:
    """A runtime value as it appears in JSON output."""
    if ty is None or ty is T.VOID:
        return None
    if ty is T.BOOL:
        return bool(value)
    if ty is T.U256:
        return str(value)
    if isinstance(ty, T.ArrayType):
        return [format_value(ty.elem, v) for v in value]
    return format_address(value)  # address or contract


def format_text(ty: T.Type | None, value: Any) -> str:
    """A value as ``lane call`` prints it: decimal, 0x hex, true/false."""
    out = format_value(ty, value)
    if out is None:
        return "(no value)"
    if isinstance(out, bool):
        return "true" if out else "false"
    if isinstance(out, list):
        return "[" + ", ".join(format_text(ty.elem, v) for v in value) + "]"
    return out


def _parse_int(raw: Any, what: str) -> int:
    if isinstance(raw, bool):
        raise ValueError_(f"{what} must be an integer, not a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip().replace("_", "")
        try:
            value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise ValueError_(f"{what} must be an integer, found {raw!r}") from None
    else:
        raise ValueError_(f"{what} must be an integer, found {_kind(raw)}")
    if value < 0:
        raise ValueError_(f"{what} must not be negative, found {raw}")
    if value > U256_MAX:
        raise ValueError_(f"{what} exceeds 2^256-1")
    return value


def _kind(raw: Any) -> str:
    return {list: "a list", dict: "an object", type(None): "null", float: "a decimal number"}.get(
        type(raw), type(raw).__name__)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def address_from_text(text: str, resolve_name: Callable[[str], int]) -> int:
    """``0x`` + at most 40 hex digits, or a name that ``resolve_name`` turns into an address."""
    text = text.strip()
    if text[:2].lower() == "0x":
        digits = text[2:].replace("_", "")
        if not digits or len(digits) > 40 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError_(f"is not an address: {text!r} (0x and at most 40 hex digits)")
        return int(digits, 16)
    if _NAME.fullmatch(text):
        return resolve_name(text)
    raise ValueError_(f"is not an address or a name: {text!r}")


def parse_value(ty: T.Type, raw: Any, resolve_address: Callable[[str], int], what: str = "value") -> Any:
    """Read ``raw`` (from JSON, TOML or the command line) as a value of type ``ty``.

    ``resolve_address`` reads an address written as text (see :func:`address_from_text`).
    """
    if ty is T.U256:
        return _parse_int(raw, what)
    if ty is T.BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError_(f"{what} must be true or false, found {raw!r}")
    if ty is T.ADDRESS or isinstance(ty, T.ContractType):
        if isinstance(raw, str):
            try:
                return resolve_address(raw)
            except ValueError_ as err:
                raise ValueError_(f"{what} {err}") from None
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= ADDRESS_MAX:
            return raw
        raise ValueError_(f"{what} must be an address (a name or 0x hex), found {_kind(raw)}")
    if isinstance(ty, T.ArrayType):
        if not isinstance(raw, list):
            raise ValueError_(f"{what} must be a list, found {_kind(raw)}")
        if len(raw) > ty.size:
            raise ValueError_(f"{what} has {len(raw)} elements; its type {ty} allows at most {ty.size}")
        return tuple(parse_value(ty.elem, item, resolve_address, f"{what}[{i}]") for i, item in enumerate(raw))
    raise ValueError_(f"{what} has a type that cannot be given as an argument: {ty}")  # pragma: no cover
