"""The demo world (examples/demo): a DeFi day on every example contract.

The three blocks run twice, in memory through the Python API and through
``lane run --state`` in a subprocess, and must agree on every root and
receipt. Every expected number below is worked out by hand from the contract
formulas (the derivation is in the comments), not copied from a run.

Amounts are whole token units (the demo tokens have no decimals). Prices are
scaled by 1e18 (PriceOracle.ONE). Block 1 runs at number 1 / timestamp 12,
block 2 at 2 / 24, block 3 at number 600 / timestamp 7200 (12 x 600), long
after the DAO's voting deadline (block 102) and escrow deal 2's expiry (3624).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.diagnostics import LaneError
from compiler.runtime.block import read_block
from compiler.runtime.chain import Chain

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
WORLD = DEMO / "world.toml"
BLOCKS = [  # (file, --number): block 3 jumps to number 600
    (DEMO / "block1.jsonl", None),
    (DEMO / "block2.jsonl", None),
    (DEMO / "block3.jsonl", 600),
]

# The fixed addresses of world.toml's [accounts].
ACCOUNTS = {
    "admin": "0x00000000000000000000000000000000000000ad",
    "alice": "0x00000000000000000000000000000000000a11ce",
    "bob": "0x0000000000000000000000000000000000000b0b",
    "carol": "0x000000000000000000000000000000000000ca01",
    "dave": "0x000000000000000000000000000000000000da7e",
    "erin": "0x000000000000000000000000000000000000e1e1",
    "frank": "0x00000000000000000000000000000000000f4a4c",
}
TOKENS = ["usdc", "dai", "weth", "gov"]
SUPPLY = {"usdc": 100_000_000, "dai": 100_000_000, "weth": 100_000, "gov": 10_000_000}

E18 = 10**18
U256_MAX = 2**256 - 1


# ---------------------------------------------------------------------------
# Expected receipts
#
# OK(return, events), REV(reason), INV(reason). An event is
# (contract, event, args) with addresses written as account or instance names
# (the receipts' 0x addresses are translated back through ACCOUNTS and the
# world's instances); integers are compared as the decimal strings of the JSON.


def _arg(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    return v


def ev(contract: str, event: str, *args) -> tuple:
    return (contract, event, tuple(_arg(a) for a in args))


def OK(ret=None, events=None) -> tuple:
    return ("ok", None, _arg(ret), events)


def REV(reason: str) -> tuple:
    return ("reverted", reason, None, [])


def INV(reason: str) -> tuple:
    return ("invalid", reason, None, [])


def transfer(token, frm, to, amount):
    return ev(token, "Transfer", frm, to, amount)


def approval(token, holder, spender, amount):
    return ev(token, "Approval", holder, spender, amount)


def admin_sends(token, to, amount):
    return OK(True, [transfer(token, "admin", to, amount)])


def approves(holder, token, spender, amount):
    return OK(True, [approval(token, holder, spender, amount)])


BIG = 1_000_000_000  # the users' "unlimited" allowances

# ---- block 1 (number 1, timestamp 12): funding ----
BLOCK1 = [
    # oracle prices: weth $2000, usdc and dai $1 (x 1e18)
    OK(None, [ev("oracle", "PriceSet", "weth", 2000 * E18, 12),
              ev("oracle", "PriceSet", "usdc", E18, 12),
              ev("oracle", "PriceSet", "dai", E18, 12)]),
    admin_sends("usdc", "alice", 1_000_000),
    admin_sends("weth", "alice", 600),
    admin_sends("gov", "alice", 50_000),
    admin_sends("weth", "bob", 10),
    admin_sends("gov", "bob", 20_000),
    admin_sends("usdc", "carol", 200_000),
    admin_sends("gov", "carol", 30_000),
    admin_sends("dai", "dave", 10_000),
    admin_sends("usdc", "dave", 50_000),
    admin_sends("dai", "erin", 10_000),
    admin_sends("usdc", "erin", 20_000),
    admin_sends("usdc", "frank", 10_000),
    admin_sends("dai", "frank", 5_000),
    admin_sends("gov", "dao", 1_000_000),          # the DAO treasury
    approves("admin", "weth", "weth_usdc", 2_000),
    approves("admin", "usdc", "weth_usdc", 4_000_000),
    approves("admin", "usdc", "usdc_dai", 1_000_000),
    approves("admin", "dai", "usdc_dai", 1_000_000),
    approves("admin", "gov", "gov_usdc", 200_000),
    approves("admin", "usdc", "gov_usdc", 1_000_000),
    approves("admin", "gov", "staking", 6_048_000),
    # First deposits mint min(a0, a1) - MIN_LIQUIDITY (1000 more are locked at 0xdead).
    OK(2_000 - 1_000, [transfer("weth", "admin", "weth_usdc", 2_000),
                       transfer("usdc", "admin", "weth_usdc", 4_000_000),
                       ev("weth_usdc", "Mint", "admin", 2_000, 4_000_000, 1_000)]),
    OK(1_000_000 - 1_000, [transfer("usdc", "admin", "usdc_dai", 1_000_000),
                           transfer("dai", "admin", "usdc_dai", 1_000_000),
                           ev("usdc_dai", "Mint", "admin", 1_000_000, 1_000_000, 999_000)]),
    OK(200_000 - 1_000, [transfer("gov", "admin", "gov_usdc", 200_000),
                         transfer("usdc", "admin", "gov_usdc", 1_000_000),
                         ev("gov_usdc", "Mint", "admin", 200_000, 1_000_000, 199_000)]),
    # notify_reward(6_048_123): dust = 6_048_123 % 604_800 = 123 stays with admin;
    # usable 6_048_000, rate 6_048_000 / 604_800 = 10 gov/s, finish 12 + 604_800.
    OK(None, [transfer("gov", "admin", "staking", 6_048_000),
              ev("staking", "RewardAdded", 6_048_000, 10, 604_812)]),
    approves("alice", "weth", "weth_usdc", BIG),
    approves("alice", "usdc", "weth_usdc", BIG),
    approves("alice", "usdc", "usdc_dai", BIG),
    approves("bob", "weth", "lending", 10),
    approves("carol", "usdc", "lending", BIG),
    approves("dave", "dai", "staking", BIG),
    approves("dave", "usdc", "gov_usdc", BIG),
    approves("erin", "dai", "staking", BIG),
    approves("erin", "usdc", "nft", BIG),
    approves("erin", "usdc", "escrow", BIG),
    approves("frank", "usdc", "nft", BIG),
    approves("frank", "usdc", "escrow", BIG),
    approves("frank", "dai", "splitter", BIG),
    # Second deposit: min(500 * 2000 / 2000, 1_000_000 * 2000 / 4_000_000) = 500 shares.
    OK(500, [transfer("weth", "alice", "weth_usdc", 500),
             transfer("usdc", "alice", "weth_usdc", 1_000_000),
             ev("weth_usdc", "Mint", "alice", 500, 1_000_000, 500)]),
    OK(None, [transfer("usdc", "carol", "lending", 100_000), ev("lending", "Supplied", "carol", 100_000)]),
    OK(None, [transfer("dai", "dave", "staking", 1_000), ev("staking", "Staked", "dave", 1_000)]),
]

# ---- block 2 (number 2, timestamp 24): a DeFi day ----
#
# AMM: out = in*9970*R_out / (R_in*10000 + in*9970), rounded down.
# weth_usdc after block 1: weth 2_500, usdc 5_000_000 (admin 2000/4M + alice 500/1M).
#  #0 frank 10_000 usdc -> weth: 10_000*9970*2_500 / (5_000_000*10000 + 99_700_000)
#     = 249_250_000_000 / 50_099_700_000 = 4.97 -> 4 < min_out 5: slippage.
#  #1 alice 10 weth -> usdc: 10*9970*5_000_000 / (2_500*10000 + 99_700)
#     = 498_500_000_000 / 25_099_700 = 19_860.79 -> 19_860; reserves 2_510 / 4_980_140.
# usdc_dai: 1_000_000 / 1_000_000.
#  #2 alice 19_860 usdc -> dai: 19_860*9970 = 198_004_200;
#     198_004_200 * 1_000_000 / (10_000_000_000 + 198_004_200) = 19_415.97 -> 19_415;
#     reserves usdc 1_019_860, dai 980_585.
# gov_usdc: gov 200_000, usdc 1_000_000.
#  #4 dave 10_000 usdc -> gov: 10_000*9970*200_000 / (1_000_000*10000 + 99_700_000)
#     = 19_940_000_000_000 / 10_099_700_000 = 1_974.3 -> 1_974; reserves 198_026 / 1_010_000.
#
# Lending (weth collateral at $2000, usdc debt at $1): bob deposits 10 weth = $20_000;
# borrow limit 75% = 15_000, liquidation limit 80% = 16_000.
#  #6 borrow 16_000 > 15_000: "borrow limit exceeded"; #7 borrow 15_000 is exactly at the limit.
#  #8 debt 15_000 <= 16_000: healthy.  #9 bob holds 15_000 usdc, sends 20_000: insufficient.
#  #11 weth drops to $1750: collateral 17_500, liquidation limit 14_000 < 15_000: underwater.
#  #12 close factor 50%: cap 7_500 < 8_000.
#  #13 carol repays 5_000: seize value 5_000 * 10_500 / 10_000 = 5_250 -> 5_250 / 1_750 = 3 weth.
#
# Staking (10 gov/s): dave staked 1_000 at t=12. At t=24:
#  reward_per_token = 12 * 10 * 1e18 / 1_000 = 1.2e17; dave earned 1_000 * 1.2e17 / 1e18 = 120.
#  erin stakes 3_000 at t=24 and claims at once: nothing accrued, a no-op without events.
#
# NFT (paid in usdc): carol mints #1 (5% royalty) and #2 (10%); erin buys #1 from its creator
# for 1_000 (no royalty), relists at 2_000; frank buys: royalty 2_000 * 500 / 10_000 = 100
# to carol, 1_900 to erin.
#
# DAO: proposals 1 (carol: 25_000 gov to erin) and 2 (bob: 500_000 gov to bob), deadline
# block 2 + 100 = 102. Weights are balances at the vote: alice 50_000, carol 30_000,
# dave 1_974 + 120 = 2_094 (the gov he just bought plus his staking reward), bob 20_000;
# frank holds none.
#  proposal 1: yes 50_000 + 30_000 + 2_094 = 82_094, no 20_000.
#  proposal 2: yes 20_000 (bob), no 50_000 (alice).
#
# Escrow: deal 1 erin -> dave 5_000 usdc, expiry 24 + 86_400 = 86_424, released and claimed;
# deal 2 frank -> bob 2_000 usdc, expiry 24 + 3_600 = 3_624; frank cannot refund before it.
#
# Splitter: 999 dai to bob, carol, dave (0xb0b < 0xca01 < 0xda7e) with shares 50/30/20:
# 999*50/100 = 499, 999*30/100 = 299, 999*20/100 = 199; paid 997, 2 dai of dust stay with frank.
BLOCK2 = [
    REV("slippage: output below minimum"),
    OK(19_860, [transfer("weth", "alice", "weth_usdc", 10),
                transfer("usdc", "weth_usdc", "alice", 19_860),
                ev("weth_usdc", "Swap", "alice", "weth", 10, 19_860)]),
    OK(19_415, [transfer("usdc", "alice", "usdc_dai", 19_860),
                transfer("dai", "usdc_dai", "alice", 19_415),
                ev("usdc_dai", "Swap", "alice", "usdc", 19_860, 19_415)]),
    INV("unknown function 'swap_exact' of Pool"),
    OK(1_974, [transfer("usdc", "dave", "gov_usdc", 10_000),
               transfer("gov", "gov_usdc", "dave", 1_974),
               ev("gov_usdc", "Swap", "dave", "usdc", 10_000, 1_974)]),

    OK(None, [transfer("weth", "bob", "lending", 10), ev("lending", "CollateralDeposited", "bob", 10)]),
    REV("borrow limit exceeded"),
    OK(None, [transfer("usdc", "lending", "bob", 15_000), ev("lending", "Borrowed", "bob", 15_000)]),
    REV("position is healthy"),
    REV("insufficient balance"),
    INV("Token.transfer takes 2 arguments, found 1"),
    OK(None, [ev("oracle", "PriceSet", "weth", 1_750 * E18, 24)]),
    REV("amount above close factor"),
    OK(3, [transfer("usdc", "carol", "lending", 5_000),
           transfer("weth", "lending", "carol", 3),
           ev("lending", "Liquidated", "bob", "carol", 5_000, 3)]),

    OK(None, [transfer("gov", "staking", "dave", 120), ev("staking", "RewardPaid", "dave", 120)]),
    OK(None, [transfer("dai", "erin", "staking", 3_000), ev("staking", "Staked", "erin", 3_000)]),
    OK(None, []),

    OK(None, [ev("nft", "Minted", "carol", 1, 500)]),
    OK(None, [ev("nft", "Minted", "carol", 2, 1_000)]),
    REV("royalty above cap"),
    OK(None, [ev("nft", "Listed", "carol", 1, 1_000)]),
    OK(None, [ev("nft", "Transferred", "carol", "erin", 1),
              transfer("usdc", "erin", "carol", 1_000),
              ev("nft", "Sold", 1, "carol", "erin", 1_000, 0)]),
    OK(None, [ev("nft", "Listed", "erin", 1, 2_000)]),
    REV("price above maximum"),
    OK(None, [ev("nft", "Transferred", "erin", "frank", 1),
              transfer("usdc", "frank", "erin", 1_900),
              transfer("usdc", "frank", "carol", 100),
              ev("nft", "Sold", 1, "erin", "frank", 2_000, 100)]),
    OK(None, [ev("nft", "Listed", "carol", 2, 5_000)]),

    OK(1, [ev("dao", "Proposed", 1, "carol", "erin", 25_000, 102)]),
    OK(2, [ev("dao", "Proposed", 2, "bob", "bob", 500_000, 102)]),
    OK(None, [ev("dao", "Voted", 1, "alice", True, 50_000)]),
    OK(None, [ev("dao", "Voted", 1, "carol", True, 30_000)]),
    OK(None, [ev("dao", "Voted", 1, "dave", True, 2_094)]),
    OK(None, [ev("dao", "Voted", 1, "bob", False, 20_000)]),
    REV("already voted"),
    REV("no voting power"),
    OK(None, [ev("dao", "Voted", 2, "bob", True, 20_000)]),
    OK(None, [ev("dao", "Voted", 2, "alice", False, 50_000)]),

    OK(None, [transfer("usdc", "erin", "escrow", 5_000), ev("escrow", "Opened", 1, "erin", "dave", 5_000, 86_424)]),
    OK(None, [ev("escrow", "Released", 1)]),
    OK(None, [transfer("usdc", "escrow", "dave", 5_000), ev("escrow", "Claimed", 1, "dave", 5_000)]),
    OK(None, [transfer("usdc", "frank", "escrow", 2_000), ev("escrow", "Opened", 2, "frank", "bob", 2_000, 3_624)]),
    REV("refund not allowed"),

    REV("payees must be distinct, non-zero and sorted ascending"),  # carol (0xca01) before bob (0xb0b)
    OK(None, [transfer("dai", "frank", "bob", 499), ev("splitter", "Paid", "dai", "bob", 499),
              transfer("dai", "frank", "carol", 299), ev("splitter", "Paid", "dai", "carol", 299),
              transfer("dai", "frank", "dave", 199), ev("splitter", "Paid", "dai", "dave", 199),
              ev("splitter", "Split", "dai", "frank", 997, 3)]),
]

# ---- block 3 (number 600, timestamp 7200): the vote concludes ----
#
# DAO: 600 > 102, so voting is closed. Proposal 1 succeeded (82_094 > 20_000 and
# 102_094 >= QUORUM 10_000) and pays 25_000 gov to erin once; proposal 2 was defeated.
# Escrow deal 2: 7_200 > 3_624, so frank (the buyer) gets his 2_000 usdc back.
# Staking: 4_000 dai staked since t=24: reward_per_token += (7_200 - 24) * 10 * 1e18 / 4_000
# = 17.94e18 (to 18.06e18); dave earns 1_000 * 17.94 = 17_940, erin 3_000 * 17.94 = 53_820.
# Lending: bob repays his remaining 10_000 and takes back his 7 weth; carol withdraws
# her 100_000 (pool: 100_000 - 15_000 + 5_000 + 10_000 = 100_000).
# weth_usdc: alice burns her 500 of 2_500 shares: 500 * 2_510 / 2_500 = 502 weth,
# 500 * 4_980_140 / 2_500 = 996_028 usdc.
BLOCK3 = [
    OK(None, [transfer("gov", "dao", "erin", 25_000), ev("dao", "Executed", 1, "erin", 25_000)]),
    REV("proposal has not succeeded"),
    REV("voting is not open"),
    REV("proposal has not succeeded"),      # already executed

    REV("not released"),
    OK(None, [transfer("usdc", "escrow", "frank", 2_000), ev("escrow", "Refunded", 2, "frank", 2_000)]),

    OK(None, [transfer("gov", "staking", "dave", 17_940), ev("staking", "RewardPaid", "dave", 17_940)]),
    OK(None, [transfer("gov", "staking", "erin", 53_820), ev("staking", "RewardPaid", "erin", 53_820)]),
    OK(None, [transfer("dai", "staking", "erin", 3_000), ev("staking", "Withdrawn", "erin", 3_000)]),

    approves("bob", "usdc", "lending", 10_000),
    OK(10_000, [transfer("usdc", "bob", "lending", 10_000), ev("lending", "Repaid", "bob", 10_000)]),
    OK(None, [transfer("weth", "lending", "bob", 7), ev("lending", "CollateralWithdrawn", "bob", 7)]),
    OK(None, [transfer("usdc", "lending", "carol", 100_000), ev("lending", "SupplyWithdrawn", "carol", 100_000)]),
    INV("function 'LendingPool.underwater' is not pub"),

    OK(None, [transfer("weth", "weth_usdc", "alice", 502),
              transfer("usdc", "weth_usdc", "alice", 996_028),
              ev("weth_usdc", "Burn", "alice", 502, 996_028, 500)]),
]

EXPECTED = [BLOCK1, BLOCK2, BLOCK3]
COUNTS = [{"ok": 42, "reverted": 0, "invalid": 0},
          {"ok": 30, "reverted": 11, "invalid": 2},
          {"ok": 10, "reverted": 4, "invalid": 1}]
NUMBERS = [(1, 12), (2, 24), (600, 7_200)]

# ---- final balances, by hand ----
#
# usdc: admin 100M - 1M (alice) - 200k (carol) - 50k (dave) - 20k (erin) - 10k (frank)
#       - 4M - 1M - 1M (pools) = 92_720_000
#   alice  1M - 1M (liquidity) + 19_860 - 19_860 (multi-hop) + 996_028 (burn) = 996_028
#   bob    15_000 (borrow) - 10_000 (repay) = 5_000
#   carol  200k - 100k (supply) - 5_000 (liquidation) + 1_000 (sale) + 100 (royalty) + 100k = 196_100
#   dave   50k - 10k (gov swap) + 5_000 (escrow 1) = 45_000
#   erin   20k - 1_000 (nft) + 1_900 (resale) - 5_000 (escrow 1) = 15_900
#   frank  10k - 2_000 (nft) - 2_000 + 2_000 (escrow 2, refunded) = 8_000
# dai: admin 100M - 10k - 10k - 5k - 1M (pool) = 98_975_000
#   alice 19_415; bob 499; carol 299; dave 10k - 1_000 (staked) + 199 = 9_199;
#   erin 10k - 3_000 + 3_000 = 10_000; frank 5k - 997 = 4_003
# weth: admin 100k - 600 - 10 - 2_000 = 97_390
#   alice 600 - 500 - 10 + 502 = 592; bob 10 - 10 + 7 = 7; carol 3 (seized)
# gov: admin 10M - 50k - 20k - 30k - 1M (dao) - 200k (pool) - 6_048_000 (staking) = 2_652_000
#   alice 50_000; bob 20_000; carol 30_000; dave 1_974 + 120 + 17_940 = 20_034;
#   erin 25_000 (grant) + 53_820 = 78_820; frank 0
FINAL_BALANCES = {
    "usdc": {"admin": 92_720_000, "alice": 996_028, "bob": 5_000, "carol": 196_100, "dave": 45_000,
             "erin": 15_900, "frank": 8_000,
             "weth_usdc": 4_000_000 + 1_000_000 - 19_860 - 996_028,   # 3_984_112
             "usdc_dai": 1_000_000 + 19_860, "gov_usdc": 1_000_000 + 10_000,
             "lending": 0, "escrow": 0, "nft": 0},
    "dai": {"admin": 98_975_000, "alice": 19_415, "bob": 499, "carol": 299, "dave": 9_199,
            "erin": 10_000, "frank": 4_003,
            "usdc_dai": 1_000_000 - 19_415, "staking": 1_000, "splitter": 0},
    "weth": {"admin": 97_390, "alice": 592, "bob": 7, "carol": 3, "dave": 0, "erin": 0, "frank": 0,
             "weth_usdc": 2_000 + 500 + 10 - 502, "lending": 0},
    "gov": {"admin": 2_652_000, "alice": 50_000, "bob": 20_000, "carol": 30_000, "dave": 20_034,
            "erin": 78_820, "frank": 0,
            "dao": 1_000_000 - 25_000, "gov_usdc": 200_000 - 1_974,
            "staking": 6_048_000 - 120 - 17_940 - 53_820},           # 5_976_120
}

# (pool, token) -> reserve, and shares.
FINAL_RESERVES = {
    ("weth_usdc", "weth"): 2_008, ("weth_usdc", "usdc"): 3_984_112,
    ("usdc_dai", "usdc"): 1_019_860, ("usdc_dai", "dai"): 980_585,
    ("gov_usdc", "gov"): 198_026, ("gov_usdc", "usdc"): 1_010_000,
}
FINAL_SHARES = {  # pool -> (admin, alice, locked at 0xdead, total)
    "weth_usdc": (1_000, 0, 1_000, 2_000),
    "usdc_dai": (999_000, 0, 1_000, 1_000_000),
    "gov_usdc": (199_000, 0, 1_000, 200_000),
}


# ---------------------------------------------------------------------------
# Running the demo


def _run_in_memory():
    chain = Chain.open(WORLD)
    results, views_after_2 = [], {}
    for n, (path, number) in enumerate(BLOCKS, 1):
        results.append(chain.run_block(read_block(path), number=number))
        if n == 2:
            views_after_2 = {key: chain.call(key[0], key[1], list(key[2]))[1] for key in VIEWS_AFTER_BLOCK2}
    return chain, results, views_after_2


@pytest.fixture(scope="module")
def demo():
    chain, results, views = _run_in_memory()
    yield chain, results, views
    chain.close()


def _lane(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1")
    env.pop("LANE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The three blocks through ``lane run --state`` in a fresh directory; then a few ``lane call``s."""
    tmp = tmp_path_factory.mktemp("demo")
    state = tmp / "demo.sqlite"
    outputs = []
    for path, number in BLOCKS:
        args = ["run", str(WORLD), str(path), "--state", str(state), "--json"]
        if number is not None:
            args += ["--number", str(number)]
        proc = _lane(*args, cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    calls = {}
    for who in ("alice", "carol"):
        proc = _lane("call", str(WORLD), "usdc", "balance_of", who, "--state", str(state), cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        calls[who] = proc.stdout.strip()
    proc = _lane("call", str(WORLD), "nft", "holder_of", "1", "--state", str(state), cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    calls["holder_of_1"] = proc.stdout.strip()
    return outputs, calls


def _names(chain: Chain) -> dict[str, str]:
    """0x address -> name, for the accounts (fixed addresses) and the deployed instances."""
    names = {addr: name for name, addr in ACCOUNTS.items()}
    for name, inst in chain.world.instances.items():
        names[f"0x{inst.address:040x}"] = name
    return names


def _readable(chain: Chain, receipt: dict) -> tuple:
    names = _names(chain)

    def arg(v):
        return names.get(v, v) if isinstance(v, str) and v.startswith("0x") else v

    events = [(e["contract"], e["event"], tuple(arg(a) for a in e["args"])) for e in receipt["events"]]
    return receipt["status"], receipt["reason"], receipt["return"], events


def call(chain: Chain, contract: str, fn: str, *args):
    return chain.call(contract, fn, list(args))[1]


# ---------------------------------------------------------------------------
# Tests


def test_world_accounts_have_the_fixed_addresses(demo):
    chain, _, _ = demo
    for name, addr in ACCOUNTS.items():
        assert chain.world.address_of(name) == int(addr, 16)
    assert list(chain.world.instances) == [
        "usdc", "dai", "weth", "gov", "weth_usdc", "usdc_dai", "gov_usdc", "oracle", "lending",
        "staking", "nft", "dao", "escrow", "splitter"]


@pytest.mark.parametrize("block", [1, 2, 3])
def test_block_numbers_and_status_counts(demo, block):
    _, results, _ = demo
    result = results[block - 1]
    assert (result.number, result.timestamp) == NUMBERS[block - 1]
    assert result.counts() == COUNTS[block - 1]


@pytest.mark.parametrize("block", [1, 2, 3])
def test_receipts_match_hand_computed_expectations(demo, block):
    chain, results, _ = demo
    receipts = results[block - 1].receipts_json
    expected = EXPECTED[block - 1]
    assert len(receipts) == len(expected)
    for i, (receipt, want) in enumerate(zip(receipts, expected)):
        assert receipt["index"] == i
        status, reason, ret, events = _readable(chain, receipt)
        assert (status, reason, ret) == want[:3], f"block {block} tx #{i}"
        assert events == want[3], f"block {block} tx #{i}"


def test_event_addresses_are_the_fixed_account_addresses(demo):
    chain, results, _ = demo
    # block 1, tx 1: admin sends alice 1_000_000 usdc -- the raw JSON, not translated.
    event = results[0].receipts_json[1]["events"][0]
    assert event["contract"] == "usdc"
    assert event["address"] == f"0x{chain.world.instances['usdc'].address:040x}"
    assert event["args"] == [ACCOUNTS["admin"], ACCOUNTS["alice"], "1000000"]
    # every event's address is its contract's, 0x + 40 hex digits
    for result in results:
        for receipt in result.receipts_json:
            for e in receipt["events"]:
                assert e["address"] == f"0x{chain.world.instances[e['contract']].address:040x}"
                assert len(e["address"]) == 42


# Views read on the state after block 2 (number 2, timestamp 24).
VIEWS_AFTER_BLOCK2 = {
    # bob: 7 weth at $1750 = 12_250; liquidation limit 80% = 9_800; debt 10_000
    ("lending", "debt_balance", ("bob",)): 10_000,
    ("lending", "collateral_balance", ("bob",)): 7,
    ("lending", "health_bps", ("bob",)): 9_800 * 10_000 // 10_000,   # 9_800 < 10_000: still liquidatable
    ("lending", "can_liquidate", ("bob",)): True,
    ("lending", "available_liquidity", ()): 100_000 - 15_000 + 5_000,
    ("dao", "state", (1,)): 1,                                         # active until block 102
    ("dao", "tally", (1, True)): 82_094,
    ("dao", "tally", (1, False)): 20_000,
    ("dao", "has_voted", (1, "frank")): False,
    ("dao", "has_voted", (1, "bob")): True,
    ("escrow", "deal_state", (1,)): 4,                                 # closed (claimed)
    ("escrow", "deal_state", (2,)): 1,                                 # funded
    ("escrow", "deal_expiry", (2,)): 3_624,
    ("staking", "reward_per_token", ()): 12 * 10 * E18 // 1_000,      # 1.2e17
    ("staking", "earned", ("erin",)): 0,
    ("staking", "total_stake", ()): 4_000,
    ("weth_usdc", "reserve_of", ("weth",)): 2_510,
    ("weth_usdc", "reserve_of", ("usdc",)): 4_980_140,
    ("usdc_dai", "reserve_of", ("usdc",)): 1_019_860,
    ("usdc_dai", "reserve_of", ("dai",)): 980_585,
    ("nft", "holder_of", (1,)): int(ACCOUNTS["frank"], 16),
    ("oracle", "price_of", ("weth",)): 1_750 * E18,
}


def test_views_after_block_2(demo):
    _, _, views = demo
    for key, want in VIEWS_AFTER_BLOCK2.items():
        assert views[key] == want, key


@pytest.mark.parametrize("token", TOKENS)
def test_final_balances(demo, token):
    chain, _, _ = demo
    for holder, want in FINAL_BALANCES[token].items():
        assert call(chain, token, "balance_of", holder) == want, (token, holder)
    # nothing created or lost: the supplies are unchanged (nobody minted or burned)
    assert call(chain, token, "total") == SUPPLY[token]


def test_balances_add_up_to_the_supply():
    # The hand-computed tables account for every unit: holders not listed hold 0.
    for token, table in FINAL_BALANCES.items():
        assert sum(table.values()) == SUPPLY[token], token


def test_final_pools(demo):
    chain, _, _ = demo
    for (pool, token), want in FINAL_RESERVES.items():
        assert call(chain, pool, "reserve_of", token) == want, (pool, token)
        # the accounted reserves are exactly what the pool holds
        assert call(chain, token, "balance_of", pool) == want, (pool, token)
    for pool, (admin, alice, dead, total) in FINAL_SHARES.items():
        assert call(chain, pool, "shares_of", "admin") == admin
        assert call(chain, pool, "shares_of", "alice") == alice
        assert call(chain, pool, "shares_of", "0xdead") == dead
        assert call(chain, pool, "supply_of_shares") == total
    # quote of 10 weth at 2_008 / 3_984_112: 99_700 * 3_984_112 / (20_080_000 + 99_700)
    # = 397_215_966_400 / 20_179_700 = 19_683.9 -> 19_683
    assert call(chain, "weth_usdc", "quote", "weth", 10) == 19_683


def test_final_dao(demo):
    chain, _, _ = demo
    assert call(chain, "dao", "proposal_count") == 2
    assert call(chain, "dao", "state", 1) == 5            # executed
    assert call(chain, "dao", "state", 2) == 3            # defeated: 20_000 yes < 50_000 no
    assert call(chain, "dao", "state", 3) == 0            # no such proposal
    assert call(chain, "dao", "tally", 2, True) == 20_000
    assert call(chain, "dao", "tally", 2, False) == 50_000
    assert call(chain, "dao", "treasury") == 975_000


def test_final_escrow(demo):
    chain, _, _ = demo
    assert call(chain, "escrow", "deal_state", 1) == 4    # claimed by dave
    assert call(chain, "escrow", "deal_state", 2) == 4    # refunded to frank
    assert call(chain, "escrow", "deal_state", 3) == 0
    assert call(chain, "escrow", "deal_expiry", 1) == 86_424


def test_final_lending(demo):
    chain, _, _ = demo
    for who in ("bob", "carol"):
        assert call(chain, "lending", "debt_balance", who) == 0
        assert call(chain, "lending", "collateral_balance", who) == 0
    assert call(chain, "lending", "supplied_balance", "carol") == 0
    assert call(chain, "lending", "health_bps", "bob") == U256_MAX
    assert call(chain, "lending", "can_liquidate", "bob") is False
    assert call(chain, "lending", "available_liquidity") == 0
    assert call(chain, "oracle", "price_of", "weth") == 1_750 * E18
    assert call(chain, "oracle", "last_update", "weth") == 24
    assert call(chain, "oracle", "last_update", "usdc") == 12


def test_final_staking(demo):
    chain, _, _ = demo
    assert call(chain, "staking", "rate") == 10
    assert call(chain, "staking", "total_stake") == 1_000
    assert call(chain, "staking", "staked_balance", "dave") == 1_000
    assert call(chain, "staking", "staked_balance", "erin") == 0
    assert call(chain, "staking", "reward_per_token") == 18_060_000_000_000_000_000   # 1.2e17 + 17.94e18
    assert call(chain, "staking", "earned", "dave") == 0                             # just claimed
    # 100 s later dave, the only staker, earns the whole stream: 100 * 10 = 1_000.
    assert chain.call("staking", "earned", ["dave"], timestamp=7_300)[1] == 1_000
    # After the period ends (12 + 604_800) he has earned everything left in the contract:
    # (604_812 - 7_200) * 10 = 5_976_120 = 6_048_000 - 120 - 17_940 - 53_820.
    assert chain.call("staking", "earned", ["dave"], timestamp=700_000)[1] == 5_976_120


def test_final_nft_and_splitter(demo):
    chain, _, _ = demo
    assert call(chain, "nft", "holder_of", 1) == int(ACCOUNTS["frank"], 16)
    assert call(chain, "nft", "holder_of", 2) == int(ACCOUNTS["carol"], 16)
    assert call(chain, "nft", "get_creator", 1) == int(ACCOUNTS["carol"], 16)
    assert call(chain, "nft", "listed_price", 1) == 0     # the sale cleared the listing
    assert call(chain, "nft", "listed_price", 2) == 5_000
    assert call(chain, "nft", "royalty_info", 2, 5_000) == 500
    assert [call(chain, "nft", "balance_of", w) for w in ("carol", "erin", "frank")] == [1, 0, 1]
    with pytest.raises(LaneError, match="call reverted: not minted"):
        call(chain, "nft", "holder_of", 3)               # the mint with a 15% royalty reverted
    for who, amount in (("bob", 499), ("carol", 299), ("dave", 199)):
        assert call(chain, "splitter", "received_by", "dai", who) == amount
    assert call(chain, "splitter", "total_split_of", "dai") == 997


def test_cli_with_state_matches_in_memory_run(demo, cli_run):
    _, results, _ = demo
    outputs, calls = cli_run
    assert len(outputs) == len(results)
    for out, result in zip(outputs, results):
        assert (out["number"], out["timestamp"]) == (result.number, result.timestamp)
        assert out["state_root"] == result.state_root
        assert out["receipts_root"] == result.receipts_root
        assert out["receipts"] == result.receipts_json
    assert calls == {"alice": "996028", "carol": "196100", "holder_of_1": ACCOUNTS["frank"]}


def test_rerun_is_deterministic(demo):
    _, results, _ = demo
    _, again, _ = _run_in_memory()
    assert [(r.state_root, r.receipts_root) for r in again] == [(r.state_root, r.receipts_root) for r in results]
