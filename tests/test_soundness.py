"""The soundness checker (SPEC §2.5): every access a transaction makes lies in its instantiated summary.

``Chain.run_block(..., check_accesses=True)`` runs the block on traced code and
raises :class:`SoundnessError` on any access outside the summary.  It passes on
the demo blocks, it fails loudly when a summary is made to miss an access, and
random blocks over every example contract never escape their summaries and
give the same state and receipts as an unchecked run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.analysis.summary import ADD, WRITE, Summary
from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain
from compiler.runtime.soundness import SoundnessError
from compiler.semantics import types as T
from runtime_helpers import fork_chain, raw_block
from fuzzing import examples

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
WORLD = DEMO / "world.toml"
BLOCKS = [(DEMO / "block1.jsonl", 1), (DEMO / "block2.jsonl", 2), (DEMO / "block3.jsonl", 600)]



# ------------------------------------------------------------------ demo blocks


def test_demo_blocks_pass_the_checker_and_match_an_unchecked_run():
    checked, plain = Chain.open(WORLD), Chain.open(WORLD)
    for path, number in BLOCKS:
        raw = read_block(path)
        a = checked.run_block(raw, number=number, check_accesses=True)
        b = plain.run_block(raw, number=number)
        assert a.state_root == b.state_root
        assert a.receipts_root == b.receipts_root
        assert a.receipts_json == b.receipts_json
    # The demo's own story (examples/demo/README.md): block 3 has 10 ok, 4 reverted, 1 invalid.
    assert a.counts() == {"ok": 10, "reverted": 4, "invalid": 1}


# ------------------------------------------------------------------ failing loudly


def _without(summary: Summary, var: str, modes: tuple[str, ...]) -> Summary:
    kept = [a for a in summary.accesses if not (a.var == var and a.mode in modes)]
    assert len(kept) < len(summary.accesses)
    return Summary(summary.function, kept, summary.cost)


# ``balances[msg.sender] -= amount`` is traced as an update ("add") that the summary's write covers.
@pytest.mark.parametrize("modes, escaped", [((WRITE,), "add of Token.balances["),
                                            ((ADD,), "add of Token.balances[")])
def test_a_summary_missing_an_access_fails_loudly(monkeypatch, modes, escaped):
    chain = Chain.open(WORLD)
    data = chain.world.instances["usdc"].data
    monkeypatch.setitem(data.summaries, "Token.transfer", _without(data.summaries["Token.transfer"], "balances", modes))
    raw = raw_block([{"from": "admin", "to": "usdc", "fn": "transfer", "args": ["alice", 5]}])
    with pytest.raises(SoundnessError) as info:
        chain.run_block(raw, number=1, check_accesses=True)
    message = str(info.value)
    assert escaped in message
    assert "Token.transfer" in message
    assert "transaction #0" in message
    assert "bug in Lane's access analysis" in message


def test_a_missing_access_in_a_cross_contract_callee_is_caught(monkeypatch):
    """Pool.swap's summary folds in Token.transfer_from; dropping those writes must be caught."""
    chain = Chain.open(WORLD)
    chain.run_block(read_block(BLOCKS[0][0]), number=1)
    data = chain.world.instances["weth_usdc"].data
    swap = data.summaries["Pool.swap"]
    kept = [a for a in swap.accesses if not (a.contract == "Token" and a.var == "allowances")]
    monkeypatch.setitem(data.summaries, "Pool.swap", Summary(swap.function, kept, swap.cost))
    raw = raw_block([{"from": "alice", "to": "weth_usdc", "fn": "swap", "args": ["weth", 1, 0]}])
    with pytest.raises(SoundnessError, match=r"of Token\.allowances"):
        chain.run_block(raw, number=2, check_accesses=True)


def test_a_reverted_transaction_is_still_checked(monkeypatch):
    """Accesses made before a revert count: the checker does not only look at successful calls."""
    chain = Chain.open(WORLD)
    data = chain.world.instances["usdc"].data
    monkeypatch.setitem(data.summaries, "Token.transfer",
                        _without(data.summaries["Token.transfer"], "balances", ("read", WRITE)))
    # bob has nothing: the require reads balances[bob] and reverts.
    raw = raw_block([{"from": "bob", "to": "usdc", "fn": "transfer", "args": ["alice", 5]}])
    with pytest.raises(SoundnessError, match=r"read of Token\.balances"):
        chain.run_block(raw, number=1, check_accesses=True)


