"""A transaction ready to run, and what running it gives (its outcome)."""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..runtime.world import Instance
    from ..semantics.symbols import Function

OK, REVERTED, INVALID = "ok", "reverted", "invalid"

# What an executor produces for one transaction: (status, reason, return value, events, cost, at),
# ``at`` where a reverted one failed (``file:line:column``, see Revert.at), else None.  Only the
# first five are canonical (compiler.runtime.encoding): reformatting a contract's source moves
# ``at`` but changes no receipts root.
Outcome = tuple[str, "str | None", Any, tuple, int, "str | None"]


@dataclass(slots=True)
class Tx:
    """One transaction, ready to run (``fn`` set) or invalid (``invalid`` says why)."""

    index: int
    line: int
    sender: int
    to: int
    instance: Instance | None
    function: Function | None
    fn: Callable | None
    args: tuple
    invalid: str | None = None
    call: tuple = ()  # (to, sender, *args): what the compiled function takes after the context
    written: tuple = ()  # an invalid one's (from, to, fn) as its line wrote them (texts; empty: none)

    def __post_init__(self) -> None:
        self.call = (self.to, self.sender, *self.args)


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a block's many small acyclic objects are made.

    With millions of tuples and lists alive, each of its full passes walks all of them, which
    makes building a block's structures superlinear; nothing made here needs it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What was made meanwhile is frozen first: re-enabled, the collector would otherwise walk
            # all of it at its next pass (a tenth of a second for a big block), to find no cycle.
            gc.freeze()
            gc.enable()
