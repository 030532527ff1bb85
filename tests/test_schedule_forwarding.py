"""Keys read from storage that an earlier transaction of the block may write (SPEC §3, docs/analysis.md).

Such a key is each value its location may hold when the transaction runs: its
value before the block, and the value each earlier writer stores as the
writer's summary says it.  The DAGs here are exact: the demo world after its
funding block (NFTs minted then bought, escrow deals opened then claimed,
proposals made one after the other) and small registries written for the test.
Each block is also run, traced, and its static DAG checked against the oracle
(the DAG of the accesses really made): it must order every pair the oracle does.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from runtime_helpers import account, fork_chain, raw_block

from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain
from compiler.schedule import dag
from compiler.runtime.oracle import oracle_comparison

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
MODE = {dag.R: "read", dag.W: "write", dag.A: "add"}


def tx(sender: str, to: str, fn: str, *args) -> dict:
    return {"from": sender, "to": to, "fn": fn, "args": list(args)}


def schedule(chain: Chain, txs: list[dict], number: int = 2) -> dag.Schedule:
    """The block's static DAG, checked against its oracle: no pair the block orders is left free."""
    raw = raw_block(txs)
    s = chain.schedule(raw, number=number, keep_accesses=True)
    comparison = oracle_comparison(chain, raw, s, number, 12 * number)
    assert comparison.missing == []
    return s


def accesses(s: dag.Schedule, j: int) -> set[tuple[str, str]]:
    return {(s.compiled.describe(loc), MODE[mode]) for loc, mode in s.accesses[j]}


def of(s: dag.Schedule, j: int, var: str) -> set[tuple[str, str]]:
    """Transaction j's accesses to one variable (``usdc.balances``)."""
    return {(loc, mode) for loc, mode in accesses(s, j) if loc.split("[")[0] == var}


def preds(s: dag.Schedule) -> list[set[int]]:
    return [set(p) for p in s.predecessors()]


def edges(s: dag.Schedule) -> dict[tuple[int, int], list[str]]:
    return {pair: sorted(s.compiled.describe(loc) for loc in locs) for pair, locs in s.edge_locations().items()}


@pytest.fixture(scope="module")
def demo():
    """The demo world after its funding block: erin and frank have approved the NFT and escrow
    contracts to spend their usdc; alice, bob and carol hold gov."""
    chain = Chain.open(DEMO / "world.toml")
    result = chain.run_block(read_block(DEMO / "block1.jsonl"), number=1)
    assert all(r["status"] == "ok" for r in result.receipts_json)
    yield chain
    chain.close()


# ---------------------------------------------------------------------------- the demo's contracts


def test_mint_then_buy_pays_the_minter_not_every_holder(demo):
    s = schedule(demo, [
        tx("carol", "nft", "mint", 7, 100),       # 0: owner_of[7] = creator_of[7] = carol
        tx("carol", "nft", "list", 7, 500),       # 1
        tx("erin", "nft", "buy", 7, 500),         # 2: pays carol (seller and creator)
        tx("frank", "nft", "buy", 7, 900),        # 3: the owner is carol or erin (2 may revert)
        tx("dave", "usdc", "transfer", "alice", 1),
        tx("alice", "usdc", "transfer", "bob", 1),
    ])
    # Before the block nobody owns #7, which a require of the payment excludes as a payee.
    assert of(s, 2, "usdc.balances") == {("usdc.balances[carol]", "add"), ("usdc.balances[erin]", "write")}
    assert of(s, 3, "usdc.balances") == {("usdc.balances[carol]", "add"), ("usdc.balances[erin]", "add"),
                                         ("usdc.balances[frank]", "write")}
    assert of(s, 2, "nft.owned_count") == {("nft.owned_count[0]", "add"), ("nft.owned_count[carol]", "add"),
                                           ("nft.owned_count[erin]", "add")}
    assert preds(s) == [set(), {0}, {0, 1}, {0, 2}, set(), {4}]
    assert edges(s)[(2, 3)] == ["nft.approved[7]", "nft.listing_price[7]", "nft.owner_of[7]",
                                "usdc.balances[erin]"]
    # The transfers among others are free of the sale: no usdc.balances[*].
    assert not any(loc.endswith("[*]") for j in range(6) for loc, _ in accesses(s, j))


