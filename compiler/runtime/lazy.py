"""Modules loaded when first used (the standard library's :class:`importlib.util.LazyLoader`).

The parallel executor runs many blocks inline (too small, or too light for lanes): such a block
needs none of the lanes' machinery (the messages, the merge, the workers' replicas), whose modules
cost a run that imports them 10 ms with their bytecode cached, 40-50 ms without (a process that may
not write ``__pycache__``): a one-transaction block's ``lane run`` paid that much more with
``--executor parallel`` than with the sequential executor.  Those modules are named here and loaded
by the first read of one of their attributes: by a block that goes to lanes."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module ``name`` (absolute), loaded when an attribute of it is first read; the module
    itself if it is loaded already."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - a name of this package, always found
        raise ImportError(f"no module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


__all__ = ["lazy"]
