"""Modules named now and imported by their first use.

The parallel executor runs many blocks inline (too small, or too light for lanes): such a block
needs none of the lanes' machinery (the messages, the merge, the workers' replicas), whose modules
cost a run that imports them 10 ms with their bytecode cached, 40-50 ms without (a process that may
not write ``__pycache__``): a one-transaction block's ``lane run`` paid that much more with
``--executor parallel`` than with the sequential executor.  Those modules are named here and
imported by the first read of one of their attributes, or by :func:`load`: by a block that goes
to lanes, as it is about to (the import a process's once, not the block's time).  (An import
by :func:`importlib.import_module`, whose locks make it safe from any thread: the Dask executor's
replies arrive on its client's thread.)"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """The module ``name`` (absolute), imported when an attribute of it is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:  # (only for what the instance itself does not hold)
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{'' if self._module is None else ' (imported)'}>"


def load(*modules: LazyModule) -> bool:
    """Import these modules now, if they are not yet; whether any was."""
    fresh = [m for m in modules if m._module is None]
    for m in fresh:
        m._module = importlib.import_module(m._name)
    return bool(fresh)


__all__ = ["LazyModule", "load"]
