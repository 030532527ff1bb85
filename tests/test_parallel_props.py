"""Properties of the parallel executor on random blocks over every example contract (the demo world).

- Its result is the sequential one, bit for bit, for 1 to 4 workers, any cut of the block into
  windows, any of them run by the parent itself, windows shared by their lanes in turns, and the
  calls given to every worker or routed by them; the sequential reference runs with the soundness
  checker on (every access inside its summary).
- On a state file, a block it ran, refused before its commit, leaves the state as it was: what
  the parent's state took of the lanes' writes (keys it never had in memory among them) is put back.
- The components it runs apart are never finer than those of the block's DAG.
- A block file run as the executor chooses (estimated, its calls timed and rolled back, a small
  block decoded once) gives the sequential result.
- A chain of blocks on a state file, on lanes or run by the parent alone in any order, keeps the
  sequential chain's state block after block, whenever the parent applies the lanes' writes.
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.runtime import chain as chain_module
from compiler.runtime import encoding, pool
from compiler.runtime.block import prepare, read_block
from compiler.runtime.chain import Chain
from compiler.runtime.cost_model import CostModel
from compiler.runtime.parallel import ParallelExecutor
from compiler.runtime.plan import MIN_TRANSACTIONS
from compiler.schedule import dag
from compiler.schedule.components import partition
from runtime_helpers import block_text, fork_chain, raw_block, refused_on_lanes
from test_schedule_props import DEMO, NUMBERS, SETTINGS, Meta, blocks
from fuzzing import examples


@settings(SETTINGS, max_examples=examples(80))
@given(data=st.data())
def test_parallel_equals_sequential_on_random_blocks(funded, data):
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    workers = data.draw(st.integers(1, 4), label="workers")
    window = data.draw(st.sampled_from([None, 1, 3, 8]), label="window")
    inline = data.draw(st.sets(st.integers(0, 12), max_size=6), label="windows run by the parent")
    shared = data.draw(st.booleans(), label="windows shared in turns where they may be")
    routed = data.draw(st.booleans(), label="calls routed by the workers (not every call to every worker)")
    beside = data.draw(st.booleans(), label="light components run by the parent beside the lanes")
    raw = raw_block(txs)
    expected = fork_chain(base).run_block(raw, number=number, check_accesses=True)
    chain = fork_chain(base)
    ex = ParallelExecutor(chain, workers, timeout=30.0)  # its workers hold replicas of this chain's state
    ex.force, ex.force_window, ex.force_inline, ex.force_shared = True, window, inline, shared
    ex.force_routed, ex.force_beside = routed, beside
    chain._parallel = ex
    try:
        got = chain.run_block(raw, number=number, executor="parallel", workers=workers)
    finally:
        chain.close()
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert ex.last["mode"] == ("parallel" if workers > 1 else "inline")


@settings(SETTINGS, max_examples=examples(20))
@given(data=st.data())
def test_a_block_file_as_the_executor_chooses_equals_sequential(funded, data):
    # A block file's bytes, the executor choosing how to run them (its model fixed: the demo's
    # calls are estimated, not judged light by the world's costliest function): a block of 64
    # transactions or more is estimated, one under 256 is its own sample (its calls timed on the
    # state and rolled back, then run from the calls the estimate decoded).
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    copies = data.draw(st.integers(1, 12), label="copies of it, one after the other")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    text = block_text(txs * copies).encode()
    expected = fork_chain(base).run_block(text, number=number)
    chain = fork_chain(base)
    ex = ParallelExecutor(chain, 2, timeout=30.0)
    ex.model = CostModel(1.0)
    chain._parallel = ex
    try:
        got = chain.run_block(text, number=number, executor="parallel", workers=2)
    finally:
        chain.close()
    assert got.receipts_json == expected.receipts_json
    assert got.state_root == expected.state_root
    assert ex.last["estimated"] is not None or len(txs) * copies < MIN_TRANSACTIONS, ex.last


@pytest.fixture(scope="module")
def funded_file(tmp_path_factory):
    """A state file of the demo world after its funding block, and what blocks can be drawn on it."""
    path = tmp_path_factory.mktemp("state") / "funded.sqlite"
    with Chain.open(DEMO / "world.toml", path) as chain:
        chain.run_block(read_block(DEMO / "block1.jsonl"), number=1)
        meta = Meta(chain)
    return path, meta


@settings(SETTINGS, max_examples=examples(15))
@given(data=st.data())
def test_a_refused_block_on_lanes_leaves_a_state_file_as_it_was(funded_file, tmp_path_factory, data):
    path, meta = funded_file
    txs = data.draw(blocks(meta), label="block")
    window = data.draw(st.sampled_from([None, 1, 3, 8]), label="window")
    inline = data.draw(st.sets(st.integers(0, 12), max_size=6), label="windows run by the parent")
    raw = raw_block(txs)
    state = tmp_path_factory.mktemp("run") / "s.sqlite"
    shutil.copy(path, state)
    with Chain.open(DEMO / "world.toml", path, read_only=True) as reference:
        expected = fork_chain(reference).run_block(raw, number=2)
    with Chain.open(DEMO / "world.toml", state) as chain:  # (nothing of the state in memory yet)
        root = chain.state_root()
        ex = ParallelExecutor(chain, 2, timeout=30.0)
        ex.force, ex.force_window, ex.force_inline = True, window, inline
        chain._parallel = ex
        refused_on_lanes(chain, raw, expected, number=2)
        assert chain.state_root() == root
        again = chain.run_block(raw, number=2)
        assert again.receipts_json == expected.receipts_json and again.state_root == expected.state_root


def _held(executed) -> tuple:
    """What a block's result holds, read afresh: its receipts, their digests, its rows."""
    return encoding.unpack(executed.packed), bytes(executed.digests), repr(executed.rows)


