"""Instructions a block costs, every process counted: the extra work of the parallel executor, stable.

CPU time is a poor measure of the work two processes do on this machine: two
processes of dictionary-bound Python run at about half speed each beside one
another, so their CPU seconds double without a single instruction more.
``valgrind --tool=callgrind`` counts the instructions each process executes
(forked workers included: each writes a file of its own), which no neighbour
changes.

For each workload and executor, the block is run on a fresh copy of its state
file twice under callgrind (only ``run_file`` counted), whole and cut to its
first half; the difference over the transactions between them is what one
transaction costs, everything a block pays once (forking the workers, timing
the machine, the functions' static costs) left out.
It prints, per workload, the instructions a transaction costs sequentially and
on lanes (forced, 2 workers), the parent's share of the latter, and their
ratio: the issue's "extra work" goal is at most 1.25.

    python benchmarks/instructions.py [-n 10000] [--workloads transfers,defi] [--accounts 10000]

Needs valgrind (``apt-get install valgrind``); a block of 10,000 transfers takes
a minute or two a run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.bench import _prepare  # noqa: E402

DRIVER = """\
import sys
sys.path.insert(0, {root!r})
import shutil
from pathlib import Path
from compiler.runtime.chain import Chain
from compiler.runtime import parallel, pool
from compiler.runtime.cost_model import CostModel

def leave(worker):  # (its pipe closed, a worker returns and exits: callgrind writes its counts then)
    worker.tasks.close()
    worker.process.join(timeout=600)
    worker.replies.close()

pool.Worker.kill = leave
pool.Child.kill = lambda child: None  # (the pool's close kills its workers first: each must exit of itself)
folder, executor = Path(sys.argv[1]), sys.argv[2]
state = folder / "run.sqlite"
shutil.copy(folder / "base.sqlite", state)
with Chain.open(folder / "world.toml", state) as chain:
    if executor == "parallel":
        ex = parallel.executor_for(chain, 2).__self__
        ex.force = True
        ex.timeout = 3600.0  # (under valgrind every process runs some fifty times slower)
        ex.model = CostModel()  # (the plan judges at the speed of a machine not under valgrind)
    block = folder / "block.jsonl"
    result = eval("chain.run_file(block, executor=executor, workers=2)")  # (counted: --toggle-collect)
    detail = result.detail or {{}}
    print(detail.get("mode"), detail.get("on_lanes"), detail.get("why") or "")
"""

def gen(folder: Path, workload: str, n: int, accounts: int) -> None:
    subprocess.run([sys.executable, "-m", "compiler.cli", "gen", str(folder), "--workload", workload,
                    "-n", str(n), "--accounts", str(accounts)], check=True, cwd=ROOT, capture_output=True)
    _prepare(folder)


def first_half(folder: Path, into: Path) -> int:
    """A copy of ``folder`` whose block is the first half of its transactions; how many are left out."""
    shutil.copytree(folder, into)
    lines = (folder / "block.jsonl").read_bytes().splitlines(keepends=True)
    (into / "block.jsonl").write_bytes(b"".join(lines[:len(lines) // 2]))
    return len(lines) - len(lines) // 2


# Callgrind counting only what runs inside ``eval`` (the work measured, not the set-up around it).
CALLGRIND = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=builtin_eval"]


def instructions(folder: Path, executor: str, out: Path) -> tuple[int, int]:
    """Instructions of a run of ``folder``'s block: every process's, and the parent's (the process
    started; not the lowest process id, which the system's ids wrapping around can give a worker)."""
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("cg.*"):
        f.unlink()
    driver = out / "driver.py"
    driver.write_text(DRIVER.format(root=str(ROOT)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    run = subprocess.Popen([*CALLGRIND, f"--callgrind-out-file={out}/cg.%p",
                            sys.executable, str(driver), str(folder), executor],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = run.communicate()
    if run.returncode:
        sys.exit(f"{folder.name}: the run failed: {stderr.strip()[-2000:]}")
    mode, on_lanes, why = (stdout.split(" ", 2) + ["", "", ""])[:3]
    if executor == "parallel" and (mode != "parallel" or why.strip()):
        sys.exit(f"{folder.name}: the block did not run on lanes throughout ({mode} {on_lanes}: {why.strip()})")
    counts = callgrind_counts(out)
    return sum(counts.values()), counts[run.pid]  # (valgrind runs the program as the process it started)


def callgrind_counts(out: Path) -> dict[int, int]:
    """The instructions each process counted, from ``out``'s callgrind files (``cg.PID``)."""
    counts = {}
    for f in out.glob("cg.*"):
        got = re.search(r"^(?:summary|totals):\s*(\d+)", f.read_text(errors="replace"), re.M)
        counts[int(f.name.split(".")[1])] = int(got.group(1)) if got else 0
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--workloads", default="transfers,defi")
    parser.add_argument("--accounts", type=int, default=10000)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    head = f"{'workload':<10} {'sequential':>12} {'lanes':>12} {'parent':>10} {'ratio':>6}"
    print(head, " (instructions a transaction)")
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads.split(","):
            big, half = Path(tmp) / workload, Path(tmp) / f"{workload}-half"
            gen(big, workload, args.n, args.accounts)
            more = first_half(big, half)
            per: dict[str, tuple[float, float]] = {}
            for executor in ("sequential", "parallel"):
                total_n, parent_n = instructions(big, executor, Path(tmp) / "cg")
                total_h, parent_h = instructions(half, executor, Path(tmp) / "cg")
                per[executor] = ((total_n - total_h) / more, (parent_n - parent_h) / more)
            seq, lanes = per["sequential"][0], per["parallel"]
            print(f"{workload:<10} {seq:>12,.0f} {lanes[0]:>12,.0f} {lanes[1]:>10,.0f} {lanes[0] / seq:>6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
