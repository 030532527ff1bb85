"""Time to analyse every contract in examples/ from a cold and from a warm cache,
and how the analysis scales on contracts built to stress it.

The analysis is what `lane analyze examples/*.lane` does: parse and check each
file with its imports, summarise every pub function, build the conflict table
with Z3 and find hot spots.  The conflict table is cached on disk by the hash
of the sources; "warm" runs with that cache filled.  In-process times leave
out Python's start-up; the command-line times include it.

The scale cases (tests/scale_programs.py) were exponential or overflowed the
stack when every call and loop was walked again at every use: nested loops,
doubled calls, keys multiplying through calls, a chain of contract calls at
the call-depth limit, a function whose calls conflict in too many ways to
solve.  Each is timed in process, from its text to its conflict table.

    python benchmarks/analysis.py [--repeat N] [--scale-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # scale_programs
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.lane"))

IN_PROCESS = """
import sys, time
t0 = time.perf_counter()
from compiler.pipeline import CompilerData
from compiler.semantics.loader import SourceCache
from compiler.analysis.report import Analysis
t1 = time.perf_counter()
result, memo, cache = Analysis(), {}, SourceCache()
for f in sys.argv[1:]:
    result.merge(CompilerData(f, cache).analysis(memo))
t2 = time.perf_counter()
print(t2 - t1, t1 - t0, "z3" in sys.modules)
"""


def run_in_process(cache_dir: str) -> tuple[float, float, bool]:
    env = dict(os.environ, LANE_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, *EXAMPLES], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def run_cli(cache_dir: str) -> float:
    env = dict(os.environ, LANE_CACHE_DIR=cache_dir)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compiler", "analyze", "--json", *EXAMPLES], env=env, cwd=ROOT,
                   capture_output=True, check=True)
    return time.perf_counter() - t


def scale_cases() -> dict[str, str]:
    import scale_programs as P

    from compiler.limits import MAX_CALL_DEPTH, MAX_LOOP_DEPTH

    return {
        f"nested_loops_{MAX_LOOP_DEPTH}": P.nested_loops(MAX_LOOP_DEPTH),
        "doubled_calls_30": P.doubled_calls(30),
        "multiplying_keys_30": P.multiplying_keys(30),
        f"contract_chain_{MAX_CALL_DEPTH + 1}": P.contract_chain(MAX_CALL_DEPTH + 1),
        "wide_60": P.wide(60),
    }


def run_scale(repeat: int) -> dict[str, dict[str, float]]:
    """Seconds (best of ``repeat``) to check, summarise and build the conflict table of each scale case."""
    from compiler.analysis.conflicts import conflict_table
    from compiler.pipeline import CompilerData

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in scale_cases().items():
            path = Path(tmp) / f"{name}.lane"
            path.write_text(text, encoding="utf-8")
            best = {"check": float("inf"), "summaries": float("inf"), "conflicts": float("inf")}
            for _ in range(repeat):
                data = CompilerData(path)
                t0 = time.perf_counter()
                data.require_checked()
                t1 = time.perf_counter()
                summaries = data.summaries
                t2 = time.perf_counter()
                conflict_table(summaries.values())
                t3 = time.perf_counter()
                for phase, seconds in (("check", t1 - t0), ("summaries", t2 - t1), ("conflicts", t3 - t2)):
                    best[phase] = min(best[phase], seconds)
            out[name] = {phase: round(seconds, 3) for phase, seconds in best.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale-only", action="store_true", help="time only the scale cases")
    opts = ap.parse_args()
    if opts.scale_only:
        print(json.dumps({"date": time.strftime("%Y-%m-%d"), "scale_seconds": run_scale(opts.repeat)}, indent=2))
        return
    cold, warm, cold_cli, warm_cli, imports = [], [], [], [], []
    z3_when_warm = False
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory() as cache:
            seconds, import_s, _ = run_in_process(cache)
            cold.append(seconds)
            imports.append(import_s)
            seconds, _, z3_when_warm = run_in_process(cache)
            warm.append(seconds)
        with tempfile.TemporaryDirectory() as cache:
            cold_cli.append(run_cli(cache))
            warm_cli.append(run_cli(cache))
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "files": len(EXAMPLES),
        "cold_seconds": round(min(cold), 3),
        "warm_seconds": round(min(warm), 3),
        "cold_cli_seconds": round(min(cold_cli), 3),
        "warm_cli_seconds": round(min(warm_cli), 3),
        "compiler_import_seconds": round(min(imports), 3),
        "z3_imported_when_warm": z3_when_warm,
        "scale_seconds": run_scale(opts.repeat),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
