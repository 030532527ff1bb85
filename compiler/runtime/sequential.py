"""The sequential executor: the reference every other executor must agree with."""

from __future__ import annotations

from ..vm.context import Context
from .decode import Block
from ..vm.errors import Revert
from .receipts import INVALID, OK, REVERTED, Outcome

_NO_EVENTS = ()
CHUNK = 1024  # transactions between two progress reports


def execute(ctx: Context, block: Block | list, progress=None, keep_journal: bool = False) -> list[Outcome]:
    """Run a block's transactions in order against ``ctx``.  The journal holds the running
    transaction's writes only (what a revert undoes; with ``keep_journal``, every write of the
    block that stayed: the parallel executor's parent sends a window's writes to its workers); what
    the block changed is in its variables' record of their values before it (``Var.before``,
    :func:`compiler.runtime.changes.from_befores`).
    ``block`` is a decoded :class:`Block` (or a list of prepared transactions).

    Each transaction starts with the whole cost limit as its budget; its outcome records what it
    used (an invalid transaction costs 0)."""
    if not isinstance(block, Block):
        block = Block.of_txs(None, block)  # type: ignore[arg-type]
    journal, events = ctx.journal, ctx.events
    limit = ctx.cost_limit
    fns, calls, invalid = block.fns, block.calls, block.invalid
    outcomes: list[Outcome] = []
    append = outcomes.append
    n = len(fns)
    for start in range(0, n, CHUNK):
        if progress is not None:
            progress(start)
        end = min(n, start + CHUNK)
        for k in range(start, end):
            fn = fns[k]
            if fn is None:
                append((INVALID, invalid[k].invalid, None, _NO_EVENTS, 0, None))
                continue
            if not keep_journal:
                journal.clear()
            jmark, emark = len(journal), len(events)
            ctx.budget = limit
            try:
                value = fn(ctx, *calls[k])
            except Revert as r:
                ctx.rollback(jmark, emark)
                append((REVERTED, r.reason, None, _NO_EVENTS, ctx.cost_used(), r.at))
                continue
            append((OK, None, value, tuple(events[emark:]) if len(events) != emark else _NO_EVENTS, limit - ctx.budget,
                    None))
    if progress is not None:
        progress(n)
    return outcomes
