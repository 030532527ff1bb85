"""The least work an exact parallel executor adds to a token transfer, each part at its cheapest.

Any executor that runs a block's transactions on several processes of CPython
and promises the sequential result bit for bit must, on top of what the
sequential executor does:

1. **predict** each transaction's locations before running it (a static
   schedule: the location ids its keys name);
2. **detect** at run time an access outside the prediction (a write outside
   a lane's predicted set, a read of a location another lane writes in the
   window): generated code that records each access's location id, and the
   record made into arrays the check can compare;
3. **keep the processes' states in step**: the writes of a window taken out
   of one process's state, carried as bytes, and applied to each other
   process's (``dict.update``); with c processes each write is applied c - 1
   times;
4. **group** the predicted rows by location (the schedule's components start
   with one sort of them).

This script measures each of those at the cheapest this codebase (or plain
CPython) knows: C-level passes where they exist, no messages, no windows'
bookkeeping, no receipts merged, no imbalance; each the least time of its
runs (this machine's neighbours only ever add to a run).  It sets their sum against the
sequential executor's whole cost of a transfer end to end in the same run
(``Chain.run_file``: decode, execute, receipts, roots, commit), which is what
the issue's goal ("all processes' work at most 1.25x the sequential
executor's") compares against.

    python benchmarks/floors.py [-n 100000] [--accounts 10000] [--window 2500] [--repeat 5]

With ``--instructions`` it counts instructions instead (``valgrind --tool=callgrind``, which no
neighbour on the machine changes; ``-n 10000`` takes a few minutes a repetition): each part in a
process of its own, only the part's own code counted (run through ``eval``: ``--toggle-collect``),
the logs as the logging loop's count less the plain loop's; and the sequential executor's marginal
cost of a transfer as ``benchmarks/instructions.py`` counts it (the block whole against its first
half). Each part's median over ``--repeat`` processes (the counts still move by a few per cent from
run to run: the clock, the addresses the system gives).
"""

from __future__ import annotations

import argparse
import marshal
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from operator import itemgetter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.bench import _prepare  # noqa: E402
from compiler.runtime.chain import Chain  # noqa: E402
from compiler.runtime.files import read_block_bytes  # noqa: E402
from compiler.runtime.replica import FunctionTable  # noqa: E402
from compiler.schedule.vectorized import grouped_order  # noqa: E402
from compiler.vm.context import Context  # noqa: E402
from compiler.vm.errors import Revert  # noqa: E402
from compiler.vm.locations import loc_ids  # noqa: E402
from compiler.vm.transaction import gc_paused  # noqa: E402
from compiler.vm.variables import copy_storage  # noqa: E402
from compiler.workload import GenOptions, generate  # noqa: E402


def _least(times: list[float], n: int) -> float:
    return min(times) / n * 1e6  # us a transaction: the least of the runs (the others were slowed)


def sequential_us(folder: Path, n: int, repeat_: int) -> float:
    """The sequential executor's microseconds a transaction, block file to committed state."""
    times = []
    for _ in range(repeat_):
        state = folder / "run.sqlite"
        shutil.copy(folder / "base.sqlite", state)
        with Chain.open(folder / "world.toml", state) as chain:
            start = time.perf_counter()
            chain.run_file(folder / "block.jsonl")
            times.append(time.perf_counter() - start)
    return statistics.median(times) / n * 1e6


def run(code, calls: list, ctx: Context) -> None:
    """The window loop at its plainest: each call with a fresh budget, a revert undone."""
    limit = ctx.cost_limit
    journal, events = ctx.journal, ctx.events
    for call in calls:
        ctx.budget = limit
        jmark, emark = len(journal), len(events)
        try:
            code(ctx, *call)
        except Revert:
            ctx.rollback(jmark, emark)


def transfers(chain: Chain, folder: Path) -> tuple:
    """``folder``'s block of token transfers decoded and its state read, on ``chain``: the function
    table, the transfer's function id, the calls, the token's address and its balances' index, and
    a copy of the state before the block."""
    display, data = read_block_bytes(folder / "block.jsonl")
    block = chain._decode(data, display, False)
    chain.prefetch(block)
    table = FunctionTable(chain.world)
    fids = {table.ids[f] for f in block.functions}
    if len(fids) != 1 or block.invalid:
        sys.exit("the block must be token transfers only, all valid")
    calls = block.calls
    this = calls[0][0]
    token = chain.world.by_address[this]
    index = token.program.layouts[token.contract.name].index["balances"]
    return table, fids.pop(), calls, this, index, copy_storage(chain.ctx.storage)


def predicted(this: int, index: int, calls: list) -> np.ndarray:
    """1. predict: the two locations each transfer names (its sender's and its recipient's balance)."""
    return np.concatenate([loc_ids(this, index, list(map(itemgetter(1), calls))),
                           loc_ids(this, index, list(map(itemgetter(2), calls)))])


