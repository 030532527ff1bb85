"""The vectorized component finder (numpy) against the union-find one, on random blocks of
every example contract: the same partition of the transactions, and the same pure-add rows."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compiler.runtime.block import prepare
from compiler.schedule.components import partition
from compiler.schedule.compiled import WILD
from compiler.schedule.vectorized import EVERY, AccessTable, components, hot_writers
from runtime_helpers import columns_cover_the_walk, raw_block
from test_schedule_props import NUMBERS, SETTINGS, blocks
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


@settings(SETTINGS, max_examples=examples(100))
@given(data=st.data())
def test_column_rows_cover_every_access_the_call_by_call_instantiation_finds(funded, data):
    """The rows made a column at a time (the called instance's accesses, and those in instances an
    argument or an immutable variable names, each branch of a conditional) cover every row of the
    call-by-call instantiation of the same transactions: the same location (or a wildcard of its
    variable in that instance) in a mode that conflicts with at least as much.  Each way, a
    transaction has one row of a variable's location it touches (written when it touches it in
    several modes)."""
    base, meta = funded
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    columns_cover_the_walk(base, txs, number)


BOOK = """
contract Book {
    storage bal: map<address, u256>;
    storage owner: map<u256, address>;
    pub fn bump() { let x: u256 = bal[msg.sender]; bal[msg.sender] = x + 1; }
    pub fn top(v: u256) { require(bal[msg.sender] < 100, "full"); bal[msg.sender] += v; }
    pub fn move(to: address, v: u256) { bal[msg.sender] -= v; bal[to] += v; }
    pub fn claim(id: u256, other: address, flag: bool) {
        owner[id] = msg.sender;
        if (flag) { owner[id] = other; }
    }
    pub fn pay(id: u256, v: u256) { bal[owner[id]] += v; }
    pub fn tip(id: u256, v: u256) { if (v > 10) { bal[owner[id]] += v; } }
    pub fn send(id: u256, v: u256) { require(bal[msg.sender] >= v, "low"); bal[msg.sender] -= v; bal[owner[id]] += v; }
}
"""


def test_a_location_a_call_reads_and_changes_is_one_written_column(tmp_path):
    """A call that reads a location and writes or adds to it makes one row of it, written (what
    the components and the values stored for key readers need, a row fewer a call); two writes
    of one location store either value."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.locations import Looked
    from compiler.schedule.rows import A, R, W, RowMaker
    from runtime_helpers import make_world

    world = make_world(tmp_path, {"book.lane": BOOK}, [{"name": "book", "source": "book.lane", "contract": "Book"}])
    with Chain.open(world) as chain:
        maker = RowMaker(chain.compiled_summaries)
        (address, book), = chain.world.by_address.items()
        bal, owner = (chain.compiled_summaries.var_ids(book.contract.name, v) for v in ("bal", "owner"))

        def plan(name: str) -> list[tuple]:
            got = maker.plan(book.contract.functions[name], address, chain.ctx.storage)
            return [(c.vid, c.sources, c.mode, c.stored) for c in got]

        sender, arg0, arg1 = 1, 2, 3  # (positions in a call tuple: to, sender, arguments)
        assert plan("bump") == [(bal, (sender,), W, False)]  # (a value computed: no column says it)
        assert plan("top") == [(bal, (sender,), W, None)]
        assert plan("move") == [(bal, (sender,), A, None), (bal, (arg0,), A, None)]
        assert plan("claim") == [(owner, (arg0,), W, (sender, arg1))]  # owner is read to make keys (pay)
        # A key read from storage at a key the call gives: a column of what it holds before the block,
        # where that is as exact as walking the call (unconditional, no aliasing left undecided).
        assert plan("pay") == [(owner, (arg0,), R, ()), (bal, (Looked(address, "Book", "owner", (arg0,)),), A, None)]
        assert maker.plan(book.contract.functions["tip"], address, chain.ctx.storage) is None
        # (the owner may be the sender: an add the columns cannot tell from a write)
        assert maker.plan(book.contract.functions["send"], address, chain.ctx.storage) is None


FAN = """
contract Fan {
    storage bal: map<address, u256>;
    pub fn fan(payees: array<address, 4>, v: u256) {
        for j in 0..len(payees) {
            if v > 1 {
                require(bal[msg.sender] >= v, "low");
                bal[msg.sender] -= v;
                bal[payees[j]] += v;
            }
        }
    }
}
"""


