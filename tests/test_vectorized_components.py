"""The vectorized component finder (numpy) against the union-find one, on random blocks of
every example contract: the same partition of the transactions, and the same pure-add rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.runtime.block import prepare
from compiler.schedule.components import partition
from compiler.schedule.compiled import WILD
from compiler.schedule.vectorized import EVERY, AccessTable, components, hot_writers
from runtime_helpers import raw_block
from test_schedule_props import NUMBERS, SETTINGS, blocks, funded  # noqa: F401 (a fixture)
from fuzzing import examples


def table_of(accesses: list[list], instances: dict[int, int]) -> AccessTable:
    """The rows of per-transaction ((address, var id, key), mode) lists; locations numbered exactly."""
    ids: dict[tuple, int] = {}
    rows = []
    for j, acc in enumerate(accesses):
        for (address, vid, key), mode in acc:
            wild = key is WILD
            loc = -1 if wild else ids.setdefault((address, vid, key), len(ids))
            inst = EVERY if address is None else instances.setdefault(address, len(instances))
            rows.append((j, loc, vid, inst, mode, wild))
    if not rows:
        return AccessTable.empty()
    cols = list(zip(*rows))
    return AccessTable(*(np.array(c, dtype) for c, dtype in
                         zip(cols, (np.int64, np.int64, np.int64, np.int64, np.int8, bool))))


def same_partition(a: list[int], b: list[int]) -> bool:
    pairs = set(zip(a, b))
    return len(pairs) == len(set(a)) == len(set(b))


@settings(SETTINGS, max_examples=examples(200))
@given(data=st.data())
def test_vectorized_components_equal_the_union_finds(funded, data):
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    prepared = prepare(base.world, raw_block(txs))
    p = partition(base.compiled_summaries, prepared, base.ctx.storage, number, 12 * number)
    instances = {a: k for k, a in enumerate(base.world.by_address)}
    got = components(table_of(p.accesses, instances), len(prepared))
    assert same_partition(list(got.label), p.comp)
    ids: dict[tuple, int] = {}
    for acc in p.accesses:  # the same numbering as table_of's
        for (address, vid, key), _ in acc:
            if key is not WILD:
                ids.setdefault((address, vid, key), len(ids))
    expected = sorted((ids[loc], j) for loc, who in p.pure.items() for j in who)
    assert sorted(zip(got.pure_loc.tolist(), got.pure_tx.tolist())) == expected


@settings(SETTINGS, max_examples=examples(100))
@given(data=st.data())
def test_column_rows_cover_every_access_the_call_by_call_instantiation_finds(funded, data):
    """The rows made a column at a time (the called instance's accesses, and those in instances an
    argument or an immutable variable names, each branch of a conditional) cover every row of the
    call-by-call instantiation of the same transactions: the same location (or a wildcard of its
    variable in that instance) in a mode that conflicts with at least as much."""
    from compiler.schedule.rows import R, W, RowMaker

    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    block = prepare(base.world, raw_block(txs))
    functions = [tx.function for tx in block]
    calls = [tx.call for tx in block]
    which = list(range(len(block)))
    maker = RowMaker(base.compiled_summaries)
    storage = base.ctx.storage
    columns, _ = maker.rows(which, functions, calls, storage, number, 12 * number)
    walked, _ = maker.rows(which, functions, calls, storage, number, 12 * number,
                           unresolved={k: set() for k in which})  # every transaction call by call
    covers = {R: {R, W}, W: {W}, 2: {2, W}}  # (2: an add)
    fields = ("tx", "loc", "var", "inst", "mode", "wild")
    have = {}
    for tx, loc, var, inst, mode, wild in zip(*(columns[f].tolist() for f in fields)):
        have.setdefault((tx, "wild" if wild else loc, var, inst if wild else None), set()).add(mode)
    planned = {k for k, f in enumerate(functions) if f is not None and maker.plan(f, calls[k][0], storage) is not None}
    for tx, loc, var, inst, mode, wild in zip(*(walked[f].tolist() for f in fields)):
        if tx not in planned:
            continue
        found = set() if wild else have.get((tx, loc, var, None), set())
        found |= have.get((tx, "wild", var, inst), set())
        assert found & covers[mode], (functions[tx].qualname, loc, var, mode, wild)


# ---------------------------------------------------------------- the parent's re-instantiation sets

from compiler.runtime.parallel import _before, _earliest, _not_in, _scope, _unique_pairs  # noqa: E402

_PAIRS = st.lists(st.tuples(st.integers(0, 6), st.sampled_from([-(1 << 63), -5, 0, 7, (1 << 62), (1 << 63) - 1])),
                  max_size=25)


@given(_PAIRS, _PAIRS)
def test_pairs_not_done_are_exactly_the_set_difference(new, done):
    arr = lambda xs, i: np.array([x[i] for x in xs], np.int64)  # noqa: E731
    got = _not_in(arr(new, 0), arr(new, 1), arr(done, 0), arr(done, 1))
    assert got.tolist() == [pair not in set(done) for pair in new]
    tx, loc = _unique_pairs(arr(new, 0), arr(new, 1))
    assert list(zip(tx.tolist(), loc.tolist())) == sorted(set(new))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 2), st.integers(0, 9)), max_size=20),
       st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 2), st.integers(0, 9)), max_size=20))
def test_earliest_writer_of_a_scope_before_a_reader(writes, reads):
    arr = lambda xs, i: np.array([x[i] for x in xs], np.int64)  # noqa: E731
    keys, first = _earliest(_scope(arr(writes, 0), arr(writes, 1)), arr(writes, 2))
    earliest: dict = {}
    for var, inst, tx in writes:
        earliest[(var, inst)] = min(earliest.get((var, inst), tx), tx)
    got = _before(keys, first, _scope(arr(reads, 0), arr(reads, 1)), arr(reads, 2))
    assert got.tolist() == [(v, i) in earliest and earliest[(v, i)] < tx for v, i, tx in reads]


def _rows(*accesses: tuple[int, int, int]) -> AccessTable:
    """A table of (transaction, location, mode) rows, one variable of one instance."""
    tx, loc, mode = (np.array(c, np.int64) for c in zip(*accesses))
    zero = np.zeros(len(tx), np.int64)
    return AccessTable(tx, loc, zero, zero, mode.astype(np.int8), np.zeros(len(tx), bool))


def test_hot_writers_are_the_few_that_change_what_most_read():
    R, W, A = 0, 1, 2
    n = 200
    price_read = [(t, 7, R) for t in range(n)]
    own = [(t, 100 + t, W) for t in range(n)]  # each its own location besides
    # Location 7 read by all, written by two of them (one adds): those two.
    got = hot_writers(_rows(*price_read, *own, (50, 7, W), (120, 7, A)), n)
    assert got.tolist() == [50, 120]
    # Written by as many as read it: not hot (a pool every swap writes).
    assert not len(hot_writers(_rows(*price_read, *[(t, 7, W) for t in range(0, n, 2)]), n))
    # Read by few: not hot.
    assert not len(hot_writers(_rows(*[(t, 7, R) for t in range(5)], *own, (3, 7, W)), n))
    # Never written: nothing to cut at.
    assert not len(hot_writers(_rows(*price_read, *own), n))
