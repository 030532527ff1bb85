"""The parallel executor (SPEC §4): a block's independent transactions on worker processes.

The result is exactly the sequential one (how: :mod:`compiler.runtime.lanes`).

The block is run window by window, in block order.  For a window worth it,
the parent finds the components of the window's DAG on the current state
(``compiler.schedule.components``: they share no location but ones only
read or only added to), packs them into one lane per worker by their static
cost at the speeds measured for each lane, largest first, ships each worker
its lane with the slice of state it names, runs the first lane itself on the
live state meanwhile, and merges the workers' results in block order.  A
window not worth it runs inline, as the sequential executor does
(docs/runtime.md).

What is worth it is decided by measurement, not guessed (the cost model,
benchmarks/RESULTS.md): the first window always runs inline and is timed, which
gives the block's execution cost per unit of static cost; each window run on
lanes measures what scheduling and the parent's slicing and merging cost per
transaction, and how much of the work its largest component holds.  A window
goes to the workers only when the model, with these figures, predicts it
finishes well before running it inline would.  A window whose DAG turns out
to be one giant component runs inline (the scheduling is lost: a few percent),
and the next windows run inline without scheduling, trying lanes again now
and then.

Workers are forked when a window first goes to lanes, so they share the
world's compiled code (nothing is shipped but slices and calls), and they
persist across blocks while blocks use them.  A block run wholly inline
releases them: while a forked worker lives, every memory page the parent
writes is copied first (copy-on-write), which slows inline execution by
about a tenth; a block that never pays for workers never forks one.
"""

from __future__ import annotations

import marshal
import multiprocessing as mp
import time
from collections import defaultdict

from . import lanes as L
from . import sequential
from .block import Tx
from .context import Context
from .receipts import Outcome
from .worker_lane import Worker

# The cost model's starting figures, in microseconds, measured on the project's machine
# (benchmarks/RESULTS.md); each block replaces them with its own measurements as it runs.
US_PER_COST_UNIT = 0.17     # executing one unit of a function's static cost
US_SCHEDULE_PER_TX = 5.0    # instantiating a transaction's accesses and finding its component
US_PARENT_PER_ACCESS = 2.0  # slicing one access for a worker and merging what it wrote
US_ROUND_TRIP = 400.0       # sending a window to the workers and getting their results
MIN_GAIN = 0.8              # a window goes to the workers when predicted at most this share of inline
PROBE = 1 / 32              # the share of a block run inline first, to measure it
PROBE_MIN, PROBE_MAX = 16, 512
WINDOW_US = 120_000.0       # a window is about this much inline execution (the first tried on lanes: 1/24)
WINDOW_MIN = 64
RETRY_EVERY = 4             # after a giant component, windows inline before trying lanes again
TRIALS = 2                  # small windows tried on lanes before the block's figures are trusted
# A worker must send each reply within a time that follows its lane: a few times the lane's predicted
# time, plus a margin for a loaded machine and a cold worker (docs/limits.md).  One seen stopped or
# dead is given up at once.
LANE_TIMEOUT_MIN_S = 2.0
LANE_TIMEOUT_FACTOR = 4.0
WAIT_SLICE_S = 0.05         # while waiting for a worker, how often to look whether it is stopped or dead

LIGHT = "light transactions: scheduling and shipping them would cost more than running them in parallel saves"
GIANT = "one component of the DAG holds most of the work"


