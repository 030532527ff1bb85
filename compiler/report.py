"""Readable reports for the terminal, and the progress bar for long blocks."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter

from .runtime.chain import BlockResult


def render_block_summary(result: BlockResult, max_failures: int = 10) -> str:
    counts = result.counts()
    n = len(result.receipts)
    lines = [
        f"block {result.number} (timestamp {result.timestamp}): {n} transaction{'s' if n != 1 else ''}: "
        f"{counts['ok']} ok, {counts['reverted']} reverted, {counts['invalid']} invalid",
    ]
    for status in ("reverted", "invalid"):
        reasons = Counter(r.reason for r in result.receipts if r.status == status)
        for reason, count in reasons.most_common(5):
            lines.append(f"  {status}: {reason} (x{count})")
        if len(reasons) > 5:
            lines.append(f"  {status}: ... and {len(reasons) - 5} other reasons")
    failures = [r for r in result.receipts if r.status != "ok"]
    if failures and n <= 100:
        lines.append("  failed transactions:")
        for r in failures[:max_failures]:
            tx = r.tx
            lines.append(f"    #{tx.index} (line {tx.line}): {r.status}: {r.reason}")
        if len(failures) > max_failures:
            lines.append(f"    ... and {len(failures) - max_failures} more (--json lists every receipt)")
    lines.append(executor_line(result))
    lines.append(f"state root    {result.state_root}")
    lines.append(f"receipts root {result.receipts_root}")
    return "\n".join(lines)


def executor_line(result: BlockResult) -> str:
    """``executor ...``: which executor ran the block, how (lanes, windows, fallbacks), how fast."""
    n = len(result.receipts)
    how = []
    if result.workers > 1:
        how.append(f"{result.workers} workers")
    detail = result.detail or {}
    if detail.get("mode") == "inline":
        how.append(f"ran inline: {detail['why']}")
    elif detail.get("mode") == "parallel":
        windows = detail.get("windows", 1)
        how.append(f"{detail['lanes']} lanes over {detail['components']} components"
                   + (f" in {windows} windows" if windows > 1 else ""))
        on_lanes = detail.get("on_lanes")
        if on_lanes is not None and on_lanes < n:
            how.append(f"{on_lanes:,} of {n:,} transactions on lanes")
            if detail.get("why"):
                how.append(f"the rest inline: {detail['why']}")
        if detail.get("fallback_from") is not None:
            how.append(f"sequential from #{detail['fallback_from']}")
    return (f"executor {result.executor}" + (f" ({', '.join(how)})" if how else "")
            + f": {result.seconds:.4f} s, {result.tps:,.0f} tx/s")


@contextlib.contextmanager
def progress_reporter(total: int, label: str, delay: float = 1.0):
    """A callback ``progress(done)`` that shows a bar on stderr once the work has taken ``delay`` seconds."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    state: dict = {"bar": None, "task": None}
    start = time.perf_counter()

    def progress(done: int) -> None:
        if state["bar"] is None:
            if time.perf_counter() - start < delay:
                return
            bar = Progress(transient=True, console=_stderr_console())
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total)
        state["bar"].update(state["task"], completed=done)

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].stop()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def render_schedule_summary(schedule, stats: dict, out=None) -> str:
    n = stats["transactions"]
    lines = [
        f"{n} transaction{'s' if n != 1 else ''}, {stats['edges']} edges, {stats['components']} connected "
        f"component{'s' if stats['components'] != 1 else ''}",
        f"critical path: {stats['critical_path']} transactions, cost {stats['critical_path_cost']} "
        f"of {stats['total_cost']}",
        f"parallelism: {stats['parallelism']} (total cost / critical-path cost)",
        f"scheduled in {schedule.seconds:.4f} s ({schedule.seconds / max(n, 1) * 1e6:.1f} us per transaction)",
    ]
    hot = schedule.hot_locations()
    if hot:
        lines.append("locations that order the most transactions:")
        for loc, count in hot:
            lines.append(f"    {loc}: {count} edge{'s' if count != 1 else ''}")
    if out is not None:
        lines.append(f"wrote {out}")
    return "\n".join(lines)