def test_open_then_claim_pays_the_seller_the_claim_names(demo):
    s = schedule(demo, [
        tx("erin", "escrow", "open", 3, "dave", 1000, 7200),   # 0: seller_of[3] = dave
        tx("erin", "escrow", "release", 3),                    # 1
        tx("dave", "escrow", "claim", 3),                      # 2: require(seller_of[3] == msg.sender)
        tx("dave", "usdc", "transfer", "bob", 5),              # 3: after the claim that pays dave
        tx("carol", "usdc", "transfer", "bob", 5),             # 4: free
    ])
    # The require makes the payee exact (msg.sender), whatever open stored.
    assert of(s, 2, "usdc.balances") == {("usdc.balances[dave]", "add"), ("usdc.balances[escrow]", "write")}
    assert preds(s) == [set(), {0}, {0, 1}, {2}, set()]
    assert edges(s)[(0, 2)] == ["escrow.amount_of[3]", "escrow.seller_of[3]", "usdc.balances[escrow]"]


def test_propose_then_propose_writes_under_each_id_the_counter_may_give(demo):
    s = schedule(demo, [
        tx("alice", "dao", "propose", "frank", 5000),   # 0: id 1
        tx("carol", "dao", "propose", "erin", 7000),    # 1: id 2, or 1 if 0 reverts
        tx("bob", "dao", "vote", 1, True),              # 2
        tx("alice", "dao", "vote", 2, False),           # 3
        tx("bob", "dao", "vote", 3, True),              # 4: no proposal 3: reverts, after nobody
    ])
    assert of(s, 0, "dao.proposer_of") == {("dao.proposer_of[1]", "write")}
    assert of(s, 1, "dao.proposer_of") == {("dao.proposer_of[1]", "write"), ("dao.proposer_of[2]", "write")}
    assert preds(s) == [set(), {0}, {1}, {1}, set()]
    assert edges(s)[(1, 3)] == ["dao.deadline_of[2]", "dao.proposer_of[2]"]
    # The vote on proposal 3 only reads: its require fails, whatever the proposals before it.
    assert {mode for _, mode in accesses(s, 4)} == {"read"}


# ---------------------------------------------------------------------------- the parallel executor's plan

_DEMO_BLOCKS = [
    [tx("carol", "nft", "mint", 7, 100), tx("carol", "nft", "list", 7, 500), tx("erin", "nft", "buy", 7, 500),
     tx("frank", "nft", "buy", 7, 900), tx("dave", "usdc", "transfer", "alice", 1),
     tx("alice", "usdc", "transfer", "bob", 1)],
    [tx("erin", "escrow", "open", 3, "dave", 1000, 7200), tx("erin", "escrow", "release", 3),
     tx("dave", "escrow", "claim", 3), tx("dave", "usdc", "transfer", "bob", 5),
     tx("carol", "usdc", "transfer", "bob", 5)],
    [tx("alice", "dao", "propose", "frank", 5000), tx("carol", "dao", "propose", "erin", 7000),
     tx("bob", "dao", "vote", 1, True), tx("alice", "dao", "vote", 2, False), tx("bob", "dao", "vote", 3, True)],
]


@pytest.mark.parametrize("txs", _DEMO_BLOCKS, ids=["nft", "escrow", "dao"])
def test_the_parallel_plan_instantiates_a_block_as_its_dag_does(demo, txs, monkeypatch):
    """The parallel executor's workers instantiate in rounds, not in block order: the values earlier
    writers store are forwarded to the readers' second instantiation.  Every transaction's accesses
    in the plan cover those of the block's DAG, with no wildcard where the DAG has none (a function
    whose keys are all plain may have more: its rows leave its conditions out), and the block runs
    on lanes with the sequential result."""
    from compiler.runtime import parallel
    from compiler.vm.locations import loc_id

    chain = fork_chain(demo)
    seen: dict = {}
    plan = parallel._BlockRun.plan

    def keep(self):
        seen.update(self.all_rows)
        return plan(self)

    monkeypatch.setattr(parallel._BlockRun, "plan", keep)
    executor = parallel.executor_for(chain, 2).__self__
    executor.force = True
    try:
        raw = raw_block(txs)
        got = chain.run_block(raw, number=2, executor="parallel", workers=2)
        expected = fork_chain(demo).run_block(raw, number=2)
    finally:
        chain.close()
    assert got.receipts_json == expected.receipts_json and got.state_root == expected.state_root
    assert executor.last["mode"] == "parallel", executor.last
    s = schedule(demo, txs)
    slots = s.compiled.slots
    mode = {dag.R: 0, dag.W: 1, dag.A: 2}
    for j in range(len(txs)):
        want = {("wild", vid) if key is dag.WILD else loc_id(address, slots[vid][0], key): mode[m]
                for (address, vid, key), m in s.accesses[j]}
        mine = seen["tx"] == j
        have = {("wild", int(v)) if w else int(loc): int(m) for loc, v, m, w in
                zip(seen["loc"][mine], seen["var"][mine], seen["mode"][mine], seen["wild"][mine])}
        assert set(want) <= set(have), (j, txs[j])
        assert {k for k in have if type(k) is tuple} <= set(want), (j, txs[j])


