"""Scheduling cost per transaction for blocks of token transfers, 10,000 to 1,000,000 transactions.

Each size runs in its own process.  "schedule" is what turns decoded
transactions into the DAG: instantiating every transaction's summary and
building the edges (`Chain.schedule` minus reading the file).  Decoding (JSON
and argument types) and the DAG's statistics are reported beside it.  Peak
memory is the process's maximum resident set while holding the block, its
decoded transactions and its DAG.

    python benchmarks/schedule.py [--sizes 10000,100000,1000000] [--accounts 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONE = r"""
import json, random, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import transfer as T
from compiler.runtime.chain import Chain
from compiler.runtime.block import prepare
from compiler.schedule.dag import build
n, accounts = int(sys.argv[2]), int(sys.argv[3])
tmp = tempfile.mkdtemp()
world = Path(tmp) / "world.toml"
world.write_text(T.WORLD.format(source=Path(sys.argv[1]) / "examples" / "token.lane", supply=10**30))
chain = Chain.open(world)
chain.run_block([(i + 1, tx) for i, tx in enumerate(T.funding_block(accounts))])
compiled = chain.compiled_summaries
raw = [(i + 1, tx) for i, tx in enumerate(T.make_block(n, accounts, seed=7))]
# A small block is timed several times in this process (best of), so that every size is
# measured over about the same total work.
reps = max(1, min(20, 200_000 // n))
decode = sched = stat = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    txs = prepare(chain.world, raw)
    t1 = time.perf_counter()
    schedule = build(compiled, txs, chain.ctx.storage, 1, 12)
    t2 = time.perf_counter()
    stats = schedule.stats()
    t3 = time.perf_counter()
    decode, sched, stat = min(decode, t1 - t0), min(sched, t2 - t1), min(stat, t3 - t2)
    del schedule
print(json.dumps({"transactions": n, "decode_us": decode / n * 1e6, "schedule_us": sched / n * 1e6,
                  "stats_us": stat / n * 1e6, "edges": stats["edges"],
                  "parallelism": stats["parallelism"],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per size")
    opts = ap.parse_args()
    rows = []
    for n in (int(x) for x in opts.sizes.split(",")):
        best = None
        for _ in range(opts.repeat):
            out = subprocess.run([sys.executable, "-c", ONE, str(ROOT), str(n), str(opts.accounts)],
                                 capture_output=True, text=True, check=True).stdout
            row = json.loads(out)
            if best is None or row["schedule_us"] < best["schedule_us"]:
                best = row
        rows.append(best)
        print(f"{n:>9,} transfers: schedule {best['schedule_us']:.2f} us/tx, decode {best['decode_us']:.2f} us/tx, "
              f"stats {best['stats_us']:.2f} us/tx, {best['edges']:,} edges, peak {best['peak_rss_mib']:.0f} MiB",
              flush=True)
    growth = rows[-1]["schedule_us"] / rows[0]["schedule_us"]
    print(f"growth of the per-transaction cost from {rows[0]['transactions']:,} to "
          f"{rows[-1]['transactions']:,}: {growth:.2f}x")
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows, "growth": round(growth, 3)}))


if __name__ == "__main__":
    main()
