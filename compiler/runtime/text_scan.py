"""What a parser cannot say about a world's or a block's text, found by scanning it.

Python's JSON and TOML readers recurse once per level of nesting and fail at the
interpreter's recursion limit, and CPython refuses to convert a decimal integer
of more than 4,300 digits; neither failure says where it happened.  These scans
find the place, so that the error can name the file's line and column.
"""

from __future__ import annotations

import re
import sys

# How deeply a block line may nest its arrays and objects.  A transaction nests three
# levels (the object, its args, an array argument); the limit is far above that, and far
# below the depth at which the JSON reader runs out of stack.
MAX_NESTING = 64

# Each scan matches strings (and TOML comments) whole, so that a bracket or a digit inside
# them is skipped as text, not taken for structure.
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_TOML_TEXT = r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*'
_JSON_BRACKETS = re.compile(rf"{_JSON_STRING}|[\[\]{{}}]")
_TOML_BRACKETS = re.compile(rf"{_TOML_TEXT}|[\[\]{{}}]", re.DOTALL)
_TOML_DIGITS = re.compile(rf"{_TOML_TEXT}|[0-9][0-9_]*", re.DOTALL)


def _too_deep(tokens, limit: int) -> int | None:
    """The offset of the first opening bracket that nests deeper than ``limit``, or None."""
    depth = 0
    for m in tokens:
        token = m.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > limit:
                return m.start()
        elif token == "]" or token == "}":
            depth -= 1
    return None


def json_too_deep(line: str, limit: int = MAX_NESTING) -> int | None:
    """The 1-based column at which a JSON line nests deeper than ``limit``, or None.

    Cheap for an ordinary line: only one with more than ``limit`` brackets is scanned, and the
    scan stops at the first bracket too deep."""
    if len(line) <= limit or line.count("[") + line.count("{") <= limit:
        return None
    offset = _too_deep(_JSON_BRACKETS.finditer(line), limit)
    return None if offset is None else offset + 1


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset``, lines split at '\\n' as TOML counts them."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def toml_too_deep(text: str, limit: int = MAX_NESTING) -> tuple[int, int] | None:
    """Where a TOML text nests its values deeper than ``limit`` (a table header is one level)."""
    offset = _too_deep(_TOML_BRACKETS.finditer(text), limit)
    return None if offset is None else _position(text, offset)


def toml_long_integer(text: str) -> tuple[int, int] | None:
    """Where a TOML text has a decimal integer longer than CPython will convert."""
    limit = sys.get_int_max_str_digits() or 4300
    for m in _TOML_DIGITS.finditer(text):
        token = m.group()
        if len(token) > limit and token[0] in "0123456789" and len(token.replace("_", "")) > limit:
            return _position(text, m.start())
    return None


def lines_of(texts: list[str]) -> str | None:
    """``texts`` joined one a line, for a regular expression of lines to match a whole column at
    once (``fullmatch``, C code); None when a text holds a line break itself."""
    joined = "\n".join(texts)
    return joined if joined.count("\n") == len(texts) - 1 else None
