"""The ``lane`` command.

Data goes to stdout, messages to stderr; ``--json`` prints exactly one JSON
object on stdout.  Exit status: 0 success, 1 a user error (bad contract, bad
file, bad arguments), 2 a usage error, 3 an internal fault (a bug in Lane).
A user's mistake never shows a Python traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .cli_support import EXIT_OK, EXIT_USER, LaneGroup, guarded, use_lane_commands
from .cli_support import err as _err
from .cli_support import JsonBlocks
from .cli_support import json_text as _json_text
from .cli_support import print_json as _print_json
from .diagnostics import LaneError, render_all, summary_line
from .formats import FORMATS, formats_help
from .pipeline import CompilerData
from .runtime import executors
from .runtime.cpus import usable_cpus
from .state_cli import state_app

# Everything else is imported by the command that needs it: `lane analyze` on a warm
# cache, for one, loads neither the parser nor Z3.

app = typer.Typer(
    name="lane",
    help="Lane: a smart-contract language whose compiler finds which transactions can run in parallel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LaneGroup,
)

TIMESTAMP_HELP = "block.timestamp (default: 12 x number, or the last block's timestamp if that is later)."

# Workers are processes: more than a few per CPU only adds forks, memory and switching.  (The CPUs this
# process may use: its affinity, its container's quota.)
CPUS = usable_cpus()
MAX_WORKERS = 4 * CPUS


def _version(value: bool) -> None:
    if value:
        print(f"lane {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show Lane's version and exit."),
) -> None:
    """Lane: a smart-contract language whose compiler finds which transactions can run in parallel."""
    _escape_unencodable_output()


def _escape_unencodable_output() -> None:
    """Print what the terminal cannot encode as backslash escapes instead of failing.

    Names from a user's files and command line reach the output: a lone surrogate (from a JSON
    escape, or from a command-line argument that is not UTF-8) cannot be encoded at all, and
    nothing else can on an ASCII terminal.  Failing there would lose a result already computed."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or detached stream: nothing will be printed on it
                pass


@app.command()
@guarded
def check(
    files: List[Path] = typer.Argument(..., help="Lane source files to check (imports are followed)."),
    json_out: bool = typer.Option(False, "--json", help="Print the diagnostics as one JSON object."),
) -> None:
    """Check contracts: syntax, names, types, loop bounds, call graphs, hot spots. Exit 1 on any error."""
    from .semantics.loader import SourceCache

    cache = SourceCache()
    sources: dict[str, str] = {}
    seen: set = set()
    diagnostics = []
    for file in files:
        data = CompilerData(file, cache)
        for diag in data.diagnostics():
            key = (diag.severity, diag.code, diag.message, diag.location)
            if key not in seen:
                seen.add(key)
                diagnostics.append(diag)
        sources.update(data.sources)
    n_errors = sum(1 for d in diagnostics if d.is_error)
    if json_out:
        _print_json({
            "files": [os.path.normpath(f) for f in files],
            "diagnostics": [d.to_json() for d in diagnostics],
            "errors": n_errors,
            "warnings": sum(1 for d in diagnostics if not d.is_error),
        })
    else:
        if diagnostics:
            _err(render_all(diagnostics, sources) + "\n")
        n = len(files)
        _err(f"checked {n} file{'s' if n != 1 else ''}: {summary_line(diagnostics)}")
    raise typer.Exit(EXIT_USER if n_errors else EXIT_OK)


@app.command()
@guarded
def analyze(
    files: List[Path] = typer.Argument(..., help="Lane source files; each is analysed with what it imports."),
    json_out: bool = typer.Option(False, "--json", help="Print the analysis as one JSON object."),
) -> None:
    """Access summaries, key kinds, costs, the conflict table and hot spots of pub functions."""
    from .analysis.report import Analysis, render_text

    result, memo, cache = Analysis(), {}, None
    for file in files:
        result.merge(CompilerData(file, cache).analysis(memo))
    if json_out:
        _print_json(result.to_json())
    else:
        print(render_text(result))


