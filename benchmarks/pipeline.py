"""The block pipeline end to end: what a user waits for, from the block file to the committed state.

For each workload, a state file is made once (the world's genesis and its
setup block).  Then, on fresh copies of that state file, ``lane run`` runs

- the workload's N-transaction block, and
- a one-transaction block (its first line),

each in its own process, back to back, ``--repeat`` times.  The marginal cost
of a transaction is ``(wall(N) - wall(1)) / (N - 1)``: start-up (imports, the
world, opening the state) cancels out, everything the block costs stays in:
reading and decoding it, scheduling, execution, receipts, roots, the commit.
Those runs print the human output (a summary); a third run per repetition, with
``--json``, gives the phase split and ``seconds`` (from reading the block file to
its state committed). Medians are reported.

A second measurement runs a 1,000-transaction block of transfers on states of
2,000 and of 200,000 accounts (each state made by its setup block and a block
giving every account a balance): state I/O follows the block, not the state,
so the two should cost about the same.  It runs the same block on both (the
state's size alone differs), then a block drawn over each state's own accounts.

    python benchmarks/pipeline.py [-n 100000] [--repeat 3] [--workloads transfers,defi]
                                  [--executors sequential,parallel] [--small 2000] [--large 200000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.workload import GenOptions, generate  # noqa: E402


def lane(*args: str, as_json: bool = True) -> tuple[float, dict]:
    """Run ``lane ARGS`` in a fresh process: (wall seconds, its ``--json`` output, or {} when
    ``as_json`` is false: the human output, a summary, as a user sees it)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "compiler", *args, *(["--json"] if as_json else [])], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"lane {' '.join(args)} failed: {proc.stderr}")
    return wall, json.loads(proc.stdout) if as_json else {}


def prepare(folder: Path, workload: str, n: int, accounts: int) -> tuple[Path, Path, Path, Path]:
    """world, block, one-transaction block, and a state file holding genesis and setup."""
    generate(folder, GenOptions(workload, n, accounts, 0.0, 4, 0.0, 0))
    world, block = folder / "world.toml", folder / "block.jsonl"
    one = folder / "one.jsonl"
    with open(block) as f:
        one.write_text(f.readline())
    state = folder / "base.sqlite"
    lane("run", str(world), str(folder / "setup.jsonl"), "--state", str(state), "-e", "sequential")
    return world, block, one, state


def fill(folder: Path, world: Path, state: Path, accounts: int) -> None:
    """Give every one of the workload's ``accounts`` a balance of 10^12 (a block of transfers from admin), so
    that the state holds a location per account, not only those the measured block touches."""
    filler = folder / "fill.jsonl"
    with open(filler, "w") as f:
        f.writelines(f'{{"from": "admin", "to": "usdc", "fn": "transfer", "args": ["u{i}", 1000000000000]}}\n'
                     for i in range(accounts))
    lane("run", str(world), str(filler), "--state", str(state), "-e", "sequential")


def on_copy(state: Path, *args: str, as_json: bool = True) -> tuple[float, dict]:
    run_state = state.with_name("run.sqlite")
    shutil.copy(state, run_state)
    try:
        return lane(*args, "--state", str(run_state), as_json=as_json)
    finally:
        run_state.unlink(missing_ok=True)


def marginal(world: Path, block: Path, one: Path, state: Path, executor: str, n: int, repeat: int) -> dict:
    pairs, phases, seconds = [], [], []
    for _ in range(repeat):
        # Wall times with the human output (a summary): printing 100,000 receipts as JSON is output,
        # not the block; --json runs give the phases and ``seconds``.
        wall_n, _ = on_copy(state, "run", str(world), str(block), "-e", executor, as_json=False)
        wall_1, _ = on_copy(state, "run", str(world), str(one), "-e", executor, as_json=False)
        pairs.append((wall_n - wall_1) / (n - 1) * 1e6)
        _, out = on_copy(state, "run", str(world), str(block), "-e", executor)
        phases.append(out["phases"])
        seconds.append(out["seconds"])
    k = seconds.index(statistics.median(seconds)) if len(seconds) % 2 else 0
    return {"marginal_us": round(statistics.median(pairs), 2), "all_us": [round(p, 2) for p in pairs],
            "seconds": round(statistics.median(seconds), 3),
            "mode": (out.get("detail") or {}).get("mode", "sequential"),
            "phases_ms": {name: round(v * 1000, 1) for name, v in phases[k].items()}}


