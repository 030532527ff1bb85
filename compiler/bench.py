"""``lane bench``: workloads x contention x workers, parallel against sequential in one run.

For every workload (from ``lane gen``) and number of accounts, the setup block
is run, then the workload block is executed on fresh chains of that state, as
``lane run`` does (workers start when the world is loaded, before the clock):
sequentially, then with the parallel executor for every worker count, both as
users get it (the cost model decides, window by window, what runs on lanes)
and with every window forced onto lanes, which shows what the workers
themselves achieve.  The machine's speed drifts from second to second, so the
runs are interleaved: each repetition runs the sequential executor and then
every parallel configuration, and a speed-up is the median, over the
repetitions, of the ratio within one repetition.

Each parallel run gives two speed-ups over the sequential run of the same
process: *end to end* (the block's seconds, decoding and scheduling included,
what ``lane run`` reports) and *execution* (without decoding, which both do
alike, and without scheduling, shown apart).  Beside them stands the ideal,
min(workers, parallelism), from the block's DAG.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import LaneError
from .runtime import parallel
from .runtime.block import gc_paused, prepare, read_block
from .runtime.chain import Chain
from .workload import WORKLOADS, GenOptions, generate


@dataclass
class Row:
    workload: str
    accounts: int
    transactions: int
    parallelism: float
    decode_s: float
    sequential_s: float
    runs: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return self.__dict__


def _run(folder: Path, executor: str, workers: int = 1, force: bool = False):
    chain = Chain.open(folder / "world.toml")
    try:
        chain.run_block(read_block(folder / "setup.jsonl"), executor="sequential")
        block = read_block(folder / "block.jsonl")
        if executor == "parallel":
            parallel.executor_for(chain, workers).__self__.force = force
        result = chain.run_block(block, executor=executor, workers=workers)
        return result, dict(result.detail or {})
    finally:
        chain.close()


def _facts(folder: Path) -> tuple[float, float]:
    """The block's parallelism (from its DAG) and the time to decode it."""
    chain = Chain.open(folder / "world.toml")
    try:
        chain.run_block(read_block(folder / "setup.jsonl"))
        raw = read_block(folder / "block.jsonl")
        stats = chain.schedule(raw).stats()
        best = float("inf")
        for _ in range(3):
            with gc_paused():  # as in a block's run
                start = time.perf_counter()
                prepare(chain.world, raw)
                best = min(best, time.perf_counter() - start)
        return stats["parallelism"], best
    finally:
        chain.close()


def bench(workloads: list[str], accounts: list[int], workers: list[int], transactions: int,
          repeat: int = 3, seed: int = 1, pools: int = 64, out=print) -> list[Row]:
    rows: list[Row] = []
    for workload in workloads:
        for n_accounts in accounts:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                generate(folder, GenOptions(workload, transactions, n_accounts, 0.0, pools, 0.0, seed))
                parallelism, decode = _facts(folder)
                configs = [(w, force) for w in workers for force in (False, True)]
                seq_times: list[float] = []
                times: dict[tuple, list[float]] = {c: [] for c in configs}
                details: dict[tuple, dict] = {}
                scheduling: dict[tuple, list[float]] = {c: [] for c in configs}
                for _ in range(repeat):
                    seq_times.append(_run(folder, "sequential")[0].seconds)
                    for w, force in configs:
                        result, info = _run(folder, "parallel", w, force)
                        if not times[(w, force)] or result.seconds < min(times[(w, force)]):
                            details[(w, force)] = info
                        times[(w, force)].append(result.seconds)
                        parts = info.get("seconds", {})
                        scheduling[(w, force)].append(parts.get("schedule", 0.0) + parts.get("pack", 0.0))
                sequential = _median(seq_times)
                row = Row(workload, n_accounts, transactions, parallelism, decode, sequential)
                for (w, force) in configs:
                    detail = details[(w, force)]
                    ratios = [a / b for a, b in zip(seq_times, times[(w, force)])]
                    exec_ratios = [max(a - decode, 1e-9) / max(b - decode - sched, 1e-9)
                                   for a, b, sched in zip(seq_times, times[(w, force)], scheduling[(w, force)])]
                    row.runs.append({
                        "workers": w, "forced": force, "mode": detail.get("mode"),
                        "seconds": _median(times[(w, force)]), "schedule_s": _median(scheduling[(w, force)]),
                        "parts": detail.get("seconds", {}),
                        "speedup": _median(ratios), "execution_speedup": _median(exec_ratios),
                        "ideal": min(w, parallelism),
                    })
                rows.append(row)
                out(_line(row))
    return rows


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def _line(row: Row) -> str:
    parts = [f"{row.workload:9s} {row.accounts:>6} accounts  parallelism {row.parallelism:>8.1f}  "
             f"sequential {row.sequential_s:.3f} s (decoding {row.decode_s:.3f} s)"]
    for run in row.runs:
        tag = "lanes" if run["forced"] else "auto "
        parts.append(f"    {run['workers']} workers {tag}: {run['speedup']:.2f}x end to end, "
                     f"{run['execution_speedup']:.2f}x execution (ideal {run['ideal']:.1f}; scheduling "
                     f"{run['schedule_s'] * 1e6 / row.transactions:.1f} us/tx; {run['mode']})")
    return "\n".join(parts)


def write(rows: list[Row], path: str) -> None:
    Path(path).write_text(json.dumps([r.to_json() for r in rows], indent=1))


def check_workloads(names: list[str]) -> list[str]:
    """The unknown names among ``names``."""
    return [w for w in names if w not in WORKLOADS]


PLOT_EXTRA = "pip install 'lane-lang[bench]'"


def require_plotting() -> None:
    """Refuse ``--plot`` before any measurement when its library is missing: finding out after
    the whole benchmark would throw its results away."""
    if importlib.util.find_spec("matplotlib") is None:
        raise LaneError(f"--plot draws with matplotlib, which is not installed; install Lane's bench extra: "
                        f"{PLOT_EXTRA}", code="usage")


def plot(rows: list[Row], path: str) -> None:
    """Speed-up against accounts (contention), one line per workload and worker count, as the
    Block-STM paper draws it (:func:`require_plotting` first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "speedup", "end to end (as lane run reports)"),
                           (axes[1], "execution_speedup", "execution (scheduling apart)")):
        for workload in sorted({r.workload for r in rows}):
            mine = [r for r in rows if r.workload == workload]
            for w in sorted({run["workers"] for r in mine for run in r.runs}):
                xs = [r.accounts for r in mine]
                for forced, style, tag in ((False, "-", "as run"), (True, "--", "lanes forced")):
                    ys = [next(run[key] for run in r.runs if run["workers"] == w and run["forced"] is forced)
                          for r in mine]
                    ax.plot(xs, ys, style, marker="o", label=f"{workload}, {w} workers, {tag}")
        ax.set_xscale("log")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xlabel("accounts (fewer: more contention)")
        ax.set_title(title)
    axes[0].set_ylabel("speed-up over sequential")
    axes[1].legend(fontsize=7)
    fig.suptitle("Lane: parallel executor against sequential")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
