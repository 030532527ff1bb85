"""``lane bench``: workloads x contention x workers, parallel against sequential in one run.

For every workload (from ``lane gen``) and number of accounts, a state file is
made once (the world's genesis and the setup block); then, on fresh copies of
it, the workload block runs as ``lane run`` runs it, from its file to its
committed state: sequentially, and with the parallel executor for every worker
count (its lanes on worker processes, or with ``--executor dask`` on a Dask
cluster), both as users get it (its cost model decides whether lanes pay) and
with lanes forced.  The machine's speed drifts from second to second, so the
runs are interleaved: each repetition runs the sequential executor and then
every parallel configuration, and a speed-up is the median, over the
repetitions, of the ratio within one repetition.

Beside each speed-up stand:

- the machine's *ceiling* for two processes, measured in the same run: the
  block's transactions split in two independent halves (even in time), run by two forked
  processes at once against one process after the other, with no executor at
  all (:func:`ceiling`); the *share* of the ceiling's gain the executor
  captured is ``(speed-up - 1) / (ceiling - 1)``, not given (``-``) when the
  ceiling is below :data:`SHARE_FROM` (two processes gaining next to nothing
  that minute: a ratio over a difference near zero says nothing);
- the parent's serial work per transaction and the CPU time of every process
  against the sequential run's (the *extra work*);
- a prediction for 16 and 64 cores from those: the block's time as the
  parent's serial work plus all the workers' work shared among the cores
  (the parent's part of a window beside the lanes, ``beside_cpu``, counted
  as theirs: lanes would run it on more cores),
  but for the time they take keeping their replicas in step (each applies
  every other lane's writes: on more lanes, each applies more of them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import LaneError
from .runtime import parallel
from .runtime.chain import Chain
from .workload import WORKLOADS, GenOptions, generate

SHARE_FROM = 1.1  # the two-process ceiling from which a share of its gain is given


@dataclass
class Row:
    workload: str
    accounts: int
    transactions: int
    parallelism: float
    sequential_s: float
    sequential_cpu_s: float
    ceiling: float
    runs: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return self.__dict__


def _prepare(folder: Path) -> Path:
    """A state file holding the world's genesis and the setup block (made afresh: a file left by an
    earlier call would take the setup block again, on top of the state it made)."""
    state = folder / "base.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    with Chain.open(folder / "world.toml", state) as chain:
        chain.run_file(folder / "setup.jsonl", executor="sequential")
    return state


def _run(folder: Path, base: Path, executor: str, workers: int = 1, force: bool = False, cluster=None,
         blocks: int = 1):
    """The workload block on a fresh copy of the state file: (result, detail, process CPU seconds).
    ``cluster``: the Dask cluster of ``executor="dask"``, shared by every run.  With ``blocks``
    above 1, the block file runs that many times on one chain (as ``lane run`` given it that many
    times: the workers kept from block to block), and the last block's figures are given."""
    state = folder / "run.sqlite"
    shutil.copy(base, state)
    try:
        with Chain.open(folder / "world.toml", state) as chain:
            if executor == "parallel":
                ex = parallel.executor_for(chain, workers).__self__
                ex.force = force
                ex.prepare()  # as lane run prepares it: before the block's clock
            elif executor == "dask":
                from .runtime import dask_executor

                dask = dask_executor.executor_for(chain, workers, cluster=cluster).__self__
                dask.parallel.force = force
                dask.start()  # its actors made as lane run makes them: before the block's clock
            for _ in range(blocks):
                cpu = time.process_time()
                result = chain.run_file(folder / "block.jsonl", executor=executor, workers=workers)
                cpu = time.process_time() - cpu
            return result, dict(result.detail or {}), cpu
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)


def _parallelism(folder: Path, base: Path) -> float:
    """The block's parallelism (total cost over the critical path's), from its DAG."""
    with Chain.open(folder / "world.toml", base, read_only=True) as chain:
        return chain.schedule((folder / "block.jsonl").read_bytes()).stats()["parallelism"]


