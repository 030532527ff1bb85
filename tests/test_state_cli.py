"""``lane state``: a state file's head block, a block's receipts, and the state root recomputed
from every stored location against the one kept block by block (compiler/state_cli.py)."""

from __future__ import annotations

import json
import os
import re
import sqlite3

import pytest
from runtime_helpers import ALICE, account, instance, token_world, tx, write_block
from typer.testing import CliRunner

from compiler.cli import app


def lane(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "100", "NO_COLOR": "1"})


@pytest.fixture
def chain_file(tmp_path, monkeypatch):
    """A state file of two blocks of the token world; the run's JSON of block 2."""
    monkeypatch.chdir(tmp_path)
    token_world(tmp_path)
    write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 5)], "b1.jsonl")
    write_block(tmp_path, [tx("alice", "token", "transfer", "carol", 7), tx("bob", "token", "transfer", "carol", 3)],
                "b2.jsonl")
    assert lane("run", "world.toml", "b1.jsonl", "--state", "s.sqlite").exit_code == 0
    second = lane("run", "world.toml", "b2.jsonl", "--state", "s.sqlite", "--json")
    assert second.exit_code == 0, second.output
    return json.loads(second.stdout)


def test_show_gives_the_head_block_its_roots_and_the_file(chain_file):
    result = lane("state", "show", "--state", "s.sqlite")
    assert result.exit_code == 0 and result.stderr == ""
    size = os.path.getsize("s.sqlite")
    fingerprint = sqlite3.connect("s.sqlite").execute("SELECT value FROM meta WHERE key = 'world'").fetchone()[0]
    assert result.stdout.splitlines() == [
        f"state file    s.sqlite ({size:,} bytes)",
        "head block    2 (timestamp 24): 2 transactions, cost 40",
        f"state root    {chain_file['state_root']}",
        f"receipts root {chain_file['receipts_root']}",
        "blocks        2 committed after the genesis (numbers 1 to 2)",
        f"world         1 deployment from 1 source file; fingerprint {fingerprint[:16]}",
    ]
    out = json.loads(lane("state", "show", "--state", "s.sqlite", "--json").stdout)
    assert out["head"] == {"number": 2, "timestamp": 24, "transactions": 2, "cost": 40,
                           "state_root": chain_file["state_root"], "receipts_root": chain_file["receipts_root"]}
    assert (out["blocks"], out["bytes"], out["world"]) == (
        2, size, {"fingerprint": fingerprint, "deployments": ["token"], "sources": ["token.lane"]})
    assert re.fullmatch(r"0x[0-9a-f]{64}", out["genesis_state_root"])


def test_receipts_are_the_ones_lane_run_printed(chain_file):
    result = lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--block", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # lane run also says where in the source a revert happened ("at"): not part of a receipt's encoding.
    assert out["receipts"] == [{k: v for k, v in r.items() if k != "at"} for r in chain_file["receipts"]]
    assert (out["number"], out["timestamp"], out["state_root"], out["receipts_root"], out["cost"]) == (
        2, 24, chain_file["state_root"], chain_file["receipts_root"], 40)
    # Without --block: the head block.  As text: addresses by the world's names where it has one.
    text = lane("state", "receipts", "world.toml", "--state", "s.sqlite").stdout
    assert text.splitlines() == [
        "block 2 (timestamp 24): 2 receipts, cost 40",
        "#0 ok: true (cost 20)",
        f"    token.Transfer(alice, {account('carol')}, 7)",
        "#1 ok: true (cost 20)",
        f"    token.Transfer({account('bob')}, {account('carol')}, 3)",
    ]
    first = json.loads(lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--block", "1",
                            "--json").stdout)
    assert first["receipts"][0]["events"] == [{"contract": "token", "address": instance("token"),
                                               "event": "Transfer", "args": [ALICE, account("bob"), "5"]}]


def test_receipts_of_a_block_the_file_does_not_hold(chain_file):
    result = lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--block", "7")
    assert (result.exit_code, result.stderr) == (
        1, "error: state file s.sqlite has no block 7: its blocks are 1 to 2\n")


@pytest.mark.parametrize("damage", ["cut", "garbage", "frame cut", "indices"])
def test_receipts_damaged_outside_lane_are_named_not_a_crash(chain_file, damage):
    import marshal

    from compiler.runtime import encoding

    db = sqlite3.connect("s.sqlite")
    (data,) = db.execute("SELECT data FROM receipts WHERE block = 2").fetchone()
    idx, blob, ends = marshal.loads(data)
    bad = {"cut": data[:-5], "garbage": b"\x00lane" * 3, "frame cut": encoding.compress(data)[:-9],
           "indices": marshal.dumps(((7).to_bytes(8, "little") * 2, blob, ends))}[damage]
    with db:
        db.execute("UPDATE receipts SET data = ? WHERE block = 2", (bad,))
    db.close()
    result = lane("state", "receipts", "world.toml", "--state", "s.sqlite")
    assert result.exit_code == 1 and result.stdout == "", result.output
    assert re.fullmatch(r"error: state file s\.sqlite is damaged: block 2's receipts cannot be read \(.+\)\n",
                        result.stderr), result.stderr


