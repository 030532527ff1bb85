"""The parallel executor (SPEC §4): a block's independent transactions on worker processes.

The result is exactly the sequential one.  How:

1. The block's DAG is built (``compiler.schedule.dag``) with every
   transaction's instantiated accesses.  Its weakly connected components
   share no location except *pure-add* ones (locations that every access of
   the block only adds to), so they can run in any interleaving.
2. Components are packed into one lane per worker by their static cost,
   largest first.  Each worker gets its lane's transactions and exactly the
   slice of state their accesses name (whole variables for wildcards), runs
   them in block order, and returns each transaction's outcome and writes
   (for a pure-add location: the amount it added).
3. The parent merges in block order: writes are applied, adds are summed and
   checked against 0 .. 2^256-1 as the sequential run would meet them.  A
   bound violated only in block order, a transaction that reads a location
   outside its slice (an escape from its summary), or a worker that dies or
   hangs twice, makes the parent re-execute sequentially from that
   transaction on, so the result is still exact.
4. When the cost model says parallelism cannot pay (few or light
   transactions, one component holding most of the work), the block runs
   inline, sequentially.

Workers are forked once per chain, after the world is loaded, so they share
its compiled code, and they persist across blocks.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing as mp
import os
import time
from collections import defaultdict
from typing import Any

from ..schedule.compiled import WILD
from . import sequential
from .block import Tx, gc_paused
from .context import Context
from .errors import Revert
from .receipts import INVALID, OK, REVERTED, Outcome

MAX = (1 << 256) - 1
ARITHMETIC = ("arithmetic overflow", "arithmetic underflow")
R, W, A = 0, 1, 2

# The cost model, in microseconds, measured on the project's machine (benchmarks/RESULTS.md).
US_PER_COST_UNIT = 0.17     # executing one unit of a function's static cost
US_PER_TX_OVERHEAD = 12.0   # decoding, shipping and merging one transaction in the parent
US_PER_UNIT_OVERHEAD = 0.8  # instantiating and slicing, per unit of cost (accesses grow with cost)
US_FIXED = 3000.0           # one round trip to the workers
GIANT = 0.6                 # a component with this share of the cost makes the block run inline


class _Escape(Exception):
    """A transaction touched a location outside its slice: its summary missed an access."""


class _Slice(dict):
    """A variable of which the worker holds only the keys its transactions may touch."""

    __slots__ = ()

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            raise _Escape(key) from None


class _Missing(dict):
    """A variable the lane's slice does not name at all."""

    __slots__ = ()

    def get(self, key, default=None):
        raise _Escape(key)


# ================================================================== workers

def _worker_main(conn, functions: dict, code: dict, widths: dict) -> None:
    # The worker is forked from a parent holding the whole world: left on, the collector would
    # walk all of it again and again.  Lanes make no reference cycles.
    gc.freeze()
    gc.disable()
    while True:
        try:
            task = conn.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task == b"stop":
            return
        if task == b"die":  # for the fault tests
            os._exit(1)
        if task == b"hang":
            time.sleep(3600)
            continue
        conn.send_bytes(marshal.dumps(_run_lane(marshal.loads(task), functions, code, widths)))


def _run_lane(task: dict, functions: dict, code: dict, widths: dict) -> dict:
    slots: dict[int, dict[int, dict]] = defaultdict(dict)
    for (address, slot), whole in task["whole"]:
        slots[address][slot] = whole
    for (address, slot, key), value in task["exact"]:
        store = slots[address].get(slot)
        if store is None:
            store = slots[address][slot] = _Slice()
        if isinstance(store, _Slice):
            store[key] = value
    storage = {a: [s.get(i) if i in s else _Missing() for i in range(widths[a])] for a, s in slots.items()}
    where = {id(store): (a, i) for a, stores in storage.items() for i, store in enumerate(stores)}
    ctx = Context(storage, code, task["number"], task["timestamp"])
    journal, events = ctx.journal, ctx.events
    results = []
    for index, fn_key, call, adds in task["txs"]:
        jmark, emark = len(journal), len(events)
        try:
            before = [storage[a][i][k] for a, i, k in adds]
            value = functions[fn_key](ctx, *call)
        except Revert as r:
            ctx.rollback(jmark, emark)
            results.append((index, (REVERTED, r.reason, None, ()), (), ()))
            continue
        except (_Escape, KeyError, IndexError):
            return {"results": results, "escaped": index}
        writes = {}
        for store, key, _old in journal[jmark:]:
            a, i = where[id(store)]
            writes[(a, i, key)] = store[key]
        deltas = []
        for loc, old in zip(adds, before):
            writes.pop(loc, None)
            deltas.append((loc, storage[loc[0]][loc[1]][loc[2]] - old))
        outcome = (OK, None, value, tuple(events[emark:]))
        results.append((index, outcome, tuple(writes.items()), tuple(deltas)))
    return {"results": results, "escaped": None}


