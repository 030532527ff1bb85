"""The parallel executor as a user meets it: ``lane run`` in a fresh process, against the sequential executor.

The parallel executor must never be slower than 0.95x of the sequential one, whatever the block:
one that it runs inline (too small, or too light for lanes) pays only for being judged.  In-process
benchmarks (``lane bench``, ``heavy.py``) leave out what a fresh process pays: the modules it
imports, its first touch of memory.  This script times whole ``lane run`` processes, each on a
fresh copy of a state file holding the workload's setup, on the first 1, 100, ... lines of a
generated workload block, sequential and parallel (2 workers, the cost model deciding) in turn,
each first in every other repetition; it prints per block the median of the sequential's wall
time over the parallel's, their range, and what the parallel executor did (its ``detail.mode``).

    python benchmarks/as_run.py [--workloads transfers,swaps,defi,savings,mixed] [--sizes 1,100,1000,10000]
                                [--accounts 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from pipeline import on_copy, prepare


def measure(folder: Path, workload: str, sizes: list[int], accounts: int, repeat: int) -> list[dict]:
    world, block, _, state = prepare(folder, workload, max(sizes), accounts)
    lines = block.read_text().splitlines(keepends=True)
    out = []
    for n in sizes:
        part = folder / f"first{n}.jsonl"
        part.write_text("".join(lines[:n]))
        args = ("run", str(world), str(part))
        ratios = []
        for k in range(repeat):
            order = ("sequential", "parallel") if k % 2 == 0 else ("parallel", "sequential")
            walls = {e: on_copy(state, *args, "-e", e, "-w", "2", as_json=False)[0] for e in order}
            ratios.append(walls["sequential"] / walls["parallel"])
        _, got = on_copy(state, *args, "-e", "parallel", "-w", "2")
        mode = (got.get("detail") or {}).get("mode", "?")
        row = {"workload": workload, "transactions": n, "ratio": round(statistics.median(ratios), 3),
               "low": round(min(ratios), 3), "high": round(max(ratios), 3), "mode": mode}
        print(f"{workload:9s} {n:>7,} transactions: parallel {row['ratio']:.3f}x of sequential "
              f"({row['low']:.3f}-{row['high']:.3f}), {mode}", flush=True)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="transfers,swaps,defi,savings,mixed")
    parser.add_argument("--sizes", default="1,100,1000,10000")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads.split(","):
            rows += measure(Path(tmp) / workload, workload, sizes, args.accounts, args.repeat)
    worst = min(rows, key=lambda r: r["ratio"])
    print(f"lowest median: {worst['ratio']:.3f}x ({worst['workload']}, {worst['transactions']:,} transactions)")


if __name__ == "__main__":
    main()