def test_an_unchecked_run_ignores_a_broken_summary(monkeypatch):
    chain = Chain.open(WORLD)
    data = chain.world.instances["usdc"].data
    monkeypatch.setitem(data.summaries, "Token.transfer", Summary(data.summaries["Token.transfer"].function, [], 0))
    raw = raw_block([{"from": "admin", "to": "usdc", "fn": "transfer", "args": ["alice", 5]}])
    assert chain.run_block(raw, number=1).counts()["ok"] == 1


def test_a_dynamic_key_read_through_a_bad_call_target_is_no_crash(tmp_path):
    """A key read from a contract argument that is not a contract (or another type) reverts at run time;
    the checker must not crash resolving the key (it falls back to a wildcard)."""
    (tmp_path / "token.lane").write_text((REPO / "examples" / "token.lane").read_text())
    (tmp_path / "reader.lane").write_text(
        'import "token.lane";\n'
        "contract Reader {\n"
        "    storage seen: map<u256, u256>;\n"
        "    pub fn look(t: Token) { seen[t.balance_of(msg.sender)] = 1; }\n"
        "}\n")
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "tok"\nsource = "token.lane"\ncontract = "Token"\nsender = "alice"\nargs = [1000]\n'
        '[[deploy]]\nname = "rd"\nsource = "reader.lane"\ncontract = "Reader"\nsender = "alice"\n')
    raw = raw_block([{"from": "alice", "to": "rd", "fn": "look", "args": [t]} for t in ("tok", "bob", "rd")])
    result = Chain.open(tmp_path / "world.toml").run_block(raw, number=1, check_accesses=True)
    assert [(r["status"], r["reason"]) for r in result.receipts_json] == [
        ("ok", None), ("reverted", "bad call target"), ("reverted", "bad call target")]


def test_an_add_whose_alias_names_a_loop_that_runs_no_time_stays_an_add(tmp_path):
    """``m[0] += 1`` then a loop reading ``m[i]``: the add aliases a read when some ``i`` is 0.  The
    loop's index is the alias's only: a loop that runs no time aliases nothing (the add stays,
    as an add), one that runs makes it a read and a write.  The checker's instantiation once
    enumerated the alias's loop as the add's own, and lost the add when it ran no time."""
    from compiler.schedule.instantiate import instantiate

    (tmp_path / "c.lane").write_text(
        "contract Alpha {\n"
        "    storage m: map<u256, u256>;\n"
        "    pub fn f(n: u256) { m[0] += 1; for i in 0..min(n, 3) { let x = m[i]; } }\n"
        "}\n")
    (tmp_path / "world.toml").write_text('[[deploy]]\nname = "a0"\nsource = "c.lane"\ncontract = "Alpha"\n')
    chain = Chain.open(tmp_path / "world.toml")
    inst = chain.world.instances["a0"]
    summary = inst.data.summaries["Alpha.f"]
    modes = [sorted(mode for loc, mode in instantiate(summary, 1, inst.address, [n]) if loc.key == 0) for n in (0, 1)]
    assert modes == [["add"], ["read", "read", "write"]]
    raw = raw_block([{"from": "alice", "to": "a0", "fn": "f", "args": [n]} for n in (0, 1, 5)])
    result = chain.run_block(raw, number=1, check_accesses=True)
    assert [r["status"] for r in result.receipts_json] == ["ok"] * 3


def keyed_by_a_callee(tmp_path, callee: str, caller: str) -> Path:
    """A world of ``b0``, a Beta with the function ``callee`` (source), and ``a0``, an Alpha whose
    ``caller`` (source) reaches it through ``other`` and keeps ``m: map<u256, u256>``."""
    (tmp_path / "c.lane").write_text(
        f"contract Beta {{\n{callee}\n}}\n"
        "contract Alpha {\n"
        "    storage m: map<u256, u256>;\n"
        "    storage other: Beta;\n"
        "    init(o: Beta) { other = o; }\n"
        f"{caller}\n"
        "}\n")
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "b0"\nsource = "c.lane"\ncontract = "Beta"\n\n'
        '[[deploy]]\nname = "a0"\nsource = "c.lane"\ncontract = "Alpha"\nargs = ["b0"]\n')
    return tmp_path / "world.toml"


def dead_loop_statuses(tmp_path, condition: str) -> list[str]:
    """``Alpha.f`` keys its add by what ``Beta.g`` returns, ``g`` merging a loop that runs no round
    (``if (condition) { return 3; }`` inside it) with its ``return p``: each call's status, the
    block run with the soundness checker on."""
    world = keyed_by_a_callee(
        tmp_path,
        "    pub view fn g(p: u256) -> u256 {\n"
        f"        for i in 0..0 {{ if ({condition}) {{ return 3; }} }}\n"
        "        return p;\n"
        "    }",
        "    pub fn f(p: u256) { m[other.g(p) + 1] -= 0; }")
    raw = raw_block([{"from": "alice", "to": "a0", "fn": "f", "args": [p]} for p in (0, 5)])
    result = Chain.open(world).run_block(raw, number=1, check_accesses=True)
    return [r["status"] for r in result.receipts_json]


