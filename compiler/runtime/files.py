"""Reading a user's world and block files, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

from ..diagnostics import LaneError


def read_text(path: str | os.PathLike, kind: str) -> tuple[str, str]:
    """(display name, text) of a ``kind`` file ("world", "block"); a LaneError if it cannot be read."""
    display = os.path.normpath(os.fspath(path))
    try:
        return display, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaneError(f"{kind} file not found: {display}", code="io") from None
    except (OSError, UnicodeDecodeError) as err:
        raise LaneError(f"cannot read {kind} file {display}: {err}", code="io") from None
