"""One contract per name in a world (SPEC §1.3, §3).

The runtime tells contracts apart by name: a call through a reference of type
``Vault`` runs the calling program's ``Vault`` on whatever instance of a
contract named ``Vault`` lives at the address, and the analysis keys locations
by contract name.  A world that deploys one ``Vault`` and a program that
imports another (other storage, other code) would run the other's code on the
deployed vault's storage, unseen by the DAG: it is refused, naming both files,
whichever is deployed first.  One file imported by several programs is one
contract, and calls through it are ordered with the instance's own calls.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from runtime_helpers import raw_block
from typer.testing import CliRunner

from compiler.cli import app
from compiler.diagnostics import LaneError
from compiler.runtime.chain import Chain
from compiler.runtime.world import load_world

VAULT = """
contract Vault {
    storage owner: address;
    storage total: u256;
    init() { owner = msg.sender; }
    pub fn deposit(amount: u256) { total += amount; }
    pub view fn get_owner() -> address { return owner; }
}
"""

# Another contract named Vault: other storage, other code.
OTHER_VAULT = """
contract Vault {
    storage owner: address;
    pub fn deposit(amount: u256) { owner = msg.sender; }
}
"""

CALLER = """
import "{vault}";
contract Caller {{
    storage v: Vault;
    init(x: Vault) {{ v = x; }}
    pub fn poke() {{ v.deposit(1); }}
}}
"""

VAULT_DEPLOY = '[[deploy]]\nname = "vault"\nsource = "vault.lane"\ncontract = "Vault"\nsender = "alice"\n'
CALLER_DEPLOY = ('[[deploy]]\nname = "caller"\nsource = "caller.lane"\ncontract = "Caller"\nsender = "alice"\n'
                 'args = ["vault"]\n')


def world(tmp_path: Path, imported: str, vault_first: bool = True) -> Path:
    (tmp_path / "vault.lane").write_text(textwrap.dedent(VAULT).lstrip(), encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "vault.lane").write_text(textwrap.dedent(OTHER_VAULT).lstrip(), encoding="utf-8")
    (tmp_path / "caller.lane").write_text(textwrap.dedent(CALLER.format(vault=imported)).lstrip(), encoding="utf-8")
    deploys = [VAULT_DEPLOY, CALLER_DEPLOY] if vault_first else [CALLER_DEPLOY, VAULT_DEPLOY]
    path = tmp_path / "world.toml"
    path.write_text("\n".join(deploys), encoding="utf-8")
    return path


@pytest.mark.parametrize("vault_first, line", [(True, 7), (False, 8)])
def test_a_program_that_imports_another_contract_of_a_deployed_name_is_refused(tmp_path, vault_first, line):
    path = world(tmp_path, "other/vault.lane", vault_first)
    with pytest.raises(LaneError) as err:
        load_world(path)
    diag = err.value.diagnostics[0]
    assert "two different contracts are named 'Vault'" in diag.message
    assert "vault.lane" in diag.message and "other/vault.lane" in diag.message
    assert diag.location.line == line  # the second of the two deployments


def test_lane_refuses_it_with_exit_status_1(tmp_path):
    path = world(tmp_path, "other/vault.lane")
    block = tmp_path / "block.jsonl"
    block.write_text('{"from": "bob", "to": "caller", "fn": "poke", "args": []}\n', encoding="utf-8")
    for args in (["schedule", str(path), str(block)], ["run", str(path), str(block)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "two different contracts are named 'Vault'" in result.stderr
        assert "other/vault.lane" in result.stderr


def test_one_file_imported_by_both_is_one_contract(tmp_path):
    path = world(tmp_path, "vault.lane")
    with Chain.open(path) as chain:
        block = raw_block([{"from": "bob", "to": "caller", "fn": "poke", "args": []},
                           {"from": "carol", "to": "vault", "fn": "deposit", "args": [5]},
                           {"from": "dave", "to": "vault", "fn": "get_owner", "args": []}])
        s = chain.schedule(block, keep_accesses=True)
        # Both add to the vault's total (adds commute); the owner is untouched.
        assert [set(p) for p in s.predecessors()] == [set(), set(), set()]
        assert {chain.compiled_summaries.describe(loc) for loc, _ in s.accesses[0]} >= {"vault.total"}
        result = chain.run_block(block)
        assert [r["status"] for r in result.receipts_json] == ["ok", "ok", "ok"]
        owner = result.receipts_json[2]["return"]
        assert owner == "0x" + format(chain.world.parse_address("alice"), "040x")
