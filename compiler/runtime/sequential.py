"""The sequential executor: the reference every other executor must agree with."""

from __future__ import annotations

from .block import Tx
from .context import Context
from .errors import Revert
from .receipts import INVALID, OK, REVERTED, Outcome

_NO_EVENTS = ()


def execute(ctx: Context, txs: list[Tx], progress=None) -> list[Outcome]:
    """Run ``txs`` in order against ``ctx``; the journal keeps every committed write of the block."""
    journal, events = ctx.journal, ctx.events
    outcomes: list[Outcome] = []
    append = outcomes.append
    for n, tx in enumerate(txs):
        if progress is not None and not n & 1023:
            progress(n)
        fn = tx.fn
        if fn is None:
            append((INVALID, tx.invalid, None, _NO_EVENTS))
            continue
        jmark, emark = len(journal), len(events)
        try:
            value = fn(ctx, *tx.call)
        except Revert as r:
            ctx.rollback(jmark, emark)
            append((REVERTED, r.reason, None, _NO_EVENTS))
            continue
        append((OK, None, value, events[emark:] if len(events) > emark else _NO_EVENTS))
    if progress is not None:
        progress(len(txs))
    return outcomes
