"""Properties of the block DAG (SPEC §3).

1. Sufficiency: executing a block in ANY order consistent with its DAG gives the
   state root and receipts of executing it in block order.  Blocks are random
   calls of every pub function of every example contract (the demo world, after
   its funding block), with arguments drawn from small pools so that keys
   collide often, plus invalid transactions.
2. The builder never compares pairs of transactions: the work it does (counted
   in executed lines of the builder and of the compiled instantiation code, not
   in wall time) grows linearly with the block.
"""

from __future__ import annotations

import heapq
import random
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from compiler.runtime.block import prepare, read_block
from compiler.runtime.chain import Chain
from compiler.runtime.receipts import Receipt
from compiler.runtime.roots import state_root
from compiler.schedule import dag
from compiler.schedule.replay import execute_in_order, random_topological_order
from compiler.semantics import types as T
from runtime_helpers import fork_chain, raw_block
from schedule_reference import check_against_reference
from fuzzing import examples

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
DAG_FILE = dag.__file__

SETTINGS = settings(max_examples=examples(30), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
# A block takes milliseconds: more examples find rarer collisions (a missing edge of a dynamic key
# shows up in about one block in a hundred) and still take seconds, not the 40 s allowed.
DEMO_SETTINGS = settings(SETTINGS, max_examples=examples(150))
REG_SETTINGS = settings(SETTINGS, max_examples=examples(300))



# ---------------------------------------------------------------------------- the reference

def latest_first_order(s: dag.Schedule) -> list[int]:
    """The topological order that always runs the latest ready transaction: as far from block order as allowed."""
    n = len(s.txs)
    preds = s.predecessors()
    succs: list[list[int]] = [[] for _ in range(n)]
    waiting = [len(p) for p in preds]
    for j, ps in enumerate(preds):
        for i in ps:
            succs[i].append(j)
    ready = [-j for j in range(n) if waiting[j] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        j = -heapq.heappop(ready)
        order.append(j)
        for k in succs[j]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, -k)
    assert len(order) == n
    return order


# ---------------------------------------------------------------------------- random blocks

# The demo's users (funded by block 1) and two accounts that own nothing before the block: what
# they send must reach them first, so a missing edge changes a receipt, not only the state.
USERS = ["admin", "alice", "bob", "carol", "dave", "erin", "frank", "poor1", "poor2"]
ZERO = "0x" + "0" * 40
NUMBERS = [2, 3, 50, 103, 600, 10_000]


class Meta:
    """What the generators need to know about the demo world."""

    def __init__(self, chain: Chain) -> None:
        world = chain.world
        self.world = world
        self.instances = list(world.instances)
        self.by_type: dict[str, list[str]] = {}
        for name, inst in world.instances.items():
            self.by_type.setdefault(inst.contract.name, []).append(name)
        self.functions = {name: [(f.name, [(p.name, p.type) for p in f.params])
                                 for f in inst.contract.pub_functions]
                          for name, inst in world.instances.items()}
        self.private = {name: [f.name for f in inst.contract.functions.values() if not f.is_pub]
                        for name, inst in world.instances.items()}
        self.writers = {name: [(f.name, [(p.name, p.type) for p in f.params])
                               for f in inst.contract.pub_functions if not f.is_view]
                        for name, inst in world.instances.items()}
        self.addresses = USERS + self.instances[:6] + ["zed", ZERO]
        self.story = [obj for path in ("block2.jsonl", "block3.jsonl") for _, obj in read_block(DEMO / path)]


SMALL = [0, 1, 2, 3]
# Amounts stay far from 2^256: two adds to one location commute in the DAG (SPEC §2.3) but an add
# that reaches the bound reverts in one order and not in another.  Exactness there is the runtime's
# job (adds validated in block order: tests/test_parallel.py), not the DAG's.
AMOUNTS = [0, 1, 2, 5, 10, 100, 1_000, 5_000, 20_000, 1_000_000, 10**18, "2000000000000000000000", 10**60,
           str(10**70)]


def u256_values(param: str) -> st.SearchStrategy:
    if param in ("id", "royalty", "duration"):
        return st.one_of(st.sampled_from(SMALL), st.sampled_from(AMOUNTS))
    return st.one_of(st.sampled_from(AMOUNTS), st.sampled_from(SMALL))


class Focus:
    """What one block is about: a few instances and a few users, so that its transactions collide."""

    def __init__(self, meta: Meta, instances: list[str], users: list[str]) -> None:
        self.meta, self.instances, self.users = meta, instances, users

    def address(self) -> st.SearchStrategy:
        return st.one_of(st.sampled_from(self.users), st.sampled_from(self.users), st.sampled_from(self.users),
                         st.sampled_from(self.meta.addresses))

    def values(self, param: str, ty: T.Type) -> st.SearchStrategy:
        meta = self.meta
        if ty is T.U256:
            return u256_values(param)
        if ty is T.BOOL:
            return st.booleans()
        if ty is T.ADDRESS:
            return self.address()
        if isinstance(ty, T.ContractType):
            # Mostly an instance of the right type; sometimes another address (a bad call target).
            right = st.sampled_from(meta.by_type.get(ty.name, ["zed"]))
            return st.one_of(right, right, right, self.address())
        if isinstance(ty, T.ArrayType):
            return st.lists(self.values(param, ty.elem), max_size=min(ty.size, 5))
        raise AssertionError(ty)


@st.composite
def valid_tx(draw, focus: Focus) -> dict:
    meta = focus.meta
    to = draw(st.sampled_from(focus.instances))
    # Mostly functions that write (a view changes nothing, so it orders little).
    pool = meta.writers[to] if meta.writers[to] and draw(st.integers(0, 3)) else meta.functions[to]
    fn, params = draw(st.sampled_from(pool))
    args = [draw(focus.values(p, ty)) for p, ty in params]
    # Splitter.split wants distinct payees sorted by address and as many shares: help it sometimes.
    names = [p for p, _ in params]
    if "payees" in names and draw(st.booleans()):
        k = names.index("payees")
        payees = sorted(set(a for a in args[k] if a != ZERO), key=meta.world.parse_address)
        args[k] = payees
        if "shares" in names:
            args[names.index("shares")] = [draw(st.sampled_from([1, 2, 3, 50])) for _ in payees]
    return {"from": draw(st.sampled_from(focus.users)), "to": to, "fn": fn, "args": args}


@st.composite
def invalid_tx(draw, focus: Focus) -> dict:
    tx = draw(valid_tx(focus))
    private = focus.meta.private[tx["to"]]
    kind = draw(st.sampled_from(["fn", "arity", "type", "contract", "private", "long", "field"]))
    if kind == "fn":
        tx["fn"] = tx["fn"] + "_x"
    elif kind == "arity":
        tx["args"] = tx["args"] + [1]
    elif kind == "type":
        tx["args"] = [[1, 2] for _ in tx["args"]] or ["surplus"]
    elif kind == "contract":
        tx["to"] = "nowhere"
    elif kind == "private" and private:
        tx["fn"] = draw(st.sampled_from(private))
    elif kind == "long":
        tx["args"] = [list(range(17)) for _ in tx["args"]] or ["surplus"]
    else:
        tx["value"] = 1
    return tx


@st.composite
def blocks(draw, meta: Meta) -> list[dict]:
    """1-40 transactions on a few instances by a few users: random calls (one in ten invalid),
    sometimes interleaved with some of the demo's own transactions of blocks 2 and 3 (in their
    order), which make swaps, loans, NFT sales and votes succeed."""
    instances = draw(st.lists(st.sampled_from(meta.instances), min_size=1, max_size=3, unique=True))
    instances += draw(st.lists(st.sampled_from(meta.by_type["Token"]), max_size=2, unique=True))
    users = draw(st.lists(st.sampled_from(USERS), min_size=2, max_size=5, unique=True))
    focus = Focus(meta, instances, users)
    n = draw(st.integers(1, 40))
    story = [t for t in meta.story if draw(st.integers(0, 3)) == 0] if draw(st.integers(0, 2)) == 0 else []
    out: list[dict] = []
    while len(out) < n:
        if story and draw(st.booleans()):
            out.append(story.pop(0))
        elif draw(st.integers(0, 9)):
            out.append(draw(valid_tx(focus)))
        else:
            out.append(draw(invalid_tx(focus)))
    return out


def funded_demo() -> tuple[Chain, "Meta"]:
    """The demo world after its funding block (block 1), and what blocks can be drawn on it (the
    ``funded`` fixture: tests/conftest.py)."""
    chain = Chain.open(DEMO / "world.toml")
    result = chain.run_block(read_block(DEMO / "block1.jsonl"), number=1)
    assert all(r["status"] == "ok" for r in result.receipts_json)
    return chain, Meta(chain)


def _replay(base: Chain, raw_txs: list, order: list[int], number: int) -> tuple[str, list[dict]]:
    chain = fork_chain(base)
    ctx = chain.ctx
    ctx.number, ctx.timestamp = number, 12 * number
    ctx.journal.clear()
    ctx.events.clear()
    txs = prepare(chain.world, raw_txs)
    outcomes = execute_in_order(ctx, txs, order)
    receipts = [Receipt(tx, *outcome).to_json(chain.world) for tx, outcome in zip(txs, outcomes)]
    return state_root(chain.world, ctx.storage), receipts


@DEMO_SETTINGS
@given(data=st.data())
def test_any_order_of_the_dag_gives_the_sequential_result(funded, data):
    check_sufficiency(*funded, data)


def check_sufficiency(base: Chain, meta: Meta, data) -> None:
    txs = data.draw(blocks(meta), label="block")
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    check_orders(base, txs, number, seed)


def check_orders(base: Chain, txs: list[dict], number: int, seed: int, orders: int = 5) -> None:
    """Block order (chain.run_block) against the latest-first and random topological orders of the DAG."""
    raw_txs = raw_block(txs)
    expected = fork_chain(base).run_block(raw_txs, number=number)
    s = base.schedule(raw_txs, number=number, keep_accesses=True)
    assert len(s.txs) == len(txs)
    check_against_reference(s, stand_ins=True)
    rng = random.Random(seed)
    for order in [latest_first_order(s)] + [random_topological_order(s, rng) for _ in range(orders - 1)]:
        assert sorted(order) == list(range(len(txs)))
        assert dag.topological_orders_agree(s, order)
        root, receipts = _replay(base, raw_txs, order, number)
        assert receipts == expected.receipts_json, order
        assert root == expected.state_root, order


def test_the_random_blocks_exercise_every_outcome(funded):
    """Not a property: a check that the generator above makes blocks worth testing (ok, reverted and
    invalid transactions, and dynamic keys that an earlier transaction of the block may write, so
    that they are each value it may store), on a fixed sample of its blocks."""
    base, meta = funded
    statuses: Counter = Counter()
    forwarded = 0

    @settings(SETTINGS, max_examples=examples(60), derandomize=True, database=None, phases=[Phase.generate])
    @given(txs=blocks(meta))
    def collect(txs):
        result = fork_chain(base).run_block(raw_block(txs), number=600)
        statuses.update(r["status"] for r in result.receipts_json)
        s = base.schedule(raw_block(txs), number=600, keep_accesses=True)
        nonlocal forwarded
        forwarded += s.forwarded

    collect()
    assert statuses["ok"] >= 100 and statuses["reverted"] >= 100 and statuses["invalid"] >= 20, statuses
    assert forwarded >= 5, forwarded


# ---------------------------------------------------------------------------- linear time

# Dynamic keys everywhere: m[owner] and balances[owner], where owner is written by set_owner.
REG = """
contract Reg {
    storage owner: address;
    storage m: map<address, u256>;
    storage balances: map<address, u256>;

    init(first: address) { owner = first; }

    pub fn set_owner(a: address) { owner = a; }
    pub fn credit(v: u256) { m[owner] = v; }
    pub fn peek() -> u256 { return m[owner]; }
    pub fn take(v: u256) -> u256 { require(m[owner] >= v, "short"); m[owner] -= v; return m[owner]; }
    pub fn put(a: address, v: u256) { m[a] = v; }
    pub fn get(a: address) -> u256 { return m[a]; }
    pub fn bump(a: address, v: u256) { m[a] += v; }
    pub fn transfer(to: address, amount: u256) {
        require(balances[msg.sender] >= amount, "insufficient balance");
        balances[msg.sender] -= amount;
        balances[to] += amount;
    }
    pub fn pay_owner(amount: u256) {
        require(balances[msg.sender] >= amount, "insufficient balance");
        balances[msg.sender] -= amount;
        balances[owner] += amount;
    }
    pub fn mint(to: address, amount: u256) { balances[to] += amount; }
    pub view fn balance_of(who: address) -> u256 { return balances[who]; }
    // (a key the analysis cannot follow, a value a loop carries: a read of every key of m)
    pub view fn hashed(k: u256) -> u256 { let x: u256 = k; for i in 0..4 { x = x * 3 + i; } return m[address(x)]; }
}
"""

REG_WORLD = """
[[deploy]]
name = "reg"
source = "reg.lane"
contract = "Reg"
sender = "alice"
args = ["u0"]

[[deploy]]
name = "reg2"
source = "reg.lane"
contract = "Reg"
sender = "alice"
args = ["u1"]
"""


def reg_world(root) -> Chain:
    """The register world in folder ``root`` (the ``reg_chain`` fixture: tests/conftest.py)."""
    (root / "reg.lane").write_text(textwrap.dedent(REG).lstrip(), encoding="utf-8")
    (root / "world.toml").write_text(REG_WORLD, encoding="utf-8")
    return Chain.open(root / "world.toml")


NAMES = [f"u{i}" for i in range(4)]


@st.composite
def reg_tx(draw, instances: tuple[str, ...] = ("reg",)) -> dict:
    who = st.sampled_from(NAMES)
    amount = st.sampled_from([0, 1, 2, 3, 5])
    kind = draw(st.sampled_from(["transfer", "transfer", "balance_of", "set_owner", "credit", "peek", "take",
                                 "put", "get", "bump", "pay_owner", "mint"]))
    args = {"transfer": [who, amount], "balance_of": [who], "set_owner": [who], "credit": [amount],
            "peek": [], "take": [amount], "put": [who, amount], "get": [who], "bump": [who, amount],
            "pay_owner": [amount], "mint": [who, amount]}[kind]
    return {"from": draw(who), "to": draw(st.sampled_from(instances)), "fn": kind,
            "args": [draw(a) for a in args]}


def fund_reg(reg_chain: Chain) -> Chain:
    """reg_chain's world after a block that gives everyone balances and values of m."""
    chain = fork_chain(reg_chain)
    setup = [{"from": "alice", "to": inst, "fn": fn, "args": [name, 4]}
             for inst in ("reg", "reg2") for name in NAMES for fn in ("mint", "put")]
    result = chain.run_block(raw_block(setup), number=1)
    assert all(r["status"] == "ok" for r in result.receipts_json)
    return chain


@REG_SETTINGS
@given(txs=st.lists(reg_tx(("reg", "reg2")), min_size=1, max_size=40), fresh=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_any_order_of_the_dag_gives_the_sequential_result_with_dynamic_keys(reg_chain, reg_funded, txs, fresh,
                                                                           seed):
    """Keys read from storage (m[owner], balances[owner]) that the block itself may change."""
    check_orders(reg_chain if fresh else reg_funded, txs, 2, seed)


@st.composite
def hub_tx(draw) -> dict:
    """A call about one location (m[hub], balances[hub]) or every key of m: long runs of reads and
    adds of one location, and reads of every key among writes and adds."""
    kind = draw(st.sampled_from(["bump", "bump", "get", "get", "hashed", "put", "mint", "balance_of", "transfer"]))
    key = draw(st.sampled_from(["hub", "hub", "hub", "k1", "k2"]))
    args = {"bump": [key, 1], "get": [key], "hashed": [draw(st.integers(0, 3))], "put": [key, 7],
            "mint": ["hub", 1], "balance_of": ["hub"], "transfer": ["hub", 1]}[kind]
    return {"from": draw(st.sampled_from(["hub", "u1", "u2"])), "to": "reg", "fn": kind, "args": args}


@SETTINGS
@given(txs=st.lists(hub_tx(), min_size=20, max_size=120), seed=st.integers(0, 2**32 - 1))
def test_any_order_of_the_dag_gives_the_sequential_result_past_its_stand_ins(reg_funded, txs, seed):
    """Reads and adds of one location past ``dag.DIRECT_EDGES``, where one transaction stands for
    those it follows, and reads of every key covered by an earlier one: still every order of the
    DAG gives the block's result, and every pair that conflicts is ordered."""
    check_orders(reg_funded, txs, 2, seed, orders=3)


def work(chain: Chain, txs: list[dict]) -> tuple[int, dag.Schedule]:
    """Lines executed by the DAG builder and the compiled instantiation code for this block."""
    prepared = prepare(chain.world, raw_block(txs))
    compiled = chain.compiled_summaries
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        name = frame.f_code.co_filename
        if name == DAG_FILE or name.startswith("<lane-inst"):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        s = dag.build(compiled, prepared, chain.ctx.storage, 1, 12)
    finally:
        sys.settrace(previous)
    assert count > 0
    return count, s


def rename(txs: list[dict], suffix: str) -> list[dict]:
    """The same transactions among other accounts (every name that is not an instance gets ``suffix``)."""
    def one(v):
        if isinstance(v, str):
            return v + suffix
        if isinstance(v, list):
            return [one(x) for x in v]
        return v

    return [{"from": one(t["from"]), "to": t["to"], "fn": t["fn"], "args": [one(a) for a in t["args"]]}
            for t in txs]


@SETTINGS
@given(txs=st.lists(reg_tx(), min_size=10, max_size=60))
def test_twice_the_block_is_about_twice_the_work(reg_chain, txs):
    """The block twice (keys collide across the halves) and with a renamed copy (they do not):
    about twice the work, plus what the edges between the halves cost."""
    w1, s1 = work(reg_chain, txs)
    for doubled in (txs + txs, txs + rename(txs, "_b")):
        w2, s2 = work(reg_chain, doubled)
        e1, e2 = len(s1.sources), len(s2.sources)
        assert w2 <= 2.2 * w1 + 30 * max(0, e2 - 2 * e1) + 300, (w1, w2, e1, e2)


PATTERNS = {
    # one hot sender: a chain
    "hot sender": lambda n: [{"from": "u0", "to": "reg", "fn": "transfer", "args": [f"r{i}", 1]} for i in range(n)],
    # disjoint pairs: no edges
    "disjoint": lambda n: [{"from": f"s{i}", "to": "reg", "fn": "transfer", "args": [f"r{i}", 1]} for i in range(n)],
    # adds to one receiver, each followed by a transfer from it
    "hot receiver": lambda n: [{"from": f"s{i}", "to": "reg", "fn": "transfer", "args": ["hub", 1]} if i % 2 else
                               {"from": "hub", "to": "reg", "fn": "transfer", "args": [f"r{i}", 1]}
                               for i in range(n)],
    # a wildcard write (owner was written in the block) between writes of fresh keys
    "wildcard writes": lambda n: [{"from": "a", "to": "reg", "fn": "set_owner", "args": ["b"]}] + [
        {"from": "a", "to": "reg", "fn": "credit", "args": [1]} if i % 2 else
        {"from": "a", "to": "reg", "fn": "put", "args": [f"k{i}", 1]} for i in range(n - 1)],
    # wildcard reads between writes of fresh keys (each read follows every write before it: a read
    # that takes many edges covers them, and the next follows it)
    "wildcard reads": lambda n: [{"from": "a", "to": "reg", "fn": "set_owner", "args": ["b"]}] + [
        {"from": "a", "to": "reg", "fn": "peek", "args": []} if i % 2 else
        {"from": "a", "to": "reg", "fn": "put", "args": [f"k{i}", 1]} for i in range(n - 1)],
    # adds to fresh keys, then as many reads of every key: each read follows every add
    "adds then wildcard reads": lambda n: [
        {"from": "a", "to": "reg", "fn": "hashed", "args": [i]} if i >= n // 2 else
        {"from": "a", "to": "reg", "fn": "bump", "args": [f"k{i}", 1]} for i in range(n)],
    # reads of every key, then as many writes of fresh keys: each write follows every read
    "wildcard reads then writes": lambda n: [
        {"from": "a", "to": "reg", "fn": "hashed", "args": [i]} if i < n // 2 else
        {"from": "a", "to": "reg", "fn": "put", "args": [f"k{i}", 1]} for i in range(n)],
    # adds to one location and reads of every key in turn
    "adds and wildcard reads in turn": lambda n: [
        {"from": "a", "to": "reg", "fn": "hashed", "args": [i]} if i % 2 else
        {"from": "a", "to": "reg", "fn": "bump", "args": ["hub", 1]} for i in range(n)],
    # reads and adds of one location in turn, and in runs: each read follows every add before it
    # since the last write, each add every read
    "reads and adds in turn": lambda n: [
        {"from": f"s{i}", "to": "reg", "fn": "balance_of", "args": ["hub"]} if i % 2 else
        {"from": f"s{i}", "to": "reg", "fn": "mint", "args": ["hub", 1]} for i in range(n)],
    "reads and adds in runs": lambda n: [
        {"from": f"s{i}", "to": "reg", "fn": "balance_of" if (4 * i // n) % 2 else "mint",
         "args": ["hub"] if (4 * i // n) % 2 else ["hub", 1]} for i in range(n)],
    # wildcard reads between reads of fresh keys: no edge between them at all
    "wildcard and exact reads": lambda n: [{"from": "a", "to": "reg", "fn": "set_owner", "args": ["b"]}] + [
        {"from": "a", "to": "reg", "fn": "peek", "args": []} if i % 2 else
        {"from": "a", "to": "reg", "fn": "get", "args": [f"k{i}"]} for i in range(n - 1)],
    # wildcard writes between reads and adds of fresh keys
    "wildcards and adds": lambda n: [{"from": "a", "to": "reg", "fn": "set_owner", "args": ["b"]}] + [
        {"from": "a", "to": "reg", "fn": "credit", "args": [1]} if i % 3 == 0 else
        {"from": "a", "to": "reg", "fn": "bump" if i % 3 == 1 else "get",
         "args": [f"k{i}", 1] if i % 3 == 1 else [f"k{i}"]} for i in range(n - 1)],
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_the_work_is_linear_in_the_block(reg_chain, pattern):
    """The work and the edges per transaction do not grow with the block (SPEC §3: linear in the
    block's accesses), and the DAG still orders every pair that conflicts."""
    make = PATTERNS[pattern]
    sizes = [200, 400, 800]
    per, edges = [], []
    for n in sizes:
        w, s = work(reg_chain, make(n))
        per.append(w / n)
        edges.append(len(s.sources) / n)
    assert max(per) <= 1.1 * per[0], f"{pattern}: lines per transaction {per} for {sizes} transactions"
    assert max(edges) <= min(1.1 * edges[0] + 0.1, dag.DIRECT_EDGES), \
        f"{pattern}: edges per transaction {edges} for {sizes} transactions"
    assert all(t.fn is not None for t in s.txs)  # (every call valid: each makes its accesses)
    check_against_reference(reg_chain.schedule(raw_block(make(sizes[0])), number=1, keep_accesses=True),
                            stand_ins=True)