def ceiling(folder: Path, base: Path, repeat: int = 3) -> float:
    """What two processes can do on this machine for this block, with no executor: its transactions
    in two halves of whole components as even in time as they can be (each component's transactions
    timed one by one; the costliest component first, into the half with less so far), each run
    sequentially on its own copy of the state, one after the other in one process against both at
    once in two forked processes (median ratio)."""
    from .schedule.components import partition

    with Chain.open(folder / "world.toml", base, read_only=True) as chain:
        block = chain.decoder().decode((folder / "block.jsonl").read_bytes(), "block")
        chain.prefetch(block)
        txs = block.txs()
        comp = partition(chain.compiled_summaries, txs, chain.ctx.storage, chain.number + 1,
                         12 * (chain.number + 1)).comp
        parts = [[txs[j] for j in half] for half in halves(comp, _each(chain, txs))]
        # Each half is run several times over when the block is small: a process needs a tenth of a
        # second of work for its start and its end to be lost in it.
        rounds = max(1, int(0.2 / max(sum(_alone(chain, part) for part in parts), 1e-6)))
        ratios = []
        for _ in range(repeat):
            one = sum(_alone(chain, part, rounds) for part in parts)
            two = _together(chain, parts, rounds)
            ratios.append(one / two if two else 1.0)
        return _median(ratios)


def _fresh(chain: Chain):
    from .vm.context import Context
    from .vm.variables import copy_storage

    return Context(copy_storage(chain.ctx.storage), chain.world.code, chain.number + 1, 12 * (chain.number + 1),
                   chain.world.cost_limit)


def halves(comp: list[int], took: list[float]) -> list[list[int]]:
    """Two halves of the transactions, by their components (``comp``: each one's), as even in time
    (``took``: each one's) as the costliest component first, into the half with less so far, makes
    them; each half's transactions in block order."""
    groups: dict[int, list[int]] = {}
    for j, c in enumerate(comp):
        groups.setdefault(c, []).append(j)
    cost = {c: sum(took[j] for j in group) for c, group in groups.items()}
    parts: list[list[int]] = [[], []]
    sums = [0.0, 0.0]
    for c in sorted(groups, key=lambda c: -cost[c]):
        less = sums.index(min(sums))
        parts[less].extend(groups[c])
        sums[less] += cost[c]
    return [sorted(part) for part in parts]


def _each(chain: Chain, txs: list) -> list[float]:
    """Each transaction's time run sequentially in block order (after a warming run of them all)."""
    from .runtime import sequential

    sequential.execute(_fresh(chain), txs)
    ctx, took = _fresh(chain), []
    for tx in txs:
        start = time.perf_counter()
        sequential.execute(ctx, [tx])
        took.append(time.perf_counter() - start)
    return took


def _alone(chain: Chain, txs: list, rounds: int = 1) -> float:
    from .runtime import sequential

    sequential.execute(_fresh(chain), txs)  # warm: the code and the memory it needs
    contexts = [_fresh(chain) for _ in range(rounds)]
    start = time.perf_counter()
    for ctx in contexts:
        sequential.execute(ctx, txs)
    return time.perf_counter() - start


def _together(chain: Chain, parts: list[list], rounds: int = 1) -> float:
    from .runtime import sequential

    ready = [os.pipe() for _ in parts]
    go_r, go_w = os.pipe()
    pids = []
    for (_r, w), part in zip(ready, parts):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            sequential.execute(_fresh(chain), part)
            contexts = [_fresh(chain) for _ in range(rounds)]
            os.write(w, b"r")
            os.read(go_r, 1)
            for ctx in contexts:
                sequential.execute(ctx, part)
            os._exit(0)
        pids.append(pid)
    for r, _ in ready:
        os.read(r, 1)
    start = time.perf_counter()
    os.write(go_w, b"g" * len(parts))
    for pid in pids:
        os.waitpid(pid, 0)
    took = time.perf_counter() - start
    for fd in (go_r, go_w, *(x for pair in ready for x in pair)):
        os.close(fd)
    return took


