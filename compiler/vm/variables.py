"""A contract instance's storage variables in memory: dicts that know their zero, or load it.

``storage[address]`` is the list of an instance's variables, each a dict from key
to value (a scalar's key is ``()``).  Generated code reads a location with
``var[key]``: a key that is not in the dict is answered by ``__missing__``.

- :class:`Var` answers the variable's zero: the state is wholly in memory
  (a world's genesis, a run without ``--state``).
- :class:`LazyVar` asks its loader (the state file) and keeps the answer: the
  state in memory is the part of the file that blocks have touched, and a
  location is read from the file the first time something reads it.  Blocks
  load what their access summaries name in bulk beforehand
  (:meth:`compiler.runtime.statedb.StateDB.prefetch`), so this is the rare
  path, but it is what makes a read outside every summary still exact.

A zero value and a missing key are the same state (the roots skip zeros).
"""

from __future__ import annotations

from typing import Any, Callable


class Var(dict):
    """A variable wholly in memory: a missing key reads as the variable's zero.

    ``before`` holds, for each key written since the block began (:meth:`Context.begin`), its
    value then: generated code records it at the key's first write, so that what a block changed
    is known without going through its journal (:func:`compiler.runtime.changes.from_befores`).
    ``quiet``: a lane's code logs no read of it (no function of the block writes it:
    :meth:`compiler.runtime.replica.FunctionTable.quiet`)."""

    __slots__ = ("zero", "before", "quiet")

    def __init__(self, zero: Any = 0, items: Any = ()) -> None:
        super().__init__(items)
        self.zero = zero
        self.before: dict = {}
        self.quiet = False

    def __missing__(self, key: Any) -> Any:
        return self.zero

    def copy(self) -> "Var":  # dict.copy would return a plain dict, which forgets its zero
        return type(self)(self.zero, self)

    def __reduce__(self):  # pickled (tests, the analysis cache) as what it is
        return (Var, (self.zero, dict(self)))


class LazyVar(Var):
    """A variable of a state file: a key not yet in memory is read from the file, once."""

    __slots__ = ("load",)

    def __init__(self, zero: Any, load: Callable[[Any], Any], items: Any = ()) -> None:
        super().__init__(zero, items)
        self.load = load

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.load(key)
        return value

    def copy(self) -> "LazyVar":
        return LazyVar(self.zero, self.load, self)

    def __reduce__(self):
        return (Var, (self.zero, dict(self)))


def copy_storage(storage: dict[int, list[dict]]) -> dict[int, list[dict]]:
    """A copy of a whole state (each variable keeps its kind: its zero, its loader)."""
    return {a: [v.copy() for v in variables] for a, variables in storage.items()}
