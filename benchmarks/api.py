"""Token transfers through the testing API against the same transfers run as one block.

The API side calls ``token.transfer(to, amount, sender=frm)`` once per
transfer on a ``compiler.Chain``: each call is a transaction in a block of its
own, its arguments checked, its events and receipt kept, its revert (if any)
raised.  The block side runs the same transfers, written as a JSON Lines
block, through the runtime's ``Chain.run_block`` with the sequential executor:
decoding, execution, receipts and roots (no state file, so no commit).  Both
start from the same state in the same process, one after the other, so the
ratio means something on a noisy machine even when the absolute numbers do
not.  The goal (docs/testing.md): a call through the API costs at most 3x the
same transaction in a block.

    python benchmarks/api.py [--transactions N] [--accounts A] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import Chain, Reverted  # noqa: E402
from compiler.runtime.chain import Chain as RuntimeChain  # noqa: E402

TOKEN = ROOT / "examples" / "token.lane"
SUPPLY = 10**30
WORLD = f"""
[[deploy]]
name = "token_1"
source = "{TOKEN.as_posix()}"
contract = "Token"
sender = "alice"
args = ["{SUPPLY}"]
"""


def transfers(n: int, accounts: int, seed: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    names = [f"acct{i}" for i in range(accounts)]
    return [(rng.choice(names), rng.choice(names), rng.randint(1, 100)) for _ in range(n)]


def funding(accounts: int) -> list[tuple[str, str, int]]:
    return [("alice", f"acct{i}", 10**12) for i in range(accounts)]


def through_api(setup: list, work: list) -> tuple[float, str]:
    """Seconds for ``work`` as API calls, and the state root after."""
    chain = Chain()
    token = chain.deploy(TOKEN, SUPPLY, sender=chain.account("alice"), name="token_1")
    names = {name for tx in setup + work for name in tx[:2]}
    addresses = {name: chain.account(name) for name in names}
    for frm, to, amount in setup:
        token.transfer(addresses[to], amount, sender=addresses[frm])
    calls = [(addresses[frm], addresses[to], amount) for frm, to, amount in work]
    transfer = token.transfer
    start = time.perf_counter()
    for frm, to, amount in calls:
        try:
            transfer(to, amount, sender=frm)
        except Reverted:
            pass
    seconds = time.perf_counter() - start
    return seconds, chain.state_root


def as_block(setup: list, work: list, folder: Path) -> tuple[float, float, str]:
    """Seconds for ``work`` as one block on the sequential executor (whole, and its execute phase),
    and the state root after."""
    world = folder / "world.toml"
    world.write_text(WORLD, encoding="utf-8")

    def lines(txs: list) -> bytes:
        return b"".join(json.dumps({"from": f, "to": "token_1", "fn": "transfer", "args": [t, a]}).encode() + b"\n"
                        for f, t, a in txs)

    chain = RuntimeChain.open(world)
    chain.run_block(lines(setup), executor="sequential")
    data = lines(work)
    result = chain.run_block(data, executor="sequential")
    chain.close()
    return result.seconds, result.phases["execute"], result.state_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup, work = funding(args.accounts), transfers(args.transactions, args.accounts, seed=1)
    api_best = block_best = execute_best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            api_s, api_root = through_api(setup, work)
            block_s, execute_s, block_root = as_block(setup, work, Path(tmp))
            if api_root != block_root:
                sys.exit(f"the API and the block disagree: state roots {api_root} and {block_root}")
            api_best, block_best, execute_best = min(api_best, api_s), min(block_best, block_s), \
                min(execute_best, execute_s)
    n = args.transactions
    print(json.dumps({
        "transactions": n, "accounts": args.accounts,
        "api_calls_per_second": round(n / api_best),
        "block_transactions_per_second": round(n / block_best),
        "block_execute_transactions_per_second": round(n / execute_best),
        "api_us_per_call": round(api_best / n * 1e6, 2),
        "block_us_per_transaction": round(block_best / n * 1e6, 2),
        "ratio_to_block": round(api_best / block_best, 2),
        "ratio_to_execute_phase": round(api_best / execute_best, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
