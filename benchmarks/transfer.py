"""Sequential execution of the example Token's `transfer` against a hand-written Python transfer.

Both run the same transfers in the same process, one after the other, so the
ratio is meaningful on a noisy machine even when the absolute numbers are not.
The hand-written version is what a careful Python programmer would write for
the same semantics: a dict of balances, the same checks, an undo log for
reverts, an event list and a per-transaction receipt.

    python benchmarks/transfer.py [--transactions N] [--accounts A] [--repeat R]
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

from compiler.runtime import sequential  # noqa: E402
from compiler.runtime.block import prepare  # noqa: E402
from compiler.runtime.chain import Chain  # noqa: E402
from compiler.vm.errors import Revert  # noqa: E402

WORLD = """
[accounts]
alice = "0x00000000000000000000000000000000000a11ce"

[[deploy]]
name = "token"
source = "{source}"
contract = "Token"
sender = "alice"
args = ["{supply}"]
"""


def make_block(n: int, accounts: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    names = [f"acct{i}" for i in range(accounts)]
    return [{"from": rng.choice(names), "to": "token", "fn": "transfer",
             "args": [rng.choice(names), rng.randint(1, 100)]} for _ in range(n)]


def funding_block(accounts: int) -> list[dict]:
    return [{"from": "alice", "to": "token", "fn": "transfer", "args": [f"acct{i}", 10**12]}
            for i in range(accounts)]


# ---------------------------------------------------------------- the baseline

def hand_written(balances: dict, txs: list[tuple[int, int, int]]) -> list:
    undo: list = []
    events: list = []
    receipts = []

    def transfer(sender, to, amount):
        if to == 0:
            raise Revert("transfer to the zero address")
        b = balances.get(sender, 0)
        if b < amount:
            raise Revert("insufficient balance")
        undo.append((balances, sender, b))
        balances[sender] = b - amount
        c = balances.get(to, 0)
        if c + amount > 2**256 - 1:
            raise Revert("arithmetic overflow")
        undo.append((balances, to, c))
        balances[to] = c + amount
        events.append(("token", "Transfer", (sender, to, amount)))
        return True

    for sender, to, amount in txs:
        mark, emark = len(undo), len(events)
        try:
            value = transfer(sender, to, amount)
        except Revert as r:
            for d, k, old in reversed(undo[mark:]):
                d[k] = old
            del undo[mark:], events[emark:]
            receipts.append(("reverted", r.reason, None, ()))
            continue
        receipts.append(("ok", None, value, events[emark:]))
    return receipts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transactions", type=int, default=200_000)
    ap.add_argument("--accounts", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world.toml"
        world.write_text(WORLD.format(source=ROOT / "examples" / "token.lane", supply=10**30))
        chain = Chain.open(world)
        chain.run_block([(i + 1, tx) for i, tx in enumerate(funding_block(opts.accounts))])
        block = make_block(opts.transactions, opts.accounts, seed=1)
        raw = [(i + 1, tx) for i, tx in enumerate(block)]

        lane_exec, lane_total, base = [], [], []
        for _ in range(opts.repeat):
            snapshot = {a: [dict(d) for d in v] for a, v in chain.ctx.storage.items()}
            t0 = time.perf_counter()
            txs = prepare(chain.world, raw)
            t1 = time.perf_counter()
            sequential.execute(chain.ctx, txs)
            t2 = time.perf_counter()
            lane_exec.append(t2 - t1)
            lane_total.append(t2 - t0)
            chain.ctx.storage = snapshot
            chain.ctx.journal.clear()
            chain.ctx.events.clear()

            # The baseline starts from the same balances and runs the same transfers.
            token = chain.world.instances["token"]
            balances = dict(snapshot[token.address][chain.world.layout_of(token.address).index["balances"]])
            plain = [(tx.sender, tx.args[0], tx.args[1]) for tx in txs]
            t3 = time.perf_counter()
            hand_written(balances, plain)
            base.append(time.perf_counter() - t3)

    n = opts.transactions
    best = {"lane_execute": min(lane_exec), "lane_prepare_and_execute": min(lane_total), "hand_written": min(base)}
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "transactions": n,
        "accounts": opts.accounts,
        "tps": {k: round(n / v) for k, v in best.items()},
        "ratio_execute": round(best["hand_written"] / best["lane_execute"], 3),
        "ratio_prepare_and_execute": round(best["hand_written"] / best["lane_prepare_and_execute"], 3),
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{n:,} token transfers over {opts.accounts:,} accounts, best of {opts.repeat} ({result['date']})")
    for k, v in result["tps"].items():
        print(f"  {k:28s} {v:>12,} tx/s")
    print(f"  Lane / hand-written (execution):           {result['ratio_execute']:.2f}x")
    print(f"  Lane / hand-written (decode + execution):  {result['ratio_prepare_and_execute']:.2f}x")


if __name__ == "__main__":
    main()
