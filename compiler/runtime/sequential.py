"""The sequential executor: the reference every other executor must agree with."""

from __future__ import annotations

from itertools import islice

from .block import Tx
from .context import Context
from .errors import Revert
from .receipts import INVALID, OK, REVERTED, Outcome

_NO_EVENTS = ()
CHUNK = 1024  # transactions between two progress reports


def execute(ctx: Context, txs: list[Tx], progress=None) -> list[Outcome]:
    """Run ``txs`` in order against ``ctx``; the journal keeps every committed write of the block."""
    journal, events = ctx.journal, ctx.events
    outcomes: list[Outcome] = []
    append = outcomes.append
    for start in range(0, len(txs), CHUNK):
        if progress is not None:
            progress(start)
        for tx in islice(txs, start, start + CHUNK):
            fn = tx.fn
            if fn is None:
                append((INVALID, tx.invalid, None, _NO_EVENTS))
                continue
            jmark = len(journal)
            emark = len(events)
            try:
                value = fn(ctx, *tx.call)
            except Revert as r:
                ctx.rollback(jmark, emark)
                append((REVERTED, r.reason, None, _NO_EVENTS))
                continue
            append((OK, None, value, events[emark:] if len(events) != emark else _NO_EVENTS))
    if progress is not None:
        progress(len(txs))
    return outcomes
