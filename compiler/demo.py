"""``lane demo``: the whole pipeline on the demo world, end to end.

Check and analyse the example contracts, then run the demo's blocks in order
on one state, and print what happened.
"""

from __future__ import annotations

import os
from pathlib import Path

from .analysis.report import Analysis
from .diagnostics import LaneError
from .pipeline import CompilerData
from .report import render_block_summary
from .runtime.block import read_block
from .runtime.chain import Chain
from .semantics.loader import SourceCache

# Block files of the demo and the block number each runs at (None: the next one).
DEMO_BLOCKS = (("block1.jsonl", None), ("block2.jsonl", None), ("block3.jsonl", 600))


def find_examples() -> Path:
    """The examples folder: beside the package in a checkout, or given by LANE_EXAMPLES."""
    env = os.environ.get("LANE_EXAMPLES")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "examples", Path(__file__).resolve().parent.parent / "examples"]
    for path in candidates:
        if (path / "demo" / "world.toml").is_file():
            return path
    raise LaneError("cannot find the examples folder with demo/world.toml; run from the repository "
                    "or set LANE_EXAMPLES", code="usage")


def run_demo(out=print) -> None:
    examples = find_examples()
    files = sorted(examples.glob("*.lane"))
    cache = SourceCache()

    out(f"== 1. check {len(files)} example contracts")
    analysis, memo = Analysis(), {}
    for path in files:
        data = CompilerData(os.path.relpath(path), cache)
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

    out("\n== 3. run the demo's blocks in order")
    chain = Chain.open(examples / "demo" / "world.toml")
    for name, number in DEMO_BLOCKS:
        result = chain.run_block(read_block(examples / "demo" / name), number=number)
        out(f"-- {name}")
        out("   " + render_block_summary(result).replace("\n", "\n   "))
