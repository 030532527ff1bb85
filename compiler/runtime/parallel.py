"""The parallel executor (SPEC §4): a block's independent transactions on worker processes.

Workers are forked once the world and the state are loaded (:mod:`compiler.runtime.pool`)
and keep a replica of the state (:mod:`compiler.runtime.replica`).  For the
transactions on lanes the parent does no work per transaction in Python: it cuts
the block file into stripes, and works on arrays.  A block goes

1. **Schedule**, in the workers: each decodes its stripe and instantiates the
   access summaries of its transactions against the state before the block, and
   sends back the calls and the accesses as arrays of location ids.  Where a key
   was read from a location that an earlier transaction of the block writes, the
   transaction is instantiated again with the values the earlier writers store
   there (:class:`compiler.schedule.stored.StoredValues`), or with that
   location unresolved (a wildcard) when they cannot be said.
2. **Plan**, in the parent, with numpy (:mod:`compiler.runtime.plan`, which
   also estimated, before the schedule, whether lanes could pay): windows of
   the block, as large as their components deal evenly (the whole block when it
   can be), the components of each window (:mod:`compiler.schedule.vectorized`),
   and one lane per worker, components dealt to lanes by their measured cost.
   The cost model (each function's time, measured on a few of its
   transactions, over the whole block) says, window by window, whether lanes
   pay: a window of light transactions is run by the parent itself, beside the
   lanes' next window when that one keeps off its writes, and so are the light
   components of a window on lanes that touch nothing its heavy ones do (the
   parent as one more lane); if no window pays, the parent runs the block
   itself from the calls the workers decoded.
3. **Execute**, window by window: every worker runs its lane of the window on
   its replica, logging each access it makes.  In a window without wildcards
   each lane checks its log against the rows of its transactions (routed to it
   with their calls): the plan's lanes share only locations all read or all
   added to, so a lane that kept within its rows touched nothing another wrote,
   and it sends only the first transaction that did not
   (:func:`compiler.runtime.accesses.first_outside`).  Otherwise it checks its
   writes alone against its rows (a wildcard's: any key of its variable), and
   sends the first that wrote outside them and its log summed up per location;
   the parent checks, lane against lane, that no lane read or wrote what another
   lane of the window wrote earlier in block order.  A window of heavy
   transactions is shared in part: every lane also
   has the calls of its cheapest components and, after its own part, takes
   chunks of them in turns until none is left (:class:`compiler.runtime.pool.Turns`),
   so a lane on a slower core runs less; each chunk is checked against its own
   rows, and a transaction that cannot be trusted undoes the whole window.  The
   parent merges the adds several lanes made (if they stay in range in every
   order), the receipts, the state root's moves and the rows for a state file
   (:mod:`compiler.runtime.merge`), and sends each lane's writes to the others
   with the next window.  A window
   the parent runs itself goes through its own state (the lanes' writes
   applied first) and its writes go to every worker with the next window; it
   runs while the lanes run the window after it, or the one before it, when
   neither touches what the earlier one writes (behind the lanes, the parent
   runs the lanes' code, which logs every access, and checks it).

Whatever happens the result is the sequential one: a conflict found in a window
undoes the lanes from its first untrusted transaction (``Cut``) and the parent
runs the rest of the block sequentially; a worker that dies, stalls or fails takes
the block's writes back (the parent's state keeps what it took of them: ``undo_log``)
and the parent runs the block itself, from the calls the workers decoded; new
workers are forked for the next block (docs/runtime.md).
"""

from __future__ import annotations

import marshal
import math
import os
import stat
import time
from collections import defaultdict
from functools import cached_property
from itertools import compress, repeat
from operator import is_not, ne
from typing import Any, NamedTuple

import numpy as np

from . import accesses
from .accesses import A, R, W
from .decode import Block, count_newlines
from .executed import Executed
from .functions import FunctionTable
from .lazy import LazyModule, load
from .plan import MIN_GAIN, MIN_TRANSACTIONS, Planning, light_at_worst
from .cpus import usable_cpus
from .pool import ARENAS_HELD_MOST, DIE, HANG, Processes
from .cost_model import CostModel
from . import sequential
from ..schedule.vectorized import COLUMNS, distinct, isin, isin_sorted, pick, scope_id
from ..vm.locations import loc_id
from ..vm.transaction import Tx

# What only a block on lanes needs, loaded by the first such block (a block run inline needs none of
# it: :mod:`compiler.runtime.lazy`).
P = LazyModule("compiler.runtime.protocol")
merging = LazyModule("compiler.runtime.merge")
replica = LazyModule("compiler.runtime.replica")
stored_values = LazyModule("compiler.schedule.stored")


def _import_lanes() -> bool:
    """The lanes' machinery imported (once a process); whether it was now."""
    return load(P, merging, replica, stored_values)


US_SCHEDULE = 10.0         # a worker's decoding and instantiating of a transaction (for its timeout)
LANE_TIMEOUT_MIN_S = 2.0   # a worker's reply is waited for at least this long ...


def lane_timeout(predicted: float) -> float:
    """... and four times what it is predicted to take beyond it: a worker that does not answer by
    then is given up (one seen stopped or dead is given up at once, whatever the time)."""
    return LANE_TIMEOUT_MIN_S + 4 * predicted


_BEHIND = object()         # ``in_step`` of replicas a block run by the parent alone left behind
LINE_BYTES_LEAST = 30      # fewer bytes than the shortest line of a transaction, {"from":"a","to":"b","fn":"f",
                           #  "args":[]} (a block file holds at most its size over this many)
MODEL_S = 1.0              # the machine's speed, once timed, is taken for blocks that start this soon after

PEERS_MOST = 4             # workers, at most, that each get every stripe's calls (``Peers``: each unmarshals the
                           # whole block while the parent plans, and copies it out of the arenas; with more,
                           # or a network between them, the workers route each lane its calls) ...
PEERS_DELIVER_S = 1.0      # ... written to them before the plan for at most this long (a pipe takes 1 MB: what
                           # does not lie in an arena is written as they read it; a stopped worker's waits for
                           # the next reply)


class Behind(NamedTuple):
    """A window the parent ran while the lanes ran the one before it (``_BlockRun.run_behind``), or
    its part of the lanes' window (``run_beside``)."""
    mark: int                   # the events' mark before it (its writes are taken back to here)
    prepared: merging.Prepared | None   # what it adds to the block; None: an access outside its rows
    outside: str = ""           # then, a write or add outside them, named ("" when a read was)


