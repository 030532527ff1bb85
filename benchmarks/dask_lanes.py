"""The dask executor against the multiprocessing one: per-window overhead, and speed-ups.

Both executors run the same lanes (the same parent, the same replicas); only the
transport differs: forked processes and pipes, or Dask actors on a LocalCluster
and one Dask connection per lane.  Three measurements, the last two medians over
repetitions in which every executor runs once, back to back:

1. **Traffic.** The bytes of each kind of message of the protocol, per
   transaction, for a block forced onto lanes.
2. **Per window.** A generated savings block forced onto 2 lanes in windows of
   ``--window`` transactions (many windows): the lanes' time per window with each
   transport, and their difference, which is what Dask adds to a window; beside
   it, the Dask network time of a lane's round trip (the time from writing a
   batch to reading its reply, less the worker's own work on it).
3. **Speed-ups** over the sequential executor on a heavy workload
   (``lane gen DIR --workload savings``; ``--terms`` makes each accrual heavier,
   as ``TERMS`` in the generated savings.lane), as run (the cost model decides)
   and with lanes forced, and the dask executor's speed-up over the
   multiprocessing one's.

Each executor starts its workers as ``lane run`` does: the multiprocessing one
forks them when a window first goes to lanes, within the block's time; the dask
one makes its actors at start-up, before the block's clock (the LocalCluster is
started once for the whole run).

    python benchmarks/dask_lanes.py [--workers 2] [-n 3000] [--window 64] [--terms 25,400] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.runtime import dask_executor, parallel  # noqa: E402
from compiler.runtime.chain import Chain  # noqa: E402
from compiler.runtime.dask_executor import Cluster  # noqa: E402
from compiler.workload import GenOptions, generate  # noqa: E402


def workload(folder: Path, n: int, terms: int) -> Path:
    generate(folder, GenOptions("savings", n, n, 0.0, 64, 0.0, 1))
    source = folder / "savings.lane"
    text = source.read_text()
    source.write_text(re.sub(r"const TERMS: u256 = \d+;", f"const TERMS: u256 = {terms};", text))
    return folder


def run(folder: Path, executor: str, workers: int, cluster: Cluster | None, force: bool = False,
        window: int | None = None):
    """The block after the setup block, on a chain in memory: its result."""
    with Chain.open(folder / "world.toml") as chain:
        chain.run_file(folder / "setup.jsonl", executor="sequential")
        if executor == "parallel":
            lanes = parallel.executor_for(chain, workers).__self__
            lanes.force, lanes.force_window = force, window  # forked when a window first goes to lanes
        elif executor == "dask":
            dask = dask_executor.executor_for(chain, workers, cluster=cluster).__self__
            dask.parallel.force, dask.parallel.force_window = force, window
            dask.start()
        return chain.run_file(folder / "block.jsonl", executor=executor, workers=workers)


def per_window(folder: Path, workers: int, window: int, repeat: int, cluster: Cluster) -> None:
    got: dict[str, list[float]] = {"parallel": [], "dask": [], "network": [], "extra": []}
    windows = 0
    for _ in range(repeat):
        mine = {}
        for executor in ("parallel", "dask"):
            result = run(folder, executor, workers, cluster, force=True, window=window)
            detail = result.detail
            windows = detail["windows"]
            mine[executor] = 1e3 * detail["seconds"]["lanes"] / windows
            got[executor].append(mine[executor])
            if executor == "dask":
                got["network"].append(detail["dask"]["network_ms"])
        got["extra"].append(mine["dask"] - mine["parallel"])
    med = {k: statistics.median(v) for k, v in got.items()}
    print(f"per window ({windows} windows of {window} transactions on {workers} lanes, median of {repeat}): "
          f"processes {med['parallel']:.2f} ms, dask {med['dask']:.2f} ms, dask adds {med['extra']:.2f} ms "
          f"(range {min(got['extra']):.2f} to {max(got['extra']):.2f}); Dask network per round trip "
          f"{med['network']:.2f} ms")


def traffic(folder: Path, workers: int, cluster: Cluster) -> None:
    """What travels between the parent and the lanes for a block forced onto lanes: bytes of each
    kind of message, per transaction of the block, and how many of each."""
    import marshal
    from collections import Counter

    from compiler.runtime import protocol as P

    sizes: Counter = Counter()
    counts: Counter = Counter()

    def kind(data: bytes) -> str:
        return P.KINDS[marshal.loads(data)[0]].__name__

    with Chain.open(folder / "world.toml") as chain:
        chain.run_file(folder / "setup.jsonl", executor="sequential")
        dask = dask_executor.executor_for(chain, workers, cluster=cluster).__self__
        dask.parallel.force = True
        dask.start()
        lanes = dask.transport
        send, wait = lanes.send, lanes.wait

        def counted_send(k, message):
            sizes[kind(message)] += len(message)
            counts[kind(message)] += 1
            send(k, message)

        def counted_wait(waiting, timeout):
            got = wait(waiting, timeout)
            for _, reply in got:
                if reply:
                    sizes[kind(reply)] += len(reply)
                    counts[kind(reply)] += 1
            return got

        lanes.send, lanes.wait = counted_send, counted_wait
        result = chain.run_file(folder / "block.jsonl", executor="dask", workers=workers)
    n = result.transactions
    print(f"traffic of a block of {n} transactions on {workers} lanes ({result.detail['windows']} windows), "
          f"bytes per transaction of the block:")
    for name in sorted(sizes, key=lambda k: -sizes[k]):
        print(f"    {name:12s} {sizes[name] / n:8.1f} B/tx in {counts[name]} messages")
    print(f"    {'all':12s} {sum(sizes.values()) / n:8.1f} B/tx")


def speedups(folder: Path, workers: int, repeat: int, cluster: Cluster, label: str) -> None:
    configs = [(e, f) for f in (False, True) for e in ("parallel", "dask")]
    ratios: dict[tuple, list[float]] = {c: [] for c in configs}
    modes: dict[tuple, str] = {}
    for _ in range(repeat):
        seq = run(folder, "sequential", 1, None).seconds
        for executor, force in configs:
            result = run(folder, executor, workers, cluster, force=force)
            ratios[(executor, force)].append(seq / result.seconds)
            modes[(executor, force)] = result.detail["mode"]
    for force in (False, True):
        p = [ratios[("parallel", force)][k] for k in range(repeat)]
        d = [ratios[("dask", force)][k] for k in range(repeat)]
        rel = statistics.median([b / a for a, b in zip(p, d)])
        print(f"{label}, {'lanes forced' if force else 'as run'}: processes {statistics.median(p):.2f}x "
              f"({modes[('parallel', force)]}), dask {statistics.median(d):.2f}x ({modes[('dask', force)]}); "
              f"dask / processes {rel:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("-n", "--transactions", type=int, default=3000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--terms", default="25,400", help="TERMS of the savings contract, one workload each")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cluster = Cluster(None, args.workers)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = workload(Path(tmp), args.transactions, 25)
            traffic(folder, args.workers, cluster)
            per_window(folder, args.workers, args.window, args.repeat, cluster)
        for terms in (int(t) for t in args.terms.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                folder = workload(Path(tmp), args.transactions, terms)
                speedups(folder, args.workers, args.repeat, cluster,
                         f"savings, {args.transactions} transactions, TERMS {terms}")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