def grouped(rows: np.ndarray, tx: np.ndarray) -> np.ndarray:
    """4. group: the predicted rows by location, transactions in block order within each."""
    order = grouped_order(rows, tx)
    return np.flatnonzero(rows[order][1:] != rows[order][:-1])


def window_writes(var, this: int, index: int) -> bytes:
    """3. keep in step, its first half: a window's writes (the keys its variable recorded) as bytes."""
    before = var.before
    return marshal.dumps({(this, index): dict(zip(before, map(var.__getitem__, before)))})


def apply_writes(blob: bytes, other: dict) -> None:
    """3. keep in step, its second half: the writes applied to another state."""
    for (address, i), values in marshal.loads(blob).items():
        other[address][i].update(values)


def measure(folder: Path, n: int, window: int, repeat_: int) -> dict[str, float]:
    state = folder / "run.sqlite"
    shutil.copy(folder / "base.sqlite", state)
    out: dict[str, list[float]] = {k: [] for k in ("predict", "log ids", "group")}
    with Chain.open(folder / "world.toml", state) as chain:
        table, fid, calls, this, index, base = transfers(chain, folder)
        plain, logged = table.plain[fid], table.logged_code(fid)
        plain_s, logged_s, log = logging(plain, logged, calls, base, chain.world, repeat_)
        in_step = keeping_in_step(plain, calls, base, chain.world, this, index, window, repeat_)
        for _ in range(repeat_):
            # 1. predict: the two locations a transfer names (its sender's and its recipient's balance).
            t = time.perf_counter()
            rows = predicted(this, index, calls)
            out["predict"].append(time.perf_counter() - t)
            # 2. detect: the log made into arrays (what logging code costs: below).
            t = time.perf_counter()
            for entries in log:  # (each mode's location ids)
                np.fromiter(entries, np.int64, len(entries))
            out["log ids"].append(time.perf_counter() - t)
            # 4. group: the predicted rows by location, transactions in block order within each.
            tx = np.concatenate([np.arange(n, dtype=np.int64)] * 2)
            t = time.perf_counter()
            grouped(rows, tx)
            out["group"].append(time.perf_counter() - t)
    got = {k: _least(v, n) for k, v in out.items()}
    got["log"] = (logged_s - plain_s) / n * 1e6
    # 3. in step: each window's writes out of one state, as bytes, into another (keeping_in_step).
    got["in step"], got["in step per replica"] = (seconds / n * 1e6 for seconds in in_step)
    return got


def keeping_in_step(code, calls: list, base: dict, world, this: int, index: int, window: int,
                    repeat_: int) -> tuple[float, float]:
    """Seconds taking each window's writes out of one state (the variable's record of the keys the
    window wrote) as bytes and applying them to another, and of which applying them: per window
    the least of ``repeat_`` times (each time does the same)."""
    mine = Context(copy_storage(base), world.code, cost_limit=world.cost_limit)
    other = copy_storage(base)
    var = mine.storage[this][index]
    spent = applied = 0.0
    for begin in range(0, len(calls), window):
        var.before.clear()
        mine.journal.clear()
        run(code, calls[begin:begin + window], mine)
        least = least_applied = float("inf")
        for _ in range(repeat_):
            t = time.perf_counter()
            blob = window_writes(var, this, index)
            u = time.perf_counter()
            apply_writes(blob, other)
            end = time.perf_counter()
            least, least_applied = min(least, end - t), min(least_applied, end - u)
        spent += least
        applied += least_applied
    return spent, applied


def logging(plain, logged, calls: list, base: dict, world, repeat_: int, chunk: int = 2000) -> tuple:
    """Seconds the calls take by plain code and by code that logs each access (for each chunk of
    calls the least of ``repeat_`` runs, the two in turn: a slow minute slows both), and the log of
    one run of them all."""
    ctxs = {name: Context(copy_storage(base), world.code, cost_limit=world.cost_limit) for name in ("p", "l")}
    total = {"p": 0.0, "l": 0.0}
    for begin in range(0, len(calls), chunk):
        part = calls[begin:begin + chunk]
        least = {"p": float("inf"), "l": float("inf")}
        for _ in range(repeat_):
            for name, code in (("p", plain), ("l", logged)):
                ctx = ctxs[name]
                ctx.journal.clear()
                for entries in ctx.log:
                    entries.clear()
                t = time.perf_counter()
                run(code, part, ctx)
                least[name] = min(least[name], time.perf_counter() - t)
        total["p"] += least["p"]
        total["l"] += least["l"]
    ctx = Context(copy_storage(base), world.code, cost_limit=world.cost_limit)
    run(logged, calls, ctx)
    return total["p"], total["l"], ctx.log


COUNTED = ("plain", "logged", "in step", "predict", "group")  # what --instructions counts, a process each


def _counted(fn, *args):
    """``fn(*args)``, where callgrind counts (``--toggle-collect=builtin_eval``: only what ``eval`` runs)."""
    return eval("fn(*args)", {"fn": fn, "args": args})


def _logged_run(code, calls: list, ctx: Context) -> None:
    run(code, calls, ctx)
    for entries in ctx.log:
        np.fromiter(entries, np.int64, len(entries))


