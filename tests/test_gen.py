"""``lane gen``: deterministic workloads over the example contracts (compiler/workload.py)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from compiler.diagnostics import LaneError
from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain
from compiler.workload import GenOptions, GenResult, Zipf, generate, pool_pairs
from conftest import run_lane

FILES = ("world.toml", "setup.jsonl", "block.jsonl")


def gen(path: Path, **kw):
    return generate(path, GenOptions(**kw))


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def run_generated(result):
    """Open the generated world, run setup, then the block; returns (setup result, block result)."""
    chain = Chain.open(result.world)
    try:
        setup = chain.run_block(read_block(result.setup))
        block = chain.run_block(read_block(result.block))
    finally:
        chain.close()
    return setup, block


def block_edges(result) -> dict:
    """The DAG statistics of the generated block, scheduled on the state after setup."""
    chain = Chain.open(result.world)
    try:
        assert chain.run_block(read_block(result.setup)).counts()["ok"] == len(read_block(result.setup))
        return chain.schedule(read_block(result.block)).stats()
    finally:
        chain.close()


def kind(receipt) -> str:
    fn = receipt.tx.function
    return f"{fn.contract.name}.{fn.name}"


# ------------------------------------------------------------------ determinism

@pytest.mark.parametrize("workload", ["transfers", "swaps", "defi"])
def test_same_seed_same_bytes_other_seed_differs(tmp_path, workload):
    opts = dict(workload=workload, transactions=300, accounts=20, zipf=0.7, pools=3, hot_share=0.2)
    gen(tmp_path / "a", seed=7, **opts)
    gen(tmp_path / "b", seed=7, **opts)
    gen(tmp_path / "c", seed=8, **opts)
    a, b, c = files_of(tmp_path / "a"), files_of(tmp_path / "b"), files_of(tmp_path / "c")
    assert set(FILES) <= set(a)
    assert a == b
    assert a["block.jsonl"] != c["block.jsonl"]
    # A second run over the same folder rewrites the same bytes.
    gen(tmp_path / "a", seed=7, **opts)
    assert files_of(tmp_path / "a") == a


@pytest.mark.parametrize("workload", ["transfers", "swaps", "defi"])
def test_lines_are_canonical_json(tmp_path, workload):
    """The fast paths write exactly what json.dumps would, one transaction a line."""
    r = gen(tmp_path, workload=workload, transactions=500, accounts=10, zipf=1.2)
    lines = r.block.read_text().splitlines()
    assert len(lines) == 500
    for line in lines + r.setup.read_text().splitlines():
        assert json.dumps(json.loads(line)) == line
    if workload == "transfers":
        for line in lines:
            obj = json.loads(line)
            assert obj["from"] != obj["args"][0]          # nobody pays themselves
            assert 1 <= obj["args"][1] <= 1000


def test_output_is_self_contained_and_relocatable(tmp_path):
    r = gen(tmp_path / "out", workload="defi", transactions=50, accounts=5)
    world = r.world.read_text()
    assert str(tmp_path) not in world
    for name in ("token.lane", "amm.lane", "lending.lane", "oracle.lane", "staking.lane", "nft.lane", "dao.lane",
                 "escrow.lane", "splitter.lane"):
        assert (tmp_path / "out" / name).is_file()
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tmp_path / "out", moved)
    shutil.rmtree(tmp_path / "out")
    r2 = GenResult(r.options, moved, moved / "world.toml", moved / "setup.jsonl", moved / "block.jsonl", 0, 50, 0)
    setup, block = run_generated(r2)
    assert setup.counts()["ok"] == len(read_block(r2.setup))
    assert block.counts()["ok"] == 50


def test_transfers_world_deploys_only_a_token(tmp_path):
    r = gen(tmp_path, transactions=10, accounts=3)
    assert sorted(p.name for p in tmp_path.glob("*.lane")) == ["token.lane"]
    assert r.world.read_text().count("[[deploy]]") == 1


# ------------------------------------------------------------------ the blocks run

def test_transfers_all_ok(tmp_path):
    r = gen(tmp_path, transactions=400, accounts=30, zipf=1.0, seed=3)
    setup, block = run_generated(r)
    assert setup.counts() == {"ok": len(setup.receipts), "reverted": 0, "invalid": 0}
    assert block.counts() == {"ok": 400, "reverted": 0, "invalid": 0}
    assert r.kinds == {"Token.transfer": 400}


def test_mixed_is_light_first_heavy_after(tmp_path):
    r = gen(tmp_path, workload="mixed", transactions=301, accounts=20, seed=2)
    setup, block = run_generated(r)
    assert setup.counts()["ok"] == len(setup.receipts)
    assert block.counts() == {"ok": 301, "reverted": 0, "invalid": 0}
    kinds = [kind(x) for x in block.receipts]
    assert kinds == ["Token.transfer"] * 150 + ["Savings.accrue"] * 151
    assert r.kinds == {"Token.transfer": 150, "Savings.accrue": 151}
    # The heavy half costs several times the light half.
    costs = [x.cost for x in block.receipts]
    assert sum(costs[150:]) / 151 > 5 * sum(costs[:150]) / 150


def test_swaps_mostly_ok(tmp_path):
    r = gen(tmp_path, workload="swaps", transactions=300, accounts=40, pools=7, zipf=0.5, hot_share=0.3, seed=1)
    setup, block = run_generated(r)
    assert setup.counts()["ok"] == len(setup.receipts)
    assert block.counts()["ok"] >= 0.9 * 300
    assert {kind(x) for x in block.receipts} == {"Pool.swap"}
    # 7 pools need 5 tokens: usdc, weth, dai, gov, tok4.
    world = r.world.read_text()
    assert 'name = "pool6"' in world and 'name = "tok4"' in world and 'name = "tok5"' not in world


def test_defi_every_kind_succeeds(tmp_path):
    r = gen(tmp_path, workload="defi", transactions=1000, accounts=25, zipf=0.8, pools=3, seed=5)
    setup, block = run_generated(r)
    assert setup.counts()["ok"] == len(setup.receipts)
    generated = Counter(kind(x) for x in block.receipts)
    assert generated == Counter(r.kinds)
    ok = Counter(kind(x) for x in block.receipts if x.status == "ok")
    missing = sorted(k for k in generated if ok[k] == 0)
    assert missing == []
    assert block.counts()["ok"] >= 0.9 * 1000
    # The mix really is a mix: transfers, swaps and the other contracts.
    contracts = {k.split(".")[0] for k in generated}
    assert contracts == {"Token", "Pool", "LendingPool", "Staking", "Nft", "Dao", "Escrow", "Splitter"}
    assert len(generated) >= 15


# ------------------------------------------------------------------ contention knobs

def test_fewer_accounts_more_edges(tmp_path):
    few = block_edges(gen(tmp_path / "few", transactions=200, accounts=2, seed=0))
    many = block_edges(gen(tmp_path / "many", transactions=200, accounts=1000, seed=0))
    assert few["transactions"] == many["transactions"] == 200
    assert few["edges"] > 3 * many["edges"]
    assert few["critical_path"] == 200          # two accounts: every transfer waits for the previous one
    assert many["critical_path"] < 20


def test_hot_pool_serialises_swaps(tmp_path):
    opts = dict(workload="swaps", transactions=200, accounts=1000, pools=50, seed=0)
    hot = block_edges(gen(tmp_path / "hot", hot_share=1.0, **opts))
    cold = block_edges(gen(tmp_path / "cold", hot_share=0.0, **opts))
    assert hot["critical_path"] == 200          # every swap on pool0 conflicts with the one before
    assert hot["edges"] > 1.5 * cold["edges"]
    assert cold["critical_path"] < 50


def test_hot_share_and_zipf_shape_the_traffic(tmp_path):
    r = gen(tmp_path, workload="swaps", transactions=2000, accounts=100, pools=10, hot_share=0.5, seed=2)
    pools = Counter(json.loads(line)["to"] for line in r.block.read_text().splitlines())
    assert 0.5 < pools["pool0"] / 2000 < 0.6   # 50% + 1/10 of the rest
    r = gen(tmp_path, transactions=5000, accounts=100, zipf=1.5, seed=2)
    senders = Counter(json.loads(line)["from"] for line in r.block.read_text().splitlines())
    assert senders.most_common(1)[0][0] == "u0"
    assert senders["u0"] > 10 * max(senders["u50"], 1)


def test_zipf_draw_other_never_returns_the_excluded_rank():
    from random import Random

    for s in (0.0, 1.0, 2.0, 8.0, 500.0):
        z = Zipf(Random(1), 3, s)
        for excluded in range(3):
            draws = {z.draw_other(excluded) for _ in range(300)}
            assert excluded not in draws
            if s <= 2:
                assert len(draws) == 2


def test_pool_pairs_are_distinct():
    m, pairs = pool_pairs(10)
    assert m == 5 and len(set(pairs)) == 10 and pairs[:3] == [(0, 1), (0, 2), (1, 2)]


# ------------------------------------------------------------------ the command

def test_cli_writes_the_three_files(tmp_path):
    out = tmp_path / "w"
    p = run_lane("gen", str(out), "--workload", "swaps", "-n", "20", "-a", "5", "--pools", "2", "--seed", "4")
    assert p.returncode == 0, p.stderr
    for name in FILES:
        assert (out / name).is_file()
    assert len((out / "block.jsonl").read_text().splitlines()) == 20
    assert "20 transactions" in p.stdout and p.stdout.count("\n") == 1
    # And `lane run` accepts them, in order, on one state.
    state = tmp_path / "s.sqlite"
    for name in ("setup.jsonl", "block.jsonl"):
        p = run_lane("run", str(out / "world.toml"), str(out / name), "--state", str(state), "--json")
        assert p.returncode == 0, p.stderr
        assert all(r["status"] == "ok" for r in json.loads(p.stdout)["receipts"])


@pytest.mark.parametrize("args, message", [
    (["--accounts", "0"], "--accounts"),
    (["--accounts", "1"], "--accounts"),
    (["-n", "-5"], "--transactions"),
    (["-n", "0"], "--transactions"),
    (["--workload", "nfts"], "unknown workload"),
    (["--zipf", "-1"], "--zipf"),
    (["--hot-share", "1.5"], "--hot-share"),
    (["--pools", "0"], "--pools"),
    (["--seed", "abc"], "seed"),
])
def test_cli_bad_options(tmp_path, args, message):
    p = run_lane("gen", str(tmp_path / "o"), *args)
    assert p.returncode in (1, 2)
    assert message in p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    assert not (tmp_path / "o" / "block.jsonl").exists()


def test_cli_outdir_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    p = run_lane("gen", str(f))
    assert p.returncode == 1 and "not a folder" in p.stderr and "Traceback" not in p.stderr


def test_api_rejects_bad_options(tmp_path):
    with pytest.raises(LaneError, match="unknown workload"):
        gen(tmp_path, workload="p2p")