def predict(sequential_s: float, serial_s: float, work_s: float, cores: int, synced_s: float = 0.0,
            lanes: int = 2) -> float:
    """The speed-up on ``cores`` cores of a block whose parent works ``serial_s`` alone and whose
    ``lanes`` workers work ``work_s`` in all: shared among the cores, but for ``synced_s`` of it, the
    time they took applying one another's writes (each replica applies every other lane's, so each
    of ``cores`` lanes applies ``(cores - 1) / cores`` of the block's writes, as many lanes as there
    are: that part does not shrink)."""
    if serial_s + work_s <= 0:
        return 1.0
    in_step = synced_s / max(lanes - 1, 1) * (cores - 1) / cores
    return sequential_s / (serial_s + (work_s - synced_s) / cores + in_step)


def bench(workloads: list[str], accounts: list[int], workers: list[int], transactions: int,
          repeat: int = 3, seed: int = 1, pools: int = 64, out=print, executor: str = "parallel",
          scheduler: str | None = None, cluster=None) -> list[Row]:
    """``executor`` is ``parallel`` or ``dask``: for ``dask``, on ``cluster``, or on the scheduler at
    ``scheduler``, or on a LocalCluster of the most ``workers`` (started once for every run)."""
    if executor == "dask" and cluster is None:
        from .runtime.dask_executor import Cluster

        cluster = Cluster(scheduler, max(workers))
        try:
            return bench(workloads, accounts, workers, transactions, repeat, seed, pools, out, executor,
                         cluster=cluster)
        finally:
            cluster.close()
    rows: list[Row] = []
    for workload in workloads:
        for n_accounts in accounts:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                generate(folder, GenOptions(workload, transactions, n_accounts, 0.0, pools, 0.0, seed))
                base = _prepare(folder)
                configs = [(w, force) for w in workers for force in (False, True)]
                seq: list[tuple[float, float]] = []
                got: dict[tuple, list[tuple]] = {c: [] for c in configs}
                for _ in range(repeat):
                    result, _, cpu = _run(folder, base, "sequential")
                    seq.append((result.seconds, cpu))
                    for w, force in configs:
                        result, detail, cpu = _run(folder, base, executor, w, force, cluster)
                        got[(w, force)].append((result.seconds, cpu, detail))
                row = Row(workload, n_accounts, transactions, _parallelism(folder, base),
                          _median([s for s, _ in seq]), _median([c for _, c in seq]), ceiling(folder, base))
                for (w, force) in configs:
                    runs = got[(w, force)]
                    detail = min(runs, key=lambda r: r[0])[2]
                    seconds = detail.get("seconds", {})
                    speedup = _median([a[0] / b[0] for a, b in zip(seq, runs)])
                    cpu = _median([(b[1] + b[2].get("seconds", {}).get("workers_cpu", 0.0)) / a[1]
                                   for a, b in zip(seq, runs)])
                    # (the parent's part of a window beside the lanes is a lane's work, not serial)
                    beside = seconds.get("beside_cpu", 0.0)
                    serial = max(0.0, detail.get("parent_us_per_tx", 0.0) * transactions / 1e6 - beside)
                    work = seconds.get("workers_cpu", 0.0) + beside
                    synced = seconds.get("workers_sync", 0.0)
                    row.runs.append({
                        "workers": w, "forced": force, "mode": detail.get("mode"), "why": detail.get("why", ""),
                        "seconds": _median([r[0] for r in runs]), "speedup": speedup,
                        "share_of_ceiling": (speedup - 1) / (row.ceiling - 1) if row.ceiling >= SHARE_FROM else None,
                        "parent_us_per_tx": detail.get("parent_us_per_tx"), "extra_work": cpu,
                        "windows": detail.get("windows", 0), "lanes": detail.get("lanes", 0),
                        "estimated": detail.get("estimated"),  # (the fastest run's: what decided its mode)
                        "predicted_16": predict(row.sequential_s, serial, work, 16, synced, w) if work else None,
                        "predicted_64": predict(row.sequential_s, serial, work, 64, synced, w) if work else None,
                        "parts": seconds, "ideal": min(w, row.parallelism), "executor": executor,
                        # Dask: a lane's round trip beyond its worker's own work (a window is one).
                        "window_overhead_ms": _median([r[2]["dask"]["network_ms"] for r in runs
                                                       if (r[2].get("dask") or {}).get("network_ms")] or [0.0])
                        if executor == "dask" else None,
                    })
                rows.append(row)
                out(_line(row))
    return rows


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def _line(row: Row) -> str:
    parts = [f"{row.workload:9s} {row.accounts:>6} accounts  parallelism {row.parallelism:>8.1f}  "
             f"sequential {row.sequential_s:.3f} s  two-process ceiling {row.ceiling:.2f}x"]
    for run in row.runs:
        tag = "lanes" if run["forced"] else "auto "
        share = f"{run['share_of_ceiling']:.2f}" if run["share_of_ceiling"] is not None else "-"
        line = (f"    {run['workers']} workers {tag}: {run['speedup']:.2f}x end to end, share of the ceiling's "
                f"gain {share}; parent {run['parent_us_per_tx'] or 0:.2f} us/tx; CPU {run['extra_work']:.2f}x "
                f"the sequential's; {run['mode']}")
        if run["predicted_16"]:
            line += f"; predicted {run['predicted_16']:.1f}x on 16 cores, {run['predicted_64']:.1f}x on 64"
        if run.get("window_overhead_ms"):
            line += f"; Dask network {run['window_overhead_ms']:.2f} ms a window"
        parts.append(line)
    return "\n".join(parts)