def test_an_add_to_an_element_a_loop_walks_is_written_only_where_it_is_the_sender(tmp_path):
    """``bal[payees[j]] += v`` beside a read and write of ``bal[msg.sender]``, under a condition: an
    add, written in a call only where that element is the sender (its alias, ``v > 1 && payees[j] ==
    msg.sender``, decided call by call from the element its key is): payments to shared payees
    from different senders are apart (as a write it joined every call paying one payee: 20,000
    payments to eight of 5,000 payees were seven windows of one component each)."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.locations import Element
    from compiler.schedule.rows import A, W, RowMaker
    from compiler.schedule.vectorized import AccessTable, components
    from runtime_helpers import make_world

    world = make_world(tmp_path, {"fan.lane": FAN}, [{"name": "fan", "source": "fan.lane", "contract": "Fan"}])
    with Chain.open(world) as chain:
        maker = RowMaker(chain.compiled_summaries)
        (address, fan), = chain.world.by_address.items()
        function = fan.contract.functions["fan"]
        plan = maker.plan(function, address, chain.ctx.storage)
        adds = [(c.sources, c.mode, c.alias) for c in plan if c.sources and type(c.sources[0]) is Element]
        assert adds == [((Element(2, k),), A, (Element(2, k), 1)) for k in range(4)]
        p1, p2, alice, bob = chain.world.addresses(["p1", "p2", "alice", "bob"])
        calls = [(address, alice, (p1, p2), 5), (address, bob, (p2, p1), 5), (address, bob, (p1, bob), 5)]
        rows, _, _ = maker.rows([0, 1, 2], [function] * 3, calls, chain.ctx.storage, 1, 12)
        table = AccessTable.of(rows)
        label = components(table, 3).label
        assert label[0] != label[1]  # (alice and bob pay the same two payees: adds only)
        assert label[1] == label[2]  # (bob's own balance)
        bob_pays_bob = (table.tx == 2) & (table.mode == W)
        assert int(bob_pays_bob.sum()) == 1  # (one row of bob's balance: read, written and added to)


def test_an_add_whose_alias_has_an_equality_on_storage_first_is_decided_by_the_next(tmp_path):
    """The same payments gated on ``level[msg.sender] == v`` (a value in storage, which no call says):
    the alias ``level[msg.sender] == v && payees[j] == msg.sender`` is decided by its second equality,
    which the call gives (a superset of where the whole holds), so the payments are adds still, not
    writes; and the block runs on lanes as in order, its DAG covering the accesses made."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.locations import Element
    from compiler.schedule.rows import A, RowMaker
    from runtime_helpers import both_ways, dag_covers_oracle, make_world, raw_block, tx

    gated = FAN.replace("if v > 1 {", "if level[msg.sender] == v {").replace(
        "storage bal: map<address, u256>;", "storage bal: map<address, u256>;\n    storage level: map<address, u256>;")
    gated = gated.replace("pub fn fan(", "pub fn fund(v: u256) { bal[msg.sender] = 100; level[msg.sender] = v; }\n"
                                         "    pub fn fan(")
    world = make_world(tmp_path, {"fan.lane": gated}, [{"name": "fan", "source": "fan.lane", "contract": "Fan"}])
    with Chain.open(world) as chain:
        (address, fan), = chain.world.by_address.items()
        plan = RowMaker(chain.compiled_summaries).plan(fan.contract.functions["fan"], address, chain.ctx.storage)
        adds = [(c.sources, c.mode, c.alias) for c in plan if c.sources and type(c.sources[0]) is Element]
        assert adds == [((Element(2, k),), A, (Element(2, k), 1)) for k in range(4)]
    senders = [f"s{k}" for k in range(12)]
    txs = [tx(s, "fan", "fund", 5) for s in senders]
    txs += [tx(s, "fan", "fan", [senders[(k + 1) % 12], "p1", s][: 1 + k % 3], 5 if k % 4 else 6)
            for k, s in enumerate(senders * 3)]
    seq, par, info = both_ways(world, raw_block(txs))
    assert (par.state_root, par.receipts_root) == (seq.state_root, seq.receipts_root)
    assert info["mode"] == "parallel" and info["fallback_from"] is None, info
    assert seq.counts() == {"ok": len(txs), "reverted": 0, "invalid": 0}
    with Chain.open(world) as chain:
        dag_covers_oracle(chain, txs, 1)


