"""The parallel executor's cost model: what a block costs run inline and on lanes, in microseconds.

The constants were measured on the project's machine (benchmarks/RESULTS.md) while a reference
loop of plain Python (:func:`reference_us`) took ``REFERENCE_US``.  A machine runs Python faster
or slower than that, and a shared one from minute to minute: :meth:`CostModel.measured` times the
loop again and scales every figure of work by the ratio (``speed``; 0.45 means that this machine
does now in 0.45 us what took 1 us then).  A function's time is measured on the block itself
(the estimate), and so is already in this machine's microseconds; the constants are the
executor's own work around it (receipts, logs, messages, windows), Python like the loop.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

US_PER_COST = 0.12         # executing one unit of static cost, sequentially
US_INLINE_TX = 6.0         # ... and a transaction's receipt, digest and root move, inline
US_DECODE_TX = 4.0         # decoding a block's line (1.9-3.4 us at speeds 0.47-0.83: calls of one or two arguments,
                           # the sequential executor's decoding, 2026-12-04)
LANE_FACTOR = 1.2          # a lane's unit of cost against the sequential one (the access log; measured
                           # 1.18-1.19 on calls of 10-40 us that compute more than they touch, 2026-12-02)
US_LANE_TX = 10.0          # a lane's work per transaction besides executing it (its log, writes,
                           # receipt, digest, root move; a forked worker's copied pages): measured 6 on
                           # light adds, 9-17 on transfers, 5-17 on savings calls (16 until 2026-12-02)
US_PARENT_TX = 2.0         # the parent's per transaction on lanes (receipts, arrays) ...
US_PARENT_ROW = 0.65       # ... and per access row (the plan's components, the check of the lanes' logs:
                           # 3 a transfer, 9 a defi call, 65 a call reading 64 keys in a loop)
ROWS_TX = 3                # access rows a transaction has, where they are not known
US_PER_WINDOW = 4500.0     # a window's round trip: its messages, the barrier, the merge (measured: 4.4-7.5 ms)
US_FORK = 4000.0           # forking a worker (its pipes, its process) ...
US_FORK_MB = 45.0          # ... and per MB of the parent's resident memory (the page tables a fork copies):
                           # 4-8 ms for two workers at 40-120 MB and speed 0.42, 2026-12-06
MIN_WORK_US = 150_000.0    # blocks predicted to take less than this sequentially run inline (the workers'
                           # fork and the schedule's messages alone cost a good part of it)

REFERENCE_US = 495.0       # :func:`reference_us` on the project's machine when the figures above were
                           # measured: the loop's time here, against the time a heavy call and a transfer
                           # took then and take now (benchmarks/RESULTS.md, 2026-12-02: 480 when all
                           # 1,000 rounds were timed; 400 of them read 3% more, the loop's own start)
SPEED_RANGE = (0.2, 5.0)   # a measured speed outside this is taken as its bound (a stall while timing)
_LOOP = 1000               # the reference loop's rounds its time is given for (REFERENCE_US) ...
_ROUNDS = 400              # ... and the rounds timed: about 0.1 ms here (0.05-0.4 ms elsewhere) ...
_TIMES = 5                 # ... this many times, the median kept (after one run not timed)


def reference_us(rounds: int = _ROUNDS, times: int = _TIMES) -> float:
    """Microseconds ``_LOOP`` rounds of a fixed loop of plain Python take here, now (``rounds`` of
    them timed): integer arithmetic of 64 bits and more, and a dict's reads and writes, as executed
    contracts and the executor's own work do (the median of ``times`` runs)."""
    def loop() -> int:
        seen: dict = {}
        h = 1
        for i in range(rounds):
            h = (h * 6364136223846793005 + 1442695040888963407 + i) % 18446744073709551616
            k = h & 255
            seen[k] = seen.get(k, 0) + 1
        return len(seen)

    loop()
    runs = []
    for _ in range(times):
        t = time.perf_counter()
        loop()
        runs.append(time.perf_counter() - t)
    runs.sort()  # (the median by hand: the statistics module costs a process 2 ms to load)
    mid = len(runs) // 2
    median = runs[mid] if len(runs) % 2 else (runs[mid - 1] + runs[mid]) / 2
    return median * 1e6 * _LOOP / rounds


class CostModel(NamedTuple):
    """The model at one ``speed`` of the machine (1.0: the project's machine when measured), for a
    parent process holding ``resident_mb`` MB (what forking a worker copies the page tables of)."""

    speed: float = 1.0
    resident_mb: float = 0.0

    @classmethod
    def measured(cls) -> "CostModel":
        low, high = SPEED_RANGE
        return cls(min(high, max(low, reference_us() / REFERENCE_US)), resident_mb())

    def inline_us(self, exec_us, n):
        """What ``n`` transactions whose executions take ``exec_us`` microseconds in all take run
        by the parent (their receipts, digests and the root's moves included)."""
        return exec_us + n * (US_INLINE_TX * self.speed)

    def decode_us(self, n):
        """Decoding ``n`` lines of a block (the sequential executor's, or a worker's stripe's)."""
        return n * (US_DECODE_TX * self.speed)

    def lane_work_us(self, exec_us):
        """A transaction's work on a lane, from its execution's time inline."""
        return exec_us * LANE_FACTOR + US_LANE_TX * self.speed

    def lanes_us(self, busiest, n, windows=1, rows=None):
        """What ``n`` transactions take on lanes whose busiest ones take ``busiest`` microseconds
        (summed over the windows), the parent's share (per transaction, and per one of their
        ``rows`` of accesses) and the windows' round trips included."""
        rows = n * ROWS_TX if rows is None else rows
        return busiest + (n * US_PARENT_TX + rows * US_PARENT_ROW + windows * US_PER_WINDOW) * self.speed

    def start_us(self, workers: int) -> float:
        """Forking ``workers`` workers."""
        return workers * (US_FORK + US_FORK_MB * self.resident_mb) * self.speed

    def static_us(self, cost: int) -> float:
        """A function's time from its static cost (for one the estimate did not time)."""
        return cost * US_PER_COST * self.speed

    @property
    def window_us(self) -> float:
        """A window's round trip."""
        return US_PER_WINDOW * self.speed

    @property
    def min_work_us(self) -> float:
        """The least a block predicted inline must take for lanes to be considered."""
        return MIN_WORK_US * self.speed


def resident_mb() -> float:
    """This process's resident memory in MB (0.0 where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


__all__ = ["CostModel", "reference_us", "REFERENCE_US", "SPEED_RANGE", "US_PER_COST"]
