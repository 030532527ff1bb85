"""``lane bench``: workloads x contention x workers, parallel against sequential in one run.

For every workload (from ``lane gen``) and number of accounts, the setup block
is run, then the workload block is executed on fresh copies of that state:
once sequentially, then with the parallel executor for every worker count,
both as users get it (the cost model may run the block inline) and with the
lanes forced, which shows what the workers themselves achieve.  Scheduling
is timed apart.  Beside each speed-up stands the ideal, min(workers,
parallelism), from the block's DAG.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .runtime import parallel
from .runtime.block import read_block
from .runtime.chain import Chain
from .workload import GenOptions, generate


@dataclass
class Row:
    workload: str
    accounts: int
    transactions: int
    parallelism: float
    schedule_s: float
    sequential_s: float
    runs: list[dict] = field(default_factory=list)  # {workers, mode, seconds, speedup, ideal, forced}

    def to_json(self) -> dict:
        return self.__dict__


def _run(folder: Path, executor: str, workers: int = 1, force: bool = False):
    # As `lane run` does: the workers start when the world is loaded, before the clock.
    chain = Chain.open(folder / "world.toml", workers=workers if executor == "parallel" else 0)
    try:
        chain.run_block(read_block(folder / "setup.jsonl"))
        block = read_block(folder / "block.jsonl")
        if executor == "parallel":
            parallel.executor_for(chain, workers).__self__.force = force
        result = chain.run_block(block, executor=executor, workers=workers)
        return result, dict(result.detail or {})
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
                chain = Chain.open(folder / "world.toml")
                try:
                    chain.run_block(read_block(folder / "setup.jsonl"))
                    schedule = chain.schedule(read_block(folder / "block.jsonl"))
                finally:
                    chain.close()
                stats = schedule.stats()
                sequential = min(_run(folder, "sequential")[0].seconds for _ in range(repeat))
                row = Row(workload, n_accounts, transactions, stats["parallelism"], schedule.seconds, sequential)
                for w in workers:
                    for force in (False, True):
                        best, detail = None, {}
                        for _ in range(repeat):
                            result, info = _run(folder, "parallel", w, force)
                            if best is None or result.seconds < best:
                                best, detail = result.seconds, info
                        row.runs.append({"workers": w, "forced": force, "mode": detail.get("mode"),
                                         "seconds": best, "speedup": sequential / best,
                                         "ideal": min(w, stats["parallelism"])})
                rows.append(row)
                out(_line(row))
    return rows


def _line(row: Row) -> str:
    parts = [f"{row.workload:9s} {row.accounts:>6} accounts  parallelism {row.parallelism:>8.1f}  "
             f"schedule {row.schedule_s * 1e6 / row.transactions:6.1f} us/tx  sequential {row.sequential_s:.3f} s"]
    for run in row.runs:
        tag = "lanes" if run["forced"] else "auto "
        parts.append(f"    {run['workers']} workers {tag}: {run['speedup']:.2f}x (ideal {run['ideal']:.1f}, "
                     f"{run['mode']})")
    return "\n".join(parts)


def write(rows: list[Row], path: str) -> None:
    Path(path).write_text(json.dumps([r.to_json() for r in rows], indent=1))


def plot(rows: list[Row], path: str) -> bool:
    """Speed-up against accounts (contention), one line per workload and worker count; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for workload in sorted({r.workload for r in rows}):
        mine = [r for r in rows if r.workload == workload]
        for w in sorted({run["workers"] for r in mine for run in r.runs}):
            xs = [r.accounts for r in mine]
            for forced, style, tag in ((False, "-", "as run"), (True, "--", "lanes forced")):
                ys = [next(run["speedup"] for run in r.runs if run["workers"] == w and run["forced"] is forced)
                      for r in mine]
                ax.plot(xs, ys, style, marker="o", label=f"{workload}, {w} workers, {tag}")
    ax.set_xscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("accounts (fewer: more contention)")
    ax.set_ylabel("speed-up over sequential")
    ax.set_title("Lane: parallel executor against sequential")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True