@pytest.mark.parametrize("damage, what", [
    ("value = X'" + "ff" * 40 + "'", "a value of 40 bytes (at most 32)"),
    ("value = 7", "a value that is not bytes (int)"),
    ("key = X'01'", "a key of 1 bytes (its keys have 32)"),
])
@pytest.mark.parametrize("table", ["recent", "storage"])
def test_locations_damaged_outside_lane_are_named_not_a_crash(chain_file, damage, what, table):
    """Rows the file holds that Lane would not write (a value wider than a word or not bytes at
    all, a key that is not a word): verify, and a block that reads such a value, say which
    variable holds it (a key that is not a word is a location no block asks for: verify finds it)."""
    db = sqlite3.connect("s.sqlite")
    with db:
        if table == "storage":  # (the log folded into storage first, as a commit does past its size)
            db.execute("INSERT OR REPLACE INTO storage SELECT var, key, value FROM recent ORDER BY rowid")
            db.execute("DELETE FROM recent")
        (var,) = db.execute(f"SELECT var FROM {table} ORDER BY length(key) DESC LIMIT 1").fetchone()  # balances
        if damage.startswith("key"):  # (one row: keys are unique)
            (key,) = db.execute(f"SELECT key FROM {table} WHERE var = ? LIMIT 1", (var,)).fetchone()
            db.execute(f"UPDATE {table} SET {damage} WHERE var = ? AND key = ?", (var, key))
        else:
            db.execute(f"UPDATE {table} SET {damage} WHERE var = ?", (var,))
    db.close()
    runs = [["state", "verify", "world.toml"]]
    if not damage.startswith("key"):
        runs.append(["run", "world.toml", "b2.jsonl"])
    for args in runs:
        result = lane(*args, "--state", "s.sqlite")
        assert result.exit_code == 1, result.output
        assert re.fullmatch(r"error: state file s\.sqlite is damaged: token\.balances holds " + re.escape(what)
                            + r"; it was changed outside Lane\n", result.stderr), result.stderr


@pytest.mark.parametrize("value, shown", [("X''", "empty"), ("X'00'", "0x00"), ("X'0005'", "0x0005")])
def test_a_zero_row_or_a_value_with_a_leading_zero_byte_is_found_by_verify(chain_file, value, shown):
    """Lane writes no row for a zero and a value as its shortest bytes: such a row reads as the same
    number (a block reading it is not wrong), but the file is not as Lane wrote it."""
    db = sqlite3.connect("s.sqlite")
    with db:
        db.execute("INSERT OR REPLACE INTO storage SELECT var, key, value FROM recent ORDER BY rowid")
        db.execute("DELETE FROM recent")
        (var,) = db.execute("SELECT var FROM storage ORDER BY length(key) DESC LIMIT 1").fetchone()  # balances
        db.execute(f"UPDATE storage SET value = {value} WHERE var = ?", (var,))
    db.close()
    result = lane("state", "verify", "world.toml", "--state", "s.sqlite")
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"error: state file s.sqlite is damaged: token.balances holds a row whose value is "
                             f"{shown}, which Lane does not write (a zero is no row; a value has no leading zero "
                             f"byte); it was changed outside Lane\n")


@pytest.mark.parametrize("damage", ["cost = ''", "timestamp = 'noon'", "transactions = -1", "accumulator = 7"])
def test_a_block_row_damaged_outside_lane_is_named_not_a_crash(chain_file, damage):
    db = sqlite3.connect("s.sqlite")
    with db:
        db.execute(f"UPDATE blocks SET {damage} WHERE number = 2")
    db.close()
    commands = [["state", "verify", "world.toml"]] if damage.startswith("accumulator") else \
        [["state", "receipts", "world.toml"], ["state", "show"]]  # (the accumulator: what verify and a block read)
    for args in commands:
        result = lane(*args, "--state", "s.sqlite")
        assert result.exit_code == 1, result.output
        assert re.fullmatch(r"error: state file s\.sqlite is damaged: its row of block 2 is not as Lane writes it "
                            r"\(.+\); it was changed outside Lane\n", result.stderr), result.stderr


@pytest.mark.parametrize("value", ["x", "[1, 2]", '{"deployments": [3]}'])
def test_a_world_description_damaged_outside_lane_is_named_not_a_crash(chain_file, value):
    db = sqlite3.connect("s.sqlite")
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'world_identity'", (value,))
    db.close()
    result = lane("state", "show", "--state", "s.sqlite")
    assert (result.exit_code, result.stderr) == (1, "error: state file s.sqlite is damaged: the description of its "
                                                    "world is not as Lane writes it; it was changed outside Lane\n")


def test_verify_recomputes_the_state_root_from_every_location(chain_file):
    result = lane("state", "verify", "world.toml", "--state", "s.sqlite")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (f"block 2: the state root recomputed from 4 stored locations is the one recorded, "
                             f"{chain_file['state_root']}\n")
    out = json.loads(lane("state", "verify", "world.toml", "--state", "s.sqlite", "--json").stdout)
    assert out == {"block": 2, "locations": 4, "state_root": chain_file["state_root"],
                   "recorded": chain_file["state_root"], "agrees": True}


