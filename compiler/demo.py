"""``lane demo``: the whole pipeline on the demo world, end to end.

Check and analyse the example contracts, then run the demo's blocks in order
on one state, and print what happened.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .analysis.report import Analysis
from .diagnostics import LaneError
from .pipeline import CompilerData
from .report import executor_line, render_block_summary
from .resources import display_path, examples_dir
from .runtime.block import read_block
from .runtime.chain import Chain
from .runtime.cpus import usable_cpus
from .runtime.parallel import executor_for
from .semantics.loader import SourceCache
from .workload import GenOptions, generate

# Block files of the demo and the block number each runs at (None: the next one).
DEMO_BLOCKS = (("block1.jsonl", None), ("block2.jsonl", None), ("block3.jsonl", 600))


def run_demo(out=print, workers: int | None = None, transactions: int = 3000, accounts: int = 2000) -> None:
    workers = workers or usable_cpus()
    # The examples shipped with Lane (compiler/resources.py): the demo runs from any directory.
    examples = examples_dir(["demo/world.toml", *(f"demo/{name}" for name, _ in DEMO_BLOCKS)])
    files = sorted(examples.glob("*.lane"))
    cache = SourceCache()

    out(f"== 1. check {len(files)} example contracts")
    analysis, memo = Analysis(), {}
    for path in files:
        data = CompilerData(display_path(path), cache)
        errors = [d for d in data.diagnostics() if d.is_error]
        if errors:
            raise LaneError(errors, sources=data.sources)
        analysis.merge(data.analysis(memo))
    out(f"   all clean; {len(analysis.functions)} pub functions analysed")

    out("\n== 2. conflict highlights")
    verdicts = analysis.conflicts
    counts = {v: sum(1 for c in verdicts if c["verdict"] == v) for v in ("never", "when", "always")}
    out(f"   {len(verdicts)} pairs of functions: {counts['never']} never conflict, "
        f"{counts['when']} conflict only for some arguments, {counts['always']} always conflict")
    for a, b in (("Token.transfer", "Token.transfer"), ("Pool.swap", "Pool.swap"),
                 ("Token.mint", "Token.mint"), ("Staking.stake", "Staking.stake")):
        for c in verdicts:
            if (c["a"], c["b"]) == (a, b):
                cond = f": {c['condition']}" if c["condition"] else ""
                out(f"   {a} x {b}: {c['verdict']}{cond}")
    out(f"   {len(analysis.warnings)} hot spots, e.g.:")
    for w in analysis.warnings[:3]:
        out(f"     {w['message']}")

    out("\n== 3. run the demo's blocks in order (parallel, verified against sequential)")
    chain = Chain.open(examples / "demo" / "world.toml")
    try:
        for name, number in DEMO_BLOCKS:
            result = chain.run_block(read_block(examples / "demo" / name), number=number,
                                     executor="parallel", workers=workers, verify=True)
            out(f"-- {name}")
            out("   " + render_block_summary(result).replace("\n", "\n   "))
    finally:
        chain.close()

    out(f"\n== 4. a generated DeFi block: {transactions} transactions")
    with tempfile.TemporaryDirectory() as tmp:
        gen = generate(tmp, GenOptions("defi", transactions, accounts, 0.0, 16, 0.0, 7))
        out(f"   {gen.summary()}")
        results = {}
        # As users get it (the cost model decides), then with every window on lanes: the workers'
        # results, merged, verified against the sequential run.  A first run, not timed, pays what a
        # process does once (its first imports, the generated world's code loaded), and builds the DAG:
        # timed first, after the DAG, the sequential executor looked 1.7x slower than the same code
        # run inline after it.
        for run in ("warm-up", "sequential", "parallel", "lanes"):
            chain = Chain.open(Path(tmp) / "world.toml")
            try:
                chain.run_block(read_block(Path(tmp) / "setup.jsonl"))
                block = read_block(Path(tmp) / "block.jsonl")
                if run == "warm-up":  # (its DAG too: built before a timed run, it left that run its garbage)
                    schedule = chain.schedule(block)
                    stats = schedule.stats()
                    out(f"   DAG: {stats['edges']} edges, {stats['components']} components, critical path "
                        f"{stats['critical_path']} transactions, parallelism {stats['parallelism']}, "
                        f"scheduled in {schedule.seconds:.3f} s")
                    for loc, count in schedule.hot_locations(3):
                        out(f"     hot: {loc} ({count} edges)")
                elif run == "lanes":
                    executor_for(chain, workers).__self__.force = True
                sequential = run in ("warm-up", "sequential")
                results[run] = chain.run_block(block, executor="sequential" if sequential else "parallel",
                                               workers=workers, verify=not sequential)
            finally:
                chain.close()
        seq, par, lanes = results["sequential"], results["parallel"], results["lanes"]
        same = all((seq.state_root, seq.receipts_root) == (r.state_root, r.receipts_root) for r in (par, lanes))
        out("   " + render_block_summary(par).replace("\n", "\n   "))
        out("   with every window on lanes: " + executor_line(lanes))
        out(f"   sequential {seq.seconds:.3f} s, parallel {par.seconds:.3f} s ({seq.seconds / par.seconds:.2f}x), "
            f"every window on lanes {lanes.seconds:.3f} s ({seq.seconds / lanes.seconds:.2f}x), on {workers} "
            f"workers; results identical: {same}")
        out("   (on light transactions like these the cost model runs the block inline: see "
            "docs/runtime.md and benchmarks/RESULTS.md)")