@app.command()
@guarded
def compile(
    file: Path = typer.Argument(..., help="The Lane source file to compile."),
    fmt: str = typer.Option("python", "-f", "--format", help="Output format. " + formats_help()),
) -> None:
    """Compile a contract file and print it in one of the output formats."""
    if fmt not in FORMATS:
        raise LaneError(f"unknown format '{fmt}' (choose from: {', '.join(FORMATS)})", code="usage")
    data = CompilerData(file)
    data.require_checked()
    sys.stdout.write(FORMATS[fmt][0](data))


# Arguments may look like options (-5): an option Lane does not know is taken as an argument.
@app.command(context_settings={"ignore_unknown_options": True})
@guarded
def call(
    world: Path = typer.Argument(..., help="The world file (TOML)."),
    contract: str = typer.Argument(..., help="The deployed instance's name (or its 0x address)."),
    fn: str = typer.Argument(..., help="The pub function to call, usually a view."),
    args: Optional[List[str]] = typer.Argument(None, help="Arguments, read by the parameters' types: a number "
                                               "(decimal or 0x hex), a name or 0x address, true or false; an "
                                               "array as a,b,c or \\[a, b, c]. A value may start with '-'."),
    state: Optional[Path] = typer.Option(None, "--state", help="A SQLite state file (see lane run)."),
    sender: Optional[str] = typer.Option(None, "--from", help="msg.sender for the call (default: the zero address)."),
) -> None:
    """Print the return value of a function on the current state; nothing is kept.

    For example: lane call examples/demo/world.toml splitter preview bob,carol 50,50 1000 bob
    """
    from .call_args import read_call_args
    from .vm.values import format_text

    with _reading(world, state) as chain:
        function, value = chain.call(contract, fn, read_call_args(chain.world, contract, fn, args or []), sender)
    print(format_text(function.return_type, value))


def _reading(world: Path, state: Optional[Path]):
    """The chain a command that only reads opens: with ``--state`` naming no file yet, the genesis is
    written to it first (SPEC §3: on first use), then it is read and never written."""
    from .runtime.chain import Chain

    if state is not None and not state.exists() and not state.is_symlink():
        Chain.open(world, state).close()
    return Chain.open(world, state, read_only=True)


