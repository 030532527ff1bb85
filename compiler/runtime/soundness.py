"""The soundness checker (SPEC §2.5): every access a transaction makes must lie in its summary.

Transactions run in order, on code generated with tracing; before each one its
summary is instantiated against the state it will see, and every storage
access it then makes is checked against that set.  An escape is not a user
error: it is a bug in Lane's analysis, and the run fails loudly.
"""

from __future__ import annotations

from typing import Any

from ..analysis.summary import ADD, READ, WRITE
from ..semantics.types import zero_value
from ..schedule.instantiate import Unresolved, instantiate
from ..vm.transaction import Tx
from ..vm.context import Context
from ..vm.errors import Revert
from .receipts import INVALID, OK, REVERTED, Outcome

COVERS = {"r": (READ, WRITE), "w": (WRITE,), "a": (ADD, WRITE)}
MODE_NAMES = {"r": "read", "w": "write", "a": "add"}


class SoundnessError(AssertionError):
    """A transaction touched storage outside its instantiated summary."""


def _reader(ctx: Context, tx: Tx):
    layouts = tx.instance.program.layouts

    def read(address: int, contract: str, var: str, key: Any) -> Any:
        if ctx.code.get(address) != contract:
            # No such contract there: the call that would read it reverts; a wildcard is safe.
            raise Unresolved(f"no {contract} at {address:#x}")
        layout = layouts[contract]
        store = ctx.storage[address][layout.index[var]]
        return store.get(key, zero_value(layout.value_type[var]))

    return read


def _covered(allowed: dict, wild: dict, mode: str, address: int, contract: str, var: str, key: Any) -> bool:
    modes = COVERS[mode]
    exact = allowed.get((address, contract, var, key), ())
    if any(m in exact for m in modes):
        return True
    for where in ((address, contract, var), (None, contract, var)):
        if any(m in wild.get(where, ()) for m in modes):
            return True
    return False


def execute(ctx: Context, txs: list[Tx], progress=None) -> list[Outcome]:
    journal, events = ctx.journal, ctx.events
    outcomes: list[Outcome] = []
    for n, tx in enumerate(txs):
        if progress is not None and not n & 255:
            progress(n)
        if tx.fn is None:
            outcomes.append((INVALID, tx.invalid, None, (), 0, None))
            continue
        summary = tx.instance.data.summaries[tx.function.qualname]
        allowed: dict = {}
        wild: dict = {}
        for loc, mode in instantiate(summary, tx.sender, tx.to, tx.args, ctx.number, ctx.timestamp,
                                     _reader(ctx, tx)):
            table, key = (wild, (loc.address, loc.contract, loc.var)) if loc.is_wildcard else \
                (allowed, (loc.address, loc.contract, loc.var, loc.key))
            table.setdefault(key, set()).add(mode)
        escapes: list[str] = []

        def tracer(mode: str, address: int, var: str, key: Any, tx=tx) -> None:
            contract = ctx.code.get(address, "?")
            if not _covered(allowed, wild, mode, address, contract, var, key):
                escapes.append(f"{MODE_NAMES[mode]} of {contract}.{var}[{key!r}] at {address:#x}")

        ctx.tracer = tracer
        jmark, emark = len(journal), len(events)
        ctx.budget = ctx.cost_limit
        try:
            value = tx.fn(ctx, *tx.call)
        except Revert as r:
            ctx.rollback(jmark, emark)
            outcome: Outcome = (REVERTED, r.reason, None, (), ctx.cost_used(), r.at)
        else:
            outcome = (OK, None, value, tuple(events[emark:]) if len(events) > emark else (), ctx.cost_used(), None)
        finally:
            ctx.tracer = None
        if escapes:
            raise SoundnessError(
                f"transaction #{tx.index} (line {tx.line}, {tx.function.qualname}) made accesses outside "
                f"its summary: " + "; ".join(escapes[:5]) + ". This is a bug in Lane's access analysis.")
        outcomes.append(outcome)
    return outcomes
