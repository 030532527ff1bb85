"""Precision of the static DAG against the oracle DAG on the defi workload.

For each setting, `lane gen DIR --workload defi` writes a world, a setup block
and a block; the setup runs as block 1, and the block is scheduled on that
state (the static DAG) and run traced on a copy of it (the oracle DAG, what
`lane schedule --oracle` prints).  The figures: ordered pairs (pairs of
transactions the DAG orders, directly or through a path), critical path in
transactions, cost-weighted parallelism, and the oracle edges the static DAG
does not order (must be 0).

    python benchmarks/precision.py [--transactions 3000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain
from compiler.runtime.oracle import oracle_comparison
from compiler.workload import GenOptions, generate

# (label, accounts, zipf, pools, hot share, seed): the demo's settings are those of `lane demo`.
SETTINGS = [("100 accounts", 100, 0.0, 4, 0.0, 0), ("10,000 accounts", 10_000, 0.0, 4, 0.0, 0),
            ("demo (2,000 accounts, 16 pools, seed 7)", 2000, 0.0, 16, 0.0, 7)]


def measure(transactions: int, accounts: int, zipf: float, pools: int, hot: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, GenOptions("defi", transactions, accounts, zipf, pools, hot, seed))
        with Chain.open(Path(tmp) / "world.toml") as chain:
            chain.run_block(read_block(Path(tmp) / "setup.jsonl"))
            block = read_block(Path(tmp) / "block.jsonl")
            number, timestamp = chain.next_block(None, None)
            t = time.perf_counter()
            static = chain.schedule(block, number, timestamp)
            seconds = time.perf_counter() - t
            c = oracle_comparison(chain, block, static, number, timestamp)
    out = c.to_json()
    out["schedule_seconds"] = seconds
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--transactions", "-n", type=int, default=3000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = {}
    for label, *setting in SETTINGS:
        results[label] = measure(args.transactions, *setting)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print("| setting | ordered pairs static / oracle | ratio | critical path static / oracle | "
          "parallelism static / oracle | missing |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        s, o = r["static"], r["oracle"]
        print(f"| {label} | {s['ordered_pairs']:,} / {o['ordered_pairs']:,} | {r['pairs_ratio']:.2f}x | "
              f"{s['critical_path']} / {o['critical_path']} | {s['parallelism']:.1f} / {o['parallelism']:.1f} | "
              f"{len(r['missing'])} |")
    for label, r in results.items():
        print(f"\n{label}: {r['false_edges']} false edges; by functions: "
              + ", ".join(f"{x['functions']} ({x['edges']})" for x in r["false_edges_by_functions"])
              + "; by variable: " + ", ".join(f"{x['variable']} ({x['edges']})" for x in r["false_edges_by_variable"]))


if __name__ == "__main__":
    main()