@app.command()
@guarded
def run(
    world: Path = typer.Argument(..., help="The world file (TOML)."),
    blocks: List[Path] = typer.Argument(..., help="Block files (JSON Lines, one transaction a line), run in "
                                        "order as consecutive blocks."),
    executor: str = typer.Option(executors.DEFAULT, "--executor", "-e", help="Executor. " + executors.describe()),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, show_default=False,
                                          help=f"Worker processes (default: one per CPU, {CPUS}; with --scheduler, "
                                          f"one per Dask worker; more than 4 per CPU, {MAX_WORKERS}, are that many)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="With --executor dask: a running Dask scheduler, such as "
                                            "tcp://10.0.0.5:8786 (default: a LocalCluster of --workers processes, "
                                            "started here; docs/distributed.md)."),
    state: Optional[Path] = typer.Option(None, "--state", help="A SQLite state file: genesis on first use, "
                                         "then every block is committed on top."),
    number: Optional[int] = typer.Option(None, "--number", min=1, help="The first block's number (default: next)."),
    timestamp: Optional[int] = typer.Option(None, "--timestamp", min=0, help=TIMESTAMP_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    check_accesses: bool = typer.Option(False, "--check-accesses", help="Trace every storage access and fail "
                                        "if one lies outside the transaction's access summary (slow)."),
    verify: bool = typer.Option(False, "--verify", help="Also run each block sequentially and exit 1 on any "
                                "difference, naming the first differing receipt or location."),
) -> None:
    """Execute blocks on a world, in order, and print receipts, roots and speed.

    The state stays in memory from one block to the next; with --state each block is
    committed to the file as soon as it has run.
    """
    from .report import progress_reporter, render_block_summary
    from .runtime.chain import Chain
    from .vm.values import quoted

    if executor not in executors.EXECUTORS:
        raise LaneError(f"unknown executor {quoted(executor)} (choose from: {', '.join(executors.EXECUTORS)})",
                        code="usage")
    on_dask = executor == "dask" and not check_accesses
    if scheduler is not None and executor != "dask":
        raise LaneError("--scheduler is the Dask scheduler of --executor dask", code="usage")
    if on_dask:
        from .runtime import dask_executor

        dask_executor.require_dask()  # before the world is loaded: a missing install is said at once
    if workers is None and not (on_dask and scheduler is not None):
        workers = CPUS
    elif workers is not None and workers > MAX_WORKERS and not (on_dask and scheduler is not None):
        # (any count gives the same roots, as every executor must; processes past a few per CPU
        # would only add forks, memory and switching)
        sys.stderr.write(f"note: --workers {workers} is more than 4 per CPU: {MAX_WORKERS} workers used\n")
        workers = MAX_WORKERS
    # Each block's result goes once written (a long chain's would hold every block's receipts and
    # bytes): as text, or for --json of one block its object, or of several one more element of
    # {"blocks": [...]} (JsonBlocks); its number stays, for an error's note.
    results: list = []
    numbers: list = []
    stream = JsonBlocks() if json_out and len(blocks) > 1 else None

    def rendered(result) -> str:
        return _json_text(result.to_json()) if json_out else render_block_summary(result) + "\n"

    def check(result) -> None:
        # Before the block is committed: once it is, nothing may fail on the block's data, or a
        # user told that the run failed would run it again and apply it twice.  (Rendered again
        # once committed, with the commit's time: the same text but for numbers.  For --json the
        # receipts' JSON objects are what the block's data decides: made here, kept, and written
        # as text once, after the commit; text from such objects cannot fail.)
        if json_out:
            result.to_json()
        else:
            rendered(result)

    with Chain.open(world, state) as chain:
        if on_dask:  # the cluster and its replicas are start-up, not the first block's time
            workers = dask_executor.start(chain, workers, scheduler)
        elif executor == "parallel" and workers > 1 and not check_accesses:
            from .runtime import parallel

            parallel.prepare(chain, workers, blocks)  # (start-up, not the first block's time)
        try:
            for k, path in enumerate(blocks):
                with progress_reporter(None, "executing") as progress:
                    result = chain.run_file(
                        path, number=number + k if number is not None else None,
                        timestamp=timestamp if k == 0 else None, executor=executor,
                        workers=workers if executor != "sequential" else 1, progress=progress,
                        check_accesses=check_accesses, verify=verify, before_commit=check, scheduler=scheduler)
                numbers.append(result.number)
                if stream is not None:
                    stream.add(result.to_json())
                elif json_out:
                    results.append(result)
                else:
                    sys.stdout.write(rendered(result))
                del result
        except LaneError:
            if numbers:  # (the blocks before the one that failed ran, and with --state are committed)
                span = f"{numbers[0]}" if len(numbers) == 1 else f"{numbers[0]} to {numbers[-1]}"
                sys.stderr.write(f"note: block{'s' if len(numbers) > 1 else ''} {span} ran before this error"
                                 + (f" and {'are' if len(numbers) > 1 else 'is'} committed to {state}\n"
                                    if state is not None else " (in memory: nothing is kept)\n"))
            raise  # (with --json, the blocks written and the error make one object: JsonBlocks)
    if stream is not None:
        stream.close()
    elif json_out:
        sys.stdout.write(rendered(results[0]))


