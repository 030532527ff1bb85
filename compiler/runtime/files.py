"""Reading a user's world and block files, with errors that name the file.

Each kind of file has a size limit (docs/limits.md), and is read a chunk at a
time up to it: ``/dev/zero``, ``/dev/urandom`` or a pipe that never ends is
refused with a message instead of being read until memory runs out.
"""

from __future__ import annotations

import codecs
import os
import stat

from ..diagnostics import LaneError, Location
from ..limits import MAX_BLOCK_BYTES, MAX_WORLD_BYTES, NulByte, TooLarge, read_text_capped, size_text

SIZE_LIMITS = {"world": MAX_WORLD_BYTES, "block": MAX_BLOCK_BYTES}


def read_text(path: str | os.PathLike, kind: str) -> tuple[str, str]:
    """(display name, text) of a ``kind`` file ("world", "block"); a LaneError if it cannot be read."""
    display = os.path.normpath(os.fspath(path))
    try:
        # TOML and JSON text never holds a raw NUL byte: stop at the first one.
        return display, read_text_capped(path, SIZE_LIMITS[kind], refuse_nul=True)
    except FileNotFoundError:
        raise LaneError(f"{kind} file not found: {display}", code="io") from None
    except TooLarge as err:
        raise LaneError(f"{kind} file {display} is larger than {size_text(err.limit)} (the limit)",
                        code="limit") from None
    except NulByte as err:
        raise LaneError(f"{kind} file holds a NUL byte: it is not a text file",
                        Location.point(display, err.line, err.column), code="io") from None
    except UnicodeDecodeError:
        raise LaneError(f"cannot read {kind} file {display}: not valid UTF-8 text", code="io") from None
    except OSError as err:
        raise LaneError(f"cannot read {kind} file {display}: {err}", code="io") from None


def read_block_bytes(path: str | os.PathLike) -> tuple[str, bytes]:
    """(display name, bytes) of a block file, read with the block's size limit: the fast decoder
    reads bytes (:mod:`compiler.runtime.decode`); :func:`block_text` is the text the reference reads."""
    display = os.path.normpath(os.fspath(path))
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            limit = SIZE_LIMITS["block"]
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise TooLarge(limit)
            if stat.S_ISREG(st.st_mode):
                # What the file holds and a byte more, not the limit: a read takes memory for all it
                # is asked, and memory that large is fresh (page faults) each time.
                data = f.read(st.st_size + 1)
                if len(data) > st.st_size:  # (it grew since: the rest, up to the limit)
                    data += f.read(limit + 1 - len(data))
            else:  # a device or a pipe: a chunk at a time, stopping at once on what is not text
                parts: list[bytes] = []
                total = 0
                utf8 = codecs.getincrementaldecoder("utf-8")()
                while chunk := f.read(1 << 20):
                    parts.append(chunk)
                    total += len(chunk)
                    if b"\0" in chunk or total > limit:
                        break
                    utf8.decode(chunk)  # endless random bytes stop here, not after the limit
                data = b"".join(parts)
            if len(data) > limit and b"\0" not in data:
                raise TooLarge(limit)
    except FileNotFoundError:
        raise LaneError(f"block file not found: {display}", code="io") from None
    except TooLarge as err:
        raise LaneError(f"block file {display} is larger than {size_text(err.limit)} (the limit)",
                        code="limit") from None
    except UnicodeDecodeError:
        raise LaneError(f"cannot read block file {display}: not valid UTF-8 text", code="io") from None
    except OSError as err:
        raise LaneError(f"cannot read block file {display}: {err}", code="io") from None
    if b"\0" in data:
        block_text(data[:data.index(b"\0") + 1], display)  # says where
    if data.startswith(codecs.BOM_UTF8):  # (a byte order mark, as some editors write: not text, skipped)
        data = data[len(codecs.BOM_UTF8):]
    return display, data


def block_text(data: bytes, display: str) -> str:
    """A block file's bytes as :func:`read_text` reads its text: UTF-8, no NUL byte, every line
    ending ('\\r\\n', '\\r') read as '\\n'."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LaneError(f"cannot read block file {display}: not valid UTF-8 text", code="io") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise LaneError("block file holds a NUL byte: it is not a text file",
                        Location.point(display, line, column), code="io")
    return text
