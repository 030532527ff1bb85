"""Files Lane ships beside its code: the example contracts and the demo world.

``lane demo``, ``lane gen`` and ``lane bench`` read them, from any directory.
An installed Lane carries them inside the package, as ``compiler/examples/``
(pyproject.toml's force-include puts them there, as it does the grammar); a
source checkout (or an editable install, which has no copy) has them at
``examples/`` beside the package.  ``LANE_EXAMPLES`` names another folder, to
try edited copies.  The current directory is never searched: a user's own
``examples/`` folder must not stand in for Lane's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .diagnostics import LaneError

PACKAGE = Path(__file__).resolve().parent


def examples_candidates() -> list[Path]:
    """Where the examples may be, in the order they are tried."""
    env = os.environ.get("LANE_EXAMPLES")
    return ([Path(env)] if env else []) + [PACKAGE / "examples", PACKAGE.parent / "examples"]


def examples_dir(needed: Iterable[str] = ()) -> Path:
    """The examples folder: the first candidate that holds every file of ``needed`` (paths relative
    to it, such as ``demo/world.toml``)."""
    needed = list(needed)
    candidates = examples_candidates()
    for path in candidates:
        if path.is_dir() and all((path / name).is_file() for name in needed):
            return path
    wanted = f" (with {', '.join(needed)})" if needed else ""
    raise LaneError(f"cannot find Lane's examples folder{wanted}: looked in "
                    f"{', '.join(str(p) for p in candidates)}; reinstall Lane, or set LANE_EXAMPLES "
                    "to a copy of the repository's examples/", code="usage")


def display_path(path: Path) -> str:
    """A path as a message shows it: relative to the current directory when it lies below it, else
    absolute (an installed package is far from where its user works)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