def test_a_choice_whose_condition_cannot_be_computed_is_unknown(tmp_path):
    """A callee's return merged over a loop that runs no round: the summary's choice has a condition
    (``2 / 0 > p``) that only that round would compute.  Computing it fails (a division by zero),
    which once dropped the access keyed by the choice as if the transaction reverted before it;
    the choice is unknown instead, and the key a wildcard (found by tests/contract_gen.py)."""
    assert dead_loop_statuses(tmp_path, "(2 / 0) > p") == ["ok", "ok"]


def test_a_loop_index_that_escapes_through_a_return_value_keeps_the_access(tmp_path):
    """As above, with the dead loop's condition reading the loop's own index (found by generated contracts).
    The return's condition named the callee's loop index outside its loop; the caller's access, keyed
    by the merged value, was enumerated over that loop's rounds (none) and dropped.  A return inside
    a loop now leaves out what names the index, and its value is unknown."""
    assert dead_loop_statuses(tmp_path, "(2 / 0) > i") == ["ok", "ok"]


def test_a_search_loops_return_value_keys_its_callers_access_exactly(tmp_path):
    """A callee returning from inside a loop (``return i`` at the round whose condition holds, else
    ``9`` after it): the caller's access keyed by what it returns is enumerated over the loop's
    rounds, each taken only if it was a real round whose condition held, so its keys are the ones the
    call may return (not a wildcard), and a loop of no round gives the return after it."""
    from compiler.schedule.instantiate import instantiate

    chain = Chain.open(keyed_by_a_callee(
        tmp_path,
        "    pub view fn find(p: u256, n: u256) -> u256 {\n"
        "        for i in 0..min(n, 4) { if (p == i * 2) { return i; } }\n"
        "        return 9;\n"
        "    }",
        "    pub fn f(p: u256, n: u256) { m[other.find(p, n)] += 1; }"))
    inst = chain.world.instances["a0"]
    summary = inst.data.summaries["Alpha.f"]
    calls = [(4, 4), (5, 4), (4, 0), (6, 3)]
    keys = [sorted({loc.key for loc, _ in instantiate(summary, 1, inst.address, list(args)) if loc.var == "m"},
                   key=str) for args in calls]
    assert keys == [[2, 9], [9], [9], [9]]
    raw = raw_block([{"from": "alice", "to": "a0", "fn": "f", "args": list(args)} for args in calls])
    result = chain.run_block(raw, number=1, check_accesses=True)
    assert [r["status"] for r in result.receipts_json] == ["ok"] * 4


def test_a_compound_assignment_whose_right_side_reverts_writes_nothing(tmp_path):
    """``m[3] op= other.g()`` (or an internal ``h()``) that always reverts: the location is read, never written
    nor added to (the summary keeps the read only).  Traced code once recorded the write before
    evaluating the right-hand side, and the checker saw an access outside the summary."""
    (tmp_path / "c.lane").write_text(
        "contract Beta { pub fn g() -> u256 { revert(\"denied\"); } }\n"
        "contract Alpha {\n"
        "    storage m: map<u256, u256>;\n"
        "    storage other: Beta;\n"
        "    init(o: Beta) { other = o; }\n"
        "    pub fn div() { m[3] /= other.g(); }\n"
        "    pub fn add() { m[3] += other.g(); }\n"
        "    pub fn mul() { m[3] *= other.g(); }\n"
        "    fn h() -> u256 { revert(\"denied\"); }\n"
        "    pub fn inner() { m[3] += h(); }\n"
        "}\n")
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "b"\nsource = "c.lane"\ncontract = "Beta"\n'
        '[[deploy]]\nname = "a"\nsource = "c.lane"\ncontract = "Alpha"\nargs = ["b"]\n')
    raw = raw_block([{"from": "alice", "to": "a", "fn": fn, "args": []} for fn in ("div", "add", "mul", "inner")])
    result = Chain.open(tmp_path / "world.toml").run_block(raw, number=1, check_accesses=True)
    assert [(r["status"], r["reason"]) for r in result.receipts_json] == [("reverted", "denied")] * 4


# ------------------------------------------------------------------ property

USERS = ["admin", "alice", "bob", "carol", "dave", "erin", "frank"]
NUMBERS = [0, 1, 2, 3, 7, 10, 100, 1_000, 3_600, 50_000, 1_000_000, 10**18, 2**256 - 1]


