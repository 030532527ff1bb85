"""The block pipeline (SPEC §4, §5): the incremental state root against a full recomputation, a state
file read as the block needs it against the whole state in memory, several blocks in one run, and
the timing a run reports."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from compiler.cli import app
from compiler.runtime.block import read_block
from compiler.runtime.chain import PHASES, Chain
from compiler.runtime.roots import accumulate, root_of, state_root
from compiler.runtime.store import StateStore
from runtime_helpers import raw_block
from test_schedule_props import DEMO, SETTINGS, Meta, blocks
from fuzzing import examples

BLOCK1 = read_block(DEMO / "block1.jsonl")


def file_root(path: Path, world) -> tuple[str, str]:
    """(the root stored for the file's last block, the root of every row the file holds)."""
    store = StateStore(path, writable=False)
    try:
        store.bind(world)
        stored = root_of(store.head[2])
        full = root_of(accumulate(store.locations()))
    finally:
        store.close()
    return stored, full


@pytest.fixture(scope="module")
def demo():
    """The demo's chain after its first block."""
    chain = Chain.open(DEMO / "world.toml")
    chain.run_block(BLOCK1, number=1)
    return chain


@pytest.fixture(scope="module")
def meta(demo):
    return Meta(demo)


@settings(SETTINGS, max_examples=examples(25))
@given(data=st.data())
def test_the_incremental_root_is_the_full_one_block_after_block(meta, tmp_path_factory, data):
    """Several random blocks in a row, in memory and on a state file: after each, the root kept up
    to date from the block's changes is the root recomputed from the whole state (the file's rows),
    and a state file read as blocks need it gives the same roots as the whole state in memory."""
    folder = tmp_path_factory.mktemp("roots")
    state = folder / "s.sqlite"
    memory, filed = Chain.open(DEMO / "world.toml"), Chain.open(DEMO / "world.toml", state)
    try:
        for chain in (memory, filed):
            chain.run_block(BLOCK1, number=1)
        for _ in range(data.draw(st.integers(1, 3), label="blocks")):
            raw = raw_block(data.draw(blocks(meta), label="block"))
            a = memory.run_block(raw)
            b = filed.run_block(raw)
            assert (b.state_root, b.receipts_root) == (a.state_root, a.receipts_root)
            assert memory.state_root() == state_root(memory.world, memory.ctx.storage) == a.state_root
            assert file_root(state, filed.world) == (a.state_root, a.state_root)
    finally:
        memory.close()
        filed.close()


def test_a_state_file_reopened_reads_what_it_needs_and_agrees(tmp_path):
    state = tmp_path / "s.sqlite"
    with Chain.open(DEMO / "world.toml", state) as chain:
        chain.run_block(BLOCK1, number=1)
    with Chain.open(DEMO / "world.toml") as memory:
        memory.run_block(BLOCK1, number=1)
        expected = memory.run_block(read_block(DEMO / "block2.jsonl"))
    with Chain.open(DEMO / "world.toml", state) as chain:
        # Nothing is in memory yet: the file is read as the block needs it.
        assert all(len(v) == 0 for vs in chain.ctx.storage.values() for v in vs)
        got = chain.run_block(read_block(DEMO / "block2.jsonl"))
        loaded = sum(len(v) for vs in chain.ctx.storage.values() for v in vs)
    assert (got.state_root, got.receipts_json) == (expected.state_root, expected.receipts_json)
    with StateStore(state, writable=False) as store:
        rows = len(list(store.rows()))
    assert 0 < loaded < rows  # it read part of the state, not all of it


def test_several_blocks_in_one_run(tmp_path):
    runner = CliRunner()
    blocks_ = [str(DEMO / f"block{k}.jsonl") for k in (1, 2)]
    both = runner.invoke(app, ["run", str(DEMO / "world.toml"), *blocks_, "--json", "--state",
                               str(tmp_path / "one.sqlite")])
    assert both.exit_code == 0, both.output
    got = json.loads(both.stdout)["blocks"]
    assert [b["number"] for b in got] == [1, 2]
    apart = []
    for path in blocks_:
        out = runner.invoke(app, ["run", str(DEMO / "world.toml"), path, "--json", "--state",
                                  str(tmp_path / "two.sqlite")])
        assert out.exit_code == 0, out.output
        apart.append(json.loads(out.stdout))
    assert [(b["state_root"], b["receipts_root"]) for b in got] == [(b["state_root"], b["receipts_root"])
                                                                     for b in apart]
    # Each block is committed as it is run: the file's last block is the second.
    with StateStore(tmp_path / "one.sqlite", writable=False) as store:
        assert [row[0] for row in store.blocks()] == [0, 1, 2]


def test_seconds_are_the_sum_of_the_phases(tmp_path):
    out = CliRunner().invoke(app, ["run", str(DEMO / "world.toml"), str(DEMO / "block1.jsonl"), "--json",
                                   "--executor", "sequential", "--state", str(tmp_path / "s.sqlite")])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert list(got["phases"]) == list(PHASES)
    assert got["seconds"] == pytest.approx(sum(got["phases"].values()))
    assert got["phases"]["read"] > 0 and got["phases"]["execute"] > 0 and got["phases"]["commit"] > 0
    assert got["tps"] == pytest.approx(len(got["receipts"]) / got["seconds"])


def test_a_kill_between_blocks_leaves_a_file_whose_root_is_its_rows(tmp_path):
    """``lane run W B1 B2 B3`` killed at a random moment: the file holds a whole number of blocks, and
    the root stored for its last one is the root of its rows."""
    from compiler.workload import GenOptions, generate

    generate(tmp_path, GenOptions("transfers", 3000, 300, 0.0, 4, 0.0, 3))
    world = tmp_path / "world.toml"
    lines = (tmp_path / "block.jsonl").read_text().splitlines(keepends=True)
    parts = [tmp_path / f"b{k}.jsonl" for k in range(3)]
    for k, path in enumerate(parts):
        path.write_text("".join(lines[k * 1000:(k + 1) * 1000]))
    base = tmp_path / "base.sqlite"
    with Chain.open(world, base) as chain:
        chain.run_file(tmp_path / "setup.jsonl")
    cmd = [sys.executable, "-m", "compiler", "run", str(world), *map(str, parts), "-e", "sequential", "--state"]
    seen = set()
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5, 2.0):
        state = tmp_path / "s.sqlite"
        shutil.copy(base, state)
        proc = subprocess.Popen([*cmd, str(state)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Chain.open(world) as probe:
            stored, full = file_root(state, probe.world)
        assert stored == full
        with StateStore(state, writable=False) as store:
            seen.add(store.head[0])
    assert seen <= {1, 2, 3, 4}


@settings(SETTINGS, max_examples=examples(200))
@given(writes=st.lists(st.tuples(st.integers(0, 2), st.sampled_from([1, 2, (1, 2), (2, 1), True]),
                                 st.sampled_from([0, 1, 5, 2**200, True, False])), max_size=30))
def test_a_journal_s_changes_are_each_location_first_before_and_last_after(writes):
    """changes.from_journal (columns made by C code) against the definition, one write at a time:
    a location changed when its value now differs from its value before its first write (a bool
    and an int of the same value differ), as the roots and the state file's rows need it."""
    from itertools import repeat

    from compiler.runtime.changes import from_journal, journal_keys, written_keys
    from compiler.vm.variables import Var

    stores = [Var(0), Var(0), Var(False)]
    journal = []
    first: dict = {}
    for which, key, value in writes:
        store = stores[which]
        journal.append((store, key, store[key]))
        first.setdefault((which, key), store[key])
        store[key] = value
    expected = {(which, key): (old, stores[which][key]) for (which, key), old in first.items()
                if old != stores[which][key] or type(old) is not type(stores[which][key])}
    got = from_journal(journal)
    number = {id(s): k for k, s in enumerate(stores)}  # (equal dicts are different variables)
    # Every key written, once per variable, with its value before its first write (what the changes
    # are made from).
    written = [(number[id(s)], key, old) for s, keys, olds in journal_keys(journal) for key, old in zip(keys, olds)]
    assert len(written) == len(first) and {(w, k): o for w, k, o in written} == first
    # The same keys without their values before, in the order of their first writes (a lane's window
    # sends them with their values now; it needs the values before only for its pure adds).
    by_variable: dict = {}
    for which, key in first:
        by_variable.setdefault(which, []).append(key)
    assert {number[id(s)]: keys for s, keys in written_keys(journal)} == by_variable
    assert {(number[id(s)], key): (old, new) for s, key, old, new in got} == expected
    assert len(got) == len(expected) and bool(got) == bool(expected)
    pairs = got.only(lambda _store, keys: map(isinstance, keys, repeat(tuple)))  # a column of flags per variable
    assert {(number[id(s)], k): (o, n) for s, k, o, n in pairs} == {
        k: v for k, v in expected.items() if isinstance(k[1], tuple)}


@settings(SETTINGS, max_examples=examples(40))
@given(data=st.data())
def test_what_variables_record_before_a_block_is_what_the_block_changed(demo, meta, data):
    """The values before the block that generated code records at each key's first write
    (``Var.before``) give exactly the locations whose value the block changed, compared with a copy
    of the state before it (reverted transactions and all), block after block (each begins
    afresh); and putting them back undoes the block."""
    from compiler.runtime import sequential
    from compiler.runtime.block import prepare
    from compiler.runtime.changes import from_befores
    from compiler.runtime.decode import Block
    from compiler.vm.variables import copy_storage
    from runtime_helpers import fork_chain

    chain = fork_chain(demo)
    storage = chain.ctx.storage
    where = {id(var): (address, k) for address, variables in storage.items() for k, var in enumerate(variables)}

    def state(of) -> dict:
        return {(a, k, key): (value, type(value)) for a, vs in of.items() for k, var in enumerate(vs)
                for key, value in var.items() if value != var.zero or type(value) is not type(var.zero)}

    for _ in range(data.draw(st.integers(1, 3), label="blocks")):
        txs = prepare(chain.world, raw_block(data.draw(blocks(meta), label="block")))
        block = Block.of_txs(chain.world, txs)
        ctx = chain.ctx
        ctx.begin()
        before = copy_storage(storage)
        sequential.execute(ctx, block)
        was, now = state(before), state(storage)
        expected = {loc: (was.get(loc, (None,))[0], now.get(loc, (None,))[0])
                    for loc in was.keys() | now.keys() if was.get(loc) != now.get(loc)}
        got = {(*where[id(s)], k): (o, n) for s, k, o, n in from_befores(storage)}
        assert {loc: (o if o else None, n if n else None) for loc, (o, n) in got.items()} == expected
    for variables in storage.values():  # the last block undone from what its variables recorded
        for var in variables:
            var.update(var.before)
    assert state(storage) == was


@pytest.mark.parametrize("filed", [False, True])
def test_a_block_refused_before_its_commit_is_undone(tmp_path, filed):
    """``before_commit`` raising takes the block back (from what its variables recorded before it):
    the state is the one before it, and running the block again gives what it gives elsewhere."""
    block2 = read_block(DEMO / "block2.jsonl")
    with Chain.open(DEMO / "world.toml") as reference:
        reference.run_block(BLOCK1, number=1)
        expected = reference.run_block(block2)
    with Chain.open(DEMO / "world.toml", tmp_path / "s.sqlite" if filed else None) as chain:
        chain.run_block(BLOCK1, number=1)
        root = chain.state_root()

        def refuse(result):
            raise RuntimeError("refused")

        with pytest.raises(RuntimeError, match="refused"):
            chain.run_block(block2, before_commit=refuse)
        assert chain.number == 1 and chain.state_root() == root == state_root(chain.world, chain.ctx.storage)
        again = chain.run_block(block2)
    assert (again.state_root, again.receipts_json) == (expected.state_root, expected.receipts_json)


def test_blocks_append_to_the_log_which_is_folded_in_past_its_limit(tmp_path, monkeypatch):
    """Each block's changed rows are appended to the log (``recent``) until it passes COMPACT_AT rows,
    then folded into ``storage`` at a commit; at every step the file's rows give the root stored for
    its last block, and a chain opened afresh reads each location through the log (lane call too)."""
    from compiler.runtime import store as store_module
    from compiler.workload import GenOptions, generate

    monkeypatch.setattr(store_module, "COMPACT_AT", 700)
    generate(tmp_path, GenOptions("transfers", 1200, 300, 0.0, 4, 0.0, 3))
    world, state = tmp_path / "world.toml", tmp_path / "s.sqlite"
    lines = (tmp_path / "block.jsonl").read_bytes().splitlines(keepends=True)
    memory = Chain.open(world)
    logged = []
    with Chain.open(world, state) as chain:
        for k, part in enumerate([(tmp_path / "setup.jsonl").read_bytes()]
                                 + [b"".join(lines[i:i + 200]) for i in range(0, len(lines), 200)]):
            got, want = chain.run_block(part), memory.run_block(part)
            assert got.state_root == want.state_root
            logged.append(chain.store.db.execute("SELECT count(*) FROM recent").fetchone()[0])
            assert file_root(state, chain.world) == (got.state_root, got.state_root)
    assert 0 < max(logged) <= 700 and 0 in logged[1:]  # it grew, and was folded in
    assert logged != sorted(logged)
    with Chain.open(world, state) as fresh:  # nothing in memory: every read goes through the log
        for name in ("u0", "u1", "u7", "admin"):
            assert fresh.call("usdc", "balance_of", [name])[1] == memory.call("usdc", "balance_of", [name])[1]


def test_the_log_of_a_large_state_folds_after_a_share_of_its_rows(tmp_path, monkeypatch):
    """On a state of many rows the log grows to a FOLD_SHARE-th of ``storage``'s rows (counted in
    ``meta`` at each fold) before a commit folds it, not to COMPACT_AT: a fold rewrites the pages
    of the whole table.  The roots stay those of the state in memory; a file whose count is missing
    or not a count folds at COMPACT_AT."""
    from compiler.runtime import store as store_module
    from compiler.workload import GenOptions, generate

    monkeypatch.setattr(store_module, "COMPACT_AT", 50)
    monkeypatch.setattr(store_module, "FOLD_SHARE", 4)
    generate(tmp_path, GenOptions("transfers", 1500, 1200, 0.0, 4, 0.0, 3))
    world, state = tmp_path / "world.toml", tmp_path / "s.sqlite"
    lines = (tmp_path / "block.jsonl").read_bytes().splitlines(keepends=True)
    memory = Chain.open(world)
    logged, counted = [], []
    with Chain.open(world, state) as chain:
        db = chain.store.db
        for part in [(tmp_path / "setup.jsonl").read_bytes()] + [b"".join(lines[i:i + 100])
                                                                 for i in range(0, len(lines), 100)]:
            got, want = chain.run_block(part), memory.run_block(part)
            assert got.state_root == want.state_root
            logged.append(db.execute("SELECT count(*) FROM recent").fetchone()[0])
            if not logged[-1]:  # (folded: the count is the table's)
                counted.append((int(chain.store.meta("storage_rows")),
                                db.execute("SELECT count(*) FROM storage").fetchone()[0]))
        assert counted and all(meta == rows > 800 for meta, rows in counted)
        assert chain.store.fold_at() == counted[-1][1] // 4
    assert 50 < max(logged) <= counted[-1][1] // 4 and 0 in logged[2:]  # past COMPACT_AT, then folded
    for damaged in ("many", "-5", "", "١٢٣"):
        with contextlib.closing(sqlite3.connect(state)) as db, db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'storage_rows'", (damaged,))
        with Chain.open(world, state) as chain:
            assert chain.store.fold_at() == 50
            got = chain.run_block(b"".join(lines[:100]), number=chain.number + 1)
            assert got.state_root == memory.run_block(b"".join(lines[:100])).state_root


@pytest.mark.parametrize("scan, json_sql", [(True, True), (False, True), (True, False)])
def test_a_block_reads_its_locations_by_key_or_by_a_pass_over_the_variable(tmp_path, monkeypatch, scan, json_sql):
    """A block naming most of a variable's rows reads them in one pass over the variable, and one
    naming few looks each key up (``scan`` forces either): both read the log's newest values
    over ``storage``'s stale ones, and give the roots of the whole state in memory; rows are
    written the same whether one statement writes a variable's (SQLite's JSON functions) or
    ``executemany`` each row (an SQLite without them)."""
    from compiler.runtime import store as store_module
    from compiler.workload import GenOptions, generate

    monkeypatch.setattr(store_module, "_JSON", json_sql)

    monkeypatch.setattr(store_module, "_SCAN_FROM", 1 if scan else 10**9)
    monkeypatch.setattr(store_module, "_SCAN_SHARE", 10**6)
    monkeypatch.setattr(store_module, "COMPACT_AT", 300)  # folded every other block
    scans = []
    most_of = store_module._most_of
    monkeypatch.setattr(store_module, "_most_of", lambda *a: scans.append(most_of(*a)) or scans[-1])
    generate(tmp_path, GenOptions("transfers", 800, 400, 0.0, 4, 0.0, 5))
    world, state = tmp_path / "world.toml", tmp_path / "s.sqlite"
    lines = (tmp_path / "block.jsonl").read_bytes().splitlines(keepends=True)
    memory = Chain.open(world)
    parts = [(tmp_path / "setup.jsonl").read_bytes()] + [b"".join(lines[i:i + 100]) for i in range(0, 800, 100)]
    logged = []
    for part in parts:  # a chain opened afresh for each block: everything it reads comes from the file
        with Chain.open(world, state) as chain:
            logged.append(chain.store.db.execute("SELECT count(*) FROM recent").fetchone()[0])
            got, want = chain.run_block(part), memory.run_block(part)
            assert (got.state_root, got.receipts_root) == (want.state_root, want.receipts_root)
    assert any(logged) and 0 in logged[2:]  # blocks read with stale rows in storage, and after a fold
    assert scans and all(scans) == scan and any(scans) == scan


def test_a_big_block_s_receipts_are_kept_compressed_and_read_back_as_run(tmp_path):
    """Receipts of 64 KiB or more are compressed while the commit writes the rows (a thread), and
    ``lane state receipts`` reads back what ``lane run`` printed."""
    from compiler.runtime.encoding import COMPRESS_FROM, ZSTD_MAGIC
    from compiler.workload import GenOptions, generate

    generate(tmp_path, GenOptions("transfers", 1000, 200, 0.0, 4, 0.0, 9))
    world, state = str(tmp_path / "world.toml"), str(tmp_path / "s.sqlite")
    runner = CliRunner()
    for name in ("setup", "block"):
        out = runner.invoke(app, ["run", world, str(tmp_path / f"{name}.jsonl"), "--state", state, "--json"])
        assert out.exit_code == 0, out.output
    ran = json.loads(out.stdout)
    with StateStore(state, writable=False) as store:
        kept = store.receipts(ran["number"])
    assert kept[:4] == ZSTD_MAGIC and len(kept) < COMPRESS_FROM
    back = runner.invoke(app, ["state", "receipts", world, "--state", state, "--json"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["receipts"] == [{k: v for k, v in r.items() if k != "at"}
                                                   for r in ran["receipts"]]


def test_a_version_2_file_is_read_as_it_is_and_gains_the_log_when_written(tmp_path):
    import contextlib
    import sqlite3

    state = tmp_path / "s.sqlite"
    with Chain.open(DEMO / "world.toml", state) as chain:
        chain.run_block(BLOCK1, number=1)
        root = chain.state_root()
    with contextlib.closing(sqlite3.connect(state)) as db:  # as a Lane of schema version 2 left it
        db.execute("INSERT OR REPLACE INTO storage SELECT var, key, value FROM state")
        db.execute("DROP VIEW state")
        db.execute("DROP TABLE recent")
        db.execute("DROP TABLE returns")
        db.execute("PRAGMA user_version = 2")
        db.commit()
    with Chain.open(DEMO / "world.toml") as chain:
        assert file_root(state, chain.world) == (root, root)
    with StateStore(state, writable=False) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 2  # reading changes nothing
    with Chain.open(DEMO / "world.toml") as memory, Chain.open(DEMO / "world.toml", state) as chain:
        memory.run_block(BLOCK1, number=1)
        block2 = read_block(DEMO / "block2.jsonl")
        assert chain.run_block(block2).state_root == memory.run_block(block2).state_root
    with StateStore(state, writable=False) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 4


def test_receipts_json_made_a_column_at_a_time_is_each_receipt_s(tmp_path):
    """receipts_json (grouped by function and by event, C code) against each receipt made on its
    own from format_value, on a defi block with reverts and invalid lines, and the demo's blocks."""
    from compiler.runtime.receipts import OK
    from compiler.vm.values import format_address, format_value
    from compiler.workload import GenOptions, generate

    def one_by_one(world, result) -> list[dict]:
        out = []
        for k, (fn, o) in enumerate(zip(result.block.functions, result.outcomes)):
            status, reason, value, events, cost, at = o
            ev = []
            for address, name, args in events:
                inst = world.by_address[address]
                types = [ty for _, ty in inst.contract.events[name].params]
                ev.append({"contract": inst.name, "address": format_address(address), "event": name,
                           "args": [format_value(ty, a) for ty, a in zip(types, args)]})
            out.append({"index": k, "status": status, "reason": reason,
                        "return": format_value(fn.return_type, value) if status == OK and fn is not None else None,
                        "events": ev, "cost": cost, "at": at})
        return out

    generate(tmp_path, GenOptions("defi", 1500, 40, 0.0, 2, 0.0, 5))
    block = (tmp_path / "block.jsonl").read_bytes() + (
        b'{"from": "u1", "to": "nobody", "fn": "x", "args": []}\n'
        b'{"from": "u1", "to": "usdc", "fn": "transfer", "args": ["u2", "10000000000000000000000000000000000000000"]}\n'
        b'{"from": "u1", "to": "usdc", "fn": "balance_of", "args": ["u1"]}\n'
        b'{"from": "u1", "to": "nft", "fn": "holder_of", "args": [999999]}\n'   # reverts: no address to show
        b'{"from": "u1", "to": "nft", "fn": "holder_of", "args": [1]}\n')
    with Chain.open(tmp_path / "world.toml") as chain:
        chain.run_block((tmp_path / "setup.jsonl").read_bytes())
        result = chain.run_block(block)
        assert result.counts()["reverted"] > 0 and result.counts()["invalid"] == 1
        assert result.receipts_json == one_by_one(chain.world, result)
    with Chain.open(DEMO / "world.toml") as chain:
        for k in (1, 2):
            result = chain.run_block(read_block(DEMO / f"block{k}.jsonl"))
            assert result.receipts_json == one_by_one(chain.world, result)


CELLS = """
contract Cells {
    storage cells: map<address, map<u256, u256>>;
    storage far: map<u256, u256>;
    pub fn fill(v: u256) { for i in 0..4 { cells[msg.sender][i] = v + i; } }
    pub fn some(n: u256) { for i in 2..min(n, 5) { cells[msg.sender][i] = n; } }
    pub fn many(v: u256) { for i in 0..100 { far[i] = v; } }
}
"""


def lazy_reads(chain) -> list:
    """The keys the chain's state reads one at a time from its file from now on (filled as it reads)."""
    from compiler.vm.variables import LazyVar

    loads: list = []
    for variables in chain.ctx.storage.values():
        for var in variables:
            if type(var) is LazyVar:
                var.load = (lambda load: lambda key: loads.append(key) or load(key))(var.load)
    return loads


def test_a_block_loads_the_keys_a_loop_of_few_values_names(tmp_path):
    """A key that is a loop's index (from a constant, over at most 64 values) is loaded for each
    value, in bulk, before the block: the block reads none of them one at a time, and its state is
    the one run in memory gives.  A longer loop's keys are left to be read as touched."""
    from compiler.schedule.locations import BlockLocations
    from runtime_helpers import account, block_text, pot_world

    world = pot_world(tmp_path, CELLS, "Cells")
    state = tmp_path / "s.sqlite"
    calls = [{"from": f"u{k}", "to": "pot", "fn": ("fill", "some", "many")[k % 3], "args": [k]} for k in range(300)]
    block = block_text(calls).encode()
    with Chain.open(world, state) as chain:  # (a state file: reopened, its variables read from it)
        chain.run_block(json.dumps({"from": "u0", "to": "pot", "fn": "fill", "args": [1]}).encode())
    with Chain.open(world, state) as chain:
        decoded = chain.decoder().decode(block, "block")
        wanted = BlockLocations(chain.world, chain.ctx.storage).find(decoded.functions, decoded.calls)
        pot = chain.world.instances["pot"].address
        cells, far = (wanted.get((pot, i), set()) for i in (0, 1))
        assert {(int(account("u3"), 16), i) for i in range(4)} <= cells  # fill: 0..4
        assert {(int(account("u4"), 16), i) for i in range(2, 5)} <= cells  # some: 2..min(n, 5), at most 3
        assert not far  # many: 100 values, read as touched
        loads = lazy_reads(chain)
        got = chain.run_block(block)
        assert not [k for k in loads if type(k) is tuple]  # (every cell was loaded before)
        assert len([k for k in loads if type(k) is int]) == 100  # (far's, one at a time)
    memory = Chain.open(world)
    memory.run_block(json.dumps({"from": "u0", "to": "pot", "fn": "fill", "args": [1]}).encode())
    assert got.state_root == memory.run_block(block).state_root


BOXES = """
contract Box {
    storage vals: map<address, u256>;
    storage count: u256;
    pub fn put_for(who: address, v: u256) { vals[who] = v; }
    pub fn bump() { count += 1; }
}

contract Pick {
    storage a: Box;
    storage b: Box;
    init(x: Box, y: Box) { a = x; b = y; }
    pub fn set_a(x: Box) { a = x; }
    pub fn left(v: u256) { a.put_for(msg.sender, v); }
    pub fn either(first: bool, v: u256) {
        let t = b;
        if first { t = a; }
        t.put_for(msg.sender, v);
    }
    pub fn many(whos: array<address, 3>, v: u256) {
        for i in 0..3 { b.put_for(whos[i], v); }
    }
}

contract Ledger {
    storage owner: map<u256, address>;
    storage box: Box;
    init(x: Box) { box = x; }
    storage boxes: map<u256, Box>;
    pub fn claim(id: u256) { owner[id] = msg.sender; }
    pub fn pay(id: u256, v: u256) { box.put_for(owner[id], v); }
    pub fn register(i: u256, b: Box) { boxes[i] = b; }
    pub fn bump_at(i: u256) { boxes[i].bump(); }
}
"""


def test_a_block_loads_what_a_mutable_instance_or_either_side_of_a_choice_names(tmp_path):
    """An instance read from mutable storage (``a``, which ``set_a`` may change) is taken as the state
    before the block holds it, an instance chosen by a condition as either side, and a key that is
    an element of an array argument as each of them: the keys they name are loaded in bulk before
    the block (what is found is only what to load: the state is the one run in memory gives, also
    when the block changes ``a`` on the way)."""
    from compiler.schedule.locations import BlockLocations
    from runtime_helpers import account, block_text

    (tmp_path / "c.lane").write_text(BOXES)
    world = tmp_path / "world.toml"
    world.write_text("".join(f'[[deploy]]\nname = "{n}"\nsource = "c.lane"\ncontract = "Box"\nargs = []\n\n'
                             for n in ("box1", "box2", "box3"))
                     + '[[deploy]]\nname = "pick"\nsource = "c.lane"\ncontract = "Pick"\nargs = ["box1", "box2"]\n')
    state = tmp_path / "s.sqlite"
    calls = [{"from": f"u{k}", "to": "pick", "fn": "left" if k % 2 else "either", "args": [k] if k % 2 else
              [k % 4 == 0, k]} for k in range(200)]
    calls.insert(150, {"from": "u0", "to": "pick", "fn": "set_a", "args": ["box3"]})
    calls += [{"from": "u1", "to": "pick", "fn": "many", "args": [[f"w{k}", f"w{k + 1}", f"w{k + 2}"], k]}
              for k in range(0, 60, 3)]
    block = block_text(calls).encode()
    with Chain.open(world, state) as chain:  # (a state file: reopened, its variables read from it)
        chain.run_block(block_text([{"from": "u1", "to": "pick", "fn": "left", "args": [1]}]).encode())
    with Chain.open(world, state) as chain:
        decoded = chain.decoder().decode(block, "block")
        locations = BlockLocations(chain.world, chain.ctx.storage)
        wanted = locations.find(decoded.functions, decoded.calls)
        box1, box2, box3 = (chain.world.instances[n].address for n in ("box1", "box2", "box3"))
        senders = {int(account(f"u{k}"), 16) for k in range(200)}
        assert wanted[(box1, 0)] >= senders - {int(account("u0"), 16)} and wanted[(box2, 0)] >= {
            int(account(f"u{k}"), 16) for k in range(0, 200, 2)} | {int(account(f"w{k}"), 16) for k in range(60)}
        loads = lazy_reads(chain)
        got = chain.run_block(block)
        # Read one at a time: box3's cells only (set_a moved ``a`` there within the block): the calls
        # after it of left (25) and of either on its first side (12).
        assert len(loads) <= 25 + 12 + 2, len(loads)
        # The next block's plans read ``a`` again: it is box3 now.
        assert (box3, 0) not in wanted and locations.find(decoded.functions, decoded.calls)[(box3, 0)] >= senders
    memory = Chain.open(world)
    memory.run_block(block_text([{"from": "u1", "to": "pick", "fn": "left", "args": [1]}]).encode())
    assert got.state_root == memory.run_block(block).state_root


def test_a_block_loads_what_keys_read_per_call_name_once_those_are_loaded(tmp_path):
    """A key read per call from storage (``owner[id]``: a seller, say) is read from the state before
    the block once what the calls name by their arguments is loaded: the locations it names are
    loaded in bulk too, in a second round; what the block changes on the way is read when touched."""
    from compiler.schedule.locations import BlockLocations
    from runtime_helpers import account, block_text

    (tmp_path / "c.lane").write_text(BOXES)
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "box1"\nsource = "c.lane"\ncontract = "Box"\nargs = []\n\n'
        '[[deploy]]\nname = "ledger"\nsource = "c.lane"\ncontract = "Ledger"\nargs = ["box1"]\n')
    state = tmp_path / "s.sqlite"
    setup = block_text([{"from": f"o{k}", "to": "ledger", "fn": "claim", "args": [k]} for k in range(100)]
                       + [{"from": "o1", "to": "ledger", "fn": "register", "args": [7, "box1"]}]).encode()
    calls = [{"from": "u1", "to": "ledger", "fn": "pay", "args": [k, k]} for k in range(100)]
    calls += [{"from": "u2", "to": "ledger", "fn": "bump_at", "args": [7]}] * 3  # (an instance read per call)
    calls.insert(50, {"from": "n1", "to": "ledger", "fn": "claim", "args": [70]})  # (70's owner, changed)
    block = block_text(calls).encode()
    with Chain.open(tmp_path / "world.toml", state) as chain:
        chain.run_block(setup)
    with Chain.open(tmp_path / "world.toml", state) as chain:
        decoded = chain.decoder().decode(block, "block")
        locations = BlockLocations(chain.world, chain.ctx.storage)
        chain.store.prefetch(chain.ctx.storage, locations.find(decoded.functions, decoded.calls))
        box1 = chain.world.instances["box1"].address
        owners = {int(account(f"o{k}"), 16) for k in range(100)}
        later = locations.find(decoded.functions, decoded.calls, later=True)
        assert later[(box1, 0)] == owners and later[(box1, 1)] == {()}
        loads = lazy_reads(chain)
        got = chain.run_block(block)
        assert loads == [int(account("n1"), 16)], loads  # (70's new owner's cell, read when touched)
    memory = Chain.open(tmp_path / "world.toml")
    memory.run_block(setup)
    assert got.state_root == memory.run_block(block).state_root