class ParallelExecutor:
    """Persistent workers for one world; ``execute`` runs a block on them (or inline)."""

    def __init__(self, world, compiled, workers: int, timeout: float | None = None, force: bool = False) -> None:
        self.world = world
        self._compiled = compiled             # compiler.schedule.dag.Compiled, or a function making it
        self.workers = max(1, workers)
        self.timeout = timeout                # seconds a lane may take (tests); None: it follows the work
        self.lane_timeout = LANE_TIMEOUT_MIN_S  # ... the current window's
        self.force = force                    # every block on lanes, whatever the model says ...
        self.force_window: int | None = None  # ... in windows of this many transactions (default: one)
        self.functions = {}
        self.fn_keys = {}                     # Function -> the key workers know it by
        for inst in world.instances.values():
            for fn in inst.contract.functions.values():
                self.functions[(fn.contract.name, fn.name)] = inst.program.function(fn.contract.name, fn.name)
                self.fn_keys[fn] = (fn.contract.name, fn.name)
        self.windows = 0                      # windows sent so far (message tags)
        self.widths = {a: len(world.layout_of(a).index) for a in world.by_address}
        from ..analysis.cost import function_cost

        memo: dict = {}
        self.costs = {fn: function_cost(fn, memo) for inst in world.instances.values()
                      for fn in inst.contract.functions.values()}
        self._pool: list[Worker] = []
        self._mp = mp.get_context("fork")
        self.last: dict = {}                  # what the last block did, for reports and tests
        self.faults: list[str] = []           # injected faults for the next block (tests)

    @property
    def compiled(self):
        """The world's compiled summaries, made only when a window is worth scheduling."""
        if callable(self._compiled):
            self._compiled = self._compiled()
        return self._compiled

    # ------------------------------------------------------------ the pool
    def _ensure_pool(self) -> None:
        self._pool = [w for w in self._pool if w.process.is_alive()]
        while len(self._pool) < self.workers - 1:  # the parent is the first worker
            self._pool.append(Worker(self._mp, self.functions, self.world.code, self.widths))

    def _replace(self, k: int) -> None:
        self._pool[k].kill()
        self._pool[k] = Worker(self._mp, self.functions, self.world.code, self.widths)

    def close(self) -> None:
        for w in self._pool:
            w.kill()
        self._pool = []

    # ------------------------------------------------------------ a block
    def execute(self, ctx: Context, txs: list[Tx], progress=None) -> list[Outcome]:
        t0 = time.perf_counter()
        run = _Block(self, ctx, txs, progress)
        if self.force:
            step = self.force_window or max(1, len(txs))
            for pos in range(0, len(txs), step):
                run.lanes(pos, min(len(txs), pos + step), forced=True)
        elif self.workers < 2:
            run.inline(0, len(txs), "one worker")
        else:
            run.adaptive()
        run.seconds["total"] = time.perf_counter() - t0
        self.last = run.report()
        if not run.windows and self._pool:
            # Live workers share memory pages with this process: every page it then writes is
            # copied first, which slows a block run inline by a tenth.  They are forked again,
            # from the state of then, when a window pays for them.
            self.close()
        if progress is not None:
            progress(len(txs))
        return run.outcomes  # type: ignore[return-value]

    # ------------------------------------------------------------ one window on lanes
    def run_window(self, ctx: Context, txs: list[Tx], lanes: list[list[int]], schedule, timing: dict,
                   predicted: float = 0.0):
        """Plan, ship and run one window's lanes (``predicted``: the seconds the longest worker lane
        should take); returns (plan, parent's lane, failed lanes, stop)."""
        self.lane_timeout = self.timeout if self.timeout is not None else lane_timeout(predicted)
        forked = time.perf_counter()
        self._ensure_pool()
        timing["fork"] += time.perf_counter() - forked
        self.windows += 1
        workers = self._pool
        faults, self.faults = self.faults, []
        for k in range(len(lanes) - 1):
            for fault in faults:
                workers[k].send(fault.encode())
        start = time.perf_counter()
        plan = L.plan(ctx, txs, lanes, schedule.accesses, schedule.pure, self.compiled, self.world.by_address,
                      self.windows, self.fn_keys, lambda k, message: workers[k].send(message))
        L.poison(plan, ctx)
        planned = time.perf_counter()
        try:
            replies = [0] * len(plan.workers)
            escaped = [-1] * len(plan.workers)
            dead = [False] * len(plan.workers)

            def collect() -> None:
                for k, wp in enumerate(plan.workers):
                    while replies[k] < len(wp.messages) and not dead[k]:
                        got = workers[k].reply(0)
                        if got is None:
                            break
                        if got is False:
                            dead[k] = True
                            break
                        self._take(plan, k, got, replies, escaped, timing)

            live = L.run_live(ctx, txs, lanes[0], plan, collect if plan.workers else None)
            ran = time.perf_counter()
            failed, replaced = self._finish(plan, replies, escaped, dead, timing)
            stop = L.first_untrusted(plan, live, [e if e >= 0 else f for e, f in zip(escaped, failed)])
        except BaseException:
            L.unpoison(plan)
            raise
        timing["slice"] += planned - start
        timing["parent_lane"] += ran - planned
        timing["wait"] += time.perf_counter() - ran
        return plan, live, replaced, stop

    def cut(self, plan, stop: int) -> int:
        """Have every worker undo its lane from ``stop`` on and send its writes as of then.  A
        worker that cannot (it died) moves ``stop`` back to its lane's first transaction."""
        workers = self._pool
        done: dict[int, int] = {}
        while True:
            for k, wp in enumerate(plan.workers):
                if not wp.lane or wp.lane[0] >= stop:
                    wp.writes = []
                    continue
                if done.get(k) == stop:
                    continue
                workers[k].send(marshal.dumps((self.windows, stop)))
                got = self._await(k, time.monotonic() + self.lane_timeout)
                if not got:
                    self._replace(k)
                    wp.writes = []
                    stop = wp.lane[0]
                    break
                wp.writes = got[3][0]
                done[k] = stop
            else:
                return stop

    def _await(self, k: int, deadline: float):
        """Worker k's next reply; False if it is gone, None if it is late (past ``deadline``) or
        stopped: a stopped or dead worker is seen within WAIT_SLICE_S, not at the deadline."""
        worker = self._pool[k]
        while True:
            got = worker.reply(max(0.0, min(WAIT_SLICE_S, deadline - time.monotonic())))
            if got is not None:
                return got
            if time.monotonic() >= deadline or worker.stalled():
                return None

    def _take(self, plan, k: int, got, replies: list, escaped: list, timing: dict) -> None:
        window, results, esc, writes, seconds = got
        replies[k] += 1
        timing["worker"] += seconds
        if writes is not None:
            wp = plan.workers[k]
            wp.writes, wp.extent, wp.arith = writes
        for item in results:
            plan.results[item[0]] = item
        if esc is not None and (escaped[k] < 0 or esc < escaped[k]):
            escaped[k] = esc

    def _finish(self, plan, replies: list, escaped: list, dead: list, timing: dict) -> tuple[list[int], int]:
        """Wait for every worker's replies; a worker that dies, stops or hangs is replaced and its lane
        sent again once.  Returns, per worker lane, the first transaction without a result (or -1), and
        how many workers were replaced."""
        workers = self._pool
        failed = [-1] * len(plan.workers)
        replaced = 0
        for attempt in range(2):
            retry = []
            for k, wp in enumerate(plan.workers):
                while replies[k] < len(wp.messages) and not dead[k]:
                    # Each reply (one per chunk of its lane) resets the clock: a worker that makes
                    # progress is never given up, however wrong the prediction of its pace.
                    got = self._await(k, time.monotonic() + self.lane_timeout)
                    if not got:
                        dead[k] = True
                        break
                    self._take(plan, k, got, replies, escaped, timing)
                if dead[k]:
                    retry.append(k)
            if not retry:
                break
            for k in retry:
                self._replace(k)
                replaced += 1
                if attempt == 0:
                    replies[k] = 0
                    dead[k] = False
                    for message in plan.workers[k].messages:
                        workers[k].send(message)
                else:  # twice: its lane runs sequentially, from its first transaction
                    wp = plan.workers[k]
                    failed[k] = wp.lane[0]
                    for j in wp.lane:
                        plan.results.pop(j, None)
        return failed, replaced