@pytest.fixture(scope="module")
def prefixes():
    """Chains after block 1 (every user funded) and after block 2 (loans, NFTs, proposals, deals open)."""
    chain = Chain.open(WORLD)
    chain.run_block(read_block(BLOCKS[0][0]), number=1)
    after1 = fork_chain(chain)
    chain.run_block(read_block(BLOCKS[1][0]), number=2)
    return {"block1": after1, "block2": chain}


def _world_functions():
    world = Chain.open(WORLD).world
    functions = [(name, fn.name, tuple(p.type for p in fn.params))
                 for name, inst in world.instances.items() for fn in inst.contract.pub_functions]
    internal = [(name, fn.name) for name, inst in world.instances.items()
                for fn in inst.contract.functions.values() if not fn.is_pub]
    by_type: dict[str, list[str]] = {}
    for name, inst in world.instances.items():
        by_type.setdefault(inst.contract.name, []).append(name)
    return world, functions, internal, by_type


_WORLD, FUNCTIONS, INTERNAL, BY_TYPE = _world_functions()
INSTANCES = sorted(_WORLD.instances)
ADDRESS_POOL = USERS + INSTANCES + ["0x0000000000000000000000000000000000000000"]
SMALL = st.integers(0, 12)


def _value(ty, length: int) -> st.SearchStrategy:
    """Values that collide often: a few names, small numbers, and now and then an extreme one."""
    if ty is T.U256:
        return st.one_of(SMALL, SMALL, st.sampled_from(NUMBERS), st.sampled_from([str(n) for n in NUMBERS]))
    if ty is T.BOOL:
        return st.booleans()
    if ty is T.ADDRESS:
        return st.sampled_from(ADDRESS_POOL)
    if isinstance(ty, T.ContractType):
        # Mostly an instance of the right type; sometimes another instance or a user (a bad call target).
        return st.one_of(st.sampled_from(BY_TYPE[ty.name]), st.sampled_from(BY_TYPE[ty.name]),
                         st.sampled_from(INSTANCES), st.sampled_from(USERS))
    if isinstance(ty, T.ArrayType):
        return st.lists(_value(ty.elem, 0), min_size=length, max_size=length)
    raise AssertionError(ty)  # pragma: no cover


@st.composite
def _valid_tx(draw):
    to, fn, types = draw(st.sampled_from(FUNCTIONS))
    # Arrays of one call mostly share a length (Splitter and PriceOracle want equal lengths).
    length = draw(st.integers(0, 4))
    args = [draw(_value(t, length if draw(st.integers(0, 9)) else draw(st.integers(0, 4)))) for t in types]
    return {"from": draw(st.sampled_from(USERS)), "to": to, "fn": fn, "args": args}


@st.composite
def _invalid_tx(draw):
    tx = draw(_valid_tx())
    kind = draw(st.sampled_from(["arity", "unknown fn", "internal", "bad type", "too long", "unknown to"]))
    if kind == "arity":
        tx["args"] = tx["args"] + [1]
    elif kind == "unknown fn":
        tx["fn"] = "no_such_function"
    elif kind == "internal":
        tx["to"], tx["fn"] = draw(st.sampled_from(INTERNAL))
    elif kind == "bad type":
        tx["args"] = [[1, 2]] * len(tx["args"]) if tx["args"] else ["x"]
    elif kind == "too long":
        tx["to"], tx["fn"], tx["args"] = "oracle", "set_prices", [["usdc"] * 9, [1] * 9]
    else:
        tx["to"] = "nobody"
    return tx


@st.composite
def _block(draw):
    """1 to 40 transactions, about one in ten of them invalid."""
    n = draw(st.integers(1, 40))
    return [draw(_invalid_tx() if draw(st.integers(0, 9)) == 0 else _valid_tx()) for _ in range(n)]


@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(txs=_block(), prefix=st.sampled_from(["block1", "block2"]),
       number=st.sampled_from([3, 50, 101, 150, 600]))
def test_random_blocks_stay_inside_their_summaries(prefixes, txs, prefix, number):
    raw = raw_block(txs)
    checked = fork_chain(prefixes[prefix]).run_block(raw, number=number, check_accesses=True)
    plain = fork_chain(prefixes[prefix]).run_block(raw, number=number)
    assert checked.receipts_json == plain.receipts_json
    assert checked.receipts_root == plain.receipts_root
    assert checked.state_root == plain.state_root


def test_the_generator_reaches_every_example_contract():
    assert {_WORLD.instances[name].contract.name for name, _, _ in FUNCTIONS} == {
        "Token", "Pool", "PriceOracle", "LendingPool", "Staking", "Nft", "Dao", "Escrow", "Splitter"}
