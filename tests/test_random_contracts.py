"""Differential properties over randomly generated Lane contracts (tests/contract_gen.py).

a. Every generated program compiles: no error diagnostics, its summaries and its
   conflict table are computed without a crash.
b. The sequential executor with the soundness checker on (SPEC §2.5) never sees
   an access outside a transaction's summary, on a warm-up block from genesis and
   on a second block on top of it (so dynamic keys read non-zero state).
c. The parallel executor forced onto lanes (as tests/test_parallel_props.py does)
   gives the receipts and state root of the sequential executor on the same block;
   and still does when a function's summary forgets its accesses to a variable.
d. ``lane run --verify`` over the same world and blocks agrees with the API's
   sequential result (one process, both blocks).
e. The code a lane runs logs the locations the soundness checker's trace sees.
f. A block run on a state file (its variables read lazily, what the block names
   loaded in bulk first: compiler/schedule/locations.py) gives what it gives in
   memory.
g. ``lane schedule``'s DAG orders every pair of transactions the oracle's DAG
   orders (the accesses they really make, the block run traced).
h. The static DAG's accesses of each transaction cover every access it makes (g
   needs two transactions on one location to show one dropped; b checks the
   reference instantiation's on the state each runs on).

The language server (tests/test_lsp.py) and the testing API (tests/test_api_props.py)
are compared with ``lane check`` and with blocks over the same generated programs.

Each program is written to a fresh temporary directory; the program cache lives in
the session's temporary LANE_CACHE_DIR (tests/conftest.py).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from unittest.mock import patch

from contract_gen import Program, blocks, programs, world_text, worlds
from fuzzing import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from runtime_helpers import (block_text, columns_cover_the_walk, compiled_covers_accesses, dag_covers_oracle,
                             fork_chain, forget_accesses, lane_json, raw_block, write_block)

from compiler.pipeline import CompilerData
from compiler.runtime import chain as chain_module
from compiler.runtime import replica as replica_module
from compiler.runtime.chain import Chain
from compiler.runtime.parallel import ParallelExecutor
from compiler.runtime.replica import FunctionTable
from compiler.vm.context import Context
from compiler.vm.errors import Revert
from compiler.vm.locations import loc_id
from compiler.vm.variables import copy_storage

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------- helpers

def write_case(root: Path, program: Program, world: str, txs_list: list[list[dict]]) -> Path:
    """The program's files, its world and its blocks (block1.jsonl, ...) under ``root``; the world's path."""
    root.mkdir(parents=True, exist_ok=True)
    program.write(root)
    for i, txs in enumerate(txs_list, 1):
        write_block(root, txs, f"block{i}.jsonl")
    path = root / "world.toml"
    path.write_text(world, encoding="utf-8")
    return path


def error_messages(path: Path) -> list[str]:
    return [f"{d.location}: {d.message}" for d in CompilerData(path).diagnostics() if d.is_error]


def essentials(receipt: dict) -> dict:
    """A receipt's status, reason, return value and events (SPEC §5), whatever else it carries."""
    return {k: receipt[k] for k in ("status", "reason", "return", "events")}


class Case(tuple):
    """(program, world, blocks), shown in a failure report as the files it writes: easy to reproduce."""

    def __repr__(self) -> str:
        program, world, txs = self
        parts = [f"--- {name}\n{text}" for name, text in program.files.items()]
        parts.append(f"--- world.toml\n{world_text(world)}")
        parts += [f"--- block{i}.jsonl\n{block_text(t)}" for i, t in enumerate(txs, 1)]
        return "\n" + "\n".join(parts)


@st.composite
def cases(draw, blocks_: int = 2):
    """A program, a world deploying it and ``blocks_`` blocks: the first a warm-up from genesis."""
    program = draw(programs(), label="program")
    world = draw(worlds(program), label="world")
    txs = [draw(blocks(world), label=f"block {i + 1}") for i in range(blocks_)]
    return Case((program, world, txs))


def warmed_up(world_path: Path, warm_up: list[dict], check: bool = True) -> Chain:
    """The world after its warm-up block (run with the soundness checker on if ``check``)."""
    chain = Chain.open(world_path)
    chain.run_block(raw_block(warm_up), number=1, check_accesses=check)
    return chain


def parallel_run(chain: Chain, txs: list[dict], number: int, workers: int, window, inline, beside: bool = False):
    """The block on lanes of ``chain`` (a fork: it is closed after), forced as in
    tests/test_parallel_props.py (``beside``: the light components of a window run by the parent)."""
    ex = ParallelExecutor(chain, workers, timeout=30.0)
    ex.force, ex.force_window, ex.force_inline, ex.force_beside = True, window, inline, beside
    chain._parallel = ex
    try:
        got = chain.run_block(raw_block(txs), number=number, executor="parallel", workers=workers)
    finally:
        chain.close()
    return got, ex.last


