"""The executors by name (SPEC §4); each is imported only when a block runs on it.

An executor is ``execute(ctx, txs, progress=None) -> list[Outcome]``.
"""

from __future__ import annotations

import importlib
from typing import Callable

EXECUTORS: dict[str, tuple[str, str]] = {
    "sequential": ("compiler.runtime.sequential", "the reference: transactions one after the other"),
}


def get(name: str) -> Callable:
    module, _ = EXECUTORS[name]
    return importlib.import_module(module).execute


def describe() -> str:
    return "; ".join(f"{name}: {text}" for name, (_, text) in EXECUTORS.items())
