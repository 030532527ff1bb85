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
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any, Callable

from ..semantics import types as T

U256_MAX = 2**256 - 1
ADDRESS_MAX = 2**160 - 1


class ValueError_(Exception):
    """A value that does not fit its type; the message says why."""


@functools.lru_cache(maxsize=65536)
def derive_address(name: str, domain: str = "account") -> int:
    """The deterministic address a name stands for: the last 20 bytes of sha256("lane:<domain>:<name>")."""
    return derive_addresses([name], domain)[0]


def derive_addresses(names: list[str], domain: str = "account") -> list[int]:
    """:func:`derive_address` of each name, by C code (about a microsecond a name, where a call of
    derive_address for each costs several: a block of 100,000 transfers over 10,000 accounts names
    10,000)."""
    texts = map(str.encode, map(f"lane:{domain}:{{}}".format, names))
    digests = map(_DIGEST, map(hashlib.sha256, texts))
    return list(map(int.from_bytes, map(_LAST_20, digests), repeat("big")))


_DIGEST = methodcaller("digest")
_LAST_20 = itemgetter(slice(-20, None))


format_address: Callable[[int], str] = "0x{:040x}".format  # (a C callable: ``map`` over a column runs no Python)


def format_value(ty: T.Type | None, value: Any) -> Any:
    """A runtime value as it appears in JSON output."""
    return value_formatter(ty)(value)


def value_formatter(ty: T.Type | None) -> Callable[[Any], Any]:
    """What :func:`format_value` does to a value of type ``ty``, as one callable (a C function for
    the common types: ``map`` over a column of values runs no Python)."""
    if ty is None or ty is T.VOID:
        return _nothing
    if ty is T.BOOL:
        return bool
    if ty is T.U256:
        return str
    if isinstance(ty, T.ArrayType):
        return functools.partial(_format_array, value_formatter(ty.elem))
    return format_address  # address or contract


def return_kind(ty: T.Type | None) -> str:
    """How a return value of type ``ty`` (a scalar, or nothing) is shown, as the code a state file
    keeps for each receipt (it keeps receipts, not calls): ``n`` nothing, ``u`` a number, ``b`` a
    boolean, ``a`` an address or a contract."""
    if ty is None or ty is T.VOID:
        return "n"
    return "b" if ty is T.BOOL else "u" if ty is T.U256 else "a"


def kind_formatter(kind: str) -> Callable[[Any], Any] | None:
    """:func:`value_formatter` of the values a :func:`return_kind` code stands for (None: no such code)."""
    return _KIND_FORMATTERS.get(kind)


def _nothing(_value: Any) -> None:
    return None


_KIND_FORMATTERS: dict[str, Callable[[Any], Any]] = {"n": _nothing, "b": bool, "u": str, "a": format_address}


def _format_array(elem: Callable[[Any], Any], value: Any) -> list:
    return list(map(elem, value))


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


# Integers in files and on the command line: ASCII digits only (Python's int() also takes
# Arabic-Indic and other Unicode digits, and surrounding spaces), '_' only between digits,
# as in Lane's own literals.
_DECIMAL = re.compile(r"[0-9]+(?:_[0-9]+)*")
_HEX = re.compile(r"0[xX]([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)")
U256_DIGITS = len(str(U256_MAX))  # 78 decimal digits; 64 hex digits


class LongInteger:
    """A JSON or TOML integer too long to convert: CPython's int() refuses more than 4,300
    decimal digits, and none of them fits a u256 anyway.  Only its sign and length are kept."""

    __slots__ = ("negative", "digits")

    def __init__(self, text: str) -> None:
        self.negative = text.startswith("-")
        self.digits = len(text) - self.negative

    def __repr__(self) -> str:
        return f"{'a negative' if self.negative else 'an'} integer of {self.digits:,} digits"


def _int_from_text(raw: str, what: str) -> int:
    """A decimal or 0x hex integer written as text, refused before conversion when it is too long."""
    m = _HEX.fullmatch(raw)
    if m is not None:
        digits, base, most = m.group(1).replace("_", "").lstrip("0"), 16, 64
    elif _DECIMAL.fullmatch(raw):
        digits, base, most = raw.replace("_", "").lstrip("0"), 10, U256_DIGITS
    else:
        if raw[:1] == "-" and _DECIMAL.fullmatch(raw[1:]):
            raise ValueError_(f"{what} must not be negative, found {quoted(raw)}")
        raise ValueError_(f"{what} must be an integer, found {quoted(raw)}")
    if len(digits) > most:
        raise ValueError_(f"{what} exceeds 2^256-1")
    return int(digits, base) if digits else 0