@app.command()
@guarded
def schedule(
    world: Path = typer.Argument(..., help="The world file (TOML)."),
    block: Path = typer.Argument(..., help="The block file (JSON Lines)."),
    state: Optional[Path] = typer.Option(None, "--state", help="A SQLite state file: dynamic keys are read "
                                         "from its state (see lane run)."),
    out: Optional[str] = typer.Option(None, "-o", "--output", metavar="PATH", help="Write the DAG to OUT.json "
                                      "(networkx node-link), OUT.dot or OUT.graphml."),
    number: Optional[int] = typer.Option(None, "--number", help="The block's number (default: next)."),
    timestamp: Optional[int] = typer.Option(None, "--timestamp", help=TIMESTAMP_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the statistics as one JSON object."),
    oracle: bool = typer.Option(False, "--oracle", help="Also run the block on a copy of the state (nothing is "
                                "kept), tracing every access, and compare the DAG with the DAG of the accesses "
                                "made; exit 1 if it misses one of its edges (docs/analysis.md)."),
) -> None:
    """The block's dependency DAG and its statistics; nothing is executed (but with --oracle)."""
    from .report import render_schedule_summary
    from .runtime.files import read_block_bytes
    from .schedule.export import export

    display, data = read_block_bytes(block)
    comparison = None
    with _reading(world, state) as chain:
        result = chain.schedule(data, number, timestamp, display=display)
        if oracle:
            from .runtime.oracle import oracle_comparison

            comparison = oracle_comparison(chain, data, result, *chain.next_block(number, timestamp), display=display)
    if out is not None:  # (as written: a path of a folder, ending in a slash, names no file of these kinds)
        export(result, out)
    stats = result.stats()
    if json_out:
        _print_json({"stats": stats, "seconds": result.seconds,
                     "hot_locations": [{"location": loc, "edges": n} for loc, n in result.hot_locations()],
                     "output": out,
                     **({"oracle": comparison.to_json()} if comparison is not None else {})})
    else:
        print(render_schedule_summary(result, stats, out))
        if comparison is not None:
            print(comparison.render())
    if comparison is not None:
        comparison.check()


@app.command()
@guarded
def bench(
    workloads: str = typer.Option("transfers,swaps,savings", "--workloads",
                                  help="Comma-separated lane gen workloads."),
    accounts: str = typer.Option("2,10,100,1000,10000", "--accounts", help="Comma-separated account counts "
                                 "(the contention grid of Block-STM)."),
    workers: str = typer.Option("1,2", "--workers", help="Comma-separated worker counts."),
    transactions: int = typer.Option(2000, "--transactions", "-n", min=1, help="Transactions per block."),
    repeat: int = typer.Option(3, "--repeat", min=1, help="Best of N runs for every measurement."),
    out: Optional[str] = typer.Option(None, "-o", "--output", metavar="PATH", help="Write the results as JSON."),
    png: Optional[str] = typer.Option(None, "--plot", metavar="PATH", help="Draw speed-up against contention "
                                      "into a PNG file (needs matplotlib: pip install 'lane-lang\\[bench]')."),
    executor: str = typer.Option("parallel", "--executor", "-e", help="The executor measured against the "
                                 "sequential one: parallel (worker processes) or dask (a Dask cluster)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS", help="With --executor dask: "
                                            "a running Dask scheduler (default: a LocalCluster, started here)."),
) -> None:
    """Measure the parallel executor against the sequential one on generated workloads."""
    from . import bench as harness

    def numbers(text: str, what: str) -> list[int]:
        try:
            values = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise LaneError(f"{what} must be comma-separated integers, not {text!r}", code="usage") from None
        if not values or min(values) < 1:
            raise LaneError(f"{what} must be positive integers", code="usage")
        return values

    from .workload import WORKLOADS

    names = [w.strip() for w in workloads.split(",") if w.strip()]
    unknown = harness.check_workloads(names)
    if not names or unknown:
        raise LaneError(f"unknown workload {unknown[0] if unknown else workloads!r} "
                        f"(choose from {', '.join(WORKLOADS)})", code="usage")
    if executor not in ("parallel", "dask"):
        raise LaneError(f"lane bench measures --executor parallel or dask, not {executor!r}", code="usage")
    if scheduler is not None and executor != "dask":
        raise LaneError("--scheduler is the Dask scheduler of --executor dask", code="usage")
    if executor == "dask":
        from .runtime.dask_executor import require_dask

        require_dask()
    if png is not None:
        harness.require_plotting()
    for path, option in ((out, "--output"), (png, "--plot")):
        if path is not None:
            harness.require_writable(path, option)
    worker_counts = numbers(workers, "--workers")
    if max(worker_counts) > MAX_WORKERS:
        raise LaneError(f"--workers {max(worker_counts)} is more than 4 per CPU ({MAX_WORKERS})", code="usage")
    rows = harness.bench(names, numbers(accounts, "--accounts"), worker_counts, transactions, repeat, out=print,
                         executor=executor, scheduler=scheduler)
    if out is not None:
        harness.saved(harness.write, out, rows)
    if png is not None:
        harness.saved(harness.plot, png, rows)


@app.command()
@guarded
def demo(
    transactions: int = typer.Option(3000, "--transactions", "-n", min=1, max=100_000,
                                     help="Transactions of the generated DeFi block (the last step)."),
    workers: int = typer.Option(CPUS, "--workers", "-w", min=1, max=MAX_WORKERS,
                                help=f"Worker processes (at most 4 per CPU: {MAX_WORKERS})."),
) -> None:
    """The main job on the demo world: check and analyse the examples, run the demo's blocks.

    It uses the examples shipped with Lane, from any directory.
    """
    from .demo import run_demo

    run_demo(workers=workers, transactions=transactions)


@app.command()
@guarded
def gen(
    outdir: Path = typer.Argument(..., help="Folder to write world.toml, setup.jsonl, block.jsonl and the "
                                  "contracts into (created if missing; those files are overwritten)."),
    workload: str = typer.Option("transfers", "--workload", help="transfers (Token.transfer), swaps "
                                 "(Pool.swap), defi (a mix of every demo contract), savings "
                                 "(Savings.accrue: heavier, mostly independent) or mixed (transfers, "
                                 "then accruals: light first, heavy after)."),
    transactions: int = typer.Option(1000, "--transactions", "-n", help="Transactions in block.jsonl."),
    accounts: int = typer.Option(100, "--accounts", "-a", help="Accounts u0..u{A-1} (at least 2); "
                                 "fewer accounts, more conflicts."),
    zipf: float = typer.Option(0.0, "--zipf", help="Zipf exponent S of who acts (and of the pool): "
                               "u<k> is drawn with weight 1/(k+1)^S; 0 is uniform."),
    pools: int = typer.Option(4, "--pools", help="Pools for swaps and defi, over pairs of tokens."),
    hot_share: float = typer.Option(0.0, "--hot-share", help="Share of swaps sent to pool0, the hot pool "
                                    "(0..1); the others pick their pool by the Zipf law."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generator: same options and seed, same files."),
) -> None:
    """Generate a deterministic workload: a world, a setup block and a workload block.

    Writes OUTDIR/world.toml, setup.jsonl, block.jsonl and the .lane files the
    world deploys. Run setup.jsonl, then block.jsonl, as blocks 1 and 2 of one
    state:

      lane run OUTDIR/world.toml OUTDIR/setup.jsonl --state s.sqlite
      lane run OUTDIR/world.toml OUTDIR/block.jsonl --state s.sqlite

    transfers: Token.transfer of usdc between accounts, the peer-to-peer
    benchmark of Block-STM (--accounts 2, 10, 100, 1000, 10000: its grid).
    swaps: Pool.swap on --pools pools, --hot-share of them on pool0.
    defi: 50% transfers, 25% swaps, the rest lending, staking, NFT, DAO,
    escrow and splitter calls.
    """
    from .workload import GenOptions, generate

    result = generate(outdir, GenOptions(workload, transactions, accounts, zipf, pools, hot_share, seed))
    print(result.summary())


@app.command()
@guarded
def lsp(
    stdio: bool = typer.Option(True, "--stdio", hidden=True, help="Talk over stdin and stdout (the only "
                               "transport; accepted because editors pass it)."),
    check_timeout: float = typer.Option(10.0, "--check-timeout", min=0.1, metavar="SECONDS",
                                        help="Stop a check of one file that takes longer than this."),
) -> None:
    """A language server on stdin and stdout: diagnostics as you type, hovers, go to definition, outline."""
    from .lsp import serve

    raise typer.Exit(serve(time_limit=check_timeout))


@app.command()
@guarded
def init(
    folder: Path = typer.Argument(..., metavar="DIR", help="The new project's folder (created; it must be new "
                                  "or empty)."),
) -> None:
    """Start a project: a contract, a world, a block and tests that pass (cd DIR && pytest)."""
    from .init_project import init_project

    print("\n".join(init_project(folder)))


app.add_typer(state_app, name="state")
use_lane_commands(app)  # every command registered above: flags shown without a value, JSON usage errors


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