@settings(SETTINGS, max_examples=examples(10))
@given(data=st.data())
def test_a_chain_of_blocks_on_lanes_and_inline_on_a_state_file_equals_sequential(funded_file, tmp_path_factory,
                                                                                data):
    # Blocks one after the other on a state file, each on lanes (forced) or run by the parent alone
    # (not forced: too small for lanes), the replicas kept from block to block and brought in step
    # by what the blocks run alone changed: after each block, the sequential chain's state.  The
    # lanes' writes the parent defers are applied when it runs a block, or (``most``) the oldest at
    # each block's start.  The workers' arenas are poisoned as they are written again: a result that
    # kept a view of a reply would differ from the sequential one by the chain's end.
    path, meta = funded_file
    kinds = data.draw(st.lists(st.booleans(), min_size=2, max_size=6), label="each block on lanes (or alone)")
    most = data.draw(st.sampled_from([chain_module.PENDING_MOST, 1]), label="deferred bytes kept at most")
    where = tmp_path_factory.mktemp("chain")
    shutil.copy(path, where / "seq.sqlite")
    shutil.copy(path, where / "par.sqlite")
    with Chain.open(DEMO / "world.toml", where / "seq.sqlite") as seq, \
            Chain.open(DEMO / "world.toml", where / "par.sqlite") as par, pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain_module, "PENDING_MOST", most)
        patch.setattr(pool, "POISON", True)
        ex = ParallelExecutor(par, 2, timeout=30.0)
        par._parallel = ex
        results = []
        for k, on_lanes in enumerate(kinds):
            txs = data.draw(blocks(meta), label=f"block {k}")
            if not on_lanes:
                txs = txs[:MIN_TRANSACTIONS - 1]
            raw = raw_block(txs)
            ex.force = on_lanes
            expected = seq.run_block(raw, number=2 + k)
            got = par.run_block(raw, number=2 + k, executor="parallel", workers=2)
            assert got.receipts_json == expected.receipts_json
            assert got.state_root == expected.state_root
            assert ex.last["mode"] == ("parallel" if on_lanes else "inline")
            results.append((got.executed, _held(got.executed)))
        for executed, held in results:  # (each block's result as it was, after the blocks after it)
            assert _held(executed) == held
        # What the parent holds in memory, the lanes' writes applied, is the sequential chain's (a key
        # it does not hold is read from the state file, which took each block's changes).
        mine, theirs = par.ctx.storage, seq.ctx.storage
        for address, variables in mine.items():
            for var, ref in zip(variables, theirs[address]):
                assert dict(var) == {key: ref[key] for key in var}


@settings(SETTINGS, max_examples=examples(60))
@given(data=st.data())
def test_components_are_never_finer_than_the_dags(funded, data):
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    prepared = prepare(base.world, raw_block(txs))
    compiled = base.compiled_summaries
    storage = base.ctx.storage
    s = dag.build(compiled, prepared, storage, number, 12 * number, keep_accesses=True)
    p = partition(compiled, prepared, storage, number, 12 * number)
    assert p.accesses == s.accesses
    mine = p.comp
    for i, j in zip(s.sources, s.targets):
        assert mine[i] == mine[j], (i, j)
    # ... and no coarser where no wildcard is involved: the same components.
    if not any(loc[2] is dag.WILD for acc in p.accesses for loc, _ in acc):
        theirs = s.component_ids()
        assert len(set(theirs)) == len(set(mine))