# ---------------------------------------------------------------------------- properties

@settings(SETTINGS, max_examples=examples(30))
@given(case=cases(blocks_=0))
def test_generated_programs_check_and_analyse(tmp_path_factory, case):
    program, world, _ = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [])
    assert error_messages(path.parent / "c.lane") == [], program.source
    analysis = CompilerData(path.parent / "c.lane").analysis()
    names = {f"{c.name}.{f.name}" for c in program.contracts for f in c.fns}
    assert {f"{f['contract']}.{f['function']}" for f in analysis.functions} == names


@settings(SETTINGS, max_examples=examples(20))
@given(case=cases(), number=st.sampled_from([2, 7]))
def test_the_static_dag_orders_every_pair_a_generated_block_orders(tmp_path_factory, case, number):
    """``lane schedule``'s DAG (the analysis' conflicts, instantiated) against the oracle's (the accesses
    the block's transactions really make, run traced): every pair the oracle orders, the DAG orders."""
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    dag_covers_oracle(warmed_up(path, warm_up, check=False), txs, number)


@settings(SETTINGS, max_examples=examples(25))
@given(case=cases(), number=st.sampled_from([2, 7]))
def test_sequential_runs_stay_inside_their_summaries(tmp_path_factory, case, number):
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    base = warmed_up(path, warm_up)
    checked = fork_chain(base).run_block(raw_block(txs), number=number, check_accesses=True)
    plain = fork_chain(base).run_block(raw_block(txs), number=number)
    assert checked.receipts_json == plain.receipts_json
    assert checked.state_root == plain.state_root


@settings(SETTINGS, max_examples=examples(20))
@given(case=cases(), number=st.sampled_from([2, 7]))
def test_the_compiled_instantiation_covers_every_access_a_transaction_makes(tmp_path_factory, case, number):
    """The static DAG's accesses of each transaction of a generated block (summaries compiled to
    Python, instantiated on the state before the block, what earlier transactions may write
    forwarded) cover every access the transaction makes, whether or not another transaction of the
    block touches the location (:func:`compiled_covers_accesses`)."""
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    chain = warmed_up(path, warm_up, check=False)
    try:
        compiled_covers_accesses(chain, txs, number)
    finally:
        chain.close()


@settings(SETTINGS, max_examples=examples(20))
@given(case=cases(), number=st.sampled_from([2, 7]))
def test_column_rows_cover_the_walk_of_generated_programs(tmp_path_factory, case, number):
    """The parallel executor's rows made a column at a time (a loop's reads of storage as one
    wildcard row, keys read from storage as columns) cover the call-by-call instantiation's, on
    generated programs and blocks (:func:`columns_cover_the_walk`), with the loops' reads of storage
    as where nothing writes them and as where something may (short loops' keys a column each)."""
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    chain = warmed_up(path, warm_up, check=False)
    try:
        columns_cover_the_walk(chain, txs, number)
        columns_cover_the_walk(chain, txs, number, written=None)
    finally:
        chain.close()


@settings(SETTINGS, max_examples=examples(20))
@given(case=cases(), number=st.sampled_from([2, 7]), workers=st.integers(2, 3),
       window=st.sampled_from([None, 1, 3, 8]), inline=st.sets(st.integers(0, 12), max_size=6), beside=st.booleans())
def test_parallel_equals_sequential(tmp_path_factory, case, number, workers, window, inline, beside):
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    base = warmed_up(path, warm_up, check=False)
    expected = fork_chain(base).run_block(raw_block(txs), number=number)  # (soundness: the property above)
    got, last = parallel_run(fork_chain(base), txs, number, workers, window, inline, beside)
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert_on_lanes(last)


def assert_on_lanes(last: dict) -> None:
    """The block ran on lanes, or a worker was given up on a loaded machine (the parent ran it, exactly)."""
    if last["mode"] != "parallel":
        assert last["failed_lanes"] and any(w in last["why"] for w in ("stopped answering", "no reply")), last


@settings(SETTINGS, max_examples=examples(15))
@given(case=cases(), number=st.sampled_from([2, 7]), window=st.sampled_from([None, 3, 8]), beside=st.booleans(),
       data=st.data())
def test_parallel_equals_sequential_when_a_summary_forgets_a_variable(tmp_path_factory, case, number, window, beside,
                                                                       data):
    """Exactness whatever the analysis predicts (SPEC §4): one function's summary made to forget its
    accesses to one variable, as a bug in the analysis would, the block forced onto lanes still
    gives the sequential result (a lane that wrote outside its rows, wildcards' included, or read
    what another lane of its window wrote, is found, and the block runs on sequentially from there)."""
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    base = warmed_up(path, warm_up, check=False)
    expected = fork_chain(base).run_block(raw_block(txs), number=number)
    chain = fork_chain(base)
    choices = sorted({(key, (a.contract, a.var)) for key, entry in chain.compiled_summaries.by_function.items()
                      for a in entry.summary.accesses})
    assume(choices)
    function, var = data.draw(st.sampled_from(choices), label="forgotten")
    with ExitStack() as stack:
        forget_accesses(lambda obj, name, value: stack.enter_context(patch.object(obj, name, value)), chain,
                        function, var)
        got, last = parallel_run(chain, txs, number, 2, window, (), beside)
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert_on_lanes(last)