def test_a_read_at_keys_a_loop_enumerates_is_one_row_of_its_variable(tmp_path):
    """A scan of a table (``table[i]`` for each ``i`` of a loop) is one wildcard row of the table a
    call, read, not one row per iteration found by walking the call: a column plan, in a block
    whose functions write no key of the table (else walked: the wildcard would join them all; a
    loop of 64 keys is too long to be a column for each).  A short loop's writes are a column for
    each key its index may take up to its bound, whatever the call's trip count (a superset)."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.rows import R, W, RowMaker
    from runtime_helpers import make_world

    source = """
    contract Scan {
        storage table: map<u256, u256>;
        storage score: map<address, u256>;
        pub fn scan(n: u256) { let acc: u256 = 0; for i in 0..min(n, 64) { acc += table[i]; } score[msg.sender] = acc; }
        pub fn fill(n: u256) { for i in 0..min(n, 4) { table[i] = n; } }
        pub fn spread(n: u256) { for i in 3..20 { table[i] = n; } }
        pub fn tail(n: u256) { for i in 3..10 { table[i] = n; } }
    }
    """
    world = make_world(tmp_path, {"scan.lane": source}, [{"name": "scan", "source": "scan.lane", "contract": "Scan"}])
    with Chain.open(world) as chain:
        maker = RowMaker(chain.compiled_summaries)
        (address, inst), = chain.world.by_address.items()
        table, score = (chain.compiled_summaries.var_ids("Scan", v) for v in ("table", "score"))
        functions = inst.contract.functions
        storage = chain.ctx.storage
        got = [(c.vid, c.sources, c.mode, c.wild) for c in maker.plan(functions["scan"], address, storage, frozenset())]
        assert got == [(table, (), R, True), (score, (1,), W, False)]
        assert maker.plan(functions["scan"], address, storage, frozenset({("Scan", "table")})) is None
        assert maker.plan(functions["scan"], address, storage) is None  # (what the block writes not known)
        got = [(c.vid, c.sources, c.mode, c.wild) for c in maker.plan(functions["fill"], address, storage, frozenset())]
        assert got == [(table, ((i,),), W, False) for i in range(4)]
        got = [(c.vid, c.sources, c.mode, c.wild) for c in maker.plan(functions["tail"], address, storage, frozenset())]
        assert got == [(table, ((i,),), W, False) for i in range(3, 10)]
        assert maker.plan(functions["spread"], address, storage, frozenset()) is None  # (17 keys: walked)


def test_a_key_read_from_storage_is_a_column_as_the_walk_reads_it(tmp_path):
    """``pay`` adds to the balance of an id's owner: its rows made a column at a time are the walk's,
    and so are its reads recorded as sources (the owner a ``claim`` earlier in the block changes
    makes its call be instantiated again); the owners read before the block, as stored."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.rows import RowMaker
    from runtime_helpers import make_world

    world = make_world(tmp_path, {"book.lane": BOOK}, [{"name": "book", "source": "book.lane", "contract": "Book"}])
    with Chain.open(world) as chain:
        def call(sender: str, fn: str, args: list) -> dict:
            return {"from": sender, "to": "book", "fn": fn, "args": args}

        chain.run_block(raw_block([call("u1", "claim", [7, "u2", False]), call("u3", "claim", [8, "u3", True])]))
        rng = random.Random(3)
        txs = [call("u9", "pay", [rng.randrange(10), 5]) if k % 3 else
               call("u4", "claim", [rng.randrange(10), "u5", False]) for k in range(60)]
        block = prepare(chain.world, raw_block(txs))
        functions, calls = [tx.function for tx in block], [tx.call for tx in block]
        which = list(range(len(block)))
        maker = RowMaker(chain.compiled_summaries)
        storage = chain.ctx.storage
        columns, column_sources, _ = maker.rows(which, functions, calls, storage, 2, 24)
        walked, walked_sources, _ = maker.rows(which, functions, calls, storage, 2, 24,
                                               unresolved={k: {} for k in which})
        for a, b in ((columns, walked), (column_sources, walked_sources)):
            assert sorted(zip(*(a[f].tolist() for f in a))) == sorted(zip(*(b[f].tolist() for f in b)))
        pays = [k for k, tx in enumerate(txs) if tx["fn"] == "pay"]
        assert sorted(set(column_sources["tx"].tolist())) == pays
        owner = chain.compiled_summaries.var_ids("Book", "owner")
        assert set(column_sources["var"].tolist()) == {owner}


