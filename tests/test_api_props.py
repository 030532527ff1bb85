"""Properties of the testing API: random calls over the examples give, through the API, what the
same calls give as a block (the runtime's decoder and sequential executor); and so do random calls
of programs nobody wrote by hand (tests/contract_gen.py), deployed through the API.

For each call: the status (a ``Reverted`` is ``reverted``, a ``CallError`` ``invalid``), the
reason and where the revert happened, the return value, the events and the cost; after all of
them, the state root.  Two ways: every call in one block (over the contracts that do not read
``block.*``), and each call in a block of its own (over all of them, Escrow's deadlines included).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compiler import CallError, Chain, Reverted
from compiler.semantics import types as T
from fuzzing import examples
from test_random_contracts import cases

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SETTINGS = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])

PEOPLE = ["alice", "bob", "carol"]
ADDRESSES = PEOPLE + ["dave", "token_1", "pool_1", "0x0", "0xdead"]
TOKENS = ["token_1", "token_2", "bob"]   # bob is no Token: a call through it reverts
# What no call may be given (each is refused by both the API and a block).
BAD = [-1, 2**256, True, "x y", [1], None]
INSTANCES = {"token_1": "Token", "token_2": "Token", "pool_1": "Pool", "escrow_1": "Escrow", "nft_1": "Nft"}
TIMELESS = ["token_1", "token_2", "pool_1", "nft_1"]   # what reads no block.number or block.timestamp


@pytest.fixture(scope="module")
def chain():
    """The examples deployed, funded and approved, liquidity in the pool: every example starts here."""
    with Chain() as chain:
        alice = chain.account("alice")
        t0 = chain.deploy(EXAMPLES / "token.lane", 10**24, sender=alice)
        t1 = chain.deploy(EXAMPLES / "token.lane", 10**24, sender=alice)
        pool = chain.deploy(EXAMPLES / "amm.lane", t0, t1, sender=alice)
        escrow = chain.deploy(EXAMPLES / "escrow.lane", t0, "carol", sender=alice)
        nft = chain.deploy(EXAMPLES / "nft.lane", t0, sender=alice)
        for person in PEOPLE:
            for t in (t0, t1):
                if person != "alice":
                    t.transfer(person, 10**6, sender=alice)
                for spender in (pool, escrow, nft):
                    t.approve(spender, 10**30, sender=person)
        pool.add_liquidity(10**6, 10**6, sender=alice)
        nft.mint(1, 500, sender="bob")
        nft.list(1, 700, sender="bob")
        escrow.open(1, "bob", 300, 3_600, sender=alice)
        yield chain


def values(ty: T.Type):
    if ty is T.U256:
        return st.one_of(st.integers(0, 2_000), st.sampled_from([1_000_000, 10**24, 2**256 - 1, "12"]))
    if ty is T.BOOL:
        return st.booleans()
    if isinstance(ty, T.ContractType):
        return st.sampled_from(TOKENS)
    return st.sampled_from(ADDRESSES)


@st.composite
def calls(draw, chain: Chain, instances: list[str]):
    """(sender, instance, function, args): mostly well formed, sometimes not."""
    name = draw(st.sampled_from(instances))
    info = chain.world.instances[name].contract
    functions = [f for f in info.pub_functions if not (f.is_view and f.name == "deal_state")]
    kind = draw(st.sampled_from(["good"] * 12 + ["bad value", "count", "unknown"]))
    if kind == "unknown":
        return draw(st.sampled_from(PEOPLE)), name, draw(st.sampled_from(["nope", "amount_out_for", "pay_buyer"])), []
    f = draw(st.sampled_from(functions))
    args = [draw(values(p.type)) for p in f.params]
    if kind == "bad value" and args:
        args[draw(st.integers(0, len(args) - 1))] = draw(st.sampled_from(BAD))
    elif kind == "count":
        args = args + [1] if not args or draw(st.booleans()) else args[:-1]
    return draw(st.sampled_from(PEOPLE)), name, f.name, args


def through_api(chain: Chain, sender: str, name: str, fn: str, args: list, own_blocks: bool) -> tuple:
    """What the API says of one call, as (status, reason, at, value, events, cost); for a view
    (not a transaction) the cost is None and the block's receipt is compared on the rest.  With
    ``own_blocks``, a view or a refused call (neither is a transaction) lets a block pass, as the
    call's own block would."""
    number = chain.number
    try:
        return _outcome(chain, sender, name, fn, args)
    finally:
        if own_blocks and chain.number == number:
            chain.mine(1)