# ---------------------------------------------------------------------------- small registries

REGISTRY = """
contract Registry {
    storage owner_of: map<u256, address>;
    storage credit: map<address, u256>;
    storage slot_of: map<u256, u256>;
    storage vals: map<u256, u256>;
    storage flag: map<address, bool>;
    storage marks: map<address, u256>;
    storage ticks: u256;

    pub fn register(name: u256) {
        require(owner_of[name] == address(0), "taken");
        owner_of[name] = msg.sender;
    }
    pub fn hand_over(name: u256, to: address) {
        require(owner_of[name] == msg.sender, "not yours");
        owner_of[name] = to;
    }
    pub fn pay(name: u256, amount: u256) { credit[owner_of[name]] += amount; }
    pub fn gift(to: address, amount: u256) { credit[to] += amount; }
    pub fn tick() { ticks += 1; }
    // Once ticks is added to in the block, whether this reverts cannot be known before it runs.
    pub fn give_late(name: u256, to: address) {
        require(ticks > 5, "too early");
        owner_of[name] = to;
    }
    // Reads the owner's credit before the require, writes it after.
    pub fn reset(name: u256) -> u256 {
        let was = credit[owner_of[name]];
        require(owner_of[name] != address(0), "nobody");
        credit[owner_of[name]] = 0;
        return was;
    }
    pub fn bump(k: u256) { slot_of[k] += 1; }
    pub fn set_slot(k: u256, v: u256) { slot_of[k] = v * 2 + 1; }
    pub fn put(k: u256) { vals[slot_of[k]] = 1; }
    // A value the analysis does not follow (a local assigned in a loop).
    pub fn scramble(k: address, v: bool) {
        let b: bool = v;
        for i in 0..2 { b = v; }
        flag[k] = b;
    }
    pub fn both(k: address, on: bool) {
        if flag[k] && on { marks[k] = 1; }
    }
    pub fn either(k: address, on: bool) {
        if flag[k] || on { return; }
        marks[k] = 2;
    }
}
"""