class _Worker:
    def __init__(self, ctx_mp, functions: dict, code: dict, widths: dict) -> None:
        self.conn, child = ctx_mp.Pipe()
        self.process = ctx_mp.Process(target=_worker_main, args=(child, functions, code, widths), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


# =================================================================== parent

class ParallelExecutor:
    """Persistent workers for one world; ``execute`` runs a block on them (or inline)."""

    def __init__(self, world, compiled, workers: int, timeout: float = 60.0, force: bool = False) -> None:
        self.world = world
        self._compiled = compiled             # compiler.schedule.dag.Compiled, or a function making it
        self.workers = max(1, workers)
        self.timeout = timeout                # seconds a lane may take before it counts as hung
        self.force = force                    # use the workers even when the cost model says no
        self.functions = {}
        for inst in world.instances.values():
            for fn in inst.contract.functions.values():
                self.functions[(fn.contract.name, fn.name)] = inst.program.function(fn.contract.name, fn.name)
        self.widths = {a: len(world.layout_of(a).index) for a in world.by_address}
        # Static worst-case costs, for the cost model (cheap: no summaries needed).
        from ..analysis.cost import function_cost

        memo: dict = {}
        self.costs = {fn: function_cost(fn, memo) for inst in world.instances.values()
                      for fn in inst.contract.functions.values()}
        self._pool: list[_Worker] = []
        self._mp = mp.get_context("fork")
        self.last: dict = {}                  # what the last block did, for reports and tests
        self.faults: list[str] = []           # injected faults for the next block (tests)

    @property
    def compiled(self):
        """The world's compiled summaries, made only when a block is worth scheduling."""
        if callable(self._compiled):
            self._compiled = self._compiled()
        return self._compiled

    # ------------------------------------------------------------ the pool
    def _ensure_pool(self) -> None:
        self._pool = [w for w in self._pool if w.process.is_alive()]
        while len(self._pool) < self.workers - 1:  # the parent is the first worker
            self._pool.append(_Worker(self._mp, self.functions, self.world.code, self.widths))

    def _replace(self, k: int) -> None:
        self._pool[k].kill()
        self._pool[k] = _Worker(self._mp, self.functions, self.world.code, self.widths)

    def close(self) -> None:
        for w in self._pool:
            try:
                w.conn.send_bytes(b"stop")
            except OSError:
                pass
            w.kill()
        self._pool = []

    # ------------------------------------------------------------ a block
    def execute(self, ctx: Context, txs: list[Tx], progress=None) -> list[Outcome]:
        table = self.costs
        costs = [table.get(tx.function, 0) if tx.fn is not None else 0 for tx in txs]
        total = sum(costs)
        sequential_us = total * US_PER_COST_UNIT
        best_us = (len(txs) * US_PER_TX_OVERHEAD + total * US_PER_UNIT_OVERHEAD + US_FIXED
                   + sequential_us / self.workers)
        if not self.force and (self.workers < 2 or best_us >= 0.9 * sequential_us):
            return self._inline(ctx, txs, progress, "the block is too small or too light to pay for workers")
        schedule = _build(self.compiled, txs, ctx)
        comp = schedule.component_ids()
        by_comp: dict[int, list[int]] = defaultdict(list)
        for j, c in enumerate(comp):
            if txs[j].fn is not None:
                by_comp[c].append(j)
        comp_cost = {c: sum(costs[j] for j in js) for c, js in by_comp.items()}
        largest = max(comp_cost.values(), default=0)
        if not self.force and (not total or largest > GIANT * total):
            return self._inline(ctx, txs, progress, "one component holds most of the work")
        return self._run_lanes(ctx, txs, schedule, by_comp, comp_cost, progress)

    def _inline(self, ctx, txs, progress, why: str) -> list[Outcome]:
        self.last = {"mode": "inline", "why": why, "lanes": 0, "fallback_from": None}
        return sequential.execute(ctx, txs, progress)

    def _run_lanes(self, ctx, txs, schedule, by_comp, comp_cost, progress) -> list[Outcome]:
        n = len(txs)
        # Largest components first, each to the least loaded lane.
        lanes: list[list[int]] = [[] for _ in range(self.workers)]
        load = [0] * self.workers
        for c in sorted(by_comp, key=lambda c: (-comp_cost[c], c)):
            k = load.index(min(load))
            lanes[k].extend(by_comp[c])
            load[k] += comp_cost[c]
        lanes = [sorted(lane) for lane in lanes if lane]
        pure = schedule.pure
        tasks = [self._task(ctx, txs, lane, schedule.accesses, pure) for lane in lanes]
        self._ensure_pool()
        # The parent runs the first lane itself while the workers run the others: no shipping
        # for it, and N lanes on N cores rather than N workers beside an idle parent.
        results, failed = self._dispatch(tasks[1:], local=tasks[0])
        stop = n
        for k, result in enumerate(results):
            if result is None:
                stop = min(stop, lanes[k][0])
            elif result["escaped"] is not None:
                stop = min(stop, result["escaped"])
        by_index = {index: (outcome, writes, deltas)
                    for result in results if result is not None
                    for index, outcome, writes, deltas in result["results"]}
        outcomes: list[Outcome | None] = [None] * n
        with gc_paused():
            for j in range(stop):
                tx = txs[j]
                if tx.fn is None:
                    outcomes[j] = (INVALID, tx.invalid, None, ())
                elif not _merge(ctx, by_index.get(j), bool(pure.get(j))):
                    stop = j
                    break
                else:
                    outcomes[j] = by_index[j][0]
        fallback = stop if stop < n else None
        if fallback is not None:
            outcomes[fallback:] = sequential.execute(ctx, txs[fallback:])
        self.last = {"mode": "parallel", "lanes": len(lanes), "fallback_from": fallback,
                     "failed_lanes": failed, "components": len(by_comp)}
        if progress is not None:
            progress(n)
        return outcomes  # type: ignore[return-value]

    def _task(self, ctx, txs, lane, accesses, pure) -> dict:
        slots = self.compiled.slots
        exact: dict[tuple, Any] = {}
        whole: dict[tuple, dict] = {}
        items = []
        for j in lane:
            for (address, vid, key), _mode in accesses[j]:
                index, zero = slots[vid]
                if key is WILD:
                    contract = self.compiled.var_ids.names[vid][0]
                    addresses = [address] if address is not None else \
                        [a for a, inst in self.world.by_address.items() if inst.contract.name == contract]
                    for a in addresses:
                        if a in ctx.storage:
                            whole[(a, index)] = ctx.storage[a][index]
                elif address in ctx.storage:
                    exact[(address, index, key)] = ctx.storage[address][index].get(key, zero)
            tx = txs[j]
            adds = [(a, slots[v][0], k) for (a, v, k) in pure.get(j, ())]
            items.append((j, (tx.function.contract.name, tx.function.name), tx.call, adds))
        # marshal: several times faster than pickle for tuples of ints and strings
        return marshal.dumps({"number": ctx.number, "timestamp": ctx.timestamp, "txs": items,
                              "exact": list(exact.items()), "whole": list(whole.items())})

    def _dispatch(self, tasks: list[bytes], local: bytes) -> tuple[list, int]:
        """Send one task per worker and run ``local`` here meanwhile; a worker that dies or hangs is
        replaced and its task sent again once.  Returns the results in lane order (local first)."""
        results: list = [None] * len(tasks)
        failed = 0
        pending = list(range(len(tasks)))
        mine = None
        for attempt in range(2):
            faults, self.faults = self.faults, []
            for k in pending:
                worker = self._pool[k]
                try:
                    for fault in faults:
                        worker.conn.send_bytes(fault.encode())
                    worker.conn.send_bytes(tasks[k])
                except OSError:
                    pass
            if mine is None:
                mine = _run_lane(marshal.loads(local), self.functions, self.world.code, self.widths)
            deadline = time.monotonic() + self.timeout
            retry = []
            for k in pending:
                worker = self._pool[k]
                try:
                    if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                        results[k] = marshal.loads(worker.conn.recv_bytes())
                        continue
                except (EOFError, OSError):
                    pass
                failed += 1
                self._replace(k)
                retry.append(k)
            pending = retry
            if not pending:
                break
        return [mine] + results, failed


def _merge(ctx: Context, got, adds: bool) -> bool:
    """Apply one transaction's lane result to the block's state, in block order.

    False (and nothing applied) when the sequential run must decide from here: the lane did not
    run it, it reverted on arithmetic while adding (its lane saw only its own lane's adds), or
    one of its adds leaves 0 .. 2^256-1 in block order.
    """
    if got is None:
        return False
    outcome, writes, deltas = got
    if outcome[0] == REVERTED and outcome[1] in ARITHMETIC and adds:
        return False
    storage = ctx.storage
    sums = []
    for (a, i, key), d in deltas:
        value = storage[a][i].get(key, 0) + d
        if not 0 <= value <= MAX:
            return False
        sums.append(((a, i, key), value))
    journal = ctx.journal
    for (a, i, key), value in (*writes, *sums):
        store = storage[a][i]
        journal.append((store, key, store.get(key, 0)))
        store[key] = value
    return True


def _build(compiled, txs: list[Tx], ctx: Context):
    from ..schedule.dag import build

    return build(compiled, txs, ctx.storage, ctx.number, ctx.timestamp, keep_accesses=True)


def executor_for(chain, workers: int):
    """The chain's persistent parallel executor (created on first use)."""
    executor = getattr(chain, "_parallel", None)
    if executor is None or executor.workers != workers:
        if executor is not None:
            executor.close()
        executor = ParallelExecutor(chain.world, lambda: chain.compiled_summaries, workers)
        chain._parallel = executor
    return executor.execute