def test_verify_finds_a_file_changed_outside_lane(chain_file):
    db = sqlite3.connect("s.sqlite")
    with db:
        db.execute("UPDATE storage SET value = X'2a' WHERE var = 1")  # the token's supply: 42
    db.close()
    result = lane("state", "verify", "world.toml", "--state", "s.sqlite", "--json")
    assert result.exit_code == 1
    message = json.loads(result.stdout)["error"]["message"]
    assert re.fullmatch(r"state file s\.sqlite does not agree with itself: the state root recomputed from its 4 "
                        r"locations is 0x[0-9a-f]{64}, but block 2 recorded " + re.escape(chain_file["state_root"])
                        + r"; it was changed outside Lane or is damaged \(its blocks cannot be trusted\)", message)
    assert result.stderr == f"error: {message}\n"


def test_a_file_of_another_world_or_without_state_is_refused(chain_file, tmp_path):
    token_world(tmp_path, supply=5, name="other.toml")
    result = lane("state", "verify", "other.toml", "--state", "s.sqlite")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: state file s.sqlite was made from a different world: deployment 'token' "
                                    'now has init arguments ["5"] (it was ["1000000"]).')
    (tmp_path / "empty.sqlite").write_bytes(b"")
    result = lane("state", "show", "--state", "empty.sqlite")
    assert (result.exit_code, result.stderr) == (
        1, "error: state file empty.sqlite holds no state yet (run a block on it first)\n")
    assert (tmp_path / "empty.sqlite").read_bytes() == b""  # nothing written


WHO = """
contract Who {
    storage seen: map<address, u256>;
    pub fn me() -> address { seen[msg.sender] += 1; return msg.sender; }
    pub fn here() -> Who { seen[msg.sender] += 1; return Who(self); }
    pub fn count() -> u256 { seen[msg.sender] += 1; return seen[msg.sender]; }
    pub fn met() -> bool { seen[msg.sender] += 1; return seen[msg.sender] > 1; }
    pub fn hello() { seen[msg.sender] += 1; }
}
"""


@pytest.mark.parametrize("executor", ["sequential", "parallel"])
def test_receipts_show_returns_by_their_type_as_lane_run_did(tmp_path, monkeypatch, executor):
    """A receipt holds a raw value (an address is a number there): the file keeps how each return
    shows, so an address or a contract returned shows as 0x hex, as lane run printed it; from either
    executor (the parallel one forced onto lanes, whose parent has no decoded block)."""
    from runtime_helpers import make_world

    from compiler.runtime import parallel
    from compiler.runtime.chain import Chain

    monkeypatch.chdir(tmp_path)
    world = make_world(tmp_path, {"who.lane": WHO},
                       [{"name": "who", "source": "who.lane", "contract": "Who", "sender": "alice", "args": []}],
                       accounts={"alice": ALICE})
    fns = ["me", "here", "count", "met", "hello", "met", "nope"]
    block = write_block(tmp_path, [tx(f"u{k % 3}", "who", fn) for k, fn in enumerate(fns * 12)])
    with Chain.open(world, tmp_path / "s.sqlite") as chain:
        if executor == "parallel":
            parallel.executor_for(chain, 2).__self__.force = True
        result = chain.run_file(block, executor=executor, workers=2)
        assert result.executor == executor and (executor == "sequential" or result.detail["mode"] == "parallel")
        printed = result.receipts_json
    out = lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["receipts"] == [{k: v for k, v in r.items() if k != "at"} for r in printed]
    returns = [r["return"] for r in printed]
    assert returns[:7] == [account("u0"), instance("who"), "1", True, None, True, None], returns
    text = lane("state", "receipts", "world.toml", "--state", "s.sqlite").stdout.splitlines()
    costs = [r["cost"] for r in printed]
    assert text[1:4] == [f"#0 ok: {account('u0')} (cost {costs[0]})", f"#1 ok: who (cost {costs[1]})",
                         f"#2 ok: 1 (cost {costs[2]})"], text[:4]


def test_a_file_that_kept_no_return_kinds_shows_raw_values_and_gains_them(chain_file):
    """A file of schema version 3 (no table of return kinds): its receipts show as before (a value by
    its own kind); the next block written gains the table, and its receipts show by their types."""
    db = sqlite3.connect("s.sqlite")
    with db:
        db.execute("DROP TABLE returns")
    db.execute("PRAGMA user_version = 3")
    db.close()
    out = json.loads(lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--json").stdout)
    assert [r["return"] for r in out["receipts"]] == [True, True]
    assert lane("run", "world.toml", "b1.jsonl", "--state", "s.sqlite").exit_code == 0
    assert sqlite3.connect("s.sqlite").execute("PRAGMA user_version").fetchone()[0] == 4
    out = json.loads(lane("state", "receipts", "world.toml", "--state", "s.sqlite", "--json").stdout)
    assert out["number"] == 3 and [r["return"] for r in out["receipts"]] == [True]
