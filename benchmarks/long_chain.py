"""A state file over a long chain: blocks of transfers to fresh addresses, the state growing at each.

Each of ``--blocks`` blocks holds ``-n`` transfers from one account to fresh random addresses (a
chain taking on new users), so the state file's ``storage`` grows by about ``n`` rows a block. It
prints, for each tenth of the chain, the median time of its blocks and the log's folds in it
(``StateStore._fold``, each timed: docs/formats.md says when the log is folded), the blocks run
one after the other by one chain in one process (as ``lane run`` given many block files). With
``--processes K``, the last K blocks run again, each by a fresh ``lane run`` process, on a copy of
the state before them (a process reads the log whole before its first block).

With ``--colliding``, it also runs one block of ``-n`` transfers to addresses chosen to share
CPython's integer hash (``h + j * (2^61 - 1)``: docs/limits.md, "Not defended") against one of
``-n`` transfers to random addresses, each by ``lane run`` on a fresh state.

    python benchmarks/long_chain.py [--blocks 60] [-n 20000] [--processes 10] [--colliding]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.runtime import store as store_module  # noqa: E402
from compiler.runtime.chain import Chain  # noqa: E402

WORLD = """\
[accounts]
admin = "0x00000000000000000000000000000000000000ad"

[[deploy]]
name = "usdc"
source = "token.lane"
contract = "Token"
sender = "admin"
args = ["1000000000000000000000000"]
"""


def write_block(path: Path, recipients: list[int]) -> None:
    path.write_text("".join(f'{{"from": "admin", "to": "usdc", "fn": "transfer", "args": ["0x{to:040x}", 1]}}\n'
                            for to in recipients))


def lane_run(world: Path, block: Path, state: Path | None) -> float:
    """Wall seconds of ``lane run WORLD BLOCK [--state STATE]`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "compiler", "run", str(world), str(block),
                           *(["--state", str(state)] if state else [])], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"lane run {block} failed: {proc.stderr}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("-n", "--transactions", type=int, default=20_000)
    ap.add_argument("--processes", type=int, default=0, metavar="K")
    ap.add_argument("--colliding", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "examples" / "token.lane", folder / "token.lane")
        world = folder / "world.toml"
        world.write_text(WORLD)
        blocks = []
        for b in range(args.blocks):
            blocks.append(folder / f"b{b}.jsonl")
            write_block(blocks[-1], [rng.getrandbits(160) for _ in range(args.transactions)])
        folds: list[tuple[int, float]] = []  # (block, seconds)
        real_fold = store_module.StateStore._fold

        def timed_fold(self, rows):
            start = time.perf_counter()
            real_fold(self, rows)
            folds.append((len(times), time.perf_counter() - start))

        store_module.StateStore._fold = timed_fold
        state, times = folder / "s.sqlite", []
        before_last = folder / "before-last.sqlite"
        with Chain.open(world, state) as chain:
            for b, block in enumerate(blocks):
                if b == args.blocks - args.processes:
                    chain.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    shutil.copy(state, before_last)
                start = time.perf_counter()
                chain.run_file(block, executor="sequential")
                times.append(time.perf_counter() - start)
            rows = chain.store.db.execute("SELECT count(*) FROM storage").fetchone()[0]
            logged = chain.store.db.execute("SELECT count(*) FROM recent").fetchone()[0]
        store_module.StateStore._fold = real_fold
        tenth = max(1, args.blocks // 10)
        print(f"{args.blocks} blocks of {args.transactions:,} transfers to fresh addresses, one process "
              f"(storage {rows:,} rows and the log {logged:,} at the end):")
        for a in range(0, args.blocks, tenth):
            part = times[a:a + tenth]
            mine = [s for b, s in folds if a <= b < a + tenth]
            print(f"  blocks {a + 1}-{a + len(part)}: median {statistics.median(part) * 1e3:.0f} ms, "
                  f"{len(mine)} folds ({', '.join(f'{s * 1e3:.0f}' for s in mine) or '-'} ms)")
        print(f"  all: {sum(times):.2f} s; the last tenth {sum(times[-tenth:]):.2f} s")
        if args.processes:
            shutil.copy(before_last, state)
            walls = [lane_run(world, block, state) for block in blocks[-args.processes:]]
            print(f"the last {args.processes} blocks again, each by a fresh lane run: {sum(walls):.2f} s "
                  f"(median {statistics.median(walls) * 1e3:.0f} ms)")
        if args.colliding:
            modulus = (1 << 61) - 1
            colliding, scattered = folder / "colliding.jsonl", folder / "random.jsonl"
            write_block(colliding, [12345 + j * modulus for j in range(1, args.transactions + 1)])
            write_block(scattered, [rng.getrandbits(160) for _ in range(args.transactions)])
            print(f"{args.transactions:,} transfers by lane run on a fresh state: to random addresses "
                  f"{lane_run(world, scattered, None):.2f} s, to addresses of one integer hash "
                  f"{lane_run(world, colliding, None):.2f} s")


if __name__ == "__main__":
    main()