def write(rows: list[Row], path: str) -> None:
    Path(path).write_text(json.dumps([r.to_json() for r in rows], indent=1))


def check_workloads(names: list[str]) -> list[str]:
    """The unknown names among ``names``."""
    return [w for w in names if w not in WORKLOADS]


PLOT_EXTRA = "pip install 'lane-lang[bench]'"


def require_writable(path: str, option: str) -> None:
    """Refuse an output file that cannot be made before any measurement, as ``--plot`` without its
    library: its folder missing (or not a folder, or not writable), or the path itself a folder.
    Found out after the whole benchmark, the results would be thrown away."""
    folder = os.path.dirname(os.path.abspath(path))
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise LaneError(f"{option} {path!r} names a folder, not a file", code="usage")
    if not os.path.isdir(folder):
        raise LaneError(f"{option} {path!r}: no folder {folder}", code="usage")
    if not os.access(folder, os.W_OK):
        raise LaneError(f"{option} {path!r}: the folder {folder} is not writable", code="usage")


def saved(save, path: str, *args) -> None:
    """``save(*args, path)``, a failure said as the user's (the folder went, the disk filled)."""
    try:
        save(*args, path)
    except OSError as err:
        raise LaneError(f"cannot write {path!r}: {err.strerror or err}", code="io") from None


def require_plotting() -> None:
    """Refuse ``--plot`` before any measurement when its library is missing: finding out after
    the whole benchmark would throw its results away."""
    if importlib.util.find_spec("matplotlib") is None:
        raise LaneError(f"--plot draws with matplotlib, which is not installed; install Lane's bench extra: "
                        f"{PLOT_EXTRA}", code="usage")


def plot(rows: list[Row], path: str) -> None:
    """Speed-up against accounts (contention), one line per workload and worker count, as the
    Block-STM paper draws it (:func:`require_plotting` first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, title in ((axes[0], "speedup", "end to end (as lane run reports)"),
                           (axes[1], "share_of_ceiling", "share of the two-process ceiling's gain")):
        for workload in sorted({r.workload for r in rows}):
            mine = [r for r in rows if r.workload == workload]
            for w in sorted({run["workers"] for r in mine for run in r.runs}):
                xs = [r.accounts for r in mine]
                for forced, style, tag in ((False, "-", "as run"), (True, "--", "lanes forced")):
                    ys = [next(run[key] or 0.0 for run in r.runs if run["workers"] == w and run["forced"] is forced)
                          for r in mine]
                    ax.plot(xs, ys, style, marker="o", label=f"{workload}, {w} workers, {tag}")
        ax.set_xscale("log")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xlabel("accounts (fewer: more contention)")
        ax.set_title(title)
    axes[0].set_ylabel("speed-up over sequential")
    axes[1].set_ylabel("(speed-up - 1) / (ceiling - 1)")
    axes[1].legend(fontsize=7)
    fig.suptitle("Lane: parallel executor against sequential")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
