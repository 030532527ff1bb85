"""The parallel executor as a user meets it: ``lane run`` in a fresh process, against the sequential executor.

The parallel executor must never be slower than 0.95x of the sequential one, whatever the block:
one that it runs inline (too small, or too light for lanes) pays only for being judged.  In-process
benchmarks (``lane bench``, ``heavy.py``) leave out what a fresh process pays: the modules it
imports, its first touch of memory.  This script times whole ``lane run`` processes, each on a
fresh copy of a state file holding the workload's setup, on the first 1, 100, ... lines of a
generated workload block, sequential and parallel (2 workers, the cost model deciding) in turn,
each first in every other repetition; it prints per block the median of the sequential's wall
time over the parallel's, their range, and what the parallel executor did (its ``detail.mode``).
A workload ``heavy:KIND`` is ``benchmarks/heavy.py``'s block of that kind (``heavy:heavy``,
``heavy:hetero``, ...) of the largest size's lines (its first lines for the smaller sizes), at
10,000 accounts: blocks that go to lanes, timed as a user's one-block ``lane run`` sees them (the
process's start-up and exit, about a quarter of a second here, included); the block's own
``seconds`` are printed beside.

    python benchmarks/as_run.py [--workloads transfers,swaps,defi,savings,mixed] [--sizes 1,100,1000,10000]
                                [--accounts 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from pipeline import on_copy, prepare

from compiler.bench import _prepare  # (importable once pipeline has put the repository on the path)


def _heavy(folder: Path, kind: str, n: int) -> tuple[Path, Path, Path]:
    """world, block and a state file holding the setup of ``heavy.py``'s block ``kind`` (made as
    heavy.py makes it)."""
    import heavy

    heavy.write(folder, kind, n if kind in heavy.SINGLE else n // 2, 10_000, 1)  # (n lines: n // 2 of each part)
    return folder / "world.toml", folder / "block.jsonl", _prepare(folder)


def measure(folder: Path, workload: str, sizes: list[int], accounts: int, repeat: int) -> list[dict]:
    if workload.startswith("heavy:"):
        world, block, state = _heavy(folder, workload.split(":", 1)[1], max(sizes))
    else:
        world, block, _, state = prepare(folder, workload, max(sizes), accounts)
    lines = block.read_text().splitlines(keepends=True)
    out = []
    for n in sizes:
        part = folder / f"first{n}.jsonl"
        part.write_text("".join(lines[:n]))
        args = ("run", str(world), str(part))
        ratios, blocks = [], []
        for k in range(repeat):
            order = ("sequential", "parallel") if k % 2 == 0 else ("parallel", "sequential")
            walls = {e: on_copy(state, *args, "-e", e, "-w", "2", as_json=False)[0] for e in order}
            ratios.append(walls["sequential"] / walls["parallel"])
            # (the blocks' own seconds, from --json runs: what the executors spent from the file on)
            blocks.append({e: on_copy(state, *args, "-e", e, "-w", "2")[1] for e in order})
        mode = (blocks[-1]["parallel"].get("detail") or {}).get("mode", "?")
        block_ratio = statistics.median(b["sequential"]["seconds"] / b["parallel"]["seconds"] for b in blocks)
        row = {"workload": workload, "transactions": n, "ratio": round(statistics.median(ratios), 3),
               "low": round(min(ratios), 3), "high": round(max(ratios), 3), "mode": mode,
               "block_ratio": round(block_ratio, 3)}
        print(f"{workload:9s} {n:>7,} transactions: parallel {row['ratio']:.3f}x of sequential "
              f"({row['low']:.3f}-{row['high']:.3f}; the block alone {row['block_ratio']:.3f}x), {mode}", flush=True)
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
