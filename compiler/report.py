"""Readable reports for the terminal, and the progress bar for long blocks."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter

from .runtime.chain import BlockResult


def render_block_summary(result: BlockResult, max_failures: int = 10) -> str:
    counts = result.counts()
    n = result.transactions
    lines = [
        f"block {result.number} (timestamp {result.timestamp}): {n} transaction{'s' if n != 1 else ''}: "
        f"{counts['ok']} ok, {counts['reverted']} reverted, {counts['invalid']} invalid; cost {result.cost:,}",
    ]
    failures = result.failures()
    for status in ("reverted", "invalid"):
        reasons = Counter(reason for _, _, s, reason in failures if s == status)
        for reason, count in reasons.most_common(5):
            lines.append(f"  {status}: {reason} (x{count})")
        if len(reasons) > 5:
            lines.append(f"  {status}: ... and {len(reasons) - 5} other reasons")
    if failures and n <= 100:
        lines.append("  failed transactions:")
        for index, line, status, reason in failures[:max_failures]:
            lines.append(f"    #{index} (line {line}): {status}: {reason}")
        if len(failures) > max_failures:
            lines.append(f"    ... and {len(failures) - max_failures} more (--json lists every receipt)")
    lines.append(executor_line(result))
    lines.append(phases_line(result))
    verified = verify_line(result)
    if verified is not None:
        lines.append(verified)
    lines.append(f"state root    {result.state_root}")
    lines.append(f"receipts root {result.receipts_root}")
    return "\n".join(lines)


def phases_line(result: BlockResult) -> str:
    """Where the block's time went, from reading its file to its state committed."""
    total = result.seconds or 1.0
    parts = [f"{name} {seconds * 1000:.1f} ms ({100 * seconds / total:.0f}%)"
             for name, seconds in result.phases.items() if seconds >= 0.0005 or name == "execute"]
    return "  " + ", ".join(parts)


def executor_line(result: BlockResult) -> str:
    """``executor NAME: what it did; time``: which executor ran the block, whether the parallel one
    ran it inline or on lanes (and how many), and how fast.

    ``result.detail`` is what the parallel executor reports (docs/runtime.md, "What detail says");
    every key is optional, so a report with fewer keys still reads as a sentence."""
    detail = result.detail or {}
    mode = detail.get("mode")
    done = f"{result.seconds:.4f} s from the block file to the committed state, {result.tps:,.0f} tx/s"
    if mode == "check-accesses":
        return f"executor {result.executor}, checking every storage access against its summary: {done}"
    if mode == "inline":
        workers = f", not on its {result.workers} workers" if result.workers > 1 else ""
        why = f" ({detail['why']})" if detail.get("why") else ""
        return f"executor {result.executor}: ran inline{workers}{why}; {done}"
    if mode == "parallel":
        return f"executor {result.executor}: {_lanes_text(detail, result)}; {done}"
    workers = f" on {result.workers} workers" if result.workers > 1 else ""
    return f"executor {result.executor}{workers}: {done}"


def _lanes_text(detail: dict, result: BlockResult) -> str:
    """``2 lanes on 2 workers (40 components in 3 windows; ...)``: what a block run on lanes did."""
    n = result.transactions
    lanes = detail.get("lanes")
    head = f"{lanes} lane{'s' if lanes != 1 else ''}" if lanes is not None else "on lanes"
    head += f" on {result.workers} worker{'s' if result.workers != 1 else ''}"
    how = []
    components, windows = detail.get("components"), detail.get("windows")
    if components is not None:
        how.append(f"{components:,} component{'s' if components != 1 else ''}"
                   + (f" in {windows:,} windows" if windows and windows > 1 else ""))
    on_lanes, beside = detail.get("on_lanes"), detail.get("beside") or 0
    if on_lanes is not None and on_lanes < n:
        rest = "the rest inline" if not beside else \
            f"{beside:,} by the parent beside them" + (", the rest inline" if on_lanes + beside < n else "")
        why = f": {detail['why']}" if detail.get("why") else ""
        how.append(f"{on_lanes:,} of {n:,} transactions on lanes, {rest}{why}")
    if detail.get("fallback_from") is not None and not detail.get("why"):  # (a fallback's why says from where)
        how.append(f"sequential again from #{detail['fallback_from']}")
    if detail.get("failed_lanes"):
        how.append(f"{detail['failed_lanes']} failed lane{'s' if detail['failed_lanes'] != 1 else ''} re-run")
    return head + (f" ({'; '.join(how)})" if how else "")


def verify_line(result: BlockResult) -> str | None:
    """``verified: ...``: that the sequential executor agreed (``--verify``), and how long each took."""
    seconds = getattr(result, "verified", None)
    if seconds is None:
        return None
    if result.executor == "sequential":
        return f"verified: a second sequential run gave the same receipts and state root (executed in {seconds:.4f} s)"
    executed = result.phases.get("execute") if result.phases else None
    mine = f"{result.executor} {executed:.4f} s, " if executed is not None else ""
    return (f"verified: the sequential executor gave the same receipts and state root "
            f"(executed in: {mine}sequential {seconds:.4f} s)")


class _Progress:
    """``progress(done)``: a bar on stderr, shown once the work has taken ``delay`` seconds.
    ``total`` may be set when it is known (a block's length once it is decoded)."""

    def __init__(self, total: int | None, label: str, delay: float) -> None:
        self.total, self.label, self.delay = total, label, delay
        self.bar = self.task = None
        self.start = time.perf_counter()

    def __call__(self, done: int) -> None:
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay:
                return
            from rich.progress import Progress

            self.bar = Progress(transient=True, console=_stderr_console())
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        self.bar.update(self.task, completed=done, total=self.total)


@contextlib.contextmanager
def progress_reporter(total: int | None, label: str, delay: float = 1.0):
    """A progress callback for a long piece of work (None when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        yield None
        return
    progress = _Progress(total, label, delay)
    try:
        yield progress
    finally:
        if progress.bar is not None:
            progress.bar.stop()


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
