"""A state file keeps working when its world file or contracts change only in what does not make
the chain (comments, layout, the order of accounts, how a value is spelled), and refuses a real
change saying what changed and what to do (compiler/runtime/world_identity.py)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from runtime_helpers import TOKEN, tx, write_block
from typer.testing import CliRunner

from compiler.cli import app
from compiler.runtime import world_identity
from compiler.runtime.world import load_world

WORLD = """\
[accounts]
alice = "0x00000000000000000000000000000000000a11ce"
bob = "0x0000000000000000000000000000000000000b0b"

[[deploy]]
name = "token"
source = "token.lane"
contract = "Token"
sender = "alice"
args = [1_000_000]
"""

# The same world: a comment, the accounts in another order, the supply spelled as a string,
# the sender as its address, keys in another order and spaced otherwise.
SAME_WORLD = """\
# the token world, rewritten
[accounts]
bob   = "0x0000000000000000000000000000000000000b0b"
alice = "0x00000000000000000000000000000000000a11ce"   # the deployer

[[deploy]]
contract = "Token"
name = "token"
args = ["1000000"]
sender = "0x00000000000000000000000000000000000a11ce"
source = "./token.lane"
"""

ADVICE = (" A state file holds one world's chain: to run this world, start a new state file (--state NEW.sqlite; "
          "its genesis is made on first use), or undo the change to keep using s.sqlite\n")


def lane(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "100", "NO_COLOR": "1"})


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "world.toml").write_text(WORLD)
    (tmp_path / "token.lane").write_text(TOKEN.lstrip("\n"))
    write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 5)])
    result = lane("run", "world.toml", "block.jsonl", "--state", "s.sqlite")
    assert result.exit_code == 0, result.output
    return tmp_path


def balance_of_bob():
    return lane("call", "world.toml", "token", "balance_of", "bob", "--state", "s.sqlite")


def test_what_does_not_change_the_chain_keeps_the_state_file(project):
    (project / "world.toml").write_text(SAME_WORLD)
    contract = (project / "token.lane").read_text()
    (project / "token.lane").write_text("// a comment\n/* and another */\n" + contract.replace("    ", "\t"))
    assert (balance_of_bob().exit_code, balance_of_bob().stdout) == (0, "5\n")
    assert lane("run", "world.toml", "block.jsonl", "--state", "s.sqlite").exit_code == 0
    assert balance_of_bob().stdout == "10\n"


@pytest.mark.parametrize("edit, change", [
    (lambda w, c: (w.replace("[1_000_000]", "[5]"), c),
     'deployment \'token\' now has init arguments ["5"] (it was ["1000000"])'),
    (lambda w, c: (w.replace('sender = "alice"', 'sender = "bob"'), c),
     "deployment 'token' now has sender '0x0000000000000000000000000000000000000b0b' "
     "(it was '0x00000000000000000000000000000000000a11ce')"),
    (lambda w, c: (w + '\n[chain]\ncost_limit = 5000\n', c), "[chain] cost_limit is now 5000 (it was 1000000)"),
    (lambda w, c: (w.replace('bob = "0x0000000000000000000000000000000000000b0b"',
                             'bob = "0x0000000000000000000000000000000000000b0c"'), c),
     "account 'bob' is now 0x0000000000000000000000000000000000000b0c "
     "(it was 0x0000000000000000000000000000000000000b0b)"),
    (lambda w, c: (w.replace('bob = "0x0000000000000000000000000000000000000b0b"\n', ""), c),
     "account 'bob' was removed"),
    (lambda w, c: (w, c.replace("supply = initial;", "supply = initial + 1;")),
     "the source of token.lane changed (not only its comments or layout)"),
    (lambda w, c: (w + '\n[[deploy]]\nname = "second"\nsource = "token.lane"\ncontract = "Token"\nargs = [1]\n', c),
     "deployment 'second' was added"),
])
def test_a_real_change_is_refused_with_what_changed(project, edit, change):
    world, contract = edit((project / "world.toml").read_text(), (project / "token.lane").read_text())
    (project / "world.toml").write_text(world)
    (project / "token.lane").write_text(contract)
    result = balance_of_bob()
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: state file s.sqlite was made from a different world: {change}." + ADVICE


def test_many_changes_are_counted_after_the_first_three(tmp_path):
    old = {"identity": 1, "accounts": {}, "cost_limit": 1, "sources": {},
           "deployments": [{"name": f"d{k}", "contract": "C", "source": "c.lane", "sender": "0x0", "args": []}
                           for k in range(5)]}
    new = {**old, "deployments": []}
    assert world_identity.differences(old, new) == [f"deployment 'd{k}' was removed" for k in range(5)]


def test_a_file_made_before_identities_were_recorded_still_opens(project):
    world = load_world("world.toml")
    db = sqlite3.connect("s.sqlite")
    with db:  # as such a file is: the hash of the texts, no description
        db.execute("UPDATE meta SET value = ? WHERE key = 'world'", (world_identity.legacy_fingerprint(world),))
        db.execute("DELETE FROM meta WHERE key = 'world_identity'")
    db.close()
    assert balance_of_bob().stdout == "5\n"
    (project / "world.toml").write_text(WORLD + "# a comment is a change for such a file\n")
    result = balance_of_bob()
    assert result.exit_code == 1
    assert result.stderr == ("error: state file s.sqlite was made from another world (or its contracts have "
                             "changed)." + ADVICE)


def test_the_file_records_the_description_it_hashes(project):
    stored = dict(sqlite3.connect("s.sqlite").execute("SELECT key, value FROM meta").fetchall())
    description = json.loads(stored["world_identity"])
    assert stored["world"] == world_identity.fingerprint(description)
    assert {k: v for k, v in description.items() if k != "sources"} == {
        "identity": 1,
        "accounts": {"alice": "0x00000000000000000000000000000000000a11ce",
                     "bob": "0x0000000000000000000000000000000000000b0b"},
        "cost_limit": 1_000_000,
        "deployments": [{"name": "token", "contract": "Token", "source": "token.lane",
                         "sender": "0x00000000000000000000000000000000000a11ce", "args": ["1000000"]}],
    }
    assert list(description["sources"]) == ["token.lane"]
