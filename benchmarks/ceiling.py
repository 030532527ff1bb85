"""What two processes can do on this machine, with no executor at all.

A generated block is split into two halves of independent transactions (by
components of its DAG).  Each half is executed by the sequential executor,
on its own copy of the state:

- one after the other in one process (what one core does);
- at the same time in two forked processes (what two cores do, with no
  scheduling, slicing, shipping or merging).

The ratio is the ceiling of any two-worker speed-up on this machine for this
work: the parallel executor's execution speed-up cannot exceed it.

    python benchmarks/ceiling.py [--workload savings] [-n 6000] [--accounts 6000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.runtime import sequential  # noqa: E402
from compiler.runtime.block import prepare, read_block  # noqa: E402
from compiler.runtime.chain import Chain  # noqa: E402
from compiler.runtime.context import Context  # noqa: E402
from compiler.schedule.components import partition  # noqa: E402
from compiler.workload import GenOptions, generate  # noqa: E402


def halves(chain: Chain, txs: list, raw: list) -> list[list]:
    p = partition(chain.compiled_summaries, txs, chain.ctx.storage, chain.ctx.number, chain.ctx.timestamp)
    comps: dict[int, list[int]] = defaultdict(list)
    for j, c in enumerate(p.comp):
        comps[c].append(j)
    out: list[list[int]] = [[], []]
    for c in sorted(comps, key=lambda c: -len(comps[c])):
        min(out, key=len).extend(comps[c])
    return [[raw[j] for j in sorted(h)] for h in out]


def ready(chain: Chain, raw: list) -> tuple[Context, list]:
    """The half decoded by this process, run once on a throwaway copy (so the code and the memory
    it needs are this process's own), and a fresh copy of the state to time it on."""
    txs = prepare(chain.world, raw)
    sequential.execute(_copy(chain), txs)
    return _copy(chain), txs


def _copy(chain: Chain) -> Context:
    return Context(copy.deepcopy(chain.ctx.storage), chain.world.code, chain.ctx.number, chain.ctx.timestamp)


def run(chain: Chain, raw: list) -> float:
    ctx, txs = ready(chain, raw)
    start = time.perf_counter()
    sequential.execute(ctx, txs)
    return time.perf_counter() - start


def concurrently(chain: Chain, parts: list[list]) -> float:
    """Both halves at once in two forked processes; the wall time until both are done."""
    signals = [os.pipe() for _ in parts]
    go_r, go_w = os.pipe()
    pids = []
    for (r, w), part in zip(signals, parts):
        pid = os.fork()
        if pid == 0:
            ctx, txs = ready(chain, part)
            os.write(w, b"r")
            os.read(go_r, 1)
            sequential.execute(ctx, txs)
            os._exit(0)
        pids.append(pid)
    for r, _ in signals:
        os.read(r, 1)
    start = time.perf_counter()
    os.write(go_w, b"gg")
    for pid in pids:
        os.waitpid(pid, 0)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="savings")
    ap.add_argument("-n", "--transactions", type=int, default=6000)
    ap.add_argument("--accounts", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    gc.disable()
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, GenOptions(args.workload, args.transactions, args.accounts, 0.0, 64, 0.0, 1))
        chain = Chain.open(Path(tmp) / "world.toml")
        chain.run_block(read_block(Path(tmp) / "setup.jsonl"))
        chain.ctx.number, chain.ctx.timestamp = chain.number + 1, 12 * (chain.number + 1)
        raw = read_block(Path(tmp) / "block.jsonl")
        parts = halves(chain, prepare(chain.world, raw), raw)
        print(f"halves of {len(parts[0])} and {len(parts[1])} transactions")
        ratios = []
        for _ in range(args.repeat):
            one = sum(run(chain, part) for part in parts)
            two = concurrently(chain, parts)
            ratios.append(one / two)
            print(f"one process {one:.4f} s, two processes {two:.4f} s: {one / two:.2f}x", flush=True)
        ratios.sort()
        print(f"{args.workload}, {args.transactions} transactions: ceiling of a two-worker speed-up "
              f"{ratios[len(ratios) // 2]:.2f}x (median of {len(ratios)}; best {ratios[-1]:.2f}x)")


if __name__ == "__main__":
    main()
