"""What ``lane run`` says of how a block ran (compiler/report.py): inline or on how many lanes,
``--check-accesses`` runs as what they are, and ``--verify``'s agreement with how long each took.

The parallel executor's ``detail`` is read key by key, each optional: a report with fewer keys
(an executor being rewritten) still reads as a sentence.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from runtime_helpers import ALICE, TOKEN, make_world, raw_block, tx

from compiler.report import executor_line, verify_line
from compiler.runtime.chain import Chain

TAIL = "; 0.5000 s from the block file to the committed state, 6,000 tx/s"


def result(executor="parallel", workers=2, detail=None, verified=None, transactions=3000):
    return SimpleNamespace(executor=executor, workers=workers, detail=detail, verified=verified, seconds=0.5,
                           tps=transactions / 0.5, transactions=transactions, phases={"execute": 0.25})


@pytest.mark.parametrize("detail, line", [
    ({"mode": "inline", "why": "the block is too small", "lanes": 0},
     "executor parallel: ran inline, not on its 2 workers (the block is too small)" + TAIL),
    ({"mode": "inline"}, "executor parallel: ran inline, not on its 2 workers" + TAIL),
    ({"mode": "parallel", "lanes": 2, "components": 40, "windows": 3, "on_lanes": 3000},
     "executor parallel: 2 lanes on 2 workers (40 components in 3 windows)" + TAIL),
    ({"mode": "parallel", "lanes": 2, "components": 1, "windows": 1, "on_lanes": 1200, "why": "one giant component",
      "failed_lanes": 1},
     "executor parallel: 2 lanes on 2 workers (1 component; 1,200 of 3,000 transactions on lanes, the rest "
     "inline: one giant component; 1 failed lane re-run)" + TAIL),
    ({"mode": "parallel", "lanes": 2, "components": 40, "on_lanes": 17, "fallback_from": 17,
      "why": "a transaction read or wrote what another lane wrote earlier in the window: sequential from transaction "
             "17 (line 18)"},
     "executor parallel: 2 lanes on 2 workers (40 components; 17 of 3,000 transactions on lanes, the rest inline: a "
     "transaction read or wrote what another lane wrote earlier in the window: sequential from transaction 17 "
     "(line 18))" + TAIL),
    ({"mode": "parallel", "lanes": 2, "components": 300, "on_lanes": 300, "beside": 2700,
      "why": "light components of windows on lanes ran in the parent, beside the lanes"},
     "executor parallel: 2 lanes on 2 workers (300 components; 300 of 3,000 transactions on lanes, 2,700 by the "
     "parent beside them: light components of windows on lanes ran in the parent, beside the lanes)" + TAIL),
    ({"mode": "parallel", "lanes": 2, "on_lanes": 300, "beside": 2000},
     "executor parallel: 2 lanes on 2 workers (300 of 3,000 transactions on lanes, 2,000 by the parent beside "
     "them, the rest inline)" + TAIL),
    ({"mode": "parallel", "lanes": 2, "on_lanes": 17, "fallback_from": 17},
     "executor parallel: 2 lanes on 2 workers (17 of 3,000 transactions on lanes, the rest inline; sequential "
     "again from #17)" + TAIL),
    ({"mode": "parallel"}, "executor parallel: on lanes on 2 workers" + TAIL),
    ({"mode": "check-accesses"}, "executor parallel, checking every storage access against its summary: "
     + TAIL[2:]),
    (None, "executor parallel on 2 workers: " + TAIL[2:]),
])
def test_the_executor_line_says_what_ran(detail, line):
    assert executor_line(result(detail=detail)) == line


def test_a_sequential_run_says_so_alone():
    assert executor_line(result("sequential", 1)) == "executor sequential: " + TAIL[2:]


def test_the_verify_line_says_both_agreed_and_how_long_each_took():
    assert verify_line(result()) is None
    assert verify_line(result(verified=0.125)) == (
        "verified: the sequential executor gave the same receipts and state root (executed in: parallel 0.2500 s, "
        "sequential 0.1250 s)")
    assert verify_line(result("sequential", 1, verified=0.125)) == (
        "verified: a second sequential run gave the same receipts and state root (executed in 0.1250 s)")


def test_a_run_with_check_accesses_is_labelled_sequential_and_checked(tmp_path):
    world = make_world(tmp_path, {"token.lane": TOKEN}, [
        {"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice", "args": ["1000"]}],
        accounts={"alice": ALICE})
    with Chain.open(world) as chain:
        got = chain.run_block(raw_block([tx("alice", "token", "transfer", "bob", 1)]), executor="parallel",
                              workers=2, check_accesses=True, verify=True)
    assert (got.executor, got.workers, got.detail) == ("sequential", 1, {"mode": "check-accesses"})
    assert executor_line(got).startswith("executor sequential, checking every storage access against its summary: ")
    assert got.verified is not None and got.to_json()["verified"] == {"sequential_seconds": got.verified}
