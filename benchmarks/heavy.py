"""Heavy transactions, and a block light first and heavy after: where lanes pay on this machine.

A contract whose ``mine`` runs 200 rounds of arithmetic (about 100 us a call on a busy hour of the
project's machine, 40-60 on a quiet one) and
whose ``poke`` adds to one location (a few us); blocks of calls from random accounts:

- ``heavy``: ``-n`` calls of ``mine``;
- ``hetero``: ``-n`` calls of ``poke``, then ``-n`` calls of ``mine``;
- ``heavy_light``: ``-n`` calls of ``mine``, then ``-n`` of ``poke``;
- ``chunks``: ``2 * n`` calls, ``poke`` and ``mine`` in turn by runs of 1,000;
- ``sparse``: ``2 * n`` calls of ``poke`` but one in ten of ``mine``;
- ``scattered``: ``2 * n`` calls, each ``mine`` with odds of one in ten (at random places);
- ``mixed``: ``2 * n`` calls, each ``mine`` or ``poke`` with even odds;
- ``thirds``: ``2 * n`` calls, ``poke`` for a third, ``mine`` for the next, ``poke`` again;
- ``skewed``: ``-n`` calls of ``mine``, each of 1 to 200 rounds at random;
- ``hot``: ``-n`` calls of ``mine``, three in ten of them from one sender (one component);
- ``scans``: ``-n`` calls of ``scan``, each reading 64 entries of a table in a loop (about 20 us);
- ``light_scans``: ``-n`` calls of ``poke``, then ``-n`` calls of ``scan``;
- ``few``: 128 calls of ``grind``, a loop of 12,000 rounds (about 2.4 ms a call): a block under the
  256 transactions that ran inline as too small before the cost model judged such blocks.

With ``--apart``, each block's light calls alone and its heavy calls alone are
measured too (sequentially, and the heavy ones on two lanes forced): the parts
a parent that runs a window's light components beside the lanes overlaps.

Each repetition measures, back to back: the machine's two-process ceiling on
the block (:func:`compiler.bench.ceiling`), then the sequential executor and
the parallel one with 2 workers as ``lane run`` runs it (the cost model
decides), each first in every other repetition.
It prints each repetition and the medians: speed-up, the share of the
ceiling's gain captured ((speed-up - 1) / (ceiling - 1)) and the CPU time of
all processes over the sequential executor's.

    python benchmarks/heavy.py [-n 20000] [--repeat 5] [--blocks heavy,hetero,heavy_light,chunks,sparse] [--apart]
                               [--chain K]

With ``--chain K`` each run is of the block file K times on one chain (as ``lane run`` given it K
times) and its last block is measured: the workers forked for the first block and kept, their pages
their own by then (a pool's first block pays its start and copied pages).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.bench import SHARE_FROM, _prepare, _run, ceiling  # noqa: E402

_ROUNDS = """
    pub fn NAME(rounds: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(rounds, MOST) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        return h;
    }
"""


def _rounds(name: str, most: int) -> str:
    """A function of up to ``most`` rounds of arithmetic on its sender's seed (``mine``, ``grind``):
    its bound is its static cost, what the estimate's first rule reads."""
    return _ROUNDS.replace("NAME", name).replace("MOST", str(most))


MINER = """\
contract Miner {
    storage seeds: map<address, u256>;
    storage light: map<address, u256>;
""" + _rounds("mine", 200) + """
    pub fn poke(v: u256) {
        light[msg.sender] += v;
    }
""" + _rounds("grind", 12000) + """
    storage table: map<u256, u256>;

    pub fn set(i: u256, v: u256) {
        table[i] = v;
    }

    pub fn scan(n: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(n, 64) {
            h = (h * 31 + table[i]) % 1000000007;
            h = (h * h + i) % 1000000007;
        }
        seeds[msg.sender] = h;
        return h;
    }
}
"""

WORLD = """\
[accounts]
admin = "0x00000000000000000000000000000000000000ad"

[[deploy]]
name = "miner"
source = "miner.lane"
contract = "Miner"
sender = "admin"
args = []
"""