def one_part(folder: Path, name: str, window: int) -> None:
    """Part ``name`` of the floors on ``folder``'s block, for callgrind to count: everything else
    (loading, decoding, the state read) runs outside :func:`_counted`."""
    state = folder / "part.sqlite"
    shutil.copy(folder / "base.sqlite", state)
    with gc_paused(), Chain.open(folder / "world.toml", state) as chain:
        table, fid, calls, this, index, base = transfers(chain, folder)
        world = chain.world
        if name in ("predict", "group"):
            rows = _counted(predicted, this, index, calls)
            if name == "group":
                _counted(grouped, rows, np.concatenate([np.arange(len(calls), dtype=np.int64)] * 2))
            return
        code = table.logged_code(fid) if name == "logged" else table.plain[fid]
        ctx = Context(copy_storage(base), world.code, cost_limit=world.cost_limit)
        other = copy_storage(base)
        var = ctx.storage[this][index]
        for begin in range(0, len(calls), window):
            var.before.clear()
            ctx.journal.clear()
            part = calls[begin:begin + window]
            if name == "in step":
                run(code, part, ctx)
                _counted(keep_in_step, var, other, this, index)
            elif name == "logged":
                _counted(_logged_run, code, part, ctx)
                for entries in ctx.log:
                    entries.clear()
            else:
                _counted(run, code, part, ctx)


def keep_in_step(var, other: dict, this: int, index: int) -> None:
    """A window's writes (the keys its variable recorded) out of one state, as bytes, into another."""
    apply_writes(window_writes(var, this, index), other)


def counted(folder: Path, name: str, window: int, out: Path) -> int:
    """Instructions of part ``name`` (:func:`one_part`), in a process of its own under callgrind."""
    from instructions import CALLGRIND, callgrind_counts

    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("cg.*"):
        f.unlink()
    done = subprocess.run([*CALLGRIND, f"--callgrind-out-file={out}/cg.%p", sys.executable, __file__, "--part", name,
                           "--folder", str(folder), "--window", str(window)],
                          env=dict(os.environ, PYTHONHASHSEED="0"), capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"part {name!r} failed: {done.stderr.strip()[-2000:]}")
    return sum(callgrind_counts(out).values())


def instructions_main(args) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    from instructions import first_half, instructions

    n = args.transactions
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "block"
        folder.mkdir()
        generate(folder, GenOptions("transfers", n, args.accounts, 0.0, 1, 0.0, 1))
        _prepare(folder)
        more = first_half(folder, Path(tmp) / "half")
        seq = (instructions(folder, "sequential", Path(tmp) / "cg")[0] -
               instructions(Path(tmp) / "half", "sequential", Path(tmp) / "cg")[0]) / more
        got = {name: statistics.median(counted(folder, name, args.window, Path(tmp) / "cg")
                                       for _ in range(args.repeat)) / n for name in COUNTED}
    parts = {"predict": got["predict"], "log": got["logged"] - got["plain"], "in step": got["in step"],
             "group": got["group"] - got["predict"]}
    print(f"sequential, block file to committed state: {seq:,.0f} instructions a transfer; a quarter of it: "
          f"{seq / 4:,.0f}")
    for name, value in parts.items():
        print(f"  {name:<8} {value:8,.0f}")
    two = sum(parts.values())
    print(f"the least extra work: {two:,.0f} instructions a transfer on 2 processes ({1 + two / seq:.2f}x the "
          f"sequential executor's); the plain calls themselves {got['plain']:,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--transactions", type=int, default=100000)
    ap.add_argument("--accounts", type=int, default=10000)
    ap.add_argument("--window", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--instructions", action="store_true", help="count instructions (callgrind) instead of time")
    ap.add_argument("--part", choices=COUNTED, help=argparse.SUPPRESS)  # (one part, under callgrind)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        return one_part(args.folder, args.part, args.window)
    if args.instructions:
        return instructions_main(args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, GenOptions("transfers", args.transactions, args.accounts, 0.0, 1, 0.0, 1))
        _prepare(folder)
        seq = sequential_us(folder, args.transactions, 3)
        with gc_paused():  # (as every executor runs a block)
            got = measure(folder, args.transactions, args.window, args.repeat)
    print(f"sequential, block file to committed state: {seq:.2f} us a transfer; a quarter of it: {seq / 4:.2f}")
    for name in ("predict", "log", "log ids", "in step", "group"):
        print(f"  {name:<8} {got[name]:6.3f} us")
    two = got["predict"] + got["log"] + got["log ids"] + got["in step"] + got["group"]
    sixteen = two + 14 * got["in step per replica"]
    print(f"the least extra work: {two:.2f} us a transfer on 2 processes ({1 + two / seq:.2f}x the sequential "
          f"executor's), {sixteen:.2f} us on 16 ({1 + sixteen / seq:.2f}x): applying one replica's share "
          f"{got['in step per replica']:.3f} us, paid by each of the c - 1 other processes")


if __name__ == "__main__":
    main()