class ParallelExecutor:
    """Persistent workers holding replicas of one chain's state; ``run`` runs a block on them."""

    def __init__(self, chain, workers: int, timeout: float | None = None, force: bool = False,
                 transport=None) -> None:
        self.chain = chain
        self.world = chain.world
        self.workers = max(1, workers)
        self.timeout = timeout             # seconds a reply may take (None: follows the work, at least 5 s)
        self.force = force                 # lanes whatever the model says (tests, lane bench) ...
        self.force_window: int | None = None   # ... in windows of this many transactions
        self.force_lanes: list[int] | None = None  # ... and each transaction on this lane (tests)
        self.force_inline: set[int] = set()  # ... and these windows run by the parent (tests)
        self.force_shared = False          # ... and every window that may be shared is, however light (tests)
        self.force_beside = False          # ... and the parent runs the light components of every window
                                           # that may have them beside the lanes (tests)
        self.beside = True                 # the parent may run such components (tests of other plans: False)
        self.force_routed = False          # ... and the workers route each lane its calls, as many workers do (tests)
        self.lane_timeout = LANE_TIMEOUT_MIN_S   # the last wait for a worker's reply, in seconds
        self.faults: list[bytes] = []      # injected into every worker before the next block (tests)
        self.table: FunctionTable | None = None
        self.rows = None                   # compiler.schedule.rows.RowMaker, for the estimate (made on first use)
        self.model: CostModel | None = None  # the cost model (None: at the machine's speed, ``machine_model``)
        self.timed: tuple[float, CostModel] | None = None  # (when, the model at the machine's speed then)
        self.transport = transport or Processes()
        self.serial = 0                    # blocks run on the workers (the messages' block numbers)
        self.last: dict = {}               # what the last block did, for reports and tests
        self.in_step: Any = None           # the state's hash the replicas hold (after this executor's last block)
        self.behind: tuple[int, list] | None = None  # the state's hash after blocks the parent ran alone since
                                                     # the replicas were in step, and what each changed

    # ------------------------------------------------------------ the workers
    def function_table(self) -> FunctionTable:
        """The world's pub functions, numbered as the workers number them (made on first use)."""
        if self.table is None:
            self.table = FunctionTable(self.world)
        return self.table

    def _ensure_pool(self) -> None:
        """Workers holding replicas of the chain's state as it is now: the ones alive are kept,
        unless the state moved since this executor's last block without them (another executor; a
        transaction or a restore of the testing API), which go.  Replicas left behind by blocks the
        parent ran alone, the state as those blocks left it, are brought in step (``_catch_up``)."""
        behind, self.behind = self.behind, None
        if behind is not None and behind[0] == self.chain.hash.accumulator and self._catch_up(behind[1]):
            self.in_step = behind[0]
        if self.in_step is not None and self.in_step != self.chain.hash.accumulator:
            self.close()
        self.transport.ensure(self.chain, self.function_table(), self.workers)

    def _catch_up(self, changes: list) -> bool:
        """The replicas brought in step by what the blocks the parent ran alone since they were
        (``changes``) changed: each changed key's value now, sent in one message (``Sync``), which
        they apply before the next (whether they all still live: else they go, and new ones are
        forked).  Forking them again would cost the next block on lanes the fork and the copies of
        the pages each first touches (20-25 ms for a block of 20,000 calls, 2026-12-06), and the
        blocks the parent runs alone meanwhile the copies of those the parent then writes."""
        if not all(w.process.is_alive() for w in self.transport.workers):
            return False
        keys: dict[int, tuple[Any, set]] = {}
        for changed in changes:
            for store, changed_keys, _olds, _news in changed.groups:
                keys.setdefault(id(store), (store, set()))[1].update(changed_keys)
        storage = self.chain.ctx.storage
        where = replica.places(storage)
        writes = {where[i]: dict(zip(ks, map(store.__getitem__, ks))) for i, (store, ks) in keys.items()}
        message = P.pack_parts(P.Sync(self.serial, [marshal.dumps(writes)]))
        for k in range(self.transport.size):
            self.transport.send(k, message)
        return True

    def replicas_ready(self) -> bool:
        """Whether workers holding the chain's state as it is now, or to be brought in step with it
        (``behind``), are alive: a block on lanes would fork none (``_ensure_pool``)."""
        return self.transport.size >= self.workers and self._follows(self.chain.hash.accumulator)

    def _follows(self, state: int) -> bool:
        """Whether the replicas hold the state whose hash is ``state``, or are to be brought in step
        with it (``behind``)."""
        return self.in_step == state or self.behind is not None and self.behind[0] == state

    def machine_model(self) -> CostModel:
        """The cost model at the machine's speed now: timed (about 1 ms), or as timed less than
        ``MODEL_S`` ago (blocks one after the other; a first block right after ``prepare``)."""
        now = time.monotonic()
        if self.timed is None or now - self.timed[0] > MODEL_S:
            self.timed = (now, CostModel.measured())
        return self.timed[1]

    def prepare(self, most: int | None = None) -> None:
        """What a process's first block on lanes would make first, made now, before any block
        (``lane run`` and ``lane bench`` prepare once the world is loaded: start-up, not the first
        block's time): the lanes' modules imported, the block decoder and the compiled summaries
        made, the estimate's row maker, and the machine timed.  Not the workers: once forked,
        they share the parent's pages, and the parent pays a copy of each one it then writes
        (about 1,200 pages, 4-5 ms, on the next block it runs: measured on 2026-12-06), which a
        block the model keeps inline would bear; they are forked when a block first goes to
        lanes.  Nothing where lanes cannot run (one worker, or one CPU usable) nor where no block
        to come can pay for them (``most``: the most transactions one may hold, too few, or too
        light even were each a call of the world's costliest function: the cheapest of the
        judgements ``run`` makes, so that a run of small blocks loads none of the lanes'
        machinery)."""
        if self.workers < 2 or usable_cpus() < 2:
            return
        if most is not None and (most < MIN_TRANSACTIONS or self.model is None and
                                 light_at_worst(max(self.function_table().costs, default=0), most)):
            return
        _import_lanes()
        from ..schedule.rows import RowMaker

        self.chain.decoder()
        if self.rows is None:
            self.rows = RowMaker(self.chain.compiled_summaries)
        if self.model is None:
            self.machine_model()

    @property
    def _pool(self) -> list:
        """The workers (processes), for the tests."""
        return self.transport.workers

    def close(self) -> None:
        self.transport.close()
        self.in_step = self.behind = None

    # ------------------------------------------------------------ a block
    def run(self, source: bytes | Block, display: str, number: int, timestamp: int, progress=None) -> Executed:
        """Run a block (its file's bytes, or a decoded block) on the chain's state (replicas left
        behind by the state are brought in step, or go, when a block next needs lanes:
        ``_ensure_pool``)."""
        start, cpu = time.perf_counter(), time.process_time()
        before = self.chain.hash.accumulator
        run = _BlockRun(self, source, display, number, timestamp, progress)
        try:
            executed = run.go()
        finally:
            if run.drained:  # (what the parent keeps of the block is copied out of the workers' replies:
                self.transport.release()  # ``Chain.defer``, ``_Merge.executed``)
            elif self.transport.held() > ARENAS_HELD_MOST:
                # Blocks the workers scheduled but the plan ran inline, one after the other, fill the
                # arenas (nothing tells that every worker has read them): the workers go, and are
                # forked again when a block next goes to lanes.
                self.close()
            run.timing["total"] = time.perf_counter() - start
            # (the lanes' modules imported by the process's first block on lanes are its start-up,
            # not the block's work: ``seconds.imports`` says how long they took)
            run.timing["parent_cpu"] = time.process_time() - cpu - run.imports_cpu
        run.n = run.n or sum(executed.counts.values())
        self.last = executed.detail = run.report()
        if run.mode != "parallel":
            # The parent ran the block alone and the replicas did not follow.  On this machine they
            # are brought in step when lanes are next used, from what the block changed (and those
            # after it the parent ran alone: ``_catch_up``), if the state is then as these blocks
            # left it; else they go then (or when the chain closes: not in this block's time, nor an
            # inline one's), and are made again from the state as it is then.
            if self.transport.workers and getattr(self.transport, "local", False) and \
                    executed.changes is not None and self._follows(before):
                self.behind = (executed.accumulator, (self.behind[1] if self.behind else []) + [executed.changes])
            else:
                self.behind = None
            self.in_step = _BEHIND if self.transport.workers else None
        elif self.transport.workers:
            self.in_step = executed.accumulator
        return executed


