"""The oracle DAG of a block: what its transactions really touched, against what the analysis said.

``lane schedule --oracle`` runs the block on a copy of the state (nothing is
committed) with code that reports every storage access, and builds a second
DAG from those accesses with the same rule for conflicts as the static one
(write/write, read/write, add/read, add/write; two adds commute; an add to a
location the same transaction also reads or writes is a read and a write).
That DAG is the least any analysis could order: the static DAG must order
every pair it orders (an oracle edge the static DAG does not order, directly
or through a path, is an access outside a summary: a bug in the analysis),
and the pairs the static DAG orders beyond it measure what the analysis
loses.  The accesses of a transaction that reverts count too: its outcome
depended on what it read.

Pairs are compared by reachability, not edge by edge: the static DAG may
order i before j through a transaction the oracle leaves out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import LaneError
from ..vm.transaction import Tx, gc_paused
from .block import prepare
from ..vm.context import Context
from ..vm.errors import Revert
from ..vm.variables import copy_storage
from ..schedule.dag import Schedule, build

R, W, A = 0, 1, 2
_MODES = {"r": R, "w": W, "a": A}


def trace_accesses(chain, txs: list[Tx], number: int, timestamp: int) -> list[list]:
    """Run traced transactions (prepared with ``trace=True``) in block order on a copy of the
    chain's state; for each, the ``((address, var id, key), mode)`` it made, as the DAG builder
    writes them (an add beside a read or write of its location becomes a read and a write)."""
    world, compiled = chain.world, chain.compiled_summaries
    ctx = Context(copy_storage(chain.ctx.storage), world.code, number, timestamp, world.cost_limit)
    code, var_id = ctx.code, compiled.var_ids
    out: list[list] = []
    for tx in txs:
        if tx.fn is None:
            out.append([])
            continue
        seen: dict[tuple, int] = {}  # location -> modes as a bit set (1 read, 2 write, 4 add)

        def tracer(mode: str, address: int, var: str, key: Any, seen: dict = seen) -> None:
            loc = (address, var_id(code[address], var), key)
            seen[loc] = seen.get(loc, 0) | 1 << _MODES[mode]

        ctx.tracer = tracer
        mark, emark = len(ctx.journal), len(ctx.events)
        ctx.budget = ctx.cost_limit
        try:
            tx.fn(ctx, *tx.call)
        except Revert:
            ctx.rollback(mark, emark)
        finally:
            ctx.tracer = None
        accesses: list = []
        for loc, modes in seen.items():
            if modes == 4:
                accesses.append((loc, A))
            elif modes == 1:
                accesses.append((loc, R))
            else:  # written, or added to beside a read: the write orders it
                accesses.append((loc, W))
        out.append(accesses)
    return out


def reachability(schedule: Schedule) -> list[int]:
    """For each transaction, the set of those ordered before it (a bit set, bit i for #i)."""
    reach: list[int] = []
    with gc_paused():
        for ps in schedule.predecessors():
            r = 0
            for i in ps:
                r |= reach[i] | 1 << i
            reach.append(r)
    return reach


@dataclass
class Comparison:
    """The static DAG of a block beside its oracle DAG."""

    static: Schedule
    oracle: Schedule
    static_pairs: int
    oracle_pairs: int
    missing: list[tuple[int, int, list[str]]]        # oracle edges the static DAG does not order
    false_edges: int                                   # static edges between pairs the oracle leaves free
    by_functions: Counter = field(default_factory=Counter)  # "F -> G" -> false edges
    by_variable: Counter = field(default_factory=Counter)   # "instance.var" ([*]: a wildcard) -> false edges

    def to_json(self, top: int = 5) -> dict:
        def side(s: Schedule, pairs: int) -> dict:
            return dict(s.stats(), ordered_pairs=pairs)

        return {
            "static": side(self.static, self.static_pairs),
            "oracle": side(self.oracle, self.oracle_pairs),
            "pairs_ratio": round(self.static_pairs / self.oracle_pairs, 3) if self.oracle_pairs else None,
            "missing": [{"from": i, "to": j, "locations": locs} for i, j, locs in self.missing],
            "false_edges": self.false_edges,
            "false_edges_by_functions": [{"functions": k, "edges": n} for k, n in self.by_functions.most_common(top)],
            "false_edges_by_variable": [{"variable": k, "edges": n} for k, n in self.by_variable.most_common(top)],
        }

    def render(self, top: int = 5) -> str:
        """The comparison as text: a table of both DAGs' figures, what causes false edges."""
        s, o = self.static.stats(), self.oracle.stats()
        rows = [("edges", s["edges"], o["edges"]),
                ("ordered pairs", self.static_pairs, self.oracle_pairs),
                ("components", s["components"], o["components"]),
                ("critical path (transactions)", s["critical_path"], o["critical_path"]),
                ("critical path (cost)", s["critical_path_cost"], o["critical_path_cost"]),
                ("parallelism", s["parallelism"], o["parallelism"])]
        width = max(len(r[0]) for r in rows)
        lines = ["against the oracle (the DAG of the accesses the block made, run on a copy of the state):",
                 f"    {'':{width}s}  {'static':>10s}  {'oracle':>10s}"]
        lines += [f"    {name:{width}s}  {a:>10}  {b:>10}" for name, a, b in rows]
        if self.oracle_pairs:
            lines.append(f"the static DAG orders {self.static_pairs / self.oracle_pairs:.2f}x the oracle's pairs; "
                         f"{self.false_edges} of its edges join transactions the oracle leaves free")
        if self.by_functions:
            lines.append("false edges by functions:")
            lines += [f"    {k}: {n}" for k, n in self.by_functions.most_common(top)]
            lines.append("false edges by variable:")
            lines += [f"    {k}: {n}" for k, n in self.by_variable.most_common(top)]
        if self.missing:
            n = len(self.missing)
            lines.append(f"missing: {n} oracle edge{'s' if n != 1 else ''} not ordered by the static DAG")
        else:
            lines.append("missing: none (the static DAG orders every edge of the oracle)")
        return "\n".join(lines)

    def check(self) -> None:
        """A user error (exit 1) naming the oracle edges the static DAG does not order: each is an
        access outside a summary, a bug in the analysis."""
        if not self.missing:
            return
        txs = {tx.index: tx for tx in self.static.txs}
        shown = "; ".join(f"#{i} ({_name(txs[i])}) -> #{j} ({_name(txs[j])}) at {', '.join(locs)}"
                          for i, j, locs in self.missing[:5])
        more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
        raise LaneError(f"the static DAG does not order {len(self.missing)} pair(s) of transactions that conflict "
                        f"when the block runs: {shown}{more}. This is a bug in Lane's access analysis.",
                        code="oracle")


def compare(static: Schedule, oracle: Schedule) -> Comparison:
    compiled = static.compiled
    assert compiled is not None
    txs = static.txs
    mine, theirs = reachability(static), reachability(oracle)
    missing = [(txs[i].index, txs[j].index, [compiled.describe(loc) for loc in locs])
               for (i, j), locs in oracle.edge_locations().items() if not mine[j] >> i & 1]
    by_functions: Counter = Counter()
    by_variable: Counter = Counter()
    false_edges = 0
    for (i, j), locs in static.edge_locations().items():
        if theirs[j] >> i & 1:
            continue
        false_edges += 1
        by_functions[f"{_name(txs[i])} -> {_name(txs[j])}"] += 1
        for var in dict.fromkeys(_variable(compiled, loc) for loc in locs):
            by_variable[var] += 1
    return Comparison(static, oracle, sum(r.bit_count() for r in mine), sum(r.bit_count() for r in theirs),
                      missing, false_edges, by_functions, by_variable)


def _name(tx: Tx) -> str:
    return tx.function.qualname if tx.function is not None else "(invalid)"


def _variable(compiled, loc: tuple) -> str:
    """``instance.var``, or ``instance.var[*]`` for a wildcard over it."""
    text = compiled.describe(loc)
    head = text.split("[", 1)[0]
    return head + "[*]" if text.endswith("[*]") else head


def oracle_comparison(chain, source: Any, static: Schedule, number: int, timestamp: int,
                      display: str = "block") -> Comparison:
    """Run ``source`` (the block ``static`` was built from) traced on a copy of ``chain``'s state and
    compare ``static`` with the DAG of the accesses it made."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        txs = chain.decoder(trace=True).decode(bytes(source), display).txs()
    else:
        txs = prepare(chain.world, source, trace=True)
    traced = trace_accesses(chain, txs, number, timestamp)
    oracle = build(chain.compiled_summaries, txs, chain.ctx.storage, number, timestamp, given=traced)
    return compare(static, oracle)
