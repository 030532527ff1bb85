"""The block DAG (SPEC §2, §3): which transactions are ordered, which are left free.

Small purpose-written contracts and worlds are written into ``tmp_path``; the
DAG is built with :meth:`Chain.schedule` (or ``lane schedule``) and checked on
its exact predecessor sets.  Every DAG is also checked against a brute-force
reference built from the instantiated accesses it keeps: each edge joins two
transactions whose accesses really conflict, and every conflicting pair is
ordered (directly or through a path).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain
from compiler.schedule import dag
from runtime_helpers import block_text, raw_block
from schedule_reference import check_against_reference

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
DEMO_WORLD = DEMO / "world.toml"



# ---------------------------------------------------------------------------- contracts and worlds

TOKEN = """
contract Token {
    storage balances: map<address, u256>;
    storage supply: u256;
    event Transfer(from: address, to: address, amount: u256);

    init(initial: u256) {
        balances[msg.sender] = initial;
        supply = initial;
    }

    pub fn transfer(to: address, amount: u256) -> bool {
        require(balances[msg.sender] >= amount, "insufficient balance");
        balances[msg.sender] -= amount;
        balances[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    pub fn gift(to: address, amount: u256) {
        balances[to] += amount;
    }

    pub view fn balance_of(who: address) -> u256 {
        return balances[who];
    }

    fn helper() -> u256 { return supply; }
}
"""

# owner is written by a pub function, so m[owner] is a dynamic key.
REG = """
contract Reg {
    storage owner: address;
    storage m: map<address, u256>;
    storage vals: map<u256, u256>;

    init(first: address) { owner = first; }

    pub fn set_owner(a: address) { owner = a; }
    // A value the analysis does not follow (a local assigned in a loop): readers of owner get a wildcard.
    pub fn scramble(a: address) {
        let x: address = a;
        for i in 0..2 { x = a; }
        owner = x;
    }
    pub fn credit(v: u256) { m[owner] = v; }
    pub fn peek() -> u256 { return m[owner]; }
    pub fn put(a: address, v: u256) { m[a] = v; }
    pub fn get(a: address) -> u256 { return m[a]; }
    pub fn bump(a: address, v: u256) { m[a] += v; }
    pub fn touch(keys: array<u256, 8>) {
        for i in 0..len(keys) { vals[keys[i]] = 1; }
    }
    pub fn sum(keys: array<u256, 8>) -> u256 {
        let s: u256 = 0;
        for i in 0..len(keys) { s += vals[keys[i]]; }
        return s;
    }
}
"""

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "xavier", "yannick", "zoe"]
ACCOUNTS = {name: "0x" + format(0xA000 + i, "040x") for i, name in enumerate(NAMES)}


def world_text() -> str:
    lines = ["[accounts]"] + [f'{n} = "{a}"' for n, a in ACCOUNTS.items()] + [""]
    deploys = [("token", "token.lane", "Token", "[1000000]"),
               ("reg", "reg.lane", "Reg", '["xavier"]'),
               ("reg2", "reg.lane", "Reg", '["xavier"]')]
    for name, source, contract, args in deploys:
        lines += ["[[deploy]]", f'name = "{name}"', f'source = "{source}"', f'contract = "{contract}"',
                  'sender = "alice"', f"args = {args}", ""]
    return "\n".join(lines)


@pytest.fixture
def world(tmp_path) -> Path:
    (tmp_path / "token.lane").write_text(textwrap.dedent(TOKEN).lstrip(), encoding="utf-8")
    (tmp_path / "reg.lane").write_text(textwrap.dedent(REG).lstrip(), encoding="utf-8")
    path = tmp_path / "world.toml"
    path.write_text(world_text(), encoding="utf-8")
    return path


@pytest.fixture
def chain(world) -> Chain:
    """The world after a block that gives every account tokens: their transfers can succeed, so
    the DAG keeps what they write (a transfer the state says must revert writes nothing)."""
    c = Chain.open(world)
    funding = [{"from": "alice", "to": "token", "fn": "transfer", "args": [name, 1000]} for name in NAMES[1:]]
    assert all(r["status"] == "ok" for r in c.run_block(raw_block(funding)).receipts_json)
    yield c
    c.close()


# ---------------------------------------------------------------------------- helpers


def tx(sender: str, to: str, fn: str, *args: Any) -> dict:
    return {"from": sender, "to": to, "fn": fn, "args": list(args)}


def transfer(a: str, b: str, amount: int = 1) -> dict:
    return tx(a, "token", "transfer", b, amount)


def schedule(chain: Chain, txs: list[dict], **kw) -> dag.Schedule:
    s = chain.schedule(raw_block(txs), keep_accesses=True, **kw)
    check_against_reference(s)
    return s


def preds(s: dag.Schedule) -> list[set[int]]:
    out = [set(p) for p in s.predecessors()]
    for j, p in enumerate(s.predecessors()):
        assert len(p) == len(set(p)), f"duplicate predecessors of #{j}: {p}"
    return out


MODE = {dag.R: "read", dag.W: "write", dag.A: "add"}


def accesses(s: dag.Schedule, j: int) -> set[tuple[str, str]]:
    """Transaction j's instantiated accesses as readable (location, mode) pairs."""
    return {(s.compiled.describe(loc), MODE[mode]) for loc, mode in s.accesses[j]}


def lane(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("LANE_DEBUG", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def lane_ok(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = lane(*args, cwd=cwd)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def write_block(directory: Path, txs: list[dict], name: str = "block.jsonl") -> Path:
    path = directory / name
    path.write_text(block_text(txs), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- token transfers


def test_transfers_among_disjoint_pairs_have_no_edges(chain):
    s = schedule(chain, [transfer("alice", "bob"), transfer("carol", "dave"), transfer("erin", "frank"),
                         transfer("xavier", "yannick")])
    assert preds(s) == [set(), set(), set(), set()]
    assert s.sources == [] and s.targets == []


def test_a_chain_of_transfers_is_ordered(chain):
    s = schedule(chain, [transfer("alice", "bob"), transfer("bob", "carol"), transfer("dave", "erin"),
                         transfer("carol", "frank")])
    assert preds(s) == [set(), {0}, set(), {1}]
    locs = {pair: [s.compiled.describe(loc) for loc in locs] for pair, locs in s.edge_locations().items()}
    assert locs == {(0, 1): ["token.balances[bob]"], (1, 3): ["token.balances[carol]"]}


def test_a_sender_that_sends_twice_is_ordered(chain):
    s = schedule(chain, [transfer("alice", "bob"), transfer("alice", "carol"), transfer("dave", "alice")])
    assert preds(s) == [set(), {0}, {1}]


def test_transfers_to_one_receiver_commute_but_its_reads_follow_them_all(chain):
    s = schedule(chain, [
        transfer("alice", "zoe"),                        # 0: add balances[zoe]
        transfer("bob", "zoe"),                          # 1: add
        tx("carol", "token", "gift", "zoe", 5),          # 2: add
        tx("dave", "token", "balance_of", "zoe"),        # 3: read: after every add
        transfer("zoe", "erin"),                         # 4: read and write: after the adds (and the read)
        transfer("frank", "zoe"),                        # 5: add: after the write only
        tx("xavier", "token", "balance_of", "erin"),     # 6: read balances[erin]: after 4
    ])
    p = preds(s)
    assert p[:3] == [set(), set(), set()]
    assert p[3] == {0, 1, 2}
    assert p[4] == {0, 1, 2, 3}   # after every add and the read
    assert p[5] == {4}
    assert p[6] == {4}
    assert ("token.balances[zoe]", "add") in accesses(s, 0)
    assert ("token.balances[zoe]", "write") in accesses(s, 4)


def test_adds_after_a_read_follow_the_read(chain):
    s = schedule(chain, [tx("bob", "token", "balance_of", "zoe"), transfer("alice", "zoe"),
                         tx("carol", "token", "gift", "zoe", 1)])
    assert preds(s) == [set(), {0}, {0}]


@pytest.mark.parametrize("bad", [
    tx("alice", "token", "transfer", "bob"),                  # too few arguments
    tx("alice", "token", "transfer", "bob", "lots"),          # not a u256
    tx("alice", "token", "transfer", "bob", -1),              # out of range
    tx("alice", "token", "transfer_all", "bob"),              # no such function
    tx("alice", "token", "helper"),                           # not pub
    tx("alice", "nowhere", "transfer", "bob", 1),             # no such contract
    tx("alice", "reg", "touch", list(range(9))),              # array longer than its bound
    {"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", 1], "gas": 5},  # unknown field
    {"to": "token", "fn": "transfer", "args": ["bob", 1]},    # no sender
])
def test_invalid_transactions_touch_nothing(chain, bad):
    s = schedule(chain, [transfer("alice", "bob"), bad, transfer("bob", "carol"), bad, transfer("alice", "dave")])
    assert preds(s) == [set(), set(), {0}, set(), {0}]
    assert s.txs[1].fn is None and s.txs[3].fn is None
    assert s.accesses[1] == [] and s.accesses[3] == []
    assert s.cost[1] == s.cost[3] == 0
    assert s.stats()["transactions"] == 5


def modes(s: dag.Schedule, j: int) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for where, mode in accesses(s, j):
        out.setdefault(where, set()).add(mode)
    return out


def test_a_transfer_to_oneself_reads_and_writes_instead_of_adding(chain):
    s = schedule(chain, [transfer("alice", "alice"), transfer("alice", "bob")])
    # A read of a location the transaction also writes may be left out: the write conflicts with
    # everything the read does.
    assert modes(s, 0).keys() == {"token.balances[alice]"}
    assert modes(s, 0)["token.balances[alice]"] in ({"write"}, {"read", "write"})
    assert modes(s, 1).keys() == {"token.balances[alice]", "token.balances[bob]"}
    assert modes(s, 1)["token.balances[alice]"] in ({"write"}, {"read", "write"})
    assert modes(s, 1)["token.balances[bob]"] == {"add"}
    # As a read and a write, it is ordered between adds to that location.
    s = schedule(chain, [transfer("carol", "zoe"), transfer("zoe", "zoe"), transfer("dave", "zoe")])
    assert preds(s) == [set(), {0}, {1}]
    s = schedule(chain, [transfer("carol", "zoe"), transfer("xavier", "yannick"), transfer("dave", "zoe")])
    assert preds(s) == [set(), set(), set()]


def test_a_gift_is_an_add(chain):
    s = schedule(chain, [tx("alice", "token", "gift", "bob", 1)])
    assert accesses(s, 0) == {("token.balances[bob]", "add")}


# ---------------------------------------------------------------------------- loops over arrays


def test_a_loop_over_an_array_touches_exactly_its_elements(chain):
    s = schedule(chain, [
        tx("alice", "reg", "touch", [1, 2, 3]),      # 0
        tx("alice", "reg", "touch", [4]),            # 1
        tx("alice", "reg", "sum", [3, 5]),           # 2: reads vals[3] (after 0) and vals[5]
        tx("alice", "reg", "touch", [5, 6]),         # 3: writes vals[5] (after the read of 2)
        tx("alice", "reg", "sum", []),               # 4: reads nothing
        tx("alice", "reg", "touch", [7, 7]),         # 5
        tx("alice", "reg", "touch", list(range(8))),  # 6: the longest array allowed
    ])
    assert accesses(s, 0) == {("reg.vals[1]", "write"), ("reg.vals[2]", "write"), ("reg.vals[3]", "write")}
    assert accesses(s, 1) == {("reg.vals[4]", "write")}
    assert accesses(s, 2) == {("reg.vals[3]", "read"), ("reg.vals[5]", "read")}
    assert accesses(s, 4) == set()
    assert accesses(s, 5) == {("reg.vals[7]", "write")}
    assert accesses(s, 6) == {(f"reg.vals[{k}]", "write") for k in range(8)}
    p = preds(s)
    assert p[:6] == [set(), set(), {0}, {2}, set(), set()]
    assert p[6] == {0, 1, 2, 3, 5}


# ---------------------------------------------------------------------------- dynamic keys


def test_a_dynamic_key_is_resolved_from_the_pre_block_state(chain):
    s = schedule(chain, [
        tx("alice", "reg", "put", "xavier", 1),     # 0
        tx("alice", "reg", "credit", 5),            # 1: m[owner] = m[xavier]
        tx("alice", "reg", "put", "yannick", 2),    # 2
        tx("alice", "reg", "get", "xavier"),        # 3
        tx("alice", "reg", "get", "yannick"),       # 4
        tx("alice", "reg", "peek"),                 # 5: reads m[xavier]
        tx("alice", "reg", "bump", "zoe", 1),       # 6
    ])
    assert accesses(s, 1) == {("reg.owner", "read"), ("reg.m[xavier]", "write")}
    assert accesses(s, 5) == {("reg.owner", "read"), ("reg.m[xavier]", "read")}
    assert preds(s) == [set(), {0}, set(), {1}, {2}, {1}, set()]


def test_a_later_write_of_the_key_does_not_unresolve_it(chain):
    s = schedule(chain, [
        tx("alice", "reg", "credit", 5),              # 0: m[xavier], resolved
        tx("alice", "reg", "set_owner", "yannick"),   # 1: after 0 (it read owner)
        tx("alice", "reg", "put", "xavier", 1),       # 2: after 0
        tx("alice", "reg", "put", "yannick", 1),      # 3: free
    ])
    assert accesses(s, 0) == {("reg.owner", "read"), ("reg.m[xavier]", "write")}
    assert preds(s) == [set(), {0}, {0}, set()]


def test_a_write_of_the_key_on_another_instance_does_not_unresolve_it(chain):
    s = schedule(chain, [
        tx("alice", "reg2", "scramble", "yannick"),   # 0
        tx("alice", "reg", "credit", 5),              # 1: still reg.m[xavier]
        tx("alice", "reg", "put", "zoe", 1),          # 2
        tx("alice", "reg2", "credit", 5),             # 3: reg2's owner was written: a wildcard of reg2.m
        tx("alice", "reg", "get", "xavier"),          # 4
    ])
    assert accesses(s, 1) == {("reg.owner", "read"), ("reg.m[xavier]", "write")}
    assert accesses(s, 3) == {("reg2.owner", "read"), ("reg2.m[*]", "write")}
    assert preds(s) == [set(), set(), set(), {0}, {1}]


def test_a_dynamic_key_written_earlier_in_the_block_is_each_value_it_may_hold(chain):
    """set_owner stores its argument: a later credit writes m at the owner before the block or at
    the one set_owner stored (it may revert), not at every key."""
    s = schedule(chain, [
        tx("alice", "reg", "put", "xavier", 1),       # 0
        tx("alice", "reg", "set_owner", "yannick"),   # 1
        tx("alice", "reg", "put", "zoe", 1),          # 2: another key: free
        tx("alice", "reg", "credit", 5),              # 3: m[xavier] or m[yannick]
        tx("alice", "reg", "set_owner", "bob"),       # 4: after 1 and 3 (owner)
        tx("alice", "reg", "peek"),                   # 5: m[xavier], m[yannick] or m[bob]
        tx("alice", "reg", "get", "zoe"),             # 6: after 2 only
        tx("alice", "reg2", "credit", 5),             # 7: reg2's owner is still xavier
    ])
    assert accesses(s, 3) == {("reg.owner", "read"), ("reg.m[xavier]", "write"), ("reg.m[yannick]", "write")}
    assert accesses(s, 5) == {("reg.owner", "read"), ("reg.m[xavier]", "read"), ("reg.m[yannick]", "read"),
                              ("reg.m[bob]", "read")}
    assert accesses(s, 7) == {("reg2.owner", "read"), ("reg2.m[xavier]", "write")}
    assert preds(s) == [set(), set(), set(), {0, 1}, {1, 3}, {3, 4}, {2}, set()]


def test_a_dynamic_key_written_earlier_in_the_block_becomes_a_wildcard(chain):
    s = schedule(chain, [
        tx("alice", "reg", "put", "xavier", 1),       # 0
        tx("alice", "reg", "get", "bob"),             # 1
        tx("alice", "reg", "scramble", "yannick"),    # 2
        tx("alice", "reg", "bump", "carol", 1),       # 3
        tx("alice", "reg", "credit", 5),              # 4: owner may be anyone: m[*]
        tx("alice", "reg", "put", "dave", 3),         # 5
        tx("alice", "reg", "get", "erin"),            # 6
        tx("alice", "reg", "bump", "frank", 1),       # 7
        tx("alice", "reg2", "put", "dave", 3),        # 8: another instance
        tx("alice", "reg", "touch", [1]),             # 9: another variable
        tx("alice", "reg", "get", "xavier"),          # 10
        tx("alice", "reg", "peek"),                   # 11: m[*] read after the wildcard write
    ])
    assert accesses(s, 4) == {("reg.owner", "read"), ("reg.m[*]", "write")}
    assert accesses(s, 11) == {("reg.owner", "read"), ("reg.m[*]", "read")}
    p = preds(s)
    assert p[:4] == [set(), set(), set(), set()]
    assert p[4] == {0, 1, 2, 3}   # after every earlier access to m (any key) and the write of owner
    assert p[5] == p[6] == p[7] == {4}   # every later access to m follows the wildcard write
    assert p[8] == set() and p[9] == set()
    assert 4 in p[10] and p[10] <= {0, 4}  # 0 -> 10 is implied by 0 -> 4 -> 10
    assert p[11] == {2, 4, 5, 7}  # owner's writer, the wildcard writer, the writer and adder of keys since


def test_a_dynamic_wildcard_read(chain):
    s = schedule(chain, [
        tx("alice", "reg", "scramble", "yannick"),    # 0
        tx("alice", "reg", "put", "xavier", 1),       # 1
        tx("alice", "reg", "get", "bob"),             # 2
        tx("alice", "reg", "peek"),                   # 3: reads owner and m[*]
        tx("alice", "reg", "put", "zoe", 2),          # 4: after the wildcard read
        tx("alice", "reg", "get", "zoe"),             # 5
        tx("alice", "reg", "bump", "carol", 1),       # 6: add after a read
        tx("alice", "reg", "peek"),                   # 7: reads do not order reads
        tx("alice", "reg", "get", "dave"),            # 8: free
        tx("alice", "reg2", "put", "zoe", 2),         # 9: another instance: free
    ])
    assert accesses(s, 3) == {("reg.owner", "read"), ("reg.m[*]", "read")}
    p = preds(s)
    assert p[:3] == [set(), set(), set()]
    assert p[3] == {0, 1}
    assert p[4] == {3}
    assert p[5] == {4}
    assert p[6] == {3}
    assert p[7] == {0, 1, 4, 6}  # every writer and adder of a key of m: 1 (xavier), 4 (zoe), 6 (carol)
    assert p[8] == set() and p[9] == set()


def test_wildcards_against_wildcards(chain):
    s = schedule(chain, [
        tx("alice", "reg", "scramble", "yannick"),    # 0
        tx("alice", "reg", "peek"),                   # 1: wildcard read
        tx("alice", "reg", "peek"),                   # 2: wildcard read: not after 1
        tx("alice", "reg", "credit", 1),              # 3: wildcard write: after both reads
        tx("alice", "reg", "credit", 2),              # 4: wildcard write after wildcard write
        tx("alice", "reg", "set_owner", "zoe"),       # 5: owner: after every reader of it
        tx("alice", "reg", "peek"),                   # 6
    ])
    p = preds(s)
    assert p[1] == {0} and p[2] == {0}
    assert p[3] == {0, 1, 2}
    assert p[4] == {0, 3}           # owner's writer; the last wildcard writer
    assert p[5] == {0, 1, 2, 3, 4}  # owner's last writer and every reader since
    assert p[6] == {4, 5}


# ---------------------------------------------------------------------------- state across blocks


REG_BLOCK = [tx("alice", "reg", "credit", 5), tx("alice", "reg", "put", "yannick", 1),
             tx("alice", "reg", "put", "xavier", 1)]


def test_dynamic_keys_resolve_against_the_state_left_by_an_earlier_block(chain):
    before = schedule(chain, REG_BLOCK)
    assert accesses(before, 0) == {("reg.owner", "read"), ("reg.m[xavier]", "write")}
    assert preds(before) == [set(), set(), {0}]
    result = chain.run_block(raw_block([tx("alice", "reg", "set_owner", "yannick")]))
    assert [r["status"] for r in result.receipts_json] == ["ok"]
    after = schedule(chain, REG_BLOCK)
    assert accesses(after, 0) == {("reg.owner", "read"), ("reg.m[yannick]", "write")}
    assert preds(after) == [set(), {0}, set()]


def _edges(graph: dict) -> dict[tuple[int, int], list[str]]:
    return {(e["source"], e["target"]): e["locations"] for e in graph["edges"]}


def test_dynamic_keys_resolve_against_a_state_file_across_processes(world, tmp_path):
    first = write_block(tmp_path, [tx("alice", "reg", "set_owner", "yannick")], "b1.jsonl")
    second = write_block(tmp_path, REG_BLOCK, "b2.jsonl")
    state = tmp_path / "state.sqlite"
    out = tmp_path / "g.json"
    # Without the state: the genesis, where owner is xavier.
    lane_ok("schedule", str(world), str(second), "-o", str(out), cwd=tmp_path)
    assert _edges(json.loads(out.read_text())) == {(0, 2): ["reg.m[xavier]"]}
    lane_ok("run", str(world), str(first), "--state", str(state), cwd=tmp_path)
    lane_ok("schedule", str(world), str(second), "--state", str(state), "-o", str(out), cwd=tmp_path)
    assert _edges(json.loads(out.read_text())) == {(0, 1): ["reg.m[yannick]"]}
    # Scheduling executes nothing: the state file is still at block 1.
    lane_ok("schedule", str(world), str(second), "--state", str(state), "-o", str(out), cwd=tmp_path)
    assert _edges(json.loads(out.read_text())) == {(0, 1): ["reg.m[yannick]"]}


# ---------------------------------------------------------------------------- statistics

STATS_BLOCK = [
    transfer("alice", "bob"),                       # 0
    transfer("bob", "carol"),                       # 1: after 0
    transfer("carol", "dave"),                      # 2: after 1
    tx("erin", "token", "gift", "frank", 1),        # 3
    tx("alice", "token", "transfer", "bob"),        # 4: invalid
    tx("zoe", "token", "balance_of", "frank"),      # 5: after 3
    tx("zoe", "token", "balance_of", "xavier"),     # 6
]


def _expected_stats(s: dag.Schedule) -> dict:
    ct, cg, cb = s.cost[0], s.cost[3], s.cost[5]
    assert ct > 0 and cg > 0 and cb > 0 and s.cost[:3] == [ct] * 3 and s.cost[6] == cb and s.cost[4] == 0
    assert 3 * ct > cg + cb
    total = 3 * ct + cg + 2 * cb
    return {"transactions": 7, "edges": 3, "components": 4, "critical_path": 3, "critical_path_cost": 3 * ct,
            "total_cost": total, "parallelism": round(total / (3 * ct), 3)}


def test_statistics_of_a_hand_checked_block(chain):
    s = schedule(chain, STATS_BLOCK)
    assert preds(s) == [set(), {0}, {1}, set(), set(), {3}, set()]
    expected = _expected_stats(s)
    stats = s.stats()
    assert {k: stats[k] for k in expected} == expected
    assert stats["parallelism"] == pytest.approx(expected["total_cost"] / expected["critical_path_cost"], abs=1e-3)


def test_costs_are_the_analysis_worst_case_costs(chain):
    s = schedule(chain, STATS_BLOCK)
    summaries = chain.world.instances["token"].data.summaries
    assert s.cost[0] == summaries["Token.transfer"].cost
    assert s.cost[5] == summaries["Token.balance_of"].cost


def test_statistics_of_small_blocks(chain):
    empty = chain.schedule([]).stats()
    assert (empty["transactions"], empty["edges"], empty["components"], empty["critical_path"]) == (0, 0, 0, 0)
    one = schedule(chain, [transfer("alice", "bob")]).stats()
    assert (one["transactions"], one["edges"], one["components"], one["critical_path"]) == (1, 0, 1, 1)
    assert one["parallelism"] == 1.0
    free = schedule(chain, [transfer(a, b) for a, b in [("alice", "bob"), ("carol", "dave"), ("erin", "frank")]])
    assert free.stats()["parallelism"] == 3.0 and free.stats()["components"] == 3
    serial = schedule(chain, [transfer("alice", "bob"), transfer("bob", "carol"), transfer("carol", "dave")])
    st = serial.stats()
    assert (st["edges"], st["components"], st["critical_path"], st["parallelism"]) == (2, 1, 3, 1.0)


def test_edges_count_pairs_not_locations(chain):
    """Two transactions that conflict on two locations make one edge."""
    s = schedule(chain, [transfer("alice", "bob"), transfer("bob", "alice")])
    assert preds(s) == [set(), {0}]
    assert s.stats()["edges"] == 1
    locs = sorted(s.compiled.describe(loc) for loc in s.edge_locations()[(0, 1)])
    assert locs == ["token.balances[alice]", "token.balances[bob]"]


# ---------------------------------------------------------------------------- exports and the CLI


@pytest.fixture
def stats_block(tmp_path) -> Path:
    return write_block(tmp_path, STATS_BLOCK)


EXPECTED_NODES = {
    0: ("alice", "token", "transfer"), 1: ("bob", "token", "transfer"), 2: ("carol", "token", "transfer"),
    3: ("erin", "token", "gift"), 5: ("zoe", "token", "balance_of"), 6: ("zoe", "token", "balance_of"),
}
EXPECTED_EDGES = {(0, 1): ["token.balances[bob]"], (1, 2): ["token.balances[carol]"],
                  (3, 5): ["token.balances[frank]"]}


def test_json_export_is_networkx_node_link(world, stats_block, tmp_path):
    import networkx as nx

    out = tmp_path / "dag.json"
    proc = lane_ok("schedule", str(world), str(stats_block), "-o", str(out), cwd=tmp_path)
    assert str(out) in proc.stdout or out.name in proc.stdout
    data = json.loads(out.read_text())
    g = nx.node_link_graph(data)
    assert g.is_directed()
    assert sorted(g.nodes) == list(range(7))
    for n, (sender, to, fn) in EXPECTED_NODES.items():
        attrs = g.nodes[n]
        assert (attrs["index"], attrs["sender"], attrs["to"], attrs["function"]) == (n, sender, to, fn)
    assert g.nodes[4]["index"] == 4 and g.nodes[4]["sender"] == "alice" and g.nodes[4]["to"] == "token"
    assert (g.nodes[4]["function"], g.nodes[4]["status"]) == ("transfer", "invalid")  # (as its line wrote it)
    assert all(attrs["target"] == attrs["to"] for _, attrs in g.nodes(data=True))  # (SPEC §3's name for it)
    assert {(i, j): g.edges[i, j]["locations"] for i, j in g.edges} == EXPECTED_EDGES


def test_an_invalid_transactions_node_carries_what_its_line_wrote(chain):
    """SPEC §3: nodes carry the transaction's sender, target and function; an invalid one's as its line
    wrote them (a sender that is no address, a function the contract lacks, a target that is no text:
    empty), where its function was empty and an unreadable sender took the target with it."""
    lines = [{"from": "bad name", "to": "token", "fn": "transfer", "args": ["bob", 1]},
             tx("alice", "token", "nope"), {"from": "alice", "to": 7, "fn": "transfer", "args": []}, [1, 2]]
    g = chain.schedule(raw_block(lines)).to_networkx()
    assert [(g.nodes[n]["sender"], g.nodes[n]["to"], g.nodes[n]["function"], g.nodes[n]["status"]) for n in range(4)] \
        == [("bad name", "token", "transfer", "invalid"), ("alice", "token", "nope", "invalid"),
            ("alice", "", "transfer", "invalid"), ("", "", "", "invalid")]


def test_dot_export_is_valid_dot(world, stats_block, tmp_path):
    out = tmp_path / "dag.dot"
    lane_ok("schedule", str(world), str(stats_block), "-o", str(out), cwd=tmp_path)
    text = out.read_text()
    assert re.match(r"\s*(strict\s+)?digraph\b[^{]*\{", text)
    assert text.rstrip().endswith("}")
    body = text[text.index("{") + 1:text.rstrip().rindex("}")]
    nodes, edges = set(), {}
    for stmt in _dot_statements(body):
        m = re.fullmatch(r"(\d+)\s*->\s*(\d+)\s*(\[(.*)\])?", stmt, re.S)
        if m:
            edges[(int(m.group(1)), int(m.group(2)))] = _dot_attrs(m.group(4) or "")
            continue
        m = re.fullmatch(r"(\d+)\s*(\[(.*)\])?", stmt, re.S)
        if m:
            nodes.add(int(m.group(1)))
            continue
        assert re.fullmatch(r"(graph|node|edge)\s*\[.*\]|\w+\s*=\s*\S+", stmt, re.S), f"not DOT: {stmt!r}"
    assert nodes == set(range(7))
    assert set(edges) == set(EXPECTED_EDGES)
    for pair, locs in EXPECTED_EDGES.items():
        assert all(loc in edges[pair].get("label", "") for loc in locs)


def _dot_statements(body: str) -> list[str]:
    """Split a DOT body at ';' and newlines outside double-quoted strings (which must be closed)."""
    out, cur, quoted, escaped, depth = [], [], False, False, 0
    for ch in body:
        if quoted:
            cur.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            assert depth >= 0
        if ch in ";\n" and depth == 0:
            stmt = "".join(cur).strip()
            if stmt:
                out.append(stmt)
            cur = []
            continue
        cur.append(ch)
    assert not quoted, "an unterminated string"
    assert depth == 0, "an unclosed attribute list"
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _dot_attrs(text: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s\]]+)', text, re.S):
        value = m.group(2)
        out[m.group(1)] = value[1:-1] if value.startswith('"') else value
    return out


def test_graphml_export_is_readable_by_networkx(world, stats_block, tmp_path):
    import networkx as nx

    out = tmp_path / "dag.graphml"
    lane_ok("schedule", str(world), str(stats_block), "-o", str(out), cwd=tmp_path)
    g = nx.read_graphml(out, node_type=int)
    assert g.is_directed()
    assert sorted(g.nodes) == list(range(7))
    for n, (sender, to, fn) in EXPECTED_NODES.items():
        attrs = g.nodes[n]
        assert (int(attrs["index"]), attrs["sender"], attrs["target"], attrs["to"], attrs["function"]) == \
            (n, sender, to, to, fn)
    assert set(g.edges) == set(EXPECTED_EDGES)
    for pair, locs in EXPECTED_EDGES.items():
        assert all(loc in g.edges[pair]["locations"] for loc in locs)


@pytest.mark.parametrize("name", ["dag.png", "dag", "dag.JSONL", "dag.json/"])
def test_an_unknown_export_extension_is_a_user_error(world, stats_block, tmp_path, name):
    # (a path as written: "dag.json/" names a folder, not a JSON file)
    proc = lane("schedule", str(world), str(stats_block), "-o", f"{tmp_path}/{name}", cwd=tmp_path)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert ".json" in proc.stderr and ".dot" in proc.stderr and ".graphml" in proc.stderr
    assert not (tmp_path / name).exists()


def test_schedule_json_gives_the_statistics(chain, world, stats_block, tmp_path):
    proc = lane_ok("schedule", str(world), str(stats_block), "--json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    expected = _expected_stats(chain.schedule(raw_block(STATS_BLOCK)))
    stats = doc["stats"]
    for key in ("transactions", "edges", "components", "critical_path", "parallelism"):
        assert stats[key] == expected[key], key


def test_schedule_json_with_an_output_file(world, stats_block, tmp_path):
    out = tmp_path / "dag.json"
    proc = lane_ok("schedule", str(world), str(stats_block), "--json", "-o", str(out), cwd=tmp_path)
    doc = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert doc["stats"]["edges"] == 3
    assert out.exists()


def test_the_readable_summary_lists_the_hot_locations(world, tmp_path):
    txs = [transfer(name, "zoe") for name in ["alice", "bob", "carol", "dave"]]
    txs += [tx("erin", "token", "balance_of", "zoe"), transfer("zoe", "frank"), transfer("xavier", "yannick")]
    block = write_block(tmp_path, txs)
    proc = lane_ok("schedule", str(world), str(block), cwd=tmp_path)
    text = proc.stdout
    assert "7 transactions" in text
    assert "token.balances[zoe]" in text
    hot = [line for line in text.splitlines() if "token.balances[zoe]" in line][0]
    assert re.search(r"\b\d+ edges?\b", hot)
    assert "token.balances[xavier]" not in text and "token.balances[yannick]" not in text


def test_schedule_rejects_a_malformed_block(world, tmp_path):
    block = tmp_path / "bad.jsonl"
    block.write_text('{"from": "alice", "to": "token"\n', encoding="utf-8")
    proc = lane("schedule", str(world), str(block), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "bad.jsonl" in proc.stderr


# ---------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_chain():
    return Chain.open(DEMO_WORLD)


def test_demo_block1(demo_chain):
    s = demo_chain.schedule(read_block(DEMO / "block1.jsonl"), number=1, keep_accesses=True)
    check_against_reference(s)
    p = preds(s)
    assert len(p) == 42
    # admin's usdc transfers (block lines 3, 8, 11, 13, 14) form a chain on usdc.balances[admin].
    usdc = [j for j, t in enumerate(s.txs) if t.function and t.function.name == "transfer"
            and t.instance.name == "usdc"]
    assert len(usdc) == 5
    assert p[usdc[0]] == set()
    for a, b in zip(usdc, usdc[1:]):
        assert p[b] == {a}
    # Approvals of distinct (holder, spender) pairs are free.
    approvals = [j for j, t in enumerate(s.txs) if t.function and t.function.name == "approve"]
    assert len(approvals) == 20 and all(p[j] == set() for j in approvals)
    # Transfers of different tokens by the same sender are not ordered.
    weth = [j for j, t in enumerate(s.txs) if t.function and t.function.name == "transfer"
            and t.instance.name == "weth"]
    assert not (set(weth) & p[usdc[1]])
    stats = s.stats()
    assert stats["transactions"] == 42 and stats["edges"] == sum(map(len, p))
    assert stats["parallelism"] > 1


def test_demo_blocks_on_the_state_they_run_on():
    chain = Chain.open(DEMO_WORLD)
    for name, number in [("block1.jsonl", 1), ("block2.jsonl", 2), ("block3.jsonl", 600)]:
        raw_txs = read_block(DEMO / name)
        s = chain.schedule(raw_txs, number=number, keep_accesses=True)
        check_against_reference(s)
        stats = s.stats()
        assert stats["transactions"] == len(raw_txs)
        assert 1 <= stats["critical_path"] <= stats["transactions"]
        assert stats["components"] >= 1
        chain.run_block(raw_txs, number=number)


def test_demo_schedule_cli(tmp_path):
    proc = lane_ok("schedule", str(DEMO_WORLD), str(DEMO / "block1.jsonl"), "--json", cwd=tmp_path)
    stats = json.loads(proc.stdout)["stats"]
    assert stats["transactions"] == 42
    state = tmp_path / "demo.sqlite"
    lane_ok("run", str(DEMO_WORLD), str(DEMO / "block1.jsonl"), "--state", str(state), cwd=tmp_path)
    lane_ok("run", str(DEMO_WORLD), str(DEMO / "block2.jsonl"), "--state", str(state), cwd=tmp_path)
    out = tmp_path / "b3.graphml"
    proc = lane_ok("schedule", str(DEMO_WORLD), str(DEMO / "block3.jsonl"), "--state", str(state),
                   "--number", "600", "-o", str(out), "--json", cwd=tmp_path)
    assert json.loads(proc.stdout)["stats"]["transactions"] == 15
    import networkx as nx

    assert nx.read_graphml(out).number_of_nodes() == 15


def test_compiled_summaries_kept_on_disk_schedule_as_freshly_compiled_ones(tmp_path, monkeypatch):
    """A world's compiled summaries are kept in the cache's folder: a second process loads them (no
    generation, no compilation) and they number the variables, instantiate and schedule exactly as
    the ones compiled at first; a world whose program differs does not find them."""
    monkeypatch.setenv("LANE_CACHE_DIR", str(tmp_path / "cache"))
    block = read_block(DEMO / "block1.jsonl")
    fresh_chain, kept_chain = Chain.open(DEMO_WORLD), Chain.open(DEMO_WORLD)
    fresh = fresh_chain.compiled_summaries
    assert len(list((tmp_path / "cache").glob("*.summaries"))) == 1
    calls = []
    real = dag.compile_summary
    monkeypatch.setattr(dag, "compile_summary", lambda *a: calls.append(a) or real(*a))
    kept = kept_chain.compiled_summaries
    assert calls == []  # (all from the cache)
    assert kept.var_ids.names == fresh.var_ids.names and kept.slots == fresh.slots
    assert kept.key_vids == fresh.key_vids
    assert {k: e.source for k, e in kept.by_function.items()} == {k: e.source for k, e in fresh.by_function.items()}
    a, b = fresh_chain.schedule(block), kept_chain.schedule(block)
    assert a.edge_locations() == b.edge_locations() and a.component_ids() == b.component_ids()
    # Another program (a comment added to a world's source): compiled again.
    from runtime_helpers import POT, pot_world

    for k, source in enumerate((POT, POT + "\n// changed\n")):
        (tmp_path / f"w{k}").mkdir()
        Chain.open(pot_world(tmp_path / f"w{k}", source)).compiled_summaries
    assert len(calls) == 2 * 3 and len(list((tmp_path / "cache").glob("*.summaries"))) == 3


def test_a_damaged_cache_of_compiled_summaries_is_compiled_again(tmp_path, monkeypatch):
    import marshal

    monkeypatch.setenv("LANE_CACHE_DIR", str(tmp_path))
    fresh = Chain.open(DEMO_WORLD).compiled_summaries
    [kept] = tmp_path.glob("*.summaries")
    for damage in (b"not marshal", marshal.dumps({"names": [1], "code": {}})):
        kept.write_bytes(damage)
        again = Chain.open(DEMO_WORLD).compiled_summaries
        assert again.var_ids.names == fresh.var_ids.names
        assert {k: e.source for k, e in again.by_function.items()} == {k: e.source for k, e in fresh.by_function.items()}
