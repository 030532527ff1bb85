"""The executors by name (SPEC §4); each is imported only when a block runs on it.

An executor is ``execute(ctx, txs, progress=None) -> list[Outcome]``; a module
that needs the chain (persistent workers) provides ``executor_for(chain, workers)``.
"""

from __future__ import annotations

import importlib
from typing import Callable

EXECUTORS: dict[str, tuple[str, str]] = {
    "parallel": ("compiler.runtime.parallel", "independent transactions on --workers processes "
                 "(inline when that cannot pay), with the sequential result"),
    "sequential": ("compiler.runtime.sequential", "the reference: transactions one after the other"),
    "dask": ("compiler.runtime.dask_executor", "the parallel executor's lanes on a Dask cluster (a LocalCluster "
             "of --workers processes, or --scheduler ADDRESS; docs/distributed.md)"),
}
DEFAULT = "parallel"


def get(name: str, chain=None, workers: int = 1, **options) -> Callable:
    """The executor ``name``; ``options`` go to a chain's executor (the dask one's ``scheduler``)."""
    module = importlib.import_module(EXECUTORS[name][0])
    if hasattr(module, "executor_for"):
        return module.executor_for(chain, workers, **options)
    return module.execute


def describe() -> str:
    return "; ".join(f"{name}: {text}" for name, (_, text) in EXECUTORS.items())
