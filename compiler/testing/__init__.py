"""Testing Lane contracts from Python: :class:`Chain`, contract handles, ``chain.reverts``, and a
pytest plugin (:mod:`compiler.testing.plugin`) with a ``chain`` fixture.  docs/testing.md
says how to use them.

The names are imported when first used, so that ``import compiler`` (the ``lane`` command)
does not load them, and the pytest plugin can ask for assertion rewriting before they load.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Chain": "api", "Snapshot": "api",
    "Contract": "contract", "Function": "contract", "Call": "contract",
    "Reverted": "errors", "CallError": "errors", "NoSuchFunction": "errors", "CompileError": "errors",
    "Event": "events", "Receipt": "events",
    "Address": "values",
    "BlockRun": "blocks",
    "ExpectRevert": "reverts",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
