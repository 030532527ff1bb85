"""What two processes can do on this machine, with no executor at all.

A generated block is split into two halves of independent transactions (by
components of its DAG, as even in time as they can be dealt).  Each half is
executed by the sequential executor, on its own copy of the state:

- one after the other in one process (what one core does);
- at the same time in two forked processes (what two cores do, with no
  scheduling, shipping or merging).

The ratio is the ceiling of any two-worker speed-up on this machine for this
work (:func:`compiler.bench.ceiling`, which ``lane bench`` measures beside
every workload).

    python benchmarks/ceiling.py [--workload savings] [-n 6000] [--accounts 6000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.bench import _prepare, ceiling  # noqa: E402
from compiler.workload import GenOptions, generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="savings")
    ap.add_argument("-n", "--transactions", type=int, default=6000)
    ap.add_argument("--accounts", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, GenOptions(args.workload, args.transactions, args.accounts, 0.0, 64, 0.0, 1))
        base = _prepare(folder)
        got = ceiling(folder, base, args.repeat)
        print(f"{args.workload}, {args.transactions} transactions: ceiling of a two-worker speed-up {got:.2f}x "
              f"(median of {args.repeat})")


if __name__ == "__main__":
    main()