WORLD = """
[accounts]
alice = "0x00000000000000000000000000000000000a11ce"
bob = "0x0000000000000000000000000000000000000b0b"
carol = "0x000000000000000000000000000000000000ca01"
dave = "0x000000000000000000000000000000000000da7e"
erin = "0x000000000000000000000000000000000000e1e1"
frank = "0x00000000000000000000000000000000000f4a4c"
zoe = "0x0000000000000000000000000000000000000200"

[[deploy]]
name = "reg"
source = "registry.lane"
contract = "Registry"
sender = "admin"
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    (root / "registry.lane").write_text(textwrap.dedent(REGISTRY).lstrip(), encoding="utf-8")
    (root / "world.toml").write_text(WORLD, encoding="utf-8")
    chain = Chain.open(root / "world.toml")
    yield chain
    chain.close()


def test_register_then_use(registry):
    s = schedule(registry, [
        tx("alice", "reg", "register", 1),          # 0: owner_of[1] = alice
        tx("bob", "reg", "register", 2),            # 1
        tx("carol", "reg", "pay", 1, 10),           # 2: credit[alice], or credit[0x0] if 0 reverts
        tx("carol", "reg", "pay", 2, 10),           # 3: credit[bob] or credit[0x0]
        tx("alice", "reg", "hand_over", 1, "dave"),  # 4: the require makes the owner alice
        tx("erin", "reg", "pay", 1, 5),             # 5: credit[alice], credit[dave] or credit[0x0]
        tx("frank", "reg", "pay", 3, 5),            # 6: nobody registered 3: credit[0x0]
    ])
    zero = "reg.credit[0]"  # the zero address
    assert accesses(s, 2) == {("reg.owner_of[1]", "read"), ("reg.credit[alice]", "add"), (zero, "add")}
    assert accesses(s, 3) == {("reg.owner_of[2]", "read"), ("reg.credit[bob]", "add"), (zero, "add")}
    assert accesses(s, 5) == {("reg.owner_of[1]", "read"), ("reg.credit[alice]", "add"),
                              ("reg.credit[dave]", "add"), (zero, "add")}
    assert accesses(s, 6) == {("reg.owner_of[3]", "read"), (zero, "add")}
    assert preds(s) == [set(), set(), {0}, {1}, {0, 2}, {4}, set()]


def test_a_read_before_a_require_stays_at_every_value_of_its_key(registry):
    """reset reads credit[owner] and then requires an owner: with no owner it reverts, but after
    reading credit[0x0], which a gift to the zero address changes first."""
    s = schedule(registry, [
        tx("bob", "reg", "tick"),                       # 0: ticks is 1, but not known before the block runs
        tx("bob", "reg", "give_late", 5, "carol"),      # 1: reverts; it may give #5 to carol
        tx("dave", "reg", "gift", "0x" + "0" * 40, 1),  # 2: adds to credit[0x0]
        tx("erin", "reg", "reset", 5),                  # 3: reads credit[0x0] (or carol's), writes carol's
    ])
    assert accesses(s, 3) == {("reg.owner_of[5]", "read"), ("reg.credit[0]", "read"),
                              ("reg.credit[carol]", "read"), ("reg.credit[carol]", "write")}
    assert preds(s) == [set(), {0}, set(), {1, 2}]


def test_a_stored_value_is_computed_with_the_writers_arguments(registry):
    s = schedule(registry, [
        tx("alice", "reg", "set_slot", 5, 20),    # 0: slot_of[5] = 41
        tx("bob", "reg", "put", 5),               # 1: vals[0] or vals[41]
        tx("carol", "reg", "bump", 6),            # 2: slot_of[6] += 1: a value not said
        tx("dave", "reg", "put", 6),              # 3: vals[*]
    ])
    assert accesses(s, 1) == {("reg.slot_of[5]", "read"), ("reg.vals[0]", "write"), ("reg.vals[41]", "write")}
    assert accesses(s, 3) == {("reg.slot_of[6]", "read"), ("reg.vals[*]", "write")}
    assert preds(s) == [set(), {0}, set(), {1, 2}]


def test_a_false_operand_decides_an_and_whatever_the_other(registry):
    """flag[zoe] cannot be known once scramble wrote it; `flag[zoe] && on` is still false when on is."""
    s = schedule(registry, [
        tx("alice", "reg", "scramble", "zoe", True),   # 0
        tx("bob", "reg", "both", "zoe", False),        # 1: reads flag[zoe] only
        tx("bob", "reg", "both", "zoe", True),         # 2: may write marks[zoe]
        tx("carol", "reg", "either", "zoe", True),     # 3: returns: reads flag[zoe] only
        tx("carol", "reg", "either", "zoe", False),    # 4: may write marks[zoe]
    ])
    assert accesses(s, 1) == {("reg.flag[zoe]", "read")}
    assert accesses(s, 2) == {("reg.flag[zoe]", "read"), ("reg.marks[zoe]", "write")}
    assert accesses(s, 3) == {("reg.flag[zoe]", "read")}
    assert accesses(s, 4) == {("reg.flag[zoe]", "read"), ("reg.marks[zoe]", "write")}
    assert preds(s) == [set(), {0}, {0}, {0}, {0, 2}]


def test_a_transfer_the_state_says_must_revert_writes_nothing(demo):
    chain = fork_chain(demo)
    s = schedule(chain, [
        tx("zed", "usdc", "transfer", "bob", 5),     # 0: zed has nothing: it reverts
        tx("bob", "usdc", "transfer", "alice", 1),   # 1: bob has nothing either
        tx("carol", "usdc", "transfer", "zed", 7),   # 2: pays zed
        tx("zed", "usdc", "transfer", "bob", 5),     # 3: zed may now pay: after 2 (and the reads of 0, 1)
    ])
    zed = f"usdc.balances[{account('zed')}]"
    assert accesses(s, 0) == {(zed, "read")}
    assert accesses(s, 1) == {("usdc.balances[bob]", "read")}
    assert accesses(s, 3) == {(zed, "write"), ("usdc.balances[bob]", "add")}
    assert preds(s) == [set(), set(), {0}, {0, 1, 2}]