def state_size(tmp: Path, small: int, large: int, repeat: int) -> dict:
    """A 1,000-transfer block on states of ``small`` and ``large`` accounts, each account holding a
    balance.  Two blocks: the same one on both states (drawn over the small state's accounts: the
    state's size alone differs), and one drawn over each state's own accounts (it then touches more
    distinct accounts on the large state: about 2,000 against 1,260).  Runs alternate between the
    two states; medians of ``seconds``."""
    made = {}
    for accounts in (small, large):
        folder = tmp / f"state{accounts}"
        world, block, one, state = prepare(folder, "transfers", 1000, accounts)
        fill(folder, world, state, accounts)
        made[accounts] = (world, block, state)
    out: dict = {}
    for kind in ("same block", "own accounts"):
        walls: dict[int, list] = {small: [], large: []}
        for _ in range(repeat):
            for accounts in (small, large):
                world, block, state = made[accounts]
                if kind == "same block":
                    block = made[small][1]
                _, got = on_copy(state, "run", str(world), str(block), "-e", "sequential")
                walls[accounts].append(got["seconds"])
        sizes = {a: {"seconds": round(statistics.median(w), 4), "runs": [round(x, 4) for x in w],
                     "state_bytes": made[a][2].stat().st_size} for a, w in walls.items()}
        ratio = sizes[large]["seconds"] / sizes[small]["seconds"]
        out[kind] = {"sizes": sizes, "ratio": round(ratio, 3)}
        for a in (small, large):
            print(f"1,000 transfers ({kind}) on a state of {a:,} accounts ({sizes[a]['state_bytes'] / 1e6:.1f} MB): "
                  f"{sizes[a]['seconds'] * 1000:.1f} ms (runs {[round(w * 1000, 1) for w in walls[a]]})", flush=True)
        print(f"ratio {large:,} / {small:,} accounts ({kind}): {ratio:.2f}x", flush=True)
    world, _, state = made[large]
    out["blocks in a row"] = in_a_row(tmp / "row", world, state, large)
    return out


def in_a_row(folder: Path, world: Path, state: Path, accounts: int, count: int = 40) -> dict:
    """``count`` blocks of 1,000 transfers (over ``accounts``) in one ``lane run`` on a copy of ``state``:
    the commits that append to the state file's log, and the one that folds it in (docs/formats.md)."""
    blocks = []
    for k in range(count):
        generate(folder / str(k), GenOptions("transfers", 1000, accounts, 0.0, 4, 0.0, 100 + k))
        blocks.append(str(folder / str(k) / "block.jsonl"))
    _, out = on_copy(state, "run", str(world), *blocks, "-e", "sequential")
    commits = [b["phases"]["commit"] * 1000 for b in out["blocks"]]
    seconds = [b["seconds"] * 1000 for b in out["blocks"]]
    fold = max(range(count), key=commits.__getitem__)
    rest = [c for k, c in enumerate(commits) if k != fold]
    got = {"blocks": count, "commit_ms_median": round(statistics.median(rest), 2),
           "fold_block": fold + 1, "fold_commit_ms": round(commits[fold], 2),
           "commit_ms_mean": round(statistics.mean(commits), 2), "block_ms_median": round(statistics.median(seconds), 2),
           "block_ms_mean": round(statistics.mean(seconds), 2)}
    print(f"{count} blocks of 1,000 transfers in a row on {accounts:,} accounts: commit {got['commit_ms_median']} ms "
          f"(median), the fold at block {fold + 1}: {got['fold_commit_ms']} ms; mean commit {got['commit_ms_mean']} ms, "
          f"mean block {got['block_ms_mean']} ms (median {got['block_ms_median']})", flush=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--transactions", type=int, default=100_000)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workloads", default="transfers,defi")
    ap.add_argument("--executors", default="sequential,parallel")
    ap.add_argument("--small", type=int, default=2_000)
    ap.add_argument("--large", type=int, default=200_000)
    ap.add_argument("--skip-state-size", action="store_true")
    ap.add_argument("-o", "--output", help="write the results as JSON")
    args = ap.parse_args()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "transactions": args.transactions,
                     "accounts": args.accounts, "workloads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in filter(None, args.workloads.split(",")):
            folder = Path(tmp) / workload
            world, block, one, state = prepare(folder, workload, args.transactions, args.accounts)
            results["workloads"][workload] = {}
            for executor in args.executors.split(","):
                got = marginal(world, block, one, state, executor, args.transactions, args.repeat)
                results["workloads"][workload][executor] = got
                print(f"{workload:10s} {executor:10s} ({got['mode']}) {got['marginal_us']:7.2f} us/tx marginal "
                      f"(runs {got['all_us']}), block {got['seconds']} s: {got['phases_ms']}", flush=True)
        if not args.skip_state_size:
            results["state_size"] = state_size(Path(tmp), args.small, args.large, args.repeat)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