def _parse_int(raw: Any, what: str) -> int:
    if isinstance(raw, bool):
        raise ValueError_(f"{what} must be an integer, not a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        value = _int_from_text(raw, what)
    elif isinstance(raw, LongInteger):
        raise ValueError_(f"{what} must not be negative" if raw.negative else f"{what} exceeds 2^256-1")
    else:
        raise ValueError_(f"{what} must be an integer, found {_kind(raw)}")
    if value < 0:
        # Quoted when short: a negative integer can have up to 4,300 digits (longer ones are LongIntegers).
        raise ValueError_(f"{what} must not be negative" + (f", found {raw}" if value > -10**20 else ""))
    if value > U256_MAX:
        raise ValueError_(f"{what} exceeds 2^256-1")
    return value


def _kind(raw: Any) -> str:
    return {list: "a list", dict: "an object", type(None): "null", float: "a decimal number",
            LongInteger: "int"}.get(type(raw), type(raw).__name__)


# How much of a user's text a message quotes: enough to recognise it, not a whole file.
SHOWN_CHARS = 80


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` safe to put in a message: every character that is not printable is escaped
    (``\\x1b``, ``\\u2028``, a lone surrogate as ``\\ud800``) and a long text is cut.

    Names from a user's file reach receipts, the terminal and the state file: a lone
    surrogate cannot be encoded in any of them, and a control character would be obeyed
    by the terminal."""
    if len(text) > limit:
        text = text[:limit]
        cut = True
    else:
        cut = False
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text + "..." if cut else text


def quoted(text: str) -> str:
    """``'text'``, made safe by :func:`shown`."""
    return f"'{shown(text)}'"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def address_from_text(text: str, resolve_name: Callable[[str], int]) -> int:
    """``0x`` + at most 40 hex digits, or a name that ``resolve_name`` turns into an address."""
    if text[:2].lower() == "0x":
        m = _HEX.fullmatch(text)
        digits = m.group(1).replace("_", "") if m else ""
        if not digits or len(digits) > 40:
            raise ValueError_(f"is not an address: {quoted(text)} (0x and at most 40 hex digits)")
        return int(digits, 16)
    if _NAME.fullmatch(text):
        return resolve_name(text)
    raise ValueError_(f"is not an address or a name: {quoted(text)}")


name_match: Callable[[str], re.Match | None] = _NAME.fullmatch  # (:func:`is_name` as a C callable, for ``map``)


def is_name(text: str) -> bool:
    """Whether ``text`` can be written where an address is expected and read as a name."""
    return name_match(text) is not None


def parse_value(ty: T.Type, raw: Any, resolve_address: Callable[[str], int], what: str = "value",
                int_addresses: bool = False) -> Any:
    """Read ``raw`` (from JSON, TOML or the command line) as a value of type ``ty``.

    ``resolve_address`` reads an address written as text (see :func:`address_from_text`). Files
    write an address as a name or 0x hex (SPEC §3), never as a number; ``int_addresses`` lets
    Python callers, whose addresses are integers, pass one.
    """
    if ty is T.U256:
        return _parse_int(raw, what)
    if ty is T.BOOL:
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):  # (the command line's words, SPEC §3: not True or TRUE)
            return raw == "true"
        found = quoted(raw) if isinstance(raw, str) else shown(repr(raw))
        raise ValueError_(f"{what} must be true or false, found {found}")
    if ty is T.ADDRESS or isinstance(ty, T.ContractType):
        if isinstance(raw, str):
            try:
                return resolve_address(raw)
            except ValueError_ as err:
                raise ValueError_(f"{what} {err}") from None
        if int_addresses and isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= ADDRESS_MAX:
            return raw
        found = (f"the number {shown(str(raw))}" if type(raw) is int
                 else repr(raw) if type(raw) is LongInteger else _kind(raw))
        raise ValueError_(f"{what} must be an address (a name or 0x hex), found {found}")
    if isinstance(ty, T.ArrayType):
        if not isinstance(raw, list):
            raise ValueError_(f"{what} must be a list, found {_kind(raw)}")
        if len(raw) > ty.size:
            raise ValueError_(f"{what} has {len(raw)} elements; its type {ty} allows at most {ty.size}")
        return tuple(parse_value(ty.elem, item, resolve_address, f"{what}[{i}]", int_addresses)
                     for i, item in enumerate(raw))
    raise ValueError_(f"{what} has a type that cannot be given as an argument: {ty}")  # pragma: no cover