def _outcome(chain: Chain, sender: str, name: str, fn: str, args: list) -> tuple:
    handle = chain.contract(name)
    try:
        function = getattr(handle, fn)
        if function.is_view:
            return ("ok", None, None, function.call(*args, sender=sender), [], None)
        value = function(*args, sender=sender)
    except Reverted as err:
        cost = err.receipt.cost if err.receipt is not None else None
        return ("reverted", err.reason, err.at, None, [], cost)
    except CallError as err:
        return ("invalid", str(err), None, None, [], 0)
    receipt = chain.last_receipt
    return ("ok", None, None, value, receipt.events, receipt.cost)


def same(api: tuple, receipt) -> None:
    status, reason, at, value, events, cost = api
    assert status == receipt.status, (api, receipt)
    event(status)  # --hypothesis-show-statistics: how often each kind of outcome was compared
    if status == "invalid":
        # A value the block refuses is refused by the API with the same words, and the function named.
        if receipt.reason.startswith("argument"):
            assert reason.endswith(": " + receipt.reason), (reason, receipt.reason)
        return
    assert (reason, at, value) == (receipt.reason, receipt.at, receipt.value)
    if cost is not None:  # a transaction (a view through the API is not one)
        assert (events, cost) == (receipt.events, receipt.cost)


@SETTINGS
@given(data=st.data())
def test_calls_through_the_api_are_the_same_calls_in_one_block(chain, data):
    txs = data.draw(st.lists(calls(chain, TIMELESS), min_size=1, max_size=12))
    base = chain.snapshot()
    try:
        api = [through_api(chain, *tx, own_blocks=False) for tx in txs]
        api_root = chain.state_root
        chain.restore(base)
        block = chain.run_block([{"from": s, "to": n, "fn": f, "args": a} for s, n, f, a in txs])
        for got, receipt in zip(api, block.receipts):
            same(got, receipt)
        assert chain.state_root == api_root
    finally:
        chain.restore(base)


@SETTINGS
@given(data=st.data())
def test_calls_through_the_api_are_the_same_calls_each_in_its_own_block(chain, data):
    txs = data.draw(st.lists(calls(chain, list(INSTANCES)), min_size=1, max_size=8))
    base = chain.snapshot()
    try:
        api = [through_api(chain, *tx, own_blocks=True) for tx in txs]
        api_root, api_number = chain.state_root, chain.number
        chain.restore(base)
        for got, (s, n, f, a) in zip(api, txs):
            (receipt,) = chain.run_block([{"from": s, "to": n, "fn": f, "args": a}]).receipts
            same(got, receipt)
        assert (chain.state_root, chain.number) == (api_root, api_number)
    finally:
        chain.restore(base)


@settings(SETTINGS, max_examples=examples(15), suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_generated_programs_through_the_api_are_their_calls_in_blocks(tmp_path_factory, case):
    """A generated program deployed through the API (its files, its instances by name, each init given
    the instances the world gives it), a warm-up block, then each call through the API against the same
    call in a block of its own (its functions read ``block.*``): statuses, reasons, values, events,
    costs, and the state root after all of them.  (A view through the API sees the last block's number
    and timestamp, docs/testing.md, and its block the next ones: in a program that reads ``block.*``
    its views are compared on their state root alone.)"""
    program, world, (warm_up, txs) = case
    root = tmp_path_factory.mktemp("api")
    program.write(root)
    with Chain() as chain:
        for name, contract in world.instances.items():
            chain.deploy(root / world.source_of(name), *world.args[name], sender="alice", contract=contract.name,
                         name=name)
        chain.run_block(warm_up)
        base = chain.snapshot()
        api = [through_api(chain, tx["from"], tx["to"], tx["fn"], tx["args"], own_blocks=True) for tx in txs]
        api_root, api_number = chain.state_root, chain.number
        chain.restore(base)
        timed = "block." in program.source
        for got, tx in zip(api, txs):
            (receipt,) = chain.run_block([tx]).receipts
            if not (timed and got[5] is None):  # (a view: run without a transaction, at the last block)
                same(got, receipt)
        assert (chain.state_root, chain.number) == (api_root, api_number)