# Each block's call k of its ``n`` (``2 * n`` but for those in ``SINGLE``): ``mine`` or ``poke`` (``rng``: the
# block's random numbers, for the shapes drawn at random).
SHAPES = {
    "heavy": lambda k, n, rng: "mine",
    "hetero": lambda k, n, rng: "poke" if k < n else "mine",
    "heavy_light": lambda k, n, rng: "mine" if k < n else "poke",
    "chunks": lambda k, n, rng: ("poke", "mine")[k // 1000 % 2],
    "sparse": lambda k, n, rng: "mine" if k % 10 == 9 else "poke",
    "scattered": lambda k, n, rng: "mine" if rng.random() < 0.1 else "poke",
    "mixed": lambda k, n, rng: "mine" if rng.random() < 0.5 else "poke",
    "thirds": lambda k, n, rng: "mine" if n * 2 // 3 <= k < n * 4 // 3 else "poke",
    "skewed": lambda k, n, rng: "mine",
    "hot": lambda k, n, rng: "mine",
    "scans": lambda k, n, rng: "scan",
    "light_scans": lambda k, n, rng: "poke" if k < n else "scan",
    "few": lambda k, n, rng: "grind",
}
SINGLE = {"heavy", "skewed", "hot", "scans"}  # (blocks of ``n`` calls)
FEW = {"few": 128}  # (blocks of this many calls, whatever ``n``)


def write(folder: Path, kind: str, n: int, accounts: int, seed: int) -> None:
    folder.mkdir(parents=True)
    (folder / "miner.lane").write_text(MINER)
    (folder / "world.toml").write_text(WORLD)
    (folder / "setup.jsonl").write_text("".join(  # (the table the scans read)
        f'{{"from": "admin", "to": "miner", "fn": "set", "args": [{i}, {i * 7919 % 1000}]}}\n' for i in range(64)))
    rng = random.Random(seed)

    def call(fn: str) -> str:  # (the sender drawn first: the blocks of earlier runs, drawn the same)
        sender = rng.randrange(accounts)
        arg = 200 if fn == "mine" else 64 if fn == "scan" else 12000 if fn == "grind" else rng.randrange(1, 100)
        if kind == "skewed":
            arg = rng.randrange(1, 201)
        elif kind == "hot" and rng.random() < 0.3:
            sender = 0
        return f'{{"from": "u{sender}", "to": "miner", "fn": "{fn}", "args": [{arg}]}}\n'

    shape = SHAPES[kind]
    lines = [call(shape(k, n, rng)) for k in range(FEW.get(kind, n if kind in SINGLE else 2 * n))]
    (folder / "block.jsonl").write_text("".join(lines))


def apart(folder: Path, repeat: int) -> str:
    """The block's light calls alone and its heavy calls alone, each in a block of its own (the
    parts of the blocks here touch no location in common): medians of ``repeat`` runs, sequentially,
    and the heavy part on two lanes forced."""
    lines = (folder / "block.jsonl").read_text().splitlines(keepends=True)
    times: dict[str, list[float]] = {"light": [], "heavy": [], "heavy on lanes": []}
    for part, light in (("light", True), ("heavy", False)):  # (the pokes, and the mines or scans)
        sub = folder.parent / f"{folder.name}-{part}"
        sub.mkdir()
        for name in ("miner.lane", "world.toml", "setup.jsonl"):
            (sub / name).write_text((folder / name).read_text())
        (sub / "block.jsonl").write_text("".join(line for line in lines if ('"poke"' in line) == light))
        base = _prepare(sub)
        for _ in range(repeat):
            times[part].append(_run(sub, base, "sequential")[0].seconds)
            if part == "heavy":
                times["heavy on lanes"].append(_run(sub, base, "parallel", 2, True)[0].seconds)
    return ", ".join(f"{name} {statistics.median(t):.3f} s" for name, t in times.items() if t)


def measure(folder: Path, kind: str, repeat: int, blocks: int = 1) -> None:
    """``repeat`` repetitions on the block in ``folder`` (world.toml, setup.jsonl, block.jsonl), each
    printed, then their medians (see the module's docstring).  With ``blocks`` above 1, each run is
    of the block file that many times on one chain, and its last block is measured (``--chain``)."""
    base = _prepare(folder)
    label = kind if blocks == 1 else f"{kind} (block {blocks} of a chain)"
    rows = []
    for rep in range(repeat):
        c = ceiling(folder, base, repeat=3)
        # The two executors in turn first: the one right after the ceiling's two busy
        # processes runs on a machine slower for a while (up to a fifth, 2026-12-02).
        if rep % 2:
            par, detail, _ = _run(folder, base, "parallel", 2, blocks=blocks)
            seq, _, seq_cpu = _run(folder, base, "sequential", blocks=blocks)
        else:
            seq, _, seq_cpu = _run(folder, base, "sequential", blocks=blocks)
            par, detail, _ = _run(folder, base, "parallel", 2, blocks=blocks)
        speedup = seq.seconds / par.seconds
        share = (speedup - 1) / (c - 1) if c >= SHARE_FROM else None
        cpu = detail.get("cpu_seconds", 0.0) / seq_cpu if seq_cpu else None
        rows.append((c, speedup, share, cpu))
        idle = detail.get("seconds", {}).get("lanes_idle", 0.0) * 1e3
        print(f"{label} {rep}: ceiling {c:.2f}x, speed-up {speedup:.2f}x ({detail.get('mode')}), share "
              f"{'-' if share is None else f'{share:.2f}'}, CPU {cpu:.2f}x; sequential {seq.seconds:.3f} s, "
              f"parallel {par.seconds:.3f} s (lanes idle {idle:.0f} ms, shared windows "
              f"{detail.get('shared_windows', 0)}, by the parent beside them {detail.get('beside', 0)})",
              flush=True)
    shares = [r[2] for r in rows if r[2] is not None]
    print(f"{label}: medians: ceiling {statistics.median(r[0] for r in rows):.2f}x, speed-up "
          f"{statistics.median(r[1] for r in rows):.2f}x, share of the ceiling's gain "
          f"{statistics.median(shares) if shares else float('nan'):.2f}, CPU "
          f"{statistics.median(r[3] for r in rows):.2f}x", flush=True)


def cli(doc: str, names, write, option: str, default: str, repeat: int, apart=None) -> None:
    """The command line of heavy.py and shapes.py: each block named by ``option`` (one of ``names``)
    written into a temporary folder by ``write(folder, kind, n, accounts, seed)`` and measured;
    ``apart(folder, repeat)``: what ``--apart`` adds (heavy.py's)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("-n", "--transactions", type=int, default=20_000)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument(option, dest="kinds", default=default)
    if apart is not None:
        ap.add_argument("--apart", action="store_true", help="also measure each block's light and heavy calls apart")
    ap.add_argument("--chain", type=int, default=1, metavar="K",
                    help="run each block file K times on one chain and measure the last (the workers kept)")
    args = ap.parse_args()
    if args.chain < 1:
        ap.error("--chain must be 1 or more (the block measured is the K-th of the chain)")
    kinds = args.kinds.split(",")
    unknown = sorted(set(kinds) - set(names))
    if unknown:
        ap.error(f"unknown {option[2:-1]} {', '.join(unknown)} (choose from: {', '.join(names)})")
    with tempfile.TemporaryDirectory() as tmp:
        for k, kind in enumerate(kinds):
            folder = Path(tmp) / kind
            write(folder, kind, args.transactions, args.accounts, k + 1)
            measure(folder, kind, args.repeat, args.chain)
            if apart is not None and args.apart:
                print(f"{kind}: apart (sequentially but where said): {apart(folder, args.repeat)}", flush=True)


def main() -> None:
    cli(__doc__, SHAPES, write, "--blocks", "heavy,hetero", 5, apart)


if __name__ == "__main__":
    main()