@settings(SETTINGS, max_examples=examples(15))
@given(case=cases(), number=st.sampled_from([2, 7]), on_lanes=st.booleans())
def test_a_state_file_gives_what_memory_gives(tmp_path_factory, case, number, on_lanes):
    """A block run on a state file (sequentially, or forced onto two lanes whose replicas load from
    it) gives what it gives in memory."""
    program, world, (warm_up, txs) = case
    root = tmp_path_factory.mktemp("rc")
    path = write_case(root, program, world_text(world), [warm_up, txs])
    with Chain.open(path, root / "s.sqlite") as chain:
        chain.run_block(raw_block(warm_up), number=1)
    memory = Chain.open(path)
    memory.run_block(raw_block(warm_up), number=1)
    expected = memory.run_block(raw_block(txs), number=number)
    # (every block loads in bulk first, however small: the parent's and the replicas')
    with patch.object(chain_module, "PREFETCH_MIN", 1), patch.object(replica_module, "PREFETCH_MIN", 1), \
            Chain.open(path, root / "s.sqlite") as chain:
        if on_lanes:
            ex = ParallelExecutor(chain, 2, timeout=30.0)
            ex.force = True
            chain._parallel = ex
        got = chain.run_block(raw_block(txs), number=number, executor="parallel" if on_lanes else "sequential",
                              workers=2)
        if on_lanes:  # (or a worker given up on a loaded machine: the parent ran it, exactly)
            assert ex.last["mode"] == "parallel" or ex.last["failed_lanes"], ex.last
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root


@settings(SETTINGS, max_examples=examples(25))
@given(case=cases(), number=st.sampled_from([2, 7]))
def test_a_lanes_log_names_the_locations_its_code_touches(tmp_path_factory, case, number):
    """The code a lane runs logs each access's location id in its mode's list (what the lanes'
    check compares): per transaction, the locations it writes and adds to are those the soundness
    checker's trace sees, and so are all it touches; a read it does not log is of a location it
    logged already (generated code keeps a value it read or wrote in a local)."""
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    base = warmed_up(path, warm_up, check=False)
    block = base._decode(raw_block(txs), "block", True)  # (the traced code)
    table = FunctionTable(base.world)
    index = {inst.address: inst.program.layouts[inst.contract.name].index for inst in base.world.instances.values()}
    traced, logged = (Context(copy_storage(base.ctx.storage), base.world.code, number, 0, base.world.cost_limit)
                      for _ in range(2))
    for fn, function, call in zip(block.fns, block.functions, block.calls):
        if fn is None:
            continue
        seen: set = set()
        traced.tracer = lambda mode, address, var, key: seen.add((mode, loc_id(address, index[address][var], key)))
        marks = [len(entries) for entries in logged.log]
        for ctx, code in ((traced, fn), (logged, table.logged_code(table.ids[function]))):
            ctx.budget = ctx.cost_limit
            mark, emark = len(ctx.journal), len(ctx.events)
            try:
                code(ctx, *call)
            except Revert:
                ctx.rollback(mark, emark)
        reads, writes, adds = ({loc for loc in entries[at:]} for entries, at in zip(logged.log, marks))
        assert writes == {loc for mode, loc in seen if mode == "w"}, program.source
        assert adds == {loc for mode, loc in seen if mode == "a"}, program.source
        assert reads <= {loc for mode, loc in seen if mode == "r"}, program.source
        assert reads | writes | adds == {loc for _, loc in seen}, program.source


@settings(SETTINGS, max_examples=examples(4))
@given(case=cases())
def test_lane_run_verify_agrees_with_the_api(tmp_path_factory, case):
    program, world, (warm_up, txs) = case
    path = write_case(tmp_path_factory.mktemp("rc"), program, world_text(world), [warm_up, txs])
    root = path.parent
    out = lane_json("run", "world.toml", "block1.jsonl", "block2.jsonl", "--executor", "parallel",
                    "--workers", "2", "--verify", cwd=root)
    chain = Chain.open(path)
    for txs_, got in zip((warm_up, txs), out["blocks"]):
        expected = chain.run_block(raw_block(txs_))
        assert got["state_root"] == expected.state_root
        assert [essentials(r) for r in got["receipts"]] == [essentials(r) for r in expected.receipts_json]
