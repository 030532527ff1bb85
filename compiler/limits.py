"""Lane's limits on its inputs, in one place; docs/limits.md is their table.

Every limit here is checked before the work it protects starts, so that no
input can make Lane overflow Python's stack, exhaust memory or hang: past a
limit the user gets a diagnostic (code ``limit``), never an internal error.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

MIB = 1 << 20

# ---- file sizes (bytes)
MAX_SOURCE_BYTES = 4 * MIB        # a contract file, and each file it imports
MAX_WORLD_BYTES = 16 * MIB        # a world file (TOML)
MAX_BLOCK_BYTES = 1024 * MIB      # a block file (JSON Lines): blocks of millions of transactions are fine

# ---- nesting in a contract (checked on the parse tree, before any recursive walk)
# The generated Python nests at most two parentheses per level of a Lane
# expression (three at a leaf, three more around a statement's expression), and
# CPython refuses more than 200 nested parentheses: 64 levels take at most 132,
# which leaves room for the generated code to change.
MAX_EXPR_DEPTH = 64
# Each block nests the generated code one indentation level deeper (an `else
# if` too: it becomes `else:` and an `if` inside it), and CPython allows 100.
MAX_BLOCK_DEPTH = 64
# CPython allows 20 statically nested loops (and other blocks) in one function.
MAX_LOOP_DEPTH = 16
# `map<K, map<K, ...>>`: far more than any storage layout needs.
MAX_TYPE_DEPTH = 16

# ---- calls (checked on the call graph, semantics/callgraph.py)
# Each Lane call is one Python frame when a transaction runs, under every
# executor (a worker process, a Dask thread), beside the executor's own frames
# and Python's limit of 1,000: 64 nested calls keep far from it.
MAX_CALL_DEPTH = 64


def size_text(n: int) -> str:
    """``4 MiB``, ``1 GiB``: a limit in the words of docs/limits.md."""
    if n >= 1024 * MIB and n % (1024 * MIB) == 0:
        return f"{n // (1024 * MIB)} GiB"
    if n % MIB == 0:
        return f"{n // MIB} MiB"
    return f"{n:,} bytes"


class TooLarge(ValueError):
    """A file holds more than its limit (or never ends: ``/dev/zero``, a pipe that is never closed).

    A ValueError, so that a reader that already treats a bad file as unreadable treats this one so too.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {size_text(limit)}")
        self.limit = limit


class NulByte(ValueError):
    """A data file (world, block) holds a NUL byte: it is not text, and is refused as soon as seen."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__("a NUL byte: not a text file")
        self.line, self.column = line, column


_CHUNK = 1 * MIB


def read_text_capped(path: str | os.PathLike, limit: int, *, refuse_nul: bool = False) -> str:
    """The UTF-8 text of ``path``, read a chunk at a time and never more than ``limit`` bytes.

    A regular file larger than the limit is refused before anything is read;
    any other file (a device, a pipe) is read until it ends or passes the
    limit.  Invalid UTF-8 raises UnicodeDecodeError at the first chunk that
    holds it, and with ``refuse_nul`` a NUL byte raises :class:`NulByte`, so
    ``/dev/urandom`` or ``/dev/zero`` as a data file stops at once instead of
    after ``limit`` bytes.  Newlines are read as ``open()`` in text mode reads
    them (``\\r\\n`` and ``\\r`` become ``\\n``), and a byte order mark that
    starts the file (as some editors write) is skipped, as Python skips one in
    a source file.  OSError as ``open()`` raises it.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts: list[str] = []
    total = 0
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise TooLarge(limit)
        while True:
            chunk = f.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            if refuse_nul and b"\0" in chunk:
                raise _nul_at(parts, decoder, chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(limit)
            parts.append(decoder.decode(chunk))
    parts.append(decoder.decode(b"", final=True))
    text = "".join(parts)
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _nul_at(parts: list[str], decoder, chunk: bytes) -> NulByte:
    """Where the first NUL byte of ``chunk`` is, after the text already read (1-based, in characters)."""
    before = "".join(parts) + decoder.decode(chunk[: chunk.index(b"\0")])
    before = before.replace("\r\n", "\n").replace("\r", "\n")
    line = before.count("\n") + 1
    return NulByte(line, len(before) - (before.rfind("\n") + 1) + 1)


def read_source(path: Path) -> str:
    """A contract file's text: at most :data:`MAX_SOURCE_BYTES`."""
    return read_text_capped(path, MAX_SOURCE_BYTES)
