"""Executing a block in an order other than its own: how the DAG is shown sufficient.

Any order that respects the DAG's edges must leave the same state and give
the same receipts as block order (SPEC §3).  This runs the block's
transactions one at a time in a given order and returns the outcomes in block
order, for comparison with the sequential executor.
"""

from __future__ import annotations

import random
from typing import Sequence

from ..vm.transaction import Tx
from ..vm.context import Context
from ..vm.errors import Revert
from ..vm.transaction import INVALID, OK, REVERTED, Outcome
from .dag import Schedule


def execute_in_order(ctx: Context, txs: list[Tx], order: Sequence[int]) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(txs)
    journal, events = ctx.journal, ctx.events
    for j in order:
        tx = txs[j]
        if tx.fn is None:
            outcomes[j] = (INVALID, tx.invalid, None, (), 0, None)
            continue
        jmark, emark = len(journal), len(events)
        ctx.budget = ctx.cost_limit
        try:
            value = tx.fn(ctx, *tx.call)
        except Revert as r:
            ctx.rollback(jmark, emark)
            outcomes[j] = (REVERTED, r.reason, None, (), ctx.cost_used(), r.at)
            continue
        outcomes[j] = (OK, None, value, tuple(events[emark:]), ctx.cost_used(), None)
    return outcomes  # type: ignore[return-value]


def random_topological_order(schedule: Schedule, rng: random.Random) -> list[int]:
    """A uniformly chosen ready transaction at each step: far from block order when the DAG allows."""
    n = len(schedule.txs)
    preds = schedule.predecessors()
    succs: list[list[int]] = [[] for _ in range(n)]
    waiting = [len(p) for p in preds]
    for j, ps in enumerate(preds):
        for i in ps:
            succs[i].append(j)
    ready = [j for j in range(n) if waiting[j] == 0]
    order = []
    while ready:
        j = ready.pop(rng.randrange(len(ready)))
        order.append(j)
        for k in succs[j]:
            waiting[k] -= 1
            if waiting[k] == 0:
                ready.append(k)
    assert len(order) == n, "the schedule has a cycle"
    return order