def _lines(source: bytes | Block) -> int:
    """A block's transactions (its lines, for a block file: blank ones too, at most a few)."""
    if isinstance(source, Block):
        return len(source)
    return count_newlines(source) + (0 if source.endswith(b"\n") else 1)


class Fault(Exception):
    """A worker died, stalled, or failed: the block (or window) goes on without the workers."""


class Clash(Fault):
    """Two locations the block changed have one id: the lanes' result, merged by id, is not to be
    trusted (the parent runs the block: ``Replica._clash``)."""

    def __str__(self) -> str:
        return ("two locations the block changed have one id (a key 2^61 - 1 from another, say), which the lanes' "
                "merge would count as one")


class _BlockRun(Planning):
    """One block's run: its phases, what the workers sent, what was measured."""

    def __init__(self, ex: ParallelExecutor, source, display: str, number: int, timestamp: int, progress) -> None:
        self.ex, self.source, self.display = ex, source, display
        self.number, self.timestamp, self.progress = number, timestamp, progress
        self.chain = ex.chain
        self.timing: dict[str, float] = defaultdict(float)
        self.mode = "inline"
        self.why = ""
        self.imports_cpu = 0.0  # the CPU time the process's first block on lanes spent importing their modules
        self.windows = 0
        self.lanes = 0
        self.components = 0
        self.on_lanes = 0
        self.fallback_from: int | None = None
        self.inline_windows = 0   # windows the parent ran itself ...
        self.ahead_windows = 0    # ... of them while the lanes ran the next one ...
        self.behind_windows = 0   # ... or the one before
        self.beside_windows = 0   # windows on lanes whose light components the parent ran beside them ...
        self.beside = 0           # ... and those components' transactions
        self.checked_windows = 0  # windows on lanes whose lanes checked their own accesses ...
        self.shared_windows = 0   # ... of them whose lanes shared the work in turns
        self.turns = np.zeros(0, np.int64)  # per window, its chunks shared in turns (0: dealt; ``execute``)
        self.peers = False        # every worker holds every stripe's calls (``schedule``: Peers sent)
        self._calls: dict[int, list] = {}  # each stripe's calls, unmarshalled (``calls``)
        self.failed = 0
        self.n = 0
        self.longest_wait = 0.0   # the longest a reply of this block was waited for
        self.measured: dict[int, float] = {}  # microseconds inline per function id (estimate)
        # Every worker has answered the block's last message (Finish): none reads a message of the
        # block again, so their arenas may be written from the start again (``Processes.release``).
        self.drained = False
        self._sampled: tuple | None = None  # a small block's sample instantiated by the estimate: (mask, rows)
        self.estimated: tuple[float, float] | None = None  # its microseconds inline, and at best on lanes
        self._model: CostModel | None = None
        self.resolved: dict[int, dict] = {}  # transaction -> {location: values forwarded, or None}, as asked

    @cached_property
    def stored(self) -> stored_values.StoredValues:
        """What transactions store at locations read to make keys (the workers' ``Scheduled.stored``)."""
        return stored_values.StoredValues()

    @cached_property
    def length(self) -> int:
        """The block's transactions (:func:`_lines`: a count of a block file's lines, counted once)."""
        return _lines(self.source)

    @cached_property
    def costs(self) -> np.ndarray:
        """Each transaction's static cost (its function's, :meth:`FunctionTable.costs`; 0: invalid)."""
        return np.array(self.ex.table.costs + [0], np.int64)[self.fnids]


    @property
    def model(self) -> CostModel:
        """The cost model at the machine's speed now (the executor's ``machine_model``, when first
        needed), or the executor's fixed one (tests)."""
        if self._model is None:
            self._model = self.ex.model or self.ex.machine_model()
        return self._model

    def report(self) -> dict:
        """What the block did, and what it cost: ``parent_us_per_tx`` is the parent's own work, per
        transaction: its CPU time (not its time but for its waits for workers: on a machine with no
        core to spare, a worker it wakes may take its core while it sends, and that time is the
        worker's work); ``cpu_seconds`` the time of every process on the block (the parent's CPU and
        each worker's time on its messages)."""
        timing = self.timing
        n = max(self.n, 1)
        parent = timing.get("parent_cpu", 0.0)
        return {"mode": self.mode, "why": self.why, "lanes": self.lanes, "windows": self.windows,
                "components": self.components, "on_lanes": self.on_lanes, "inline_windows": self.inline_windows,
                "ahead_windows": self.ahead_windows, "behind_windows": self.behind_windows,
                "beside_windows": self.beside_windows, "beside": self.beside,
                "checked_windows": self.checked_windows,
                "shared_windows": self.shared_windows, "calls_routed": self.mode == "parallel" and not self.peers,
                "fallback_from": self.fallback_from,
                "failed_lanes": self.failed, "workers": self.ex.workers,
                "speed": round(self._model.speed, 3) if self._model else None,
                "estimated": None if self.estimated is None else
                {k: round(us / 1e6, 6) if math.isfinite(us) else None
                 for k, us in zip(("inline", "lanes"), self.estimated)},
                "parent_us_per_tx": round(parent * 1e6 / n, 3),
                "cpu_seconds": round(timing.get("parent_cpu", 0.0) + timing.get("workers_cpu", 0.0), 6),
                "seconds": {k: round(v, 6) for k, v in timing.items()}}

    # ------------------------------------------------------------ the phases
    def go(self) -> Executed:
        ex = self.ex
        if ex.workers < 2:
            self.why = "one worker"
            return self.inline_all()
        if not ex.force:  # (the cheapest judgements first: a small block pays for none of the others)
            if self.length < MIN_TRANSACTIONS:  # (before the estimate: no sample of it to decode)
                self.why = "the block is too small"
                return self.inline_all()
            if self.light_at_worst(max(self.ex.function_table().costs, default=0)):
                self.why = ("light transactions: even at the worst-case cost of the world's costliest function, "
                            "scheduling them on lanes would cost more than running them")
                return self.inline_all()
            if self.cpus < 2:  # (its control groups' files read: a tenth of a millisecond)
                self.why = "one CPU usable (the process's affinity or its control group's quota): lanes would share it"
                return self.inline_all()
            t = time.perf_counter()
            inline, best = self.estimated = self.estimate()
            self.lap("estimate", t)
            if best > MIN_GAIN * inline or inline < self.model.min_work_us:  # (light at any speed: best is inf)
                self.why = self.why or "light transactions: scheduling them on lanes would cost more than running them"
                return self.inline_all()
        try:
            t, cpu = time.perf_counter(), time.process_time()
            if _import_lanes():
                self.imports_cpu = time.process_time() - cpu
                t = self.lap("imports", t)
            ex._ensure_pool()
            self.lap("start", t)
            for fault in ex.faults:  # "die" or "hang" (tests)
                for k in range(ex.transport.size):
                    ex.transport.send(k, fault.encode() if isinstance(fault, str) else fault)
            ex.faults = []
            ex.serial += 1
            self.serial = ex.serial
            self.schedule()
        except Fault as fault:
            ex.close()
            self.failed += 1
            self.why = f"a worker failed while scheduling ({fault}): the parent ran the block"
            return self.inline_all()
        plan = self.plan()
        if plan is None:
            return self.inline_from_calls(0)
        return self.execute(plan)


    # ------------------------------------------------------------ inline
    def inline_all(self) -> Executed:
        """The block run by the parent alone (the sequential executor's path)."""
        return self.chain._run_sequential(self.source, self.display, self.progress, self.timing)

    def inline_from_calls(self, first: int) -> Executed:
        """The block run by the parent from the calls the workers decoded, from transaction ``first``
        (before it, lanes ran it: their results are merged already)."""
        block = self.block_from_calls()
        if first == 0:
            return self.chain._run_sequential(block, self.display, self.progress, self.timing)
        raise AssertionError("partial inline runs go through execute()")  # pragma: no cover

    def block_from_calls(self, begin: int = 0, end: int | None = None, logged: bool = False,
                         idx: np.ndarray | None = None) -> Block:
        """The block (or its transactions ``begin`` to ``end``, or those of them in ``idx``, valid
        ones) as calls, from what the workers decoded (no decoding in the parent); ``logged``: with
        the lanes' code, which logs every access."""
        end = self.n if end is None else end
        table = self.ex.table
        calls = self.calls(begin, end)
        if idx is not None:
            calls = pick(calls, (idx - begin).tolist())
        fnids = (self.fnids[begin:end] if idx is None else self.fnids[idx]).tolist()
        used = set(fnids)  # (each function's code looked up once: map, not a loop, per transaction)
        codes = {f: (table.logged_code(f) if logged else table.plain[f]) if f >= 0 else None for f in used}
        functions = {f: table.functions[f] if f >= 0 else None for f in used}
        fns = list(map(codes.__getitem__, fnids))
        functions = list(map(functions.__getitem__, fnids))
        invalid = {} if idx is not None else {i - begin: Tx(i, line, 0, 0, None, None, None, (), reason)
                                              for i, line, reason in self.invalid if begin <= i < end}
        lines = (self.lines[begin:end] if idx is None else self.lines[idx]).tolist()
        return Block(self.chain.world, fns, calls, functions, invalid, lines, begin)

    def run_inline(self, merge: merging._Merge, begin: int, end: int, sync: list[list[bytes]]) -> list:
        """Transactions ``begin`` to ``end`` (a window of light ones: lanes would cost more than they
        save) run by the parent on its own state, the lanes' writes so far applied to it first; their
        writes go to every worker with its next message.  The variables they changed."""
        block = self.parent_block(merge, begin, end)
        ctx = self.chain.ctx
        ctx.journal.clear()
        outcomes = sequential.execute(ctx, block, keep_journal=True)
        prepared = merge.prepared(begin, end, outcomes, ctx.journal)
        merge.inline(prepared, sync)
        ctx.journal.clear()
        return prepared.places

    def parent_block(self, merge: merging._Merge, begin: int, end: int, logged: bool = False,
                     idx: np.ndarray | None = None) -> Block:
        """Transactions ``begin`` to ``end`` (or those of them in ``idx``) ready for the parent to run
        (``block_from_calls``): the lanes' writes so far applied to its state, and what they name
        read from a state file in bulk."""
        merge.settle()
        block = self.block_from_calls(begin, end, logged, idx)
        if self.chain.store is not None:
            self.chain.prefetch(block)
        return block

    def run_behind(self, merge: merging._Merge, begin: int, end: int) -> Behind:
        """Transactions ``begin`` to ``end`` (a window of light ones) run by the parent while the
        lanes run the window before them, which is predicted to write nothing they touch
        (``_run_logged``)."""
        return self._run_logged(merge, begin, end)

    def run_beside(self, merge: merging._Merge, begin: int, end: int, idx: np.ndarray) -> Behind:
        """The parent's part of the lanes' window ``begin`` to ``end`` (its transactions ``idx``: the
        light components of a window, none of which touches what the lanes' do but for reads of what
        none writes, ``plan``) run by the parent while the lanes run the rest (``_run_logged``): its
        CPU time apart (``beside_cpu``: a lane's work the parent does, within ``parent_cpu``)."""
        cpu = time.process_time()
        try:
            return self._run_logged(merge, begin, end, idx)
        finally:
            self.timing["beside_cpu"] += time.process_time() - cpu

    def _run_logged(self, merge: merging._Merge, begin: int, end: int, idx: np.ndarray | None = None) -> Behind:
        """Transactions ``begin`` to ``end`` (or those of them in ``idx``) run by the parent while the
        lanes run: with the code that logs every access (the lanes'), checked against their rows.
        Their writes stay in the journal (``execute`` takes them, or takes them back)."""
        block = self.parent_block(merge, begin, end, True, idx)
        ctx = self.chain.ctx
        ctx.journal.clear()
        for entries in ctx.log:
            entries.clear()
        mark = len(ctx.events)
        outcomes = sequential.execute(ctx, block, keep_journal=True)
        loc = np.concatenate([np.fromiter(e, np.int64, len(e)) for e in ctx.log])
        mode = np.repeat(np.array([R, W, A], np.int8), [len(e) for e in ctx.log])
        for entries in ctx.log:
            entries.clear()
        rows = self.all_rows
        mine = (rows["tx"] >= begin) & (rows["tx"] < end)
        if idx is not None:
            mine &= isin(rows["tx"], idx)
        # (a reverted transaction's writes are checked as writes: stricter than need be, and rare)
        allowed = accesses.expected(rows["loc"][mine], rows["mode"][mine])
        if accesses.first_outside(allowed, np.zeros(0, np.int64), np.full(len(loc), begin, np.int64), loc, mode) < 0:
            return Behind(mark, merge.prepared(begin, end, outcomes, ctx.journal, idx))
        return Behind(mark, None, self._named_outside(merge, ctx.journal, allowed, loc, mode))

    def _named_outside(self, merge: merging._Merge, journal: list, allowed: tuple, loc: np.ndarray,
                       mode: np.ndarray) -> str:
        """A write or add of the parent's log (``loc``, ``mode``) that ``allowed`` does not allow,
        named from the journal that holds it ("an add to pot.light[0x...]"); "" when only reads are
        outside (the log has their locations' ids alone), or the write was undone with its reverted
        transaction."""
        ok, alone = accesses.allows(allowed, loc, mode)
        outside = ~(ok | alone) & (mode != R)
        if not outside.any():
            return ""
        modes = dict(zip(loc[outside].tolist(), mode[outside].tolist()))
        where = merge.where
        for store, key, _old in journal:  # (on a fallback only: one entry at a time is cheap enough)
            address, index = where[id(store)]
            written = modes.get(loc_id(address, index, key))
            if written is not None:
                contract = self.chain.world.by_address[address].contract
                compiled = self.chain.compiled_summaries
                vid = compiled.var_ids(contract.name, list(contract.storage)[index])
                return f"{'an add to' if written == A else 'a write of'} {compiled.describe((address, vid, key))}"
        return ""

    # ------------------------------------------------------------ 1. schedule
    def schedule(self) -> None:
        t = time.perf_counter()
        ex = self.ex
        w = ex.transport.size
        messages = self.stripes(w)
        for k, m in enumerate(messages):
            ex.transport.send(k, P.pack_parts(m))
        got = self.collect(range(len(messages)), P.Scheduled, self.length * US_SCHEDULE / 1e6 / len(messages))
        parts = [got[k] for k in range(len(messages))]
        offsets = np.cumsum([0] + [p.n for p in parts])
        self.n = int(offsets[-1])
        self.first = offsets[:-1]
        self.stripe_calls = [p.calls for p in parts]
        self.fnids = np.concatenate([P.arr(p.fnids, np.int32) for p in parts])
        self.lines = np.concatenate([P.arr(p.lines, P.I64) if p.lines else
                                     np.arange(m.first_line, m.first_line + p.n, dtype=np.int64)
                                     for p, m in zip(parts, messages)])
        # Stripes number their transactions from 0: block indices are the stripe's offset plus them.
        self.invalid = [(i + int(off), line, reason) for p, off in zip(parts, self.first)
                        for i, line, reason in marshal.loads(p.invalid)]
        if isinstance(self.source, Block):
            self.invalid = [(i, self.source.lines[i], tx.invalid) for i, tx in sorted(self.source.invalid.items())]
        self.owner = np.repeat(np.arange(len(parts)), [p.n for p in parts])
        self.rows = [_offset(_rows(p.rows), off) for p, off in zip(parts, self.first)]
        self.sources = [_offset(_sources(p.sources), off) for p, off in zip(parts, self.first)]
        for p, off in zip(parts, self.first):
            self.stored.replace((), _offset_stored(p.stored, off))
        self.timing["workers_schedule"] += sum(p.seconds for p in parts)
        self.reschedule()
        # A few workers on this machine: each gets the other stripes' calls now, and unmarshals them
        # while the parent plans (they would wait): the plan's lanes then need no routing.
        self.peers = w <= PEERS_MOST and getattr(ex.transport, "local", False) and not ex.force_routed
        if self.peers:
            rows = tuple(ex.transport.shared(self.all_rows[name]) for name in replica.PEERS_ROWS)  # (once for all)
            for k in range(w):
                ex.transport.send(k, P.pack_parts(P.Peers(self.serial, [b"" if j == k else calls for j, calls
                                                                       in enumerate(self.stripe_calls)], rows)))
            ex.transport.deliver(PEERS_DELIVER_S)  # (read by the workers now: they wait for it)
        self.timing["schedule"] += time.perf_counter() - t

    def calls(self, begin: int, end: int) -> list:
        """The calls of transactions ``begin`` to ``end``, as the workers decoded them (each stripe's
        unmarshalled when first needed: a window the parent runs may need one stripe's)."""
        out: list = []
        bounds = self.first.tolist() + [self.n]
        for k, blob in enumerate(self.stripe_calls):
            a, b = bounds[k], bounds[k + 1]
            if b <= begin or a >= end:
                continue
            calls = self._calls.get(k)
            if calls is None:
                calls = self._calls[k] = marshal.loads(blob)
            out += calls[max(begin, a) - a:min(end, b) - a]
        return out

    def stripes(self, w: int) -> list[P.Schedule]:
        """The block cut into ``w`` stripes of whole lines (or of decoded calls)."""
        ex, source = self.ex, self.source
        limit = self.chain.world.cost_limit
        out = []
        if isinstance(source, Block):
            table = ex.table
            ids = table.ids
            items = [(ids.get(f, -1) if f is not None else -1, c, line)
                     for f, c, line in zip(source.functions, source.calls, source.lines)]
            cut = np.linspace(0, len(items), w + 1).astype(int)
            for k in range(w):
                a, b = int(cut[k]), int(cut[k + 1])
                out.append(P.Schedule(self.serial, self.number, self.timestamp, limit, b"", 0, 0,
                                      marshal.dumps(items[a:b])))
            return out
        # (a stripe is a view of the file's bytes where every worker reads them: it travels raw, uncopied)
        data, view = source, ex.transport.shared(source)
        bounds = [0]
        for k in range(1, w):
            at = data.find(b"\n", max(bounds[-1], len(data) * k // w))
            bounds.append(len(data) if at < 0 else at + 1)
        bounds.append(len(data))
        line = 1
        for k in range(w):
            a, b = bounds[k], bounds[k + 1]
            out.append(P.Schedule(self.serial, self.number, self.timestamp, limit, view[a:b], 0, line, b""))
            if k + 1 < w:  # (the last stripe's lines number nothing after it)
                line += count_newlines(data, a, b)
        return out

    def collect(self, which, kind, predicted: float = 0.0) -> dict[int, Any]:
        """Each of the workers ``which``'s next reply (a Fault if one fails); ``predicted`` is how
        long the work should take them, in seconds (the timeout follows it, and starts again whenever
        a worker says it is still at work: ``Progress``)."""
        ex = self.ex
        waiting = set(which)
        got: dict[int, Any] = {}
        timeout = ex.timeout if ex.timeout is not None else lane_timeout(predicted)
        self.longest_wait = max(self.longest_wait, timeout)
        ex.lane_timeout = self.longest_wait
        deadline = time.monotonic() + timeout
        started = time.perf_counter()
        try:
            while waiting:
                for k, reply in ex.transport.wait(waiting, min(0.25, max(0.0, deadline - time.monotonic()))):
                    if reply is False:
                        raise Fault(f"worker {k} stopped answering")
                    m = P.unpack(reply)
                    if isinstance(m, P.Error):
                        raise Fault(f"worker {k}: {m.message.strip().splitlines()[-1]}")
                    if isinstance(m, P.Progress) and m.block == self.serial:  # (at work: its clock starts again)
                        deadline = time.monotonic() + timeout
                        continue
                    if not isinstance(m, kind) or m.block != self.serial:
                        continue  # a late reply of an abandoned run
                    got[k] = m
                    waiting.discard(k)
                    self.timing["workers_time"] += getattr(m, "seconds", 0.0)
                    self.timing["workers_cpu"] += getattr(m, "cpu", 0.0)
                    self.timing["workers_sync"] += getattr(m, "synced", 0.0)
                if waiting and time.monotonic() > deadline:
                    raise Fault(f"no reply within {timeout:.3g} s")
        finally:
            self.timing["waiting"] += time.perf_counter() - started
        return got

    def reschedule(self) -> None:
        """Transactions whose keys were read from a location an earlier transaction writes are
        instantiated again with what it may hold then (``tainted``), until their answers settle."""
        affected: tuple[np.ndarray, np.ndarray] | None = None  # (see ``tainted``: None, every reader)
        for _ in range(8):
            tainted = self.tainted(affected)
            if not tainted:
                self.all_rows = _concat(self.rows)  # (the plan's)
                return
            for k, (txs, locs, values) in tainted.items():
                local = (txs - self.first[k]).astype(np.int64)
                message = P.Reschedule(self.serial, local.tobytes(), locs.tobytes(), marshal.dumps(values))
                self.ex.transport.send(k, P.pack_parts(message))
            got = self.collect(tainted, P.Rescheduled)
            # A reader's answer follows the writes and stored values at the location it reads: only
            # those of the locations the transactions instantiated again wrote or stored at, before
            # or now, or read now, can change, and those of a variable one of them wrote by wildcard.
            touched: list[np.ndarray] = []
            wild: list[np.ndarray] = []
            for k, m in got.items():
                off = self.first[k]
                again = P.arr(m.txs, P.I64) + off
                txs = again.tolist()
                follows = {t: given for t in txs
                           if (given := {where for where, v in self.resolved[t].items() if v is not None})}
                touched.append(self.stored.replace(txs, _offset_stored(m.stored, off), follows))
                keep = ~isin(self.rows[k]["tx"], again)
                fresh = _offset(_rows(m.rows), off)
                gone = np.flatnonzero(~keep)
                for part in ({f: self.rows[k][f][gone] for f in ("mode", "wild", "var", "loc")}, fresh):
                    changes = part["mode"] != R
                    wild.append(part["var"][changes & part["wild"]])
                    touched.append(part["loc"][changes & ~part["wild"]])
                self.rows[k] = {f: np.concatenate([v[keep], fresh[f]]) for f, v in self.rows[k].items()}
                keep = ~isin(self.sources[k]["tx"], again)
                fresh = _offset(_sources(m.sources), off)
                touched.append(fresh["loc"])
                self.sources[k] = {f: np.concatenate([v[keep], fresh[f]]) for f, v in self.sources[k].items()}
            affected = distinct(np.concatenate(touched)), distinct(np.concatenate(wild))
        self.all_rows = _concat(self.rows)
        self.why = "keys read from locations written earlier did not settle"

    def tainted(self, affected: tuple[np.ndarray, np.ndarray] | None = None
                ) -> dict[int, tuple[np.ndarray, np.ndarray, list]]:
        """Per worker, the transactions to instantiate again: those that read a value (to make a key,
        most often) from a location an earlier transaction of the block writes, each with every such
        location and what it may hold then (``Reschedule``): the values the earlier writers store
        there, forwarded, or None (unresolved) when one of them cannot be said, when the location is
        not of a variable read to make keys, or when a wildcard write of its variable comes earlier.
        Only the transactions whose answer changed since they were last instantiated, among the readers
        of the locations and variables ``affected`` (sorted location ids, sorted variable ids; None:
        every reader)."""
        src = _concat(self.sources)
        if affected is not None:
            locs, wild_vars = affected
            keep = np.flatnonzero(isin_sorted(src["loc"], locs) | isin(src["var"], wild_vars))
            src = {f: v[keep] for f, v in src.items()}
        if not len(src["tx"]):
            return {}
        # The earliest writer of each location read, looked up for each read by sorted keys: the
        # writes of those locations only (a few of the block's), found by binary search, stripe by
        # stripe, and wildcard writes.
        read = distinct(src["loc"])
        got: list[tuple] = []
        for rows in self.rows:
            changes = rows["mode"] != R
            exact = np.flatnonzero(changes & ~rows["wild"])
            exact = exact[isin_sorted(rows["loc"][exact], read)]
            wild = np.flatnonzero(changes & rows["wild"])
            got.append((rows["loc"][exact], rows["tx"][exact], rows["var"][wild], rows["inst"][wild], rows["tx"][wild]))
        loc_w, tx_w, var_wild, inst_wild, tx_wild = (np.concatenate(c) for c in zip(*got))
        locs, first_tx = merging._earliest(loc_w, tx_w)
        hit = _before(locs, first_tx, src["loc"], src["tx"])
        # A wildcard write of the variable (of one instance, or of every one), earlier, taints every
        # read of it: the earliest such write per (variable, instance), looked up by sorted keys.
        unresolved = ~isin(src["var"], np.array(sorted(self.chain.compiled_summaries.key_vids), np.int64))
        if len(tx_wild):
            keys, first_tx = merging._earliest(scope_id(var_wild, inst_wild), tx_wild)
            for inst in (src["inst"], np.full(len(src["inst"]), -1, np.int64)):
                scoped = _before(keys, first_tx, scope_id(src["var"], inst), src["tx"])
                hit |= scoped
                unresolved |= scoped
        if not hit.any():
            return {}
        tx, loc, unresolved = src["tx"][hit], src["loc"][hit], unresolved[hit]
        order = np.lexsort((loc, tx))
        tx, loc, unresolved = tx[order], loc[order], unresolved[order]
        first = np.ones(len(tx), bool)
        first[1:] = (tx[1:] != tx[:-1]) | (loc[1:] != loc[:-1])
        starts = np.flatnonzero(first)
        unresolved = np.logical_or.reduceat(unresolved, starts)
        # What each pair is read as now; a transaction whose answers changed is instantiated again.
        # (By C code over the pairs: only the changed ones are recorded one transaction at a time.)
        resolved = self.resolved
        tx, loc = tx[starts], loc[starts]
        tx_list, loc_list = tx.tolist(), loc.tolist()
        olds = list(map(dict.get, map(resolved.get, tx_list, repeat(_NO_ANSWERS)), loc_list, repeat(_NEW)))
        alive = np.fromiter(map(is_not, olds, repeat(None)), bool, len(olds))  # (unresolved stays so)
        told: list = [None] * len(olds)  # (None: unresolved)
        asked = np.flatnonzero(alive & ~unresolved)
        if len(asked):
            list(map(told.__setitem__, asked.tolist(), self.stored.before(tx[asked], loc[asked])))
        changed = alive & np.fromiter(map(ne, olds, told), bool, len(olds))
        if not changed.any():
            return {}
        tx = tx[changed]
        heads = np.flatnonzero(np.r_[True, tx[1:] != tx[:-1]])
        again = tx[heads].tolist()
        mask = changed.tolist()
        wheres, news = list(compress(loc_list, mask)), list(compress(told, mask))
        for t, a, b in zip(again, heads.tolist(), heads[1:].tolist() + [len(tx)]):
            answers = resolved.get(t)
            if answers is None:
                answers = resolved[t] = {}
            answers.update(zip(wheres[a:b], news[a:b]))
        out: dict[int, tuple[list, list, list]] = {}
        for t, owner in zip(again, self.owner[np.array(again, np.int64)].tolist()):
            txs, locs, values = out.setdefault(owner, ([], [], []))
            answers = resolved[t]
            txs += [t] * len(answers)
            locs += answers
            values += answers.values()
        return {k: (np.array(txs, np.int64), np.array(locs, np.int64), values)
                for k, (txs, locs, values) in out.items()}


    # ------------------------------------------------------------ 3. execute
    def execute(self, plan: dict) -> Executed:
        ex = self.ex
        lanes, bounds = plan["lanes"], plan["bounds"]
        w = ex.transport.size
        self.mode = "parallel"
        self.lanes = w
        t0 = time.perf_counter()
        share = ex.transport.shared  # (what every worker gets, written once where they all read it)
        lanes_bytes = share(lanes.astype(np.int8))
        fnids_bytes = share(self.fnids.astype(np.int32))
        windows_bytes = np.array(bounds, np.int64).tobytes()
        adds, add_offsets = (a.tobytes() for a in plan["shared_adds"])
        checked = plan["checked"]
        checked_bytes = checked.astype(np.int8).tobytes()
        chunks = plan.get("chunks")
        # Each window's chunks, shared by its lanes in turns (0: dealt to them).
        self.turns = np.zeros(len(bounds) - 1, np.int64) if chunks is None else \
            np.maximum.reduceat(chunks, np.array(bounds[:-1], np.int64)).astype(np.int64) + 1
        chunks_bytes = b"" if chunks is None else share(chunks)
        for k in range(w):
            message = P.Lanes(self.serial, k, w, lanes_bytes, windows_bytes, int(self.first[k]), fnids_bytes, adds,
                              add_offsets, checked_bytes, chunks_bytes)
            ex.transport.send(k, P.pack_parts(message))
        if not self.peers:  # (after Peers, every worker holds every call and row: each takes its lane's)
            try:  # each lane gets the calls of its transactions that the other stripes decoded
                routed = self.collect(range(w), P.Routed)
            except Fault as fault:
                return self.abandon(merging._Merge(self, lanes), fault)
            for k in range(w):
                ex.transport.send(k, P.pack_parts(P.Calls(self.serial, [routed[j].blobs[k] for j in range(w)
                                                                        if j != k])))
        merge = merging._Merge(self, lanes)
        # Each window's part run by the parent beside its lanes (the lane no worker has: ``plan``).
        part_idx = np.flatnonzero(lanes == w)
        part_cuts = np.searchsorted(part_idx, bounds).tolist()
        sync: list[list[bytes]] = [[] for _ in range(w)]
        stop: int | None = None
        on_lanes = 0
        ahead: np.ndarray | None = None  # (the locations the parent wrote while the lanes ran this window)
        unlogged = False  # (and whether it wrote a variable whose reads the lanes do not log)
        behind: Behind | None = None  # (the parent's window run while the lanes ran the one before)
        ran_behind = -1  # (that window, to skip)
        for win in range(len(bounds) - 1):
            if win == ran_behind:
                if self.progress is not None:
                    self.progress(bounds[win + 1])
                continue
            if plan["inline"][win]:
                nxt = win + 1
                sent = nxt + 1 < len(bounds) and self.apart(bounds[win], bounds[nxt], bounds[nxt + 1])
                if sent:
                    # The next window, on lanes, touches nothing this one is predicted to write: the
                    # lanes run it while the parent runs this one, whose writes go with the message
                    # after (the check sees whether the lanes kept off them).
                    self.send_window(nxt, sync, merge)
                    merge.fixups = None
                    sync = [[] for _ in range(w)]
                t = time.perf_counter()
                places = self.run_inline(merge, bounds[win], bounds[nxt], sync)
                self.lap("inline", t)
                self.inline_windows += 1
                if sent:
                    ahead = merge.writers[-1][0]  # (what its journal changed, ``_Merge.inline``)
                    unlogged = not self.quiet.isdisjoint(places)  # (an analysis bug: never, but for one)
                    self.ahead_windows += 1
                if self.progress is not None:
                    self.progress(bounds[nxt])
                continue
            pending: list[list[bytes]] = [[] for _ in range(w)]  # (the parent's writes not sent yet)
            if ahead is None:
                self.send_window(win, sync, merge)
            else:
                pending = sync
            behind = None
            beside: Behind | None = None  # (the parent's part of this window, run while its lanes run)
            nxt = win + 1
            part = part_idx[part_cuts[win]:part_cuts[win + 1]]
            if len(part):
                t = time.perf_counter()
                beside = self.run_beside(merge, bounds[win], bounds[nxt], part)
                self.lap("inline", t)
            elif nxt + 1 < len(bounds) and plan["inline"][nxt] and \
                    self.apart(bounds[win], bounds[nxt], bounds[nxt + 1], exact=True):
                # The parent's next window touches nothing this one is predicted to write: the parent
                # runs it now, behind the lanes (its writes reach them with the message after).
                t = time.perf_counter()
                behind = self.run_behind(merge, bounds[nxt], bounds[nxt + 1])
                self.lap("inline", t)
            t = time.perf_counter()
            last = len(bounds) - 2
            ran = behind if behind is not None else beside  # (at most one: the parent's journal holds its writes)
            if win == last or (behind is not None and nxt == last):
                # The parent runs nothing more: its moves are made while the lanes run the last window.
                merge.ready_moves(ran.prepared.journal if ran is not None and ran.prepared else [])
                t = self.lap("merge", t)
            try:
                done = self.collect(range(w), P.WindowDone, plan["predicted"][win])
            except Fault as fault:
                if ran is not None:  # (not the merge's yet: taken back here)
                    self.chain._ctx.rollback(0, ran.mark)  # (not .ctx: it applies what is deferred)
                return self.abandon(merge, fault)
            t = self.lap("wait", t)
            ends = [d.seconds for d in done.values()]
            self.timing["workers_lanes"] += max(ends)
            self.timing["lanes_idle"] += max(ends) * len(ends) - sum(ends)  # (the others waiting for the busiest)
            self.windows += 1
            self.checked_windows += int(checked[win])
            shared = bool(self.turns[win])
            self.shared_windows += shared
            wrote = ahead  # (what the parent wrote while the lanes ran: its window before, or its part)
            if beside is not None and beside.prepared is not None and not checked[win]:
                # (a lane that checks itself kept within its rows, which the plan kept off the part's;
                # the reads of one that does not are compared with what the part wrote, here)
                wrote = beside.prepared.loc if ahead is None else np.concatenate([ahead, beside.prepared.loc])
            conflict = merge.check(done, bounds[win], bounds[win + 1], bool(checked[win]), wrote)
            cause = merge.cause  # (what the check after a Cut finds is not why)
            if unlogged:
                conflict, cause = bounds[win], merging.UNLOGGED
            if beside is not None and (conflict is not None or beside.prepared is None):
                # The parent's part touched what its rows do not name, or the lanes cannot be trusted
                # from a transaction on: the part is taken back whole, and the block runs on
                # sequentially from its first transaction if that comes earlier.
                self.chain._ctx.rollback(0, beside.mark)  # (not .ctx: it applies what is deferred)
                first = int(part[0])
                if beside.prepared is None and (conflict is None or first < conflict):
                    cause = merging.PART_OUTSIDE + (f" ({beside.outside})" if beside.outside else "")
                elif conflict is not None and first < conflict:
                    cause += f" (at transaction {conflict}; the parent's part of the window, from {first}, " \
                             "is run again)"
                conflict = first if conflict is None else min(conflict, first)
                beside = None
            if behind is not None and (conflict is not None or behind.prepared is None):
                # The lanes' window runs on sequentially from a conflict, or the parent's window behind
                # it touched what its rows do not name: its writes are taken back (it runs again).
                self.chain._ctx.rollback(0, behind.mark)  # (not .ctx: it applies what is deferred)
                behind = None
            if conflict is not None and shared:
                # A lane ran its chunks in the order it took them: what it ran after the first
                # transaction that cannot be trusted is not a suffix of its log, so the whole
                # window is undone.
                conflict = bounds[win]
                cause += " (in a window shared in turns: undone whole)"
            ahead, unlogged = None, False
            t = self.lap("check", t)
            if conflict is not None:
                for k in range(w):
                    ex.transport.send(k, P.pack_parts(P.Cut(self.serial, win, conflict)))
                try:
                    done = self.collect(range(w), P.WindowDone)
                    merge.check(done, bounds[win], conflict, bool(checked[win]))
                    merge.apply(done)
                    sync = [pending[k] + [done[j].writes for j in range(w) if j != k] for k in range(w)]
                    self.finish(merge, sync, conflict)
                except Fault as fault:
                    return self.abandon(merge, fault)
                ex.close()  # the replicas stop at the conflict: forked again next time
                stop = conflict
                self.fallback_from = conflict
                self.why = f"{cause}: sequential from transaction {conflict} (line {int(self.lines[conflict])})"
                merge.sequential_from(stop)
                on_lanes += conflict - bounds[win]
                break
            merge.apply(done)
            sync = [pending[k] + [done[j].writes for j in range(w) if j != k] for k in range(w)]
            self.lap("merge", t)
            on_lanes += bounds[win + 1] - bounds[win] - len(part)
            if self.progress is not None:
                self.progress(bounds[win + 1])
            if beside is not None:  # (its writes to every worker with the next window, after the lanes')
                merge.inline(beside.prepared, sync)
                self.chain._ctx.journal.clear()  # (not .ctx: the lanes' writes stay deferred, see Chain.ctx)
                self.beside_windows += 1
                self.beside += len(part)
            if behind is not None:
                merge.inline(behind.prepared, sync)
                self.chain._ctx.journal.clear()  # (not .ctx: the lanes' writes stay deferred, see Chain.ctx)
                self.inline_windows += 1
                self.behind_windows += 1
                ran_behind = nxt
        if stop is None:
            try:
                self.finish(merge, sync)
            except Fault as fault:
                return self.abandon(merge, fault, "at the block's end")
        self.on_lanes = on_lanes
        if self.inline_windows and not self.why:
            self.why = "windows of light transactions ran in the parent"
        if self.beside_windows and not self.why:
            self.why = "light components of windows on lanes ran in the parent, beside the lanes"
        t = self.lap("lanes", t0)
        executed = merge.executed()
        self.lap("receipts", t)
        return executed

    def send_window(self, win: int, sync: list[list[bytes]], merge: merging._Merge) -> None:
        """Window ``win`` to every lane, with the writes it applies first (``sync``, per lane, then
        the merged adds of the window before)."""
        if self.turns[win]:
            self.ex.transport.turns.put(int(self.turns[win]))
        fixups = self.fixups(merge)
        for k, blobs in enumerate(sync):
            self.ex.transport.send(k, P.pack_parts(P.Window(self.serial, win, blobs, fixups)))

    def fixups(self, merge: merging._Merge) -> list:
        """The merged adds of the window applied last (``Window.fixups``), written once where every
        worker reads them."""
        return [self.ex.transport.shared(part) for part in merge.fixups.parts] if merge.fixups else []

    def apart(self, begin: int, middle: int, end: int, exact: bool = False) -> bool:
        """Whether transactions ``middle`` to ``end`` are predicted to touch nothing that transactions
        ``begin`` to ``middle`` write: by location, and where a wildcard is on either side, by
        variable (a wildcard of one instance is taken as one of every instance).  ``exact``: and the
        second has no wildcard (the parent, running it beside, checks it location by location)."""
        rows = self.all_rows
        tx, wild, mode = rows["tx"], rows["wild"], rows["mode"]
        first, second = (tx >= begin) & (tx < middle), (tx >= middle) & (tx < end)
        changes = first & (mode != R)
        if (wild & (first | second)).any():
            var = rows["var"]
            if exact and (wild & second).any():
                return False
            if isin(var[second & wild], var[changes]).any() or isin(var[second], var[changes & wild]).any():
                return False
            changes &= ~wild
            second &= ~wild
        return not isin(rows["loc"][second], rows["loc"][changes]).any()

    @cached_property
    def quiet(self) -> frozenset:
        """The variables whose reads the lanes do not log (:meth:`FunctionTable.quiet`)."""
        return self.ex.function_table().quiet(self.fnids)

    def first_touch(self, begin: int, end: int, locations: np.ndarray) -> list[int]:
        """The first of transactions ``begin`` to ``end`` predicted to touch one of ``locations``
        (a list of one, or none)."""
        rows = self.all_rows
        tx = rows["tx"]
        hit = tx[(tx >= begin) & (tx < end) & isin(rows["loc"], locations)]
        return [int(hit.min())] if len(hit) else []

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timing[name] += now - since
        return now

    def abandon(self, merge: merging._Merge, fault: Fault, when: str = "") -> Executed:
        """A worker failed (``when``: at what), or the lanes' result cannot be trusted (``Clash``): the
        lanes' writes are taken back, and the parent runs the whole block."""
        if isinstance(fault, Clash):
            why = str(fault)
        else:
            why = f"a worker failed{' ' + when if when else ''} ({fault})"
            self.failed += 1
        self.ex.close()
        merge.undo()
        self.why = f"{why}: the parent ran the block"
        self.mode = "inline"
        self.windows = self.lanes = self.on_lanes = self.beside = 0
        self.inline_windows = self.ahead_windows = self.behind_windows = self.beside_windows = 0
        self.checked_windows = self.shared_windows = 0  # (none of the windows run stands)
        self.timing["lanes"] = 0.0
        return self.inline_from_calls(0)

    def finish(self, merge: merging._Merge, sync: list[list[bytes]], before: int | None = None) -> None:
        """The last writes to every replica, and from each lane the root's move, the rows of the
        locations it owns and its receipts (of the transactions before ``before``: the parent runs
        the rest)."""
        w = self.ex.transport.size
        owned = merge.owners(w + 1)  # (the last: the parent's, for the windows it ran)
        before = self.n if before is None else before
        fixups = self.fixups(merge)
        for k in range(w):
            message = P.Finish(self.serial, sync[k], fixups, owned[k].tobytes(), before)
            self.ex.transport.send(k, P.pack_parts(message))
        merge.parent_moves(owned[w])  # while the workers make theirs
        finished = self.collect(range(w), P.Finished).values()
        self.drained = True
        if any(m.clash for m in finished):
            raise Clash()
        for m in finished:
            merge.finished(m)
        merge.coalesce(owned[w])


# -------------------------------------------------------------------- arrays

_SRC_FIELDS = (("tx", np.int64), ("loc", np.int64), ("var", np.int64), ("inst", np.int64))  # (P.I64)


def _before(keys: np.ndarray, first_tx: np.ndarray, probe: np.ndarray, tx: np.ndarray) -> np.ndarray:
    """Whether each probe's key is among ``keys`` with its least transaction before ``tx``."""
    if not len(keys):
        return np.zeros(len(probe), bool)
    at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    return (keys[at] == probe) & (first_tx[at] < tx)


def _rows(raw: tuple) -> dict[str, np.ndarray]:
    return {name: P.arr(b, dtype) for (name, dtype), b in zip(COLUMNS, raw)}


def _sources(raw: tuple) -> dict[str, np.ndarray]:
    return {name: P.arr(b, dtype) for (name, dtype), b in zip(_SRC_FIELDS, raw)}


def _offset(columns: dict[str, np.ndarray], by) -> dict[str, np.ndarray]:
    """A stripe's arrays with its transactions numbered in the block."""
    columns = dict(columns)
    columns["tx"] = columns["tx"] + np.int64(by)
    return columns


def _offset_stored(blob: bytes, by) -> tuple:
    """A stripe's ``stored`` (``Scheduled.stored``) with its transactions numbered in the block."""
    txs, locs, values = marshal.loads(blob)
    by = int(by)
    return [t + by for t in txs], locs, values


_NEW = object()  # (a pair not asked about before)
_NO_ANSWERS: dict = {}  # (a transaction not asked about before: never changed)


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def prepare(chain, workers: int, blocks: list | None = None) -> None:
    """The chain's parallel executor of ``workers`` made, and prepared for lanes if any of the
    block files ``blocks`` (None: not known) may be worth them (:meth:`ParallelExecutor.prepare`:
    judged by their sizes, at most a transaction every ``LINE_BYTES_LEAST`` bytes)."""
    executor_for(chain, workers)
    most = None
    if blocks is not None:
        sizes = [_regular_size(path) for path in blocks]
        most = None if None in sizes else max(sizes, default=0) // LINE_BYTES_LEAST
    chain._parallel.prepare(most)


def _regular_size(path) -> int | None:
    """A regular file's size (None: not one, a pipe say, or not there: not known)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def executor_for(chain, workers: int):
    """The chain's persistent parallel executor (created on first use)."""
    executor = getattr(chain, "_parallel", None)
    if executor is None or executor.workers != workers:
        if executor is not None:
            executor.close()
        executor = ParallelExecutor(chain, workers)
        chain._parallel = executor
    return executor.run


__all__ = ["ParallelExecutor", "executor_for", "prepare", "lane_timeout", "Fault", "DIE", "HANG"]
