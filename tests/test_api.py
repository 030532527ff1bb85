"""The testing API (compiler.testing, docs/testing.md): a chain in memory, deployments, calls as
methods, reverts with their source location, snapshots, blocks through the executors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from compiler import Address, CallError, Chain, Reverted
from compiler.diagnostics import LaneError
from compiler.runtime.chain import Chain as RuntimeChain
from compiler.vm.values import derive_address
from compiler.testing import CompileError, NoSuchFunction

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

PROBE = """\
contract Probe {
    storage total: u256;
    storage seen: map<address, bool>;
    event Seen(who: address, n: u256);

    pub fn add(x: u256) -> u256 {
        total += x;
        return total;
    }

    pub fn halve(d: u256) -> u256 {
        return total / d;
    }

    pub fn pick(xs: array<u256, 3>, i: u256) -> u256 {
        return xs[i];
    }

    pub fn spin(n: u256) -> u256 {
        let s: u256 = 0;
        for i in 0..min(n, 1000) {
            s += i;
        }
        return s;
    }

    pub fn mark(flag: bool) {
        seen[msg.sender] = flag;
        emit Seen(msg.sender, block.number);
    }

    pub fn fail() {
        revert("no");
    }

    pub view fn when() -> u256 {
        return block.timestamp;
    }

    pub view fn me() -> address {
        return msg.sender;
    }

    fn helper() -> u256 {
        return 1;
    }

    pub fn split(x: u256) -> u256 {
        return x / 7 * 10 + x % 7;
    }
}
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A folder holding probe.lane and the example contracts, as the working folder."""
    (tmp_path / "probe.lane").write_text(PROBE, encoding="utf-8")
    for name in ("token.lane", "amm.lane"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def chain(here):
    with Chain() as chain:
        yield chain


@pytest.fixture
def token(chain):
    return chain.deploy("token.lane", 1_000_000, sender=chain.account("alice"))


# ---------------------------------------------------------------- accounts and deployments

def test_an_account_has_the_address_a_world_derives_from_its_name(chain):
    alice = chain.account("alice")
    assert alice == derive_address("alice") and alice is not chain.account("alice") and alice == chain.account("alice")
    assert type(alice) is Address and alice.name == "alice"
    assert str(alice) == f"0x{derive_address('alice'):040x}"
    assert repr(alice) == f"alice (0x{derive_address('alice'):040x})"


def test_a_deployed_contract_has_the_address_of_its_instance_name(chain, token):
    assert token.address == derive_address("token_1", "contract") and token.address.name == "token_1"
    assert token == token.address and token.contract == "Token"
    second = chain.deploy("token.lane", 5, name="usdc")
    assert second.address == derive_address("usdc", "contract")
    assert chain.deploy("token.lane", 5).address.name == "token_2"
    assert list(chain.contracts) == ["token_1", "usdc", "token_2"]
    assert chain.contract("usdc") is second and chain.contract(int(token.address)) is token
    # Any form of its address finds it: the Address, the handle, 0x hex.
    hex_address = "0x" + format(int(token.address), "040x")
    assert chain.contract(token.address) is chain.contract(token) is chain.contract(hex_address) is token
    with pytest.raises(CallError, match="no deployed contract '0x0000000000000000000000000000000000000001'"):
        chain.contract("0x" + "0" * 39 + "1")


def test_init_runs_at_deployment_with_its_sender(chain, token):
    alice = chain.account("alice")
    assert token.balance_of(alice) == 1_000_000 and token.get_owner() == alice
    assert chain.last_events == [("Transfer", Address(0), alice, 1_000_000)]


def test_a_file_deploys_its_own_contract_and_one_of_several_is_named(chain, token, here):
    pool = chain.deploy("amm.lane", token, chain.deploy("token.lane", 1))  # Token is imported: Pool is its own
    assert pool.contract == "Pool" and pool.address.name == "pool_1"
    (here / "two.lane").write_text("contract A { pub fn f() {} }\ncontract B { pub fn g() {} }\n")
    with pytest.raises(LaneError) as info:
        chain.deploy("two.lane")
    assert str(info.value) == "two.lane declares several contracts (A, B): say which to deploy with contract="
    assert chain.deploy("two.lane", contract="B").contract == "B"
    assert chain.deploy("amm.lane", 5, contract="Token").contract == "Token"


def test_a_deployment_that_reverts_deploys_nothing(chain, token):
    with pytest.raises(Reverted) as info:
        chain.deploy("amm.lane", token, token, contract="Pool")
    assert (info.value.reason, info.value.at, info.value.function) == ("identical tokens", "amm.lane:38:9", "Pool.init")
    assert list(chain.contracts) == ["token_1"]
    assert chain.deploy("amm.lane", token, chain.deploy("token.lane", 1), contract="Pool").address.name == "pool_1"


def test_a_contract_that_does_not_compile_is_shown_as_lane_check_shows_it(chain, here):
    (here / "bad.lane").write_text("contract Bad {\n    pub fn f() -> u256 { return true; }\n}\n")
    with pytest.raises(CompileError) as info:
        chain.deploy("bad.lane")
    text = str(info.value)
    assert text.startswith("bad.lane:2:") and "pub fn f() -> u256 { return true; }" in text and "^" in text


@pytest.mark.parametrize("call, message", [
    (lambda c, t: c.deploy("nope.lane"), "contract file not found: nope.lane"),
    (lambda c, t: c.deploy("token.lane", 1, name="alice"), "the name 'alice' is already used"),
    (lambda c, t: c.deploy("token.lane", 1, name="token_1"), "the name 'token_1' is already used"),
    (lambda c, t: c.deploy("token.lane", 1, name="9lives"),
     "'9lives' is not a name (letters, digits, '_', '.' and '-', starting with a letter or '_')"),
    (lambda c, t: c.deploy("token.lane"), "Token.init(supply: u256) takes 1 argument, found 0"),
    (lambda c, t: c.deploy("token.lane", -5), "Token.init(supply: u256): argument 'supply' must not be negative, found -5"),
    (lambda c, t: c.deploy("amm.lane", t, c.account("alice"), contract="Pool"), None),  # an address is a Token here
    (lambda c, t: c.deploy("amm.lane", t, "nobody!", contract="Pool"),
     "Pool.init(t0: Token, t1: Token): argument 't1' is not an address or a name: 'nobody!'"),
    (lambda c, t: c.deploy("amm.lane", t, 1, contract="Nope"), "no contract 'Nope' in amm.lane (it has: Token, Pool)"),
])
def test_a_deployment_that_cannot_be_made_says_why(chain, token, call, message):
    chain.account("alice")
    if message is None:
        call(chain, token)
        return
    with pytest.raises(LaneError) as info:
        call(chain, token)
    assert str(info.value) == message


# ---------------------------------------------------------------- calls

def test_a_transaction_returns_its_value_and_keeps_its_receipt_and_events(chain, token):
    alice, bob = chain.account("alice"), chain.account("bob")
    assert token.transfer(bob, 10, sender=alice) is True
    receipt = chain.last_receipt
    assert (receipt.status, receipt.reason, receipt.value, receipt.at, receipt.cost) == ("ok", None, True, None, 23)
    (event,) = chain.last_events
    assert (event.name, event.contract, event["from"], event.to, event.amount) == ("Transfer", token.address, alice, bob, 10)
    assert event.contract.name == "token_1" and event.to.name == "bob"
    assert repr(event) == f"Transfer(from={alice!r}, to={bob!r}, amount=10) from token_1"
    assert token.balance_of(bob) == 10
    assert chain.last_events == [("Transfer", alice, bob, 10)]  # a view is not a transaction


def test_names_and_hex_are_addresses_as_in_a_block(chain, token):
    bob = chain.account("bob")
    token.transfer("bob", 1, sender="alice")
    token.transfer(f"0x{int(bob):x}", 2, sender=chain.account("alice"))
    token.transfer(int(bob), "3", sender="alice")
    assert token.balance_of("bob") == 6


def test_each_transaction_is_a_block_of_its_own_and_time_moves_on(chain, here):
    probe = chain.deploy("probe.lane")
    start = chain.number
    probe.mark(True)
    assert chain.last_events[0].n == start + 1 == chain.number
    assert probe.when() == 12 * chain.number == chain.timestamp
    chain.mine(10)
    assert probe.when() == 12 * (start + 11)
    chain.warp(10_000)
    assert probe.when() == 10_000
    probe.mark(False)
    assert (chain.number, chain.timestamp) == (start + 12, 10_000)
    with pytest.raises(CallError, match="time does not go backwards: the chain is at timestamp 10000, warp asked for 5"):
        chain.warp(5)


def test_a_view_runs_without_a_sender_and_call_runs_as_one(chain, here):
    probe = chain.deploy("probe.lane")
    assert probe.me() == 0 and probe.me.call(sender="carol") == chain.account("carol")
    before = chain.state_root
    assert probe.add.call(5) == 5 and probe.add.call(7) == 7  # nothing kept
    assert chain.state_root == before


@pytest.mark.parametrize("call, error, message", [
    (lambda p: p.nope(), NoSuchFunction,
     "Probe (probe_1) has no function 'nope' (pub functions: add, halve, pick, spin, mark, fail, when, me, split)"),
    (lambda p: p.helper(), NoSuchFunction,
     ("Probe.helper is not pub: only pub functions can be called (pub functions of Probe: add, halve, pick, spin, "
     "mark, fail, when, me, split)")),
    (lambda p: p.add(), CallError, "Probe.add(x: u256) takes 1 argument, found 0"),
    (lambda p: p.add(1, 2), CallError, "Probe.add(x: u256) takes 1 argument, found 2"),
    (lambda p: p.add(-1), CallError, "Probe.add(x: u256): argument 'x' must not be negative, found -1"),
    (lambda p: p.add(2**256), CallError, "Probe.add(x: u256): argument 'x' exceeds 2^256-1"),
    (lambda p: p.add(True), CallError, "Probe.add(x: u256): argument 'x' must be an integer, not a boolean"),
    (lambda p: p.add(1.5), CallError, "Probe.add(x: u256): argument 'x' must be an integer, found the float 1.5"),
    (lambda p: p.add("ten"), CallError, "Probe.add(x: u256): argument 'x' must be an integer, found 'ten'"),
    (lambda p: p.mark(1), CallError, "Probe.mark(flag: bool): argument 'flag' must be true or false, found 1"),
    (lambda p: p.pick([1, 2, 3, 4], 0), CallError,
     "Probe.pick(xs: array<u256, 3>, i: u256): argument 'xs' has 4 elements; its type array<u256, 3> allows at most 3"),
    (lambda p: p.pick([1, -2], 0), CallError,
     "Probe.pick(xs: array<u256, 3>, i: u256): argument 'xs'[1] must not be negative, found -2"),
    (lambda p: p.me(sender="alice"), CallError,
     ("Probe.me is a view: it runs without a transaction, so it takes no sender (to run it as one sender would, "
     "use me.call(..., sender=...))")),
    (lambda p: p.add(1, sender=5.0), CallError, "sender must be an address (a name or 0x hex), found the float 5.0"),
    (lambda p: p.add(1, sender="0x"), CallError, "sender is not an address: '0x' (0x and at most 40 hex digits)"),
])
def test_a_call_that_cannot_be_made_says_which_function_and_parameter(chain, here, call, error, message):
    probe = chain.deploy("probe.lane")
    before = (chain.number, chain.state_root)
    with pytest.raises(error) as info:
        call(probe)
    assert str(info.value) == message
    assert isinstance(info.value, TypeError) and isinstance(info.value, LaneError)
    assert (chain.number, chain.state_root) == before  # nothing ran
    assert not hasattr(probe, "nope")


def test_a_handle_of_another_contract_type_is_refused(chain, token):
    other = chain.deploy("token.lane", 1)
    pool = chain.deploy("amm.lane", token, other, contract="Pool")
    with pytest.raises(CallError, match=re.escape("argument 't1' must be a Token, found a Pool (pool_1)")):
        chain.deploy("amm.lane", token, pool, contract="Pool")
    with pytest.raises(CallError, match=re.escape("argument 'amount' must be an integer, found an address")):
        token.transfer(other, chain.account("bob"))


def test_a_contract_value_comes_back_as_its_handle(chain, token, here):
    (here / "reg.lane").write_text('import "token.lane";\ncontract Reg {\n    storage t: Token;\n'
                                   '    init(x: Token) { t = x; }\n    pub view fn token() -> Token { return t; }\n'
                                   '    pub view fn other() -> Token { return Token(address(7)); }\n}\n')
    reg = chain.deploy("reg.lane", token)
    assert reg.token() is token
    assert type(reg.other()) is Address and reg.other() == 7 and reg.other().name is None


def test_addresses_come_back_with_their_names(chain, token):
    other = chain.deploy("token.lane", 1)
    pool = chain.deploy("amm.lane", token, other, contract="Pool")
    alice = chain.account("alice")
    token.approve(pool, 10**6, sender=alice)
    assert token.allowance(alice, pool) == 10**6
    (event,) = chain.last_events
    assert event.spender == pool and event.spender.name == "pool_1" and event.holder.name == "alice"
    assert chain.last_events == [("Approval", alice, pool, 10**6)]
    assert repr(pool) == f"<Pool pool_1 at 0x{int(pool):040x}>"


# ---------------------------------------------------------------- reverts and where they happen

@pytest.mark.parametrize("x", [0, 6, 7, 700, 2**255 + 3, 2**256 - 1])
def test_a_constant_divisor_divides_as_any_other(chain, x):
    """``x / 7`` and ``x % 7`` compile without the division-by-zero check (the divisor cannot be zero)."""
    probe = chain.deploy("probe.lane")
    if x // 7 * 10 + x % 7 >= 2**256:
        with pytest.raises(Reverted, match="overflow"):
            probe.split(x)
    else:
        assert probe.split(x) == x // 7 * 10 + x % 7


@pytest.mark.parametrize("call, reason, at", [
    (lambda p: p.add(2**256 - 1), "arithmetic overflow", "probe.lane:7:15"),
    (lambda p: p.halve(0), "division by zero", "probe.lane:12:22"),
    (lambda p: p.pick([1, 2], 2), "index out of range", "probe.lane:16:16"),
    (lambda p: p.fail(), "no", "probe.lane:33:9"),
    (lambda p: p.spin(1000), "cost limit exceeded", "probe.lane:21:9"),
])
def test_a_revert_carries_its_reason_and_its_source_location(here, call, reason, at):
    with Chain(cost_limit=500) as chain:
        probe = chain.deploy("probe.lane")
        probe.add(1)
        before = chain.state_root
        with pytest.raises(Reverted) as info:
            call(probe)
        assert (info.value.reason, info.value.at) == (reason, at)
        assert (chain.last_receipt.status, chain.last_receipt.reason, chain.last_receipt.at) == ("reverted", reason, at)
        assert chain.state_root == before


def test_a_revert_shows_the_line_it_came_from(chain, token):
    with pytest.raises(Reverted) as info:
        token.transfer(chain.account("alice"), 10**9, sender=chain.account("bob"))
    assert str(info.value) == (
        "Token.transfer reverted: insufficient balance\n"
        "  --> token.lane:35:9\n"
        "   |\n"
        '35 |         require(balances[msg.sender] >= amount, "insufficient balance");\n'
        "   |         ^")
    assert info.value.receipt.status == "reverted" and info.value.receipt.cost == 23  # charged on entry


def test_reverts_passes_on_the_expected_reason_and_place(chain, token):
    bob = chain.account("bob")
    with chain.reverts("insufficient balance") as r:
        token.transfer(bob, 10**9, sender=bob)
    assert (r.reason, r.at) == ("insufficient balance", "token.lane:35:9")
    with chain.reverts(re.compile("insufficient"), at="token.lane:35"):
        token.transfer(bob, 10**9, sender=bob)
    with chain.reverts(at="token.lane:35:9"):
        token.transfer(bob, 10**9, sender=bob)
    with chain.reverts():
        token.transfer(bob, 10**9, sender=bob)


def test_reverts_fails_with_what_was_expected_and_what_happened(chain, token):
    alice, bob = chain.account("alice"), chain.account("bob")
    with pytest.raises(AssertionError) as info:
        with chain.reverts("only owner"):
            token.transfer(alice, 10**9, sender=bob)
    assert str(info.value) == (
        "expected a revert with reason 'only owner', but Token.transfer reverted with reason 'insufficient balance'\n"
        "  --> token.lane:35:9\n"
        "   |\n"
        '35 |         require(balances[msg.sender] >= amount, "insufficient balance");\n'
        "   |         ^")
    with pytest.raises(AssertionError) as info:
        with chain.reverts("insufficient balance"):
            token.transfer(bob, 1, sender=alice)
    assert str(info.value) == ("expected a revert with reason 'insufficient balance', but Token.transfer(bob, 1) "
                               "returned True without reverting")
    with pytest.raises(AssertionError, match=r"^expected a revert at token.lane:36, but Token.transfer reverted"):
        with chain.reverts(at="token.lane:36"):
            token.transfer(alice, 10**9, sender=bob)
    with pytest.raises(AssertionError, match=r"^expected a revert, but nothing reverted \(no call ran\)$"):
        with chain.reverts():
            pass
    with pytest.raises(CallError):  # a call that cannot be made is not a revert
        with chain.reverts():
            token.transfer(alice)


# ---------------------------------------------------------------- snapshots

def test_restore_undoes_writes_deployments_time_and_names(chain, token):
    alice, bob = chain.account("alice"), chain.account("bob")
    snap = chain.snapshot()
    root, number = chain.state_root, chain.number
    token.transfer(bob, 10, sender=alice)
    later = chain.deploy("token.lane", 7)
    assert later.address.name == "token_2"
    inner = chain.snapshot()
    token.transfer(bob, 10, sender=alice)
    chain.restore(snap)
    assert (chain.state_root, chain.number, token.balance_of(bob)) == (root, number, 0)
    assert list(chain.contracts) == ["token_1"] and chain.last_receipt is None
    with pytest.raises(CallError, match="not a snapshot of this chain, or one dropped"):
        chain.restore(inner)
    assert chain.deploy("token.lane", 7).address.name == "token_2"
    token.transfer(bob, 3, sender=alice)
    chain.restore(snap)  # a snapshot can be restored again
    assert chain.state_root == root and token.balance_of(bob) == 0


def test_restore_undoes_a_block_of_several_transactions(chain, token):
    alice, bob, carol = chain.account("alice"), chain.account("bob"), chain.account("carol")
    snap = chain.snapshot()
    root = chain.state_root
    chain.run_block([token.transfer.tx(bob, 5, sender=alice), token.transfer.tx(carol, 7, sender=alice),
                     token.transfer.tx(carol, 1, sender=bob)])
    assert (token.balance_of(bob), token.balance_of(carol)) == (4, 8)
    chain.restore(snap)
    assert (token.balance_of(bob), token.balance_of(carol)) == (0, 0)
    assert chain.state_root == root


def forced_lanes(chain: Chain):
    """The chain's parallel executor, made to run every block on two lanes (what its model would
    run inline too)."""
    from compiler.runtime import parallel

    runtime = chain._runtime_chain()
    runtime._parallel = executor = parallel.ParallelExecutor(runtime, 2, force=True)
    return executor


@pytest.mark.parametrize("state", [None, "chain.sqlite"])
@pytest.mark.parametrize("inline", [set(), {0, 2, 5}, {1, 3}])
def test_a_block_on_lanes_is_read_and_restored_like_any_other(here, inline, state):
    """A block the parallel executor ran on lanes (its writes deferred by the runtime; some windows
    run by the parent itself, on its state) is what views read next, and restore undoes it (in
    memory, or on a state file, whose keys the parent never read stay unread)."""
    with Chain(state=state) as chain:
        token = chain.deploy("token.lane", 10**9, sender="alice")
        for k in range(8):
            token.transfer(f"u{k}", 1000, sender="alice")
        snap, root = chain.snapshot(), chain.state_root
        executor = forced_lanes(chain)
        executor.force_window, executor.force_inline = 8, inline
        block = chain.run_block([token.transfer.tx(f"z{k % 5}", 1, sender=f"u{k % 8}") for k in range(64)],
                                executor="parallel", workers=2)
        assert block.result.detail["mode"] == "parallel"
        assert block.result.detail["inline_windows"] == len(inline)
        assert [token.balance_of(f"z{k}") for k in range(5)] == [13, 13, 13, 13, 12]
        assert token.balance_of("u0") == 992 and chain.state_root == block.state_root
        chain.restore(snap)
        assert [token.balance_of(f"z{k}") for k in range(5)] == [0] * 5 and token.balance_of("u0") == 1000
        assert chain.state_root == root


def test_lanes_follow_what_changed_the_state_between_their_blocks(here):
    """The replicas of the parallel executor hold the state as its last block left it: a transaction,
    a restore or a block another executor ran since must not be missed by the next block on lanes
    (each makes the executor fork its workers again from the state as it is)."""
    def blocks(executor: str) -> list:
        with Chain() as chain:
            token = chain.deploy("token.lane", 10**9, sender="alice")
            for k in range(8):
                token.transfer(f"u{k}", 1000, sender="alice")
            if executor == "parallel":
                forced_lanes(chain)

            def block(k: int, executor: str = executor):
                calls = [token.transfer.tx(f"z{j % 5}", 1 + k, sender=f"u{j % 8}") for j in range(40)]
                run = chain.run_block(calls, executor=executor, workers=2)
                assert executor != "parallel" or run.result.detail["mode"] == "parallel"
                return run.state_root, [token.balance_of(f"z{j}") for j in range(5)]

            out = [block(0)]
            token.transfer("z1", 7, sender="alice")  # a transaction between two blocks on lanes
            out.append(block(1))
            snap = chain.snapshot()
            out.append(block(2))
            chain.restore(snap)  # back to before block 2
            out.append(block(3))
            out.append(block(4, "sequential"))  # a block the lanes did not run
            out.append(block(5))
            return out

    assert blocks("parallel") == blocks("sequential")


def test_lanes_on_a_state_file_opened_again_read_it_through_their_own_connections(here):
    """A chain opened again on its state file reads what it has not loaded from the file: the lanes'
    workers, forked from it, too; the file is closed while they are forked (a SQLite file open across
    a fork left a worker without an answer, and the parent ran the block alone)."""
    with Chain(state="chain.sqlite") as chain:
        token = chain.deploy("token.lane", 10**9, sender="alice")
        for k in range(8):
            token.transfer(f"u{k}", 1000, sender="alice")
    results = []
    for executor in ("parallel", "sequential"):
        shutil.copy(here / "chain.sqlite", here / f"{executor}.sqlite")
        shutil.copy(here / "chain.world.toml", here / f"{executor}.world.toml")
        with Chain(state=f"{executor}.sqlite") as chain:
            token = chain.contract("token_1")
            if executor == "parallel":
                forced_lanes(chain)
            run = chain.run_block([token.transfer.tx(f"z{k % 5}", 3, sender=f"u{k % 8}") for k in range(64)],
                                  executor=executor, workers=2)
            if executor == "parallel":
                assert run.result.detail["mode"] == "parallel" and run.result.detail["failed_lanes"] == 0
            results.append((run.state_root, [token.balance_of(f"u{k}") for k in range(8)]))
    assert results[0] == results[1]


def test_a_contract_taken_away_by_a_restore_cannot_be_called(here):
    # Its handle outlives it: a call, a view or a block naming it is an error, and nothing runs.
    with Chain() as chain:
        live = chain.deploy("token.lane", 1000, sender="alice")
        snap = chain.snapshot()
        gone = chain.deploy("token.lane", 1000, sender="alice")
        call = gone.transfer.tx("bob", 1, sender="alice")
        chain.restore(snap)
        number, root = chain.number, chain.state_root
        message = "token_2 (Token) is not deployed any more: a restore went back to before its deployment"
        for what in (lambda: gone.transfer("bob", 1, sender="alice"), lambda: gone.balance_of("bob"),
                     lambda: gone.transfer.tx("bob", 1, sender="alice"),
                     lambda: chain.run_block([live.transfer.tx("bob", 7, sender="alice"), call])):
            with pytest.raises(CallError, match=re.escape(message)):
                what()
        assert (chain.number, chain.state_root, live.balance_of("bob")) == (number, root, 0)


def test_a_closed_chain_on_a_state_file_refuses_what_it_would_lose(here):
    chain = Chain(state="chain.sqlite")
    token = chain.deploy("token.lane", 1000, sender="alice")
    token.transfer("bob", 5, sender="alice")
    chain.close()
    for what in (lambda: token.transfer("bob", 7, sender="alice"), lambda: chain.deploy("token.lane", 5),
                 lambda: chain.run_block([token.transfer.tx("bob", 1, sender="alice")]), chain.commit):
        with pytest.raises(CallError, match="this chain was closed: its state file .*chain.sqlite keeps nothing"):
            what()
    assert token.balance_of("bob") == 5  # (views read what the chain holds)
    with Chain(state="chain.sqlite") as again:
        assert again.contract("token_1").balance_of("bob") == 5


def test_what_a_restore_took_away_is_said_not_a_traceback(here):
    with Chain() as chain:
        token = chain.deploy("token.lane", 1000, sender="alice")
        snap = chain.snapshot()
        with pytest.raises(AssertionError, match=r"nothing reverted \(a restore took the calls back\)"):
            with chain.reverts():
                token.transfer("bob", 1, sender="alice")
                chain.restore(snap)
        gone = chain.deploy("token.lane", 1000, sender="alice")
        gone.transfer("bob", 1, sender="alice")
        receipt = chain.last_receipt
        chain.restore(snap)
        with pytest.raises(CallError, match="emitted by a contract at 0x[0-9a-f]{40} that a restore took away"):
            receipt.events
        with pytest.raises(CallError, match=r"reverts\(at=...\) takes a place"):
            chain.reverts(at=35)
        with pytest.raises(CallError, match="a block's timestamp is a whole number, found 1000000000.0"):
            chain.run_block([token.transfer.tx("bob", 1, sender="alice")], timestamp=1e9)
        with pytest.raises(AssertionError, match="a block ran: its reverted transactions are receipts"):
            with chain.reverts():
                chain.run_block([token.transfer.tx("bob", 10**6, sender="alice")])
        with pytest.raises(CallError, match="mine takes a number of blocks"):
            chain.mine(True)


def test_a_second_chain_on_one_new_file_is_refused_without_touching_the_first_ones(here):
    a, b = Chain(state="chain.sqlite"), Chain(state="chain.sqlite")
    a.deploy("token.lane", 1, sender="alice")
    b.deploy("token.lane", 2, sender="alice")
    a.commit()
    world = (here / "chain.world.toml").read_text()
    with pytest.raises(LaneError, match="initialised by another process meanwhile; nothing was written"):
        b.commit()
    assert (here / "chain.world.toml").read_text() == world
    a.close()
    with pytest.raises(LaneError, match="initialised by another process"):
        b.close()
    with Chain(state="chain.sqlite") as again:
        assert again.contract("token_1").balance_of("alice") == 1


def test_a_state_files_world_names_sources_from_where_they_were_deployed(here, monkeypatch):
    # Deployed from one folder, committed from another (monkeypatch.chdir in a test): the world file
    # and the file's identity name the source that was deployed, and the chain opens again.
    (here / "a").mkdir()
    (here / "b").mkdir()
    shutil.copy(here / "token.lane", here / "a" / "token.lane")
    monkeypatch.chdir(here / "a")
    with Chain(state=str(here / "chain.sqlite")) as chain:
        token = chain.deploy("token.lane", 100, sender="alice")
        token.transfer("bob", 5, sender="alice")
        monkeypatch.chdir(here / "b")
    assert 'source = "a/token.lane"' in (here / "chain.world.toml").read_text()
    with Chain(state=str(here / "chain.sqlite")) as again:
        assert again.contract("token_1").balance_of("bob") == 5


def test_dask_is_not_a_test_chains_executor(chain, token):
    with pytest.raises(CallError, match="unknown executor 'dask' .*lane run --executor dask"):
        chain.run_block([token.transfer.tx("bob", 1, sender="alice")], executor="dask")
    with pytest.raises(CallError, match="workers must be a whole number of at least 1, found '2'"):
        chain.run_block([token.transfer.tx("bob", 1, sender="alice")], executor="parallel", workers="2")


def test_the_state_root_is_the_one_lane_run_computes(chain, token, here):
    alice = chain.account("alice")
    for k in range(5):
        token.transfer(chain.account(f"u{k}"), k + 1, sender=alice)
    (here / "world.toml").write_text(
        '[[deploy]]\nname = "token_1"\nsource = "token.lane"\ncontract = "Token"\nsender = "alice"\n'
        'args = [1000000]\n')
    with RuntimeChain.open(here / "world.toml") as runtime:
        result = runtime.run_block([(k + 1, {"from": "alice", "to": "token_1", "fn": "transfer",
                                            "args": [f"u{k}", k + 1]}) for k in range(5)])
        assert result.state_root == chain.state_root


# ---------------------------------------------------------------- blocks

def test_a_block_collects_calls_and_runs_them_with_receipts(chain, token):
    alice, bob = chain.account("alice"), chain.account("bob")
    number = chain.number
    with chain.block() as b:
        first = token.transfer(bob, 5, sender=alice)
        token.transfer(alice, 10**9, sender=bob)
        token.balance_of(bob)
    assert [(r.status, r.reason, r.value, r.at) for r in b.receipts] == [
        ("ok", None, True, None), ("reverted", "insufficient balance", None, "token.lane:35:9"), ("ok", None, 5, None)]
    assert first.value is True and first.receipt is b.receipts[0]
    assert b.run.number == number + 1 == chain.number and len(b.run) == 3
    assert token.balance_of(bob) == 5


def test_a_block_takes_transactions_as_a_block_file_writes_them(chain, token):
    run = chain.run_block([
        token.transfer.tx("bob", 1, sender="alice"),
        {"from": "alice", "to": "token_1", "fn": "transfer", "args": ["bob", "2"]},
        {"from": "alice", "to": "token_1", "fn": "nope", "args": []},
        {"from": "alice", "to": "token_1", "fn": "transfer", "args": ["bob", -1]},
    ])
    assert [(r.status, r.reason) for r in run.receipts] == [
        ("ok", None), ("ok", None), ("invalid", "unknown function 'nope' of Token"),
        ("invalid", "argument 'amount' must not be negative, found -1")]
    assert run.result.receipts_json[0]["at"] is None
    assert chain.last_receipt.status == "invalid"


def test_the_parallel_executor_gives_the_sequential_result(here):
    def run(executor: str) -> tuple:
        with Chain() as chain:
            token = chain.deploy("token.lane", 10**9, sender="alice")
            for k in range(8):
                token.transfer(f"u{k}", 1000, sender="alice")
            calls = [token.transfer.tx(f"u{(k * 3) % 8}", k % 7, sender=f"u{k % 8}") for k in range(64)]
            calls.append(token.transfer.tx("u1", 10**6, sender="u2"))
            calls.append({"from": "u1", "to": "token_1", "fn": "nope", "args": []})
            block = chain.run_block(calls, executor=executor, workers=2, verify=executor == "parallel")
            return block.state_root, block.receipts_root, [(r.status, r.reason, r.at) for r in block.receipts]

    assert run("parallel") == run("sequential")


def test_schedule_gives_the_dag_of_the_calls(chain, token):
    calls = [token.transfer.tx("bob", 1, sender="alice"), token.transfer.tx("carol", 1, sender="dave"),
             token.transfer.tx("erin", 1, sender="bob")]
    schedule = chain.schedule(calls)
    assert schedule.stats()["transactions"] == 3 and schedule.stats()["edges"] == 1


def test_blocks_do_not_nest_and_a_call_of_another_chain_is_refused(chain, token):
    with pytest.raises(CallError, match="blocks do not nest"):
        with chain.block():
            with chain.block():
                pass
    with Chain() as other:
        foreign = other.deploy("token.lane", 1)
        with pytest.raises(CallError, match="belongs to another chain"):
            chain.run_block([foreign.transfer.tx("bob", 1)])


# ---------------------------------------------------------------- receipts of lane run

def test_receipts_say_where_a_revert_happened_but_the_root_ignores_it(tmp_path):
    def run(folder: Path, prefix: str) -> tuple:
        folder.mkdir()
        (folder / "token.lane").write_text(prefix + (EXAMPLES / "token.lane").read_text())
        (folder / "world.toml").write_text('[[deploy]]\nname = "t"\nsource = "token.lane"\ncontract = "Token"\n'
                                           'sender = "alice"\nargs = [100]\n')
        with RuntimeChain.open(folder / "world.toml") as runtime:
            result = runtime.run_block([(1, {"from": "bob", "to": "t", "fn": "transfer", "args": ["alice", 5]})])
            return result.receipts_root, result.receipts_json[0]["at"]

    root, at = run(tmp_path / "a", "")
    moved_root, moved_at = run(tmp_path / "b", "\n\n// reformatted\n")
    assert at == f"{tmp_path / 'a' / 'token.lane'}:35:9" and moved_at == f"{tmp_path / 'b' / 'token.lane'}:38:9"
    assert root == moved_root


# ---------------------------------------------------------------- a chain in a state file

def test_a_chain_in_a_state_file_is_opened_again_and_lane_reads_it(here):
    with Chain(state="chain.sqlite") as chain:
        token = chain.deploy("token.lane", 1_000, sender="alice")
        token.transfer("bob", 10, sender="alice")
        snap = chain.snapshot()
        token.transfer("bob", 5, sender="alice")
        chain.restore(snap)
        root, number = chain.state_root, chain.number
    assert (here / "chain.world.toml").is_file()
    with Chain(state="chain.sqlite") as chain:
        token = chain.contract("token_1")
        assert (chain.state_root, chain.number, token.balance_of("bob")) == (root, number, 10)
        before = chain.snapshot()
        token.transfer("bob", 1, sender="alice")
        chain.commit()
        with pytest.raises(LaneError, match="^the contracts of state file chain.sqlite were fixed by its first commit"):
            chain.deploy("token.lane", 5)
        with pytest.raises(LaneError, match="^the snapshot was taken before the last commit to chain.sqlite"):
            chain.restore(before)
    # The runtime's chain (lane run, lane call) reads the same file through the world file beside it.
    with RuntimeChain.open(here / "chain.world.toml", here / "chain.sqlite") as runtime:
        result = runtime.run_block([(1, {"from": "alice", "to": "token_1", "fn": "transfer", "args": ["bob", 3]})])
        assert result.receipts_json[0]["status"] == "ok"
    with Chain(state="chain.sqlite") as chain:
        assert chain.contract("token_1").balance_of("bob") == 14 and chain.state_root == result.state_root


def test_an_address_pickles_with_its_name_and_holds_only_addresses():
    import pickle

    alice = Address(derive_address("alice"), "alice")
    again = pickle.loads(pickle.dumps(alice))
    assert (again, again.name, type(again.plain)) == (alice, "alice", int)
    with pytest.raises(ValueError, match=r"an address is 0 \.\. 2\^160-1"):
        Address(2**160)


def test_names_that_cannot_be_accounts_or_deployments_inside_a_block_are_refused(chain):
    with pytest.raises(LaneError, match=r"^'no way' is not a name"):
        chain.account("no way")
    with pytest.raises(CallError, match="^a deployment is not a transaction of a block"):
        with chain.block():
            chain.deploy("token.lane", 1)