def test_a_key_read_after_a_guard_that_fails_is_a_source_of_the_column_only(tmp_path):
    """A call that reverts before its key read from storage (``require`` false): the walk follows
    its guards and records no source; its column keeps the read, whatever the guard decides (more
    sources: the call is instantiated again more often, never less).  The property that columns
    cover the walk holds, and compares the sources only where the walk's guards cut nothing."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.rows import RowMaker
    from runtime_helpers import make_world

    source = """
    contract Guarded {
        storage ua0: map<u256, address>;
        storage au1: map<address, u256>;
        pub fn set(p0: address, v: u256) { au1[p0] = v; }
        pub fn f3(p0: address, p1: u256) { ua0[p1] = p0; require(0 < p1, "no"); ua0[p1] = ua0[au1[p0]]; }
    }
    """
    world = make_world(tmp_path, {"g.lane": source}, [{"name": "g", "source": "g.lane", "contract": "Guarded"}])
    with Chain.open(world) as chain:
        def call(fn: str, args: list) -> dict:
            return {"from": "alice", "to": "g", "fn": fn, "args": args}

        chain.run_block(raw_block([call("set", ["alice", 3])]))
        txs = [call("f3", ["alice", 0]), call("f3", ["alice", 1]), call("set", ["alice", 4])]
        columns_cover_the_walk(chain, txs, 2)
        block = prepare(chain.world, raw_block(txs))
        functions, calls = [tx.function for tx in block], [tx.call for tx in block]
        maker = RowMaker(chain.compiled_summaries)
        au1 = chain.compiled_summaries.var_ids("Guarded", "au1")
        sources = [maker.rows([0, 1, 2], functions, calls, chain.ctx.storage, 2, 24, **kw)[1]
                   for kw in ({}, {"unresolved": {0: {}, 1: {}, 2: {}}})]
        column, walk = ({tx for tx, var in zip(s["tx"].tolist(), s["var"].tolist()) if var == au1} for s in sources)
        assert column == {0, 1} and walk == {1}


# ---------------------------------------------------------------- the parent's re-instantiation sets

from compiler.runtime.merge import _earliest
from compiler.runtime.parallel import _before  # noqa: E402
from compiler.schedule.stored import StoredValues  # noqa: E402
from compiler.schedule.vectorized import scope_id as _scope  # noqa: E402

# (transaction, location, value or None: not known), as workers report what transactions store
_STORED = st.lists(st.tuples(st.integers(0, 9), st.sampled_from([-(1 << 63), 3, (1 << 63) - 1]),
                             st.one_of(st.none(), st.integers(0, 4), st.tuples(st.integers(0, 2), st.integers(0, 2)))),
                   max_size=30)


@given(_STORED, st.lists(st.tuples(_STORED, st.sets(st.integers(0, 9))), max_size=3), st.integers(0, 10),
       st.sampled_from([-(1 << 63), 3, (1 << 63) - 1, 8]), st.integers(1, 4))
def test_values_stored_before_a_reader_as_forwarded(first, rounds, tx, loc, cap):
    """What a reader at ``tx`` is told ``loc`` may hold: the values of the writers before it, in block
    order, each once; None when one of them is not known, past ``cap`` values, or with no writer.
    The entries of transactions instantiated again replace theirs; one given forwarded values whose
    entries change a second time, or change to several values at a location it was given values of,
    stores values not known at every location it named."""
    values = StoredValues()
    values.replace((), tuple(map(list, zip(*first))) if first else ([], [], []))
    entries = {}  # the reference: transaction -> [(location, value)]
    for t, where, v in first:
        entries.setdefault(t, []).append((where, v))
    changed = set()
    for again, forwarded in rounds:
        redone = sorted({t for t, _, _ in again})
        values.replace(redone, tuple(map(list, zip(*again))) if again else ([], [], []),
                       {t: {loc} for t in redone if t in forwarded})
        for t in redone:
            old = entries.pop(t, [])
            new = [(where, v) for u, where, v in again if u == t]
            if t in forwarded and set(old) != set(new):
                several = len({v for where, v in set(new) if where == loc}) > 1
                if t in changed or several:
                    new = [(where, None) for where in dict.fromkeys(w for w, _ in set(old) | set(new))]
                changed.add(t)
            entries[t] = new
    def expected(tx: int, loc: int):
        earlier = [v for t in sorted(entries) if t < tx for where, v in entries[t] if where == loc]
        distinct = list(dict.fromkeys(earlier))
        return None if not earlier or None in distinct or len(distinct) > cap else tuple(distinct)

    assert values.before(np.array([tx]), np.array([loc]), cap) == [expected(tx, loc)]
    # Many readers at once, of every location and at every place in the block, in any order.
    readers = [(t, where) for t in range(11) for where in (-(1 << 63), 3, (1 << 63) - 1, 8)][::-1]
    got = values.before(np.array([t for t, _ in readers]), np.array([w for _, w in readers]), cap)
    assert got == [expected(t, where) for t, where in readers]


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


def test_with_adds_a_location_only_added_to_joins_its_accessors_too():
    """Components as the parent's part of a window takes them: a location only added to joins
    those who add to it (so that its adds are all on one side); read by all alone, it still joins
    no one; without ``adds`` the add-only location joins no one either."""
    R, W, A = 0, 1, 2
    table = _rows((0, 5, A), (1, 5, A), (2, 6, W), (3, 6, R), (4, 7, R), (5, 7, R), (6, 8, A), (7, 9, A))
    plain = components(table, 8).label.tolist()
    joined = components(table, 8, adds=True).label.tolist()
    assert plain[0] != plain[1] and plain[2] == plain[3] and plain[4] != plain[5]
    assert joined[0] == joined[1] and joined[2] == joined[3] and joined[4] != joined[5] and joined[6] != joined[7]
    # Windows still apart: the two adds to 5 in two windows join nobody.
    apart = components(table, 8, np.array([0, 1, 1, 1, 1, 1, 1, 1]), adds=True).label.tolist()
    assert apart[0] != apart[1] and apart[2] == apart[3]


@st.composite
def windowed_tables(draw, every: bool):
    """A random access table of ``n`` transactions and a window per transaction: in block order
    or not, ids of variables and instances near or far apart (an instance's is 64 bits wide),
    some wildcards (of every instance when ``every``)."""
    n = draw(st.integers(1, 24))
    k = draw(st.integers(0, 60))
    far = draw(st.booleans())
    tx = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    loc = draw(st.lists(st.integers(0, 12), min_size=k, max_size=k))
    var = draw(st.lists(st.sampled_from([0, 1, 2, 10**6] if far else [0, 1, 2]), min_size=k, max_size=k))
    inst = draw(st.lists(st.sampled_from([0, 1, (1 << 62) - 7] if far else [0, 1, 2]), min_size=k, max_size=k))
    mode = draw(st.lists(st.integers(0, 2), min_size=k, max_size=k))
    wild = draw(st.lists(st.integers(0, 5).map(lambda x: x == 0), min_size=k, max_size=k))
    inst = [EVERY if w and every and draw(st.booleans()) else i for i, w in zip(inst, wild)]
    loc = [(v * 100 + i * 1000 + x) % (1 << 63) for x, v, i in zip(loc, var, inst)]  # (a location knows its variable)
    window = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    if draw(st.booleans()):
        window.sort()
    table = AccessTable(np.array(tx, np.int64), np.array(loc, np.int64), np.array(var, np.int64),
                        np.array(inst, np.int64), np.array(mode, np.int8), np.array(wild, bool))
    return table, n, np.array(window, np.int64)


def _each_window_alone(table: AccessTable, window: np.ndarray):
    """Per window: its transactions, and the components and pure adds of their rows alone."""
    for w in np.unique(window).tolist():
        txs = np.flatnonzero(window == w)
        local = np.full(len(window), -1, np.int64)
        local[txs] = np.arange(len(txs))
        rows = np.flatnonzero(window[table.tx] == w)
        sub = table.where(rows)
        sub.tx = local[sub.tx]
        yield txs, components(sub, len(txs))


@settings(max_examples=examples(200), deadline=None)
@given(windowed_tables(every=False), st.integers(1, 4))
def test_the_largest_component_of_a_sample_is_found_from_the_whole_tables_order(case, every):
    # The sample's rows, taken from the whole table's order by location, join as a union-find over
    # its transactions alone does: a location written, or read and added to, by the sample joins
    # the sample's transactions that touch it.
    from compiler.schedule.vectorized import every_th, largest_in_sample

    table, n, _ = case
    table = table.where(~table.wild)
    m = n // every
    if not m:
        return
    picked = dict(zip(every_th(n, every).tolist(), range(m)))  # (each sampled transaction's place)
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    seen: dict[int, tuple[set, set]] = {}
    for tx, loc, mode in zip(table.tx.tolist(), table.loc.tolist(), table.mode.tolist()):
        if tx in picked:
            who, modes = seen.setdefault(loc, (set(), set()))
            who.add(picked[tx])
            modes.add(mode)
    for who, modes in seen.values():
        if 1 in modes or {0, 2} <= modes:
            first, *rest = sorted(who)
            for t in rest:
                parent[find(t)] = find(first)
    expected = max(np.bincount([find(t) for t in range(m)]))
    assert largest_in_sample(table, n, every) == expected


def test_the_plans_sample_is_one_transaction_of_each_run_drawn_the_same_each_time_without_numpy_random():
    # One transaction of each run of eight, at places drawn evenly, the same in every process; drawn
    # without numpy.random, whose import (10-25 ms) a process's first block on lanes paid.
    import subprocess
    import sys

    code = ("import sys; from compiler.schedule.vectorized import every_th; "
            "print(every_th(80_000, 8)[:64].tolist()); print('numpy.random' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].splitlines()[1] == "False"
    from compiler.schedule.vectorized import every_th

    picked = every_th(80_000, 8)
    assert (picked // 8 == np.arange(10_000)).all()  # (one in each run)
    assert np.bincount(picked % 8, minlength=8).min() > 1_100  # (every place in a run, about as often)


@settings(max_examples=examples(200), deadline=None)
@given(windowed_tables(every=False))
def test_components_of_windows_are_each_windows_alone(case):
    # A location joins only the transactions of one window: the components of a windowing are the
    # components of each window's rows alone, whether the windows are in block order or not (the
    # table is sorted by location once, and the windows read from that order).
    table, n, window = case
    got = components(table, n, window)
    assert got.label.max(initial=-1) < got.count == len(np.unique(got.label))
    for txs, alone in _each_window_alone(table, window):
        assert same_partition(list(got.label[txs]), list(alone.label))
        assert not set(got.label[txs].tolist()) & set(got.label[np.flatnonzero(window != window[txs[0]])].tolist())
    again = components(table, n, window)  # (the table's order by location, kept, gives the same)
    assert (again.label == got.label).all()


@settings(max_examples=examples(100), deadline=None)
@given(windowed_tables(every=True))
def test_components_of_windows_are_never_finer_than_each_windows_alone(case):
    # With wildcards of every instance, a variable's scope is every instance in all windows when one
    # of them has such a wildcard (coarser in a window without one): never finer.
    table, n, window = case
    got = components(table, n, window)
    for txs, alone in _each_window_alone(table, window):
        mine = got.label[txs]
        for c in np.unique(alone.label).tolist():
            assert len(set(mine[alone.label == c].tolist())) == 1


_INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


@given(st.lists(st.one_of(_INT64, st.integers(-3, 3)), max_size=30), st.lists(st.one_of(_INT64, st.integers(-3, 3)),
                                                                            max_size=30))
def test_isin_and_distinct_are_numpys_without_its_sorts(values, among):
    from compiler.schedule.vectorized import distinct, isin

    a, b = np.array(values, np.int64), np.array(among, np.int64)
    assert isin(a, b).tolist() == np.isin(a, b).tolist()
    assert distinct(a).tolist() == np.unique(a).tolist()


@given(st.lists(st.one_of(_INT64, st.integers(-3, 3), st.integers(0, 4096)), min_size=256, max_size=700),
       st.lists(st.one_of(_INT64, st.integers(-3, 3), st.integers(0, 4096)), max_size=60), st.randoms())
def test_isin_screens_many_values_by_a_table_of_bits_and_stays_numpys(values, among, rng):
    """Many values against few are screened by a table of low bits first: values sharing low bits
    with one that is there (small integers, 1024 apart) are not taken for it."""
    from compiler.schedule.vectorized import isin

    values += rng.sample(among, min(len(among), 20))  # (some of them there)
    a, b = np.array(values, np.int64), np.array(among, np.int64)
    assert isin(a, b).tolist() == np.isin(a, b).tolist()
    assert isin(a.reshape(-1, 1), b).tolist() == np.isin(a.reshape(-1, 1), b).tolist()


@given(st.lists(st.one_of(_INT64, st.integers(-3, 3)), min_size=1, max_size=3),
       st.lists(st.one_of(_INT64, st.integers(-3, 3)), min_size=1, max_size=30),
       st.sampled_from([0, 1, 300, 3000, 20000]), st.randoms())
@example([5, -3, 1 << 62], [7, 11, 13], 20000, random.Random(1))  # (rare values a sample of a quarter misses)
def test_inverse_numbers_values_as_numpys_unique(common, rare, n, rng):
    """Few distinct values among many (and some rare ones, that a sample misses) are numbered by
    their place among the distinct ones, sorted, as ``np.unique(return_inverse=True)`` does."""
    from compiler.schedule.vectorized import inverse

    values = np.array([rng.choice(common) for _ in range(n)] + rare, np.int64)
    rng.shuffle(values)
    at, count = inverse(values)
    used, expected = np.unique(values, return_inverse=True)
    assert count == len(used) and at.tolist() == expected.reshape(-1).tolist()


@given(st.lists(st.tuples(st.one_of(_INT64, st.integers(-3, 3), st.integers((1 << 20) - 2, (1 << 20) + 2)),
                          st.one_of(st.integers(0, 5), st.integers(0, 1 << 39))), max_size=40))
@example([(1 << 20, 3), ((1 << 20) + 1, 0), (1 << 20, 0)])  # (two locations sharing the bits kept)
@example([(-5, 2), (-6, 1), (-5, 0), (7, 1)])
def test_grouped_order_orders_as_numpy_but_ties(rows):
    _assert_grouped_order(rows)


def _assert_grouped_order(rows: list[tuple[int, int]]) -> None:
    """``grouped_order`` of the rows' (primary, secondary) is a permutation that orders them as
    ``np.lexsort`` does (rows equal in both in any order)."""
    from compiler.schedule.vectorized import grouped_order

    primary = np.array([p for p, _ in rows], np.int64)
    secondary = np.array([q for _, q in rows], np.int64)
    order = grouped_order(primary, secondary)
    assert sorted(order.tolist()) == list(range(len(rows)))
    expected = np.lexsort((secondary, primary))
    assert primary[order].tolist() == primary[expected].tolist()
    assert secondary[order].tolist() == secondary[expected].tolist()


@given(st.lists(st.tuples(st.one_of(_INT64, st.integers(-3, 3)), st.one_of(st.integers(-4, 4), _INT64)), max_size=40))
def test_sort_order_is_the_stable_order_of_numpy(rows):
    from compiler.schedule.vectorized import sort_order

    primary = np.array([p for p, _ in rows], np.int64)
    secondary = np.array([q for _, q in rows], np.int64)
    assert sort_order(primary).tolist() == np.argsort(primary, kind="stable").tolist()
    assert sort_order(primary, secondary).tolist() == np.lexsort((secondary, primary)).tolist()


@given(st.lists(st.lists(st.tuples(st.one_of(_INT64, st.integers(-3, 3)), st.integers(0, 9)), max_size=30),
                min_size=1, max_size=5), st.lists(st.booleans(), min_size=5, max_size=5))
def test_runs_sorted_already_are_merged_into_the_grouped_order(runs, presorted):
    """Rows as a few runs (the workers' stripes), each sorted by (location, transaction) or not:
    ``grouped_order`` orders them by both, as a sort would, merging them when it can."""
    _assert_grouped_order([r for run, keep in zip(runs, presorted) for r in (sorted(run) if keep else run)])


def test_a_read_and_an_add_whose_alias_each_call_decides_are_one_row_of_their_location(tmp_path):
    """A call that may read a variable (where an argument is 7) and adds to it in a loop: the add
    keeps a column of its own (whether it aliases the read, each call decides), yet the call has one
    row of the location, written, as the call by call instantiation has (found by generated programs)."""
    from compiler.runtime.chain import Chain
    from runtime_helpers import make_world

    source = """
    contract Tally {
        storage u: u256;
        storage v: u256;
        pub fn f1(p: u256) {
            if p == 7 { v = max(u, 0); }
            for i in 0..3 { u += 5; }
        }
    }
    """
    world = make_world(tmp_path, {"t.lane": source}, [{"name": "t", "source": "t.lane", "contract": "Tally"}])
    with Chain.open(world) as chain:
        txs = [{"from": s, "to": "t", "fn": "f1", "args": [p]} for s in ("alice", "bob") for p in (3, 7)]
        columns_cover_the_walk(chain, txs, 2)
        columns_cover_the_walk(chain, txs, 2, written=None)


def test_constant_keys_whose_location_ids_are_one_make_one_row(tmp_path):
    """``v[i - j]`` over two short loops folds to the constant keys -2 to 2 (the negative ones a
    reverting call's), each a column; a location's id is a hash, and -1 and -2 have one (as may any
    two constants 2^61 - 1 apart): those columns name one location, and a call has one row of it,
    as the walk has (found by generated programs: ``others[i8 - i8]``)."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.rows import RowMaker
    from runtime_helpers import make_world

    source = """
    contract Grid {
        storage v: map<u256, u256>;
        pub fn f(p: u256) { for i in 0..3 { for j in 0..3 { if p > 5 { v[i - j] = p; } } } }
        pub fn g() { v[2305843009213693951] = 1; v[0] = 2; }
    }
    """
    world = make_world(tmp_path, {"g.lane": source}, [{"name": "g", "source": "g.lane", "contract": "Grid"}])
    with Chain.open(world) as chain:
        (address, grid), = chain.world.by_address.items()
        maker = RowMaker(chain.compiled_summaries)
        keys = {c.sources for c in maker.plan(grid.contract.functions["f"], address, chain.ctx.storage)}
        assert {((-1,),), ((-2,),)} <= keys  # (two columns, one location id)
        txs = [{"from": "alice", "to": "g", "fn": "f", "args": [p]} for p in (3, 9)]
        txs += [{"from": "bob", "to": "g", "fn": "g", "args": []}]
        columns_cover_the_walk(chain, txs, 2)
        columns_cover_the_walk(chain, txs, 2, written=None)


def test_a_key_computed_from_the_call_is_a_column(tmp_path):
    """Keys computed from the call (``k + 1``, ``k * 2 - 1``, ``min(k, 3)``, ``k + i`` for each value
    of a short loop's index) make columns, not a walk call by call, and the rows cover the walk's,
    calls that overflow or divide by zero included (they revert before the access: any key is a
    superset there)."""
    from compiler.runtime.chain import Chain
    from compiler.schedule.locations import Computed
    from compiler.schedule.rows import RowMaker
    from runtime_helpers import make_world

    source = """
    contract Cells {
        storage cells: map<address, map<u256, u256>>;
        storage flat: map<u256, u256>;
        pub fn bump(k: u256) { cells[msg.sender][k + 1] += 1; flat[k * 2 - 1] = k; }
        pub fn near(k: u256, d: u256) { flat[min(k, 3) + k / d] += 1; }
        pub fn span(k: u256) { for i in 0..3 { flat[k + i] += cells[msg.sender][2 * i]; } }
    }
    """
    world = make_world(tmp_path, {"c.lane": source}, [{"name": "c", "source": "c.lane", "contract": "Cells"}])
    with Chain.open(world) as chain:
        (address, cells), = chain.world.by_address.items()
        maker = RowMaker(chain.compiled_summaries)
        for name in ("bump", "near", "span"):
            plan = maker.plan(cells.contract.functions[name], address, chain.ctx.storage)
            assert plan is not None and any(type(s) is Computed for c in plan for s in c.sources), name
        big = 2**256 - 1
        txs = [{"from": s, "to": "c", "fn": "bump", "args": [k]} for s in ("alice", "bob") for k in (0, 1, 5, big)]
        txs += [{"from": "carol", "to": "c", "fn": "near", "args": [k, d]} for k in (0, 2, 9) for d in (0, 1, 4)]
        txs += [{"from": "dave", "to": "c", "fn": "span", "args": [k]} for k in (0, 1, big - 1)]
        columns_cover_the_walk(chain, txs, 2)