class _Block:
    """One block's run: windows in order, each inline or on lanes, and what was measured."""

    def __init__(self, ex: ParallelExecutor, ctx: Context, txs: list[Tx], progress) -> None:
        self.ex, self.ctx, self.txs, self.progress = ex, ctx, txs, progress
        table = ex.costs
        self.cost = [table.get(tx.function, 0) if tx.fn is not None else 0 for tx in txs]
        self.outcomes: list = [None] * len(txs)
        # Measured as the block runs.
        self.us_per_cost = US_PER_COST_UNIT
        self.schedule_us = US_SCHEDULE_PER_TX
        self.parent_us = US_PARENT_PER_ACCESS
        self.accesses_per_tx: float | None = None
        self.giant = 0.0        # the largest component's share of the last scheduled window
        self.measured = False   # whether us_per_cost was measured on this block
        self.tried = 0          # windows scheduled for lanes (whether they then ran on lanes or not)
        self.parent_rate: float | None = None   # us per cost unit in the parent's lane, measured
        self.worker_rate: float | None = None   # ... and in a worker's (its messages included)
        # Reported.
        self.windows = 0
        self.on_lanes = 0
        self.lane_count = 0
        self.components = 0
        self.failed = 0
        self.fallback_from: int | None = None
        self.why = ""
        self.seconds = defaultdict(float)   # where the time went (docs/runtime.md)

    # ---------------------------------------------------------- the model
    def adaptive(self) -> None:
        n = len(self.txs)
        pos = self.inline(0, min(n, max(PROBE_MIN, min(PROBE_MAX, int(n * PROBE)))), "")
        streak = 0      # windows run inline since the last one on lanes
        while pos < n:
            # The first two windows tried on lanes are small: the first one's figures include a
            # cold worker (forked, its memory not yet its own), so one more try is cheap insurance.
            trial = self.tried < TRIALS
            end = self.window_end(pos, WINDOW_US / 24 if trial else WINDOW_US)
            light, giant = self.predict(pos, end, with_schedule=True)
            if light and not (0 < self.tried < TRIALS):
                self.inline(pos, n, LIGHT)  # the figures will not change: no window would pay
                return
            if giant and streak < RETRY_EVERY:
                pos = self.inline(pos, end, GIANT)
                streak += 1
                continue
            streak = 0
            pos = self.lanes(pos, end)

    def window_end(self, pos: int, target_us: float) -> int:
        """About ``target_us`` of inline execution from ``pos`` (a short tail joins the window)."""
        n = len(self.txs)
        sample = self.cost[pos:pos + 64]
        per_tx = self.us_per_cost * max(1.0, sum(sample) / len(sample))
        end = pos + min(n - pos, max(WINDOW_MIN, int(target_us / max(per_tx, 0.1))))
        return n if n - end < WINDOW_MIN else end

    def predict(self, pos: int, end: int, with_schedule: bool) -> tuple[bool, bool]:
        """(too light, one giant component): whether lanes would not finish well before inline."""
        w = self.ex.workers
        cost = sum(self.cost[pos:end])
        inline_us = cost * self.us_per_cost
        k = end - pos
        accesses = self.accesses_per_tx if self.accesses_per_tx is not None else 4.0
        # The parent slices and merges for the workers, and runs its own lane meanwhile, at the
        # speeds measured for its lane and for a worker's: the two end together when the parent
        # keeps c0 of the cost, parent + c0 * r0 = (cost - c0) * r1.
        parent = k * accesses * self.parent_us * (w - 1) / w
        r0 = self.parent_rate or self.us_per_cost
        r1 = (self.worker_rate or self.us_per_cost) / (w - 1)
        c0 = max(0.0, min(cost, (cost * r1 - parent) / (r0 + r1)))
        lanes_us = max(parent + c0 * r0, (cost - c0) * r1)
        overhead = US_ROUND_TRIP + (k * self.schedule_us if with_schedule else 0.0)
        gain = MIN_GAIN if with_schedule else 0.95  # scheduled already: any clear gain will do
        light = overhead + lanes_us >= gain * inline_us
        giant = overhead + max(lanes_us, inline_us * self.giant) >= gain * inline_us
        return light, giant

    # ---------------------------------------------------------- inline
    def inline(self, pos: int, end: int, why: str) -> int:
        if end <= pos:
            return pos
        start = time.perf_counter()
        self.outcomes[pos:end] = sequential.execute(self.ctx, self.txs[pos:end])
        spent = (time.perf_counter() - start) * 1e6
        self.seconds["inline"] += spent / 1e6
        cost = sum(self.cost[pos:end])
        if cost and end - pos >= PROBE_MIN:
            measured = spent / cost
            self.us_per_cost = measured if not self.measured else (self.us_per_cost + measured) / 2
            self.measured = True
        if why:
            self.why = why
        self._progress(end)
        return end

    # ---------------------------------------------------------- lanes
    def lanes(self, pos: int, end: int, forced: bool = False) -> int:
        ex, ctx = self.ex, self.ctx
        txs = self.txs[pos:end]
        costs = self.cost[pos:end]
        compiled = ex.compiled  # made once per world, the first time: not a window's scheduling
        self.tried += 1
        start = time.perf_counter()
        from ..schedule.components import partition

        schedule = partition(compiled, txs, ctx.storage, ctx.number, ctx.timestamp)
        by_comp: dict[int, list[int]] = defaultdict(list)
        comp_cost: dict[int, int] = defaultdict(int)
        for j, c in enumerate(schedule.comp):
            if txs[j].fn is not None:
                by_comp[c].append(j)
                comp_cost[c] += costs[j]
        total = sum(comp_cost.values())
        accesses = sum(map(len, schedule.accesses))
        k = end - pos
        self.accesses_per_tx = accesses / k
        scheduled = time.perf_counter()
        self.schedule_us = (scheduled - start) * 1e6 / max(k, 1)
        self.giant = max(comp_cost.values(), default=0) / total if total else 1.0
        seconds = self.seconds
        seconds["schedule"] += scheduled - start
        if not forced:
            light, giant = self.predict(pos, end, with_schedule=False)
            if light or giant or not total:
                return self.inline(pos, end, LIGHT if light else GIANT)
        t = time.perf_counter()
        lanes = self.pack(by_comp, comp_cost)
        seconds["pack"] += time.perf_counter() - t
        parent_before = seconds["slice"]
        lane_before, worker_before = seconds["parent_lane"], seconds["worker"]
        slowest = max((sum(costs[j] for j in lane) for lane in lanes[1:]), default=0)
        predicted = slowest * (self.worker_rate or self.us_per_cost) / 1e6
        plan, live, failed, stop = ex.run_window(ctx, txs, lanes, schedule, seconds, predicted)
        if stop is None:
            cost0 = sum(costs[j] for j in lanes[0])
            cost1 = sum(costs[j] for lane in lanes[1:] for j in lane)
            if cost0:
                self.parent_rate = (seconds["parent_lane"] - lane_before) * 1e6 / cost0
            if cost1:
                self.worker_rate = (seconds["worker"] - worker_before) * 1e6 / cost1
        merging = time.perf_counter()
        if stop is not None:
            stop = ex.cut(plan, stop)
        outcomes = L.settle(ctx, txs, plan, live, stop)
        merged = time.perf_counter()
        seconds["merge"] += merged - merging
        if stop is not None:
            outcomes[stop:] = sequential.execute(ctx, txs[stop:])
            if self.fallback_from is None:
                self.fallback_from = pos + stop
        self.outcomes[pos:end] = outcomes
        # What the parent spent for the workers (slicing, shipping, merging), per access it sliced.
        if plan.accesses:
            self.parent_us = ((seconds["slice"] - parent_before) + (merged - merging)) * 1e6 / plan.accesses
        self.windows += 1
        self.on_lanes += k if stop is None else stop
        self.lane_count = max(self.lane_count, len(lanes))
        self.components += len(by_comp)
        self.failed += failed
        self._progress(end)
        return end

    def pack(self, by_comp: dict, comp_cost: dict) -> list[list[int]]:
        """Components to lanes, largest first, each where it would finish first.  A lane's time is
        its cost at the speed measured for its kind (the parent's, a worker's: they differ, the
        parent's lane runs guarded, a worker's pays for its messages); the parent's lane (the first)
        starts with what the parent does for the others (slicing, merging)."""
        w = self.ex.workers
        rates = [self.parent_rate or self.us_per_cost] + [self.worker_rate or self.us_per_cost] * (w - 1)
        txs = sum(len(js) for js in by_comp.values())
        load = [0.0] * w
        load[0] = txs * self.accesses_per_tx * self.parent_us * (w - 1) / w
        comps: list[list[int]] = [[] for _ in range(w)]
        for c in sorted(by_comp, key=lambda c: (-comp_cost[c], c)):
            cost = comp_cost[c]
            k = min(range(w), key=lambda i: load[i] + cost * rates[i])
            comps[k].append(c)
            load[k] += cost * rates[k]
        if not comps[0]:  # the parent runs a lane too: the smallest component of the fullest one
            fullest = max(range(w), key=lambda i: len(comps[i]))
            if comps[fullest]:
                comps[0].append(comps[fullest].pop())
        lanes = [sorted(j for c in cs for j in by_comp[c]) for cs in comps]
        return [lanes[0]] + [lane for lane in lanes[1:] if lane]

    def _progress(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done)

    def report(self) -> dict:
        if self.windows:
            return {"mode": "parallel", "lanes": self.lane_count, "components": self.components,
                    "windows": self.windows, "on_lanes": self.on_lanes, "fallback_from": self.fallback_from,
                    "failed_lanes": self.failed, "why": self.why,
                    "seconds": {k: round(v, 6) for k, v in self.seconds.items()}}
        return {"mode": "inline", "why": self.why or "the block is too small", "lanes": 0,
                "fallback_from": None, "failed_lanes": 0}


def lane_timeout(predicted: float) -> float:
    """Seconds to wait for a worker lane predicted to take ``predicted`` seconds."""
    return LANE_TIMEOUT_MIN_S + LANE_TIMEOUT_FACTOR * predicted


def executor_for(chain, workers: int):
    """The chain's persistent parallel executor (created on first use)."""
    executor = getattr(chain, "_parallel", None)
    if executor is None or executor.workers != workers:
        if executor is not None:
            executor.close()
        executor = ParallelExecutor(chain.world, lambda: chain.compiled_summaries, workers)
        chain._parallel = executor
    return executor.execute
