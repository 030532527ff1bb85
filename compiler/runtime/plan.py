"""The parallel executor's plan (SPEC §4): whether a block goes to lanes, and how.

Two judgements, both from the cost model (:mod:`compiler.runtime.cost_model`)
priced at the machine's speed:

- **The estimate**, before any work per transaction: lines sampled across the
  block, a few transactions of each function timed, and, where lanes could
  pay, a sample of them instantiated to see what scheduling costs and whether
  they conflict.  A block that cannot gain runs inline before any schedule.
- **The plan**, once the workers have scheduled the block: windows, the
  components of each (:mod:`compiler.schedule.vectorized`), their lanes, the
  windows the parent runs itself, the light components it runs beside the
  lanes, the windows shared in turns, and which windows' lanes check
  themselves.  Arrays over the whole block: no Python per transaction.

:class:`Planning` holds both, as methods of a block's run
(:class:`compiler.runtime.parallel._BlockRun` is one): they read what the run
has (its executor, the workers' rows, its timings) and say why when lanes do
not pay.
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from functools import cached_property
from itertools import repeat
from typing import Any

import numpy as np

from .accesses import A, R, W
from .cost_model import ROWS_TX, SPEED_RANGE, CostModel
from .cpus import usable_cpus
from .decode import Block
from .pool import Turns
from ..schedule.vectorized import (AccessTable, components, distinct, hot_writers, isin, joins, largest_in_sample,
                                  pick)
from ..vm.errors import Revert


# When lanes pay (the cost model's figures: compiler.runtime.cost_model).
MIN_GAIN = 0.85            # lanes when they are predicted to take at most this share of inline ...
PLAN_GAIN = 0.92           # ... and, once the workers have scheduled the block (paid: the parent would
                           # run it from their calls), when the plan is predicted to take at most this
MIN_TRANSACTIONS = 64      # smaller blocks run inline: timing one call of each function would cost a few
                           # per cent of them (a block of 64 to 255 heavy calls runs on lanes where they pay)
SAMPLE_WHOLE = 256         # a block of fewer transactions is its own sample, decoded once
SAMPLE_BYTES = 1 << 16     # lines of a block, decoded to estimate its work (at most; at most a
SAMPLE_SHARE = 32          # ... 1/32 of a block, but at least SAMPLE_MIN_BYTES: the estimate stays
SAMPLE_MIN_BYTES = 1 << 13 # a small share of running a small block inline) ...
SAMPLE_CHUNKS = 32         # ... from this many places spread over it
CHAIN_SAMPLE = 1024        # sampled transactions instantiated to see whether they conflict (at most) ...
CHAIN_PROBE = 128          # ... after this many, to see what scheduling costs (a block too costly to schedule
                           # pays for no more: 20,000 payments to eight payees, the estimate 19.5-20.6 -> 17.5-18.8 ms)
SAMPLE_RUNS = 5            # transactions of each function in the sample timed (the median kept) ...
SAMPLE_MORE_RUNS = 24      # ... or as many as this when their times differ more than twice ...
SAMPLE_SETTERS = 32        # sampled calls run before those timed after them, that set what they read (at most ...
SETTERS_SHARE = 16         # ... and at most one in this many of the sample's)
RUN_SHARE = 128            # ... but no more than one in this many of the block's transactions (one at least)
WARM_S = 0.001             # a call timed that takes this long is not run first to warm the caches ...
KEY_LOAD_S = 50e-6         # ... unless its keys read from a state file, at most this long each (a point lookup:
LOADS_SHARE = 0.1          # 5-20 us), could be more than this share of its time
SCHEDULE_DECODE = 2.0      # a worker's decoding of a line against the parent's (fresh memory after the fork, two
                           # processes on the machine's memory: 1.2-1.9, the slower of two workers setting the
                           # schedule's wall: about the parent's decoding the whole block alone, 2026-12-04)

SHARED_MIN_US = 20.0       # a window's lanes share part of its work when its transactions take this long on a
                           # lane (at 2 lanes: proportionally more with more, as every lane gets the shared calls)
SHARED_PART = 0.3          # ... that part of its work, its cheapest components ...
SHARED_CHUNKS = 64         # ... in about this many chunks a lane

WINDOW_MIN, WINDOW_MAX = 128, 1 << 16
EVEN = 1.02                # a deal whose busiest lane holds at most this share of an even one is kept (``_deal``)
HOT_WINDOWS = WINDOW_MIN   # transactions per writer of a hot location, at least, for each to be a window
ROUND_TRIPS_SHARE = 0.1    # windows of half the locations written first where a quarter's round trips cost
                           # this share of the block on lanes
EFFICIENCY = 0.6           # a plan whose lanes are busier than this share of the ideal is kept


def light_at_worst(cost: float, n: int) -> bool:
    """Whether ``n`` transactions are too light for lanes even were each to cost ``cost`` units of
    static cost (:meth:`Planning.light_at_worst`)."""
    model = CostModel()
    return model.inline_us(model.static_us(cost) * n, n) < model.min_work_us


class Planning:
    """The estimate and the plan of a block's run (the executor's ``_BlockRun``, which holds what
    they read: ``ex``, its executor; ``chain``, ``source``, ``n``, ``fnids``, ``all_rows``, what the
    workers scheduled, and ``block_from_calls``, some of its calls; ``model``, the cost model;
    ``timing``; and ``why``, which they set when lanes do not pay)."""

    @cached_property
    def cpus(self) -> int:
        """The CPUs the lanes run on: one per worker, but no more than the process can use (more
        lanes than that share them: the work of a window takes its sum over the CPUs at least)."""
        return min(self.ex.workers, usable_cpus())

    @cached_property
    def all_cpus(self) -> int:
        """The CPUs the lanes and the parent run on, when the parent runs part of a window too."""
        return min(self.ex.workers + 1, usable_cpus())

    def is_light(self, alone: np.ndarray, work: np.ndarray, overhead: np.ndarray | float) -> np.ndarray:
        """Per transaction, whether it is light: run by the parent (``alone``: its time there) it
        costs no more than its share of a lane (``work`` over the lanes' CPUs) and the parent's own
        work for it on a lane (``overhead``), so the parent may run it beside the lanes."""
        return alone <= work / self.cpus + overhead

    def beside_us(self, mine: np.ndarray, busiest: np.ndarray, work: np.ndarray) -> np.ndarray:
        """A window's microseconds (each of an array's) with the parent running ``mine`` beside lanes
        whose busiest takes ``busiest`` and which work ``work`` in all: the slowest of the parent's
        part, the busiest lane, the lanes' work shared by their CPUs, and both shared by the CPUs
        the parent and the lanes run on.  On fewer CPUs than the lanes and the parent, all of them
        share the CPUs while all run (each at ``all_cpus`` over their number of one), and whichever
        is longer, the parent's part or the lanes', runs its rest alone after the other ends: when
        the parent's part is the longer, a CPU waits for it (``stretched``: two lanes and the
        parent on two CPUs take the parent's part and half the lanes' time; 18,000 light calls in
        the parent beside lanes running 2,000 heavy ones, 2026-12-06, took so, not the work shared
        evenly by the CPUs)."""
        lanes = np.maximum(busiest, work / self.cpus)
        sharing = self.ex.workers + 1
        stretched = np.maximum(mine, lanes) + np.minimum(mine, lanes) * max(0.0, sharing / self.all_cpus - 1)
        return np.maximum.reduce([mine, lanes, (mine + work) / self.all_cpus, stretched])

    def split_us(self, group: np.ndarray, groups: int, alone: np.ndarray, work: np.ndarray, parent: np.ndarray,
                 planned: np.ndarray | float, light: np.ndarray, uneven: np.ndarray | float = 1.0) -> np.ndarray:
        """Per group of transactions (``group``: each one's; a window, or a part of a sample), its
        microseconds with its ``light`` transactions run by the parent (``alone``: each one's time
        there) beside the lanes, which run the rest (``work``: each one's on a lane; ``uneven``: the
        busiest lane against an even share, at least 1): ``beside_us``, then the parent's own work
        for the lanes' transactions (``parent``: each one's) and for its part's access rows
        (``planned``: each transaction's, planned and checked as a lane's are)."""
        mine = np.bincount(group, weights=np.where(light, alone, 0.0), minlength=groups)
        rest = np.bincount(group, weights=np.where(light, 0.0, work), minlength=groups)
        split = self.beside_us(mine, rest / self.cpus * uneven, rest) + \
            np.bincount(group, weights=np.where(light, planned, parent), minlength=groups)
        return np.where((mine > 0) & (rest > 0), split, np.inf)  # (a group all light or all heavy: no split)

    def _apart_by_variable(self, fids: list[int], light: np.ndarray) -> np.ndarray:
        """Per sampled transaction, whether it is ``light`` and its function keeps off what the
        sample's heavy transactions' functions do, by variable (of any instance, any key, from their
        summaries): it changes none they touch and touches none they change.  The estimate counts
        only those as the parent's part beside the lanes: a sample is too sparse to show which light
        calls join heavy ones in the block (two calls of one sender, say), and a light call joined
        to a heavy one runs on a lane, where it costs more than inline."""
        table = self.ex.table
        ids = np.array(fids, np.int64)
        heavy = [table.variables(f) for f in distinct(ids[(ids >= 0) & ~light]).tolist()]
        if any(v is None for v in heavy):
            return np.zeros(len(ids), bool)
        touched = set().union(*(t for t, _ in heavy))
        changed = set().union(*(c for _, c in heavy))
        apart = [f for f in distinct(ids[light]).tolist()
                 if (v := table.variables(f)) is not None and not v[1] & touched and not v[0] & changed]
        return light & isin(ids, np.array(apart, np.int64))

    def light_at_worst(self, cost: float) -> bool:
        """Whether the block is too light for lanes even were each of its transactions to cost
        ``cost`` units of static cost (what ``lane analyze`` prints, a function's worst case): the
        world's costliest function's (then nothing of the block is sampled, decoded or timed: a few
        ms, a few per cent of such a block), or the mean of its sample's transactions' functions'
        (then nothing is timed: the sample stands for the block, as the estimate takes it).  The
        static time and the least work for lanes are both in the machine's microseconds, so its
        speed cancels out; a test's fixed model (``ex.model``) is not second-guessed."""
        return self.ex.model is None and light_at_worst(cost, self.length)

    def estimate(self) -> tuple[float, float]:
        """(microseconds inline, microseconds at best with lanes) of the block,
        estimated before any work per transaction: lines sampled across it (decoded by C code), a
        few transactions of each function they call run and timed on the state, then undone
        (``_measure``), and its length.  At best, each part of the sample (a place of the block) has
        its work split evenly over the lanes where that is cheaper than running it inline (a light
        part of a block is run by the parent, as the plan does window by window), or its light
        transactions run by the parent beside the lanes where their functions keep off the heavy
        ones' variables (``_apart_by_variable``; none with a wildcard row in the sample), in a few windows.
        A function's worst-case cost is no guide to a loop that stops early; its time is.  A block of
        fewer than SAMPLE_WHOLE transactions is its own sample (kept decoded for its run), and one
        whose calls all conflict is found before the machine's speed is timed."""
        table = self.ex.function_table()
        source = self.source
        n = self.length
        chunks = None
        if isinstance(source, Block):
            sample = source
        else:
            spans = [(0, len(source))] if n < SAMPLE_WHOLE else _sample_spans(source)
            chunks = [source] if spans == [(0, len(source))] else [source[a:b] for a, b in spans]
            try:
                sample = self.chain.decoder().decode(b"\n".join(chunks), self.display, 0, 1)
            except Exception:  # noqa: BLE001 - not a sample to vouch for: the schedule will say
                return float("inf"), 0.0
            if len(chunks) == 1 and chunks[0] is source:  # (the whole block, decoded as a run decodes it: kept)
                self.source = sample
        if not len(sample):
            return 0.0, 0.0
        fids = list(map(table.ids.get, sample.functions, repeat(-1)))
        if self.light_at_worst(sum(table.costs[f] for f in fids if f >= 0) / len(fids)):
            self.why = ("light transactions: even were each of a sample's transactions at its function's "
                        "worst-case cost, scheduling them on lanes would cost more than running them")
            return 0.0, float("inf")  # (none of its functions is timed)
        beyond: list[tuple] = []  # (setters beyond the sample)
        at = None
        if chunks is None:  # (each sampled transaction's place in the block: one of SAMPLE_CHUNKS parts)
            part = np.arange(n) * SAMPLE_CHUNKS // max(n, 1)
        else:
            last_lines = np.cumsum([c.count(b"\n") + 1 for c in chunks])
            part = np.searchsorted(last_lines, np.array(sample.lines, np.int64))  # (lines count from 1)
            beyond = self._block_setters(source, spans, fids) if len(chunks) > 1 else []
            if beyond:  # (each sampled call's line in the block: its line in the sample, moved)
                starts = np.cumsum([1 + source.count(b"\n", 0, spans[0][0])] +
                                   [source.count(b"\n", a, b) for (a, _), (b, _) in zip(spans, spans[1:])])
                at = np.array(sample.lines, np.int64) + (starts - np.r_[1, last_lines[:-1] + 1])[part]
        self.measured = self._measure(sample, fids, at, beyond)
        count = np.bincount(part)
        scale = n / len(fids)
        # A block too light for lanes on the fastest machine the model allows is not worth timing
        # this one (a small block, whose estimate would be a good share of its run).
        fastest = CostModel(SPEED_RANGE[0])
        ids = np.array(fids, np.int64)
        per_fid = np.bincount(ids[ids >= 0], minlength=1)  # (each function's transactions in the sample)
        at_fastest = fastest.inline_us(sum(c * self.exec_us(f, fastest) for f, c in enumerate(per_fid.tolist()) if c),
                                       len(fids)) * scale
        if at_fastest < fastest.min_work_us:
            return at_fastest, float("inf")
        if n < SAMPLE_WHOLE:
            # A small block, its own sample: every transaction joined to every other, in each part
            # too, runs on one lane whatever the calls cost: inline, before the machine is timed and
            # the lanes priced (its rows kept for the look below).
            valid = ids >= 0
            self._sampled = (valid, self._sampled_rows(sample, valid))
            picked, rows, _ = self._sampled[1]
            imbalance, joined = self._imbalance(rows, picked, part, valid.astype(float))
            if imbalance >= self.ex.workers * (1 - 1e-9):
                self.why = _conflicting(imbalance, joined)
                return at_fastest, float("inf")
        model = self.model
        us = np.array([self.exec_us(f) if c else 0.0 for f, c in enumerate(per_fid.tolist())] + [0.0])[ids]
        inline = model.inline_us(np.bincount(part, weights=us), count)
        work = model.lane_work_us(us)
        busiest = np.bincount(part, weights=work) / self.cpus
        # (or a part's light transactions run by the parent beside the lanes, which run the rest)
        alone = model.inline_us(us, 1)
        light = (ids >= 0) & self.is_light(alone, work, model.lanes_us(0.0, 1, 0, ROWS_TX)) & \
            self.ex.beside
        light &= self._apart_by_variable(fids, light)
        parts = len(count)

        def beside(rows_tx: float, light: np.ndarray, uneven: np.ndarray | float = 1.0) -> np.ndarray:
            return self.split_us(part, parts, alone, work, np.full(len(us), model.lanes_us(0.0, 1, 0, rows_tx)),
                                 model.lanes_us(0.0, 0, 0, rows_tx), light, uneven)

        # (the workers forked first, unless the last block on lanes left them in step)
        start = 0.0 if self.ex.replicas_ready() else model.start_us(self.ex.workers)

        def best(on_lanes: np.ndarray, schedule: np.ndarray) -> float:
            # Each part on lanes or inline, whichever costs less (its share of the schedule counted
            # against lanes: a margin); once a part is on lanes the workers schedule the whole block
            # (``schedule``: their share of it, per part, in ``on_lanes`` too), and the parent runs
            # its inline parts from the calls they decoded.
            lanes = on_lanes < inline
            if not lanes.any():
                return whole
            return float(np.where(lanes, on_lanes, inline + schedule).sum()) * scale + 4 * model.window_us + start

        # The block run inline decodes each of its lines; on lanes the workers decode them, each a
        # stripe, slower than the parent alone (``SCHEDULE_DECODE``), before any runs.  (A block
        # given decoded, or decoded whole as its sample, is decoded by neither.)
        decoded = np.zeros(parts) if isinstance(self.source, Block) else model.decode_us(count)
        decoding = decoded * SCHEDULE_DECODE / self.cpus
        whole = float((inline + decoded).sum()) * scale
        on_lanes = np.minimum(model.lanes_us(busiest, count, 0), beside(ROWS_TX, light)) + decoding
        at_best = best(on_lanes, decoding)
        if whole >= model.min_work_us and at_best <= MIN_GAIN * whole:
            # Lanes, were the sampled transactions cheap to schedule and independent: instantiating
            # them says what scheduling costs (a loop over storage can cost more than it runs), and
            # what they touch whether they are independent.
            chosen = on_lanes < inline
            mask = chosen[part]

            def priced(sampled: tuple, light: np.ndarray) -> tuple:
                """What the sampled rows say lanes cost: (rows a transaction, the schedule's microseconds
                per part, the block at best), and ``light`` without the functions a wildcard row is of
                (the plan gives the parent no transaction with a wildcard)."""
                picked, table, inst_us = sampled
                if table.wild.any():
                    light = light & ~isin(ids, ids[picked[table.tx[table.wild]]])
                rows_tx = len(table) / max(len(picked), 1)
                schedule = count * inst_us / self.cpus + decoding
                on_lanes = np.minimum(model.lanes_us(busiest, count, 0, count * rows_tx),
                                      beside(rows_tx, light)) + schedule
                return rows_tx, schedule, best(on_lanes, schedule), light

            if self._sampled is not None and np.array_equal(self._sampled[0], mask):
                sampled = self._sampled[1]
                rows_tx, schedule, at_best, light = priced(sampled, light)
            else:  # (a few first: a wildcard among the rest only makes lanes costlier, as do more rows)
                sampled = self._sampled_rows(sample, mask, CHAIN_PROBE)
                rows_tx, schedule, at_best, light = priced(sampled, light)
                if at_best <= MIN_GAIN * whole:
                    sampled = self._sampled_rows(sample, mask)
                    rows_tx, schedule, at_best, light = priced(sampled, light)
            picked, table, inst_us = sampled
            rows = count * rows_tx
            if at_best > MIN_GAIN * whole:
                self.why = (f"costly to schedule: instantiating a transaction's accesses takes {inst_us:.0f} us "
                            f"and it has {rows_tx:.0f} of them to plan and check, in a sample of the block: "
                            f"lanes would cost more than running the block")
                return whole, at_best
            imbalance, joined = self._imbalance(table, picked, part, work)
            # (the busiest lane, against the work evenly shared by the lanes; on fewer CPUs than
            # lanes, against the work shared by the CPUs)
            factor = np.where(chosen, max(1.0, imbalance * self.cpus / self.ex.workers), 1.0)
            at_best = best(np.minimum(model.lanes_us(busiest * factor, count, 0, rows), beside(rows_tx, light, factor))
                           + schedule, schedule)
            if at_best > MIN_GAIN * whole:
                self.why = _conflicting(imbalance, joined)
        return whole, at_best

    def _sampled_rows(self, sample: Block, chosen: np.ndarray, most: int = CHAIN_SAMPLE
                      ) -> tuple[np.ndarray, Any, float]:
        """At most ``most`` of the sampled transactions ``chosen`` (a mask), spread evenly; their
        instantiated accesses on the state before the block (an access table); and the microseconds
        instantiating one took, as a worker's schedule does (each function's first call, which
        compiles its instantiation once for the process, not counted)."""
        picked = _spread(np.flatnonzero(chosen), most)
        ex = self.ex
        if ex.rows is None:
            from ..schedule.rows import RowMaker

            ex.rows = RowMaker(self.chain.compiled_summaries)
        fns, calls = pick(sample.functions, picked), pick(sample.calls, picked)
        table = ex.function_table()
        written = table.written(np.array(list(map(table.ids.get, fns, repeat(-1))),
                                         np.int32))  # (as a worker's stripe would say)
        state = (self.chain.ctx.storage, self.number, self.timestamp, None, written)
        first: dict = {}
        for k, (fn, call) in enumerate(zip(fns, calls)):
            first.setdefault((fn, call[0] if call else None), k)
        warm = sorted(first.values())
        ex.rows.rows(list(range(len(warm))), pick(fns, warm), pick(calls, warm), *state)
        t = time.perf_counter()
        rows, _, _ = ex.rows.rows(list(range(len(picked))), fns, calls, *state)
        return picked, AccessTable.of(rows), (time.perf_counter() - t) * 1e6 / max(len(picked), 1)

    def _imbalance(self, table, chosen: np.ndarray, part: np.ndarray, work: np.ndarray) -> tuple[float, str]:
        """How much busier than an even share the busiest lane is, when the sampled transactions
        ``chosen`` (their places in the sample; ``table``, their accesses) are dealt to the lanes in
        groups joined by what they touch (components: one lane runs each, in order), largest first:
        over the whole sample (a plan of one window), or within each of its parts (``part``: a plan
        of windows, which splits what the block joins only over a longer run), whichever is less.
        A sample's components are never coarser than the block's (or a window's): a plan is at
        least this unbalanced, about.  And the variable that joins the sample's largest group
        (:func:`_joined_through`)."""
        ex = self.ex
        w, where = work[chosen], part[chosen]
        even = w.sum() / ex.workers
        if not even:
            return 1.0, "?"
        whole = components(table, len(chosen))
        groups = np.bincount(whole.label, weights=w, minlength=whole.count)
        joined = _joined_through(table, whole.label, int(groups.argmax()), self.chain.compiled_summaries.var_ids.names)
        at_once = _busiest(groups, ex.workers)
        hot = _alone(table, len(chosen))
        if len(hot):  # (each alone in a window, as the plan has them)
            where = where.copy()
            where[hot] = where.max() + 1 + np.arange(len(hot))
        apart = components(table, len(chosen), where)
        in_part = np.zeros(apart.count, np.int64)
        in_part[apart.label] = where
        by_window = np.bincount(apart.label, weights=w, minlength=apart.count)
        windows = sum(_busiest(by_window[in_part == p], ex.workers) for p in distinct(where).tolist())
        return min(at_once, windows) / even, joined

    def exec_us(self, fid: int, model: CostModel | None = None) -> float:
        """Function ``fid``'s time inline, in microseconds: measured, or from its static cost."""
        got = self.measured.get(fid)
        return got if got is not None else (model or self.model).static_us(self.ex.table.costs[fid])

    def _measure(self, sample: Block, fids: list[int], at: np.ndarray | None = None,
                 beyond: list[tuple] = ()) -> dict[int, float]:
        """Each function's time in the sample: up to SAMPLE_RUNS of its transactions, spread over the
        sample, each run on the chain's state and undone at once (its journal rolled back: nothing
        of it stays but the values read from a state file); their median, or, when they differ more
        than twice (a loop its arguments bound, a branch), the mean of up to SAMPLE_MORE_RUNS of them
        but the slowest (a pause of the machine's).  No more runs of a function than one in
        RUN_SHARE of the block's transactions (one at least): the runs are work the block does
        again, a few per cent of a block of a hundred heavy calls at SAMPLE_RUNS.

        Each is timed on the state as the block's setters before it leave it (:meth:`_setters`:
        a block that first lowers the rounds its heavy calls loop over runs light ones), those
        run in order and undone with the rest: the sample's, and ``beyond`` it (:meth:`_block_setters`;
        ``at``: each sampled call's line in the block, to place them)."""
        ids = np.array(fids, np.int64)
        order = np.argsort(ids, kind="stable")  # (each function's transactions, in the sample's order)
        cuts = np.flatnonzero(np.diff(ids[order])) + 1
        every = {int(ids[g[0]]): g.tolist() for g in np.split(order, cuts) if len(g) and ids[g[0]] >= 0}
        setters = self._setters(fids, [f for *_, f in beyond])
        fns, calls, place = sample.fns, sample.calls, range(len(fids))
        if beyond:  # (the sample's calls and the setters beyond it, in block order)
            lines = np.concatenate([at, [line for line, *_ in beyond]])
            merged = np.argsort(lines, kind="stable")
            fns = pick(fns + [fn for _, fn, _, _ in beyond], merged.tolist())
            calls = pick(calls + [call for _, _, call, _ in beyond], merged.tolist())
            place = np.argsort(merged).tolist()  # (each call's place among them)
            setters = sorted([place[k] for k in setters] + place[len(fids):])
        timed = _Timer(self.chain.ctx, fns, calls, setters, self.chain.store)

        def timed_in_order(picks: dict[int, list[int]]) -> dict[int, float]:
            # (in the sample's order: each setter run once a pass)
            return {k: timed(place[k]) for k in sorted(set().union(*picks.values()))}

        most = max(1, self.length // RUN_SHARE)
        first = {fid: _spread(ks, min(SAMPLE_RUNS, most)) for fid, ks in every.items()}
        try:
            took = timed_in_order(first)
            times = {fid: sorted(map(took.__getitem__, ks)) for fid, ks in first.items()}
            differ = {fid for fid, t in times.items() if len(t) > 2 and t[-1] > 2 * t[0]}
            more = {fid: [k for k in _spread(every[fid], min(SAMPLE_MORE_RUNS, most)) if k not in first[fid]]
                    for fid in differ}
            took.update(timed_in_order(more))
        finally:
            timed.undo()
        return {fid: _typical(t + [took[k] for k in more.get(fid, ())]) * 1e6 for fid, t in times.items()}

    def _setters(self, fids: list[int], beyond: list[int] = ()) -> list[int]:
        """The sample's transactions (places in it, in order) whose functions set what another
        function of the sample (or a setter ``beyond`` it: their functions) reads (:meth:`_setting`):
        what they set may change what the calls after them cost.  None when there are more than
        SAMPLE_SETTERS (each is run again: a variable most calls change, a counter, changes their
        cost a little at a time) or more than one in SETTERS_SHARE of the sample's transactions, or
        when a function has no summary."""
        setting, _ = self._setting({f for f in fids if f >= 0} | set(beyond))
        places = [k for k, f in enumerate(fids) if f in setting]
        return places if len(places) <= min(SAMPLE_SETTERS, len(fids) // SETTERS_SHARE) else []

    def _block_setters(self, source: bytes, spans: list[tuple[int, int]], fids: list[int]) -> list[tuple]:
        """The block's calls beyond its sample (``spans``: where the sample's lines are) of functions
        that set what a sampled function reads (:meth:`_setting`'s rule, over the world's functions),
        in block order: (line, compiled function, call, function's id).  Found by their names in the
        block's text (C code) and decoded; none when the names are found more than SAMPLE_SETTERS
        times (a variable many calls change: the sample's setters tell it) or a sampled function has
        no summary.  A call beyond the sample that lowers the rounds every later call loops over is
        then run before the sampled calls after it are timed."""
        table = self.ex.table
        sampled = {f for f in fids if f >= 0}
        scalars = [table.scalars(f) for f in range(len(table.functions))]
        if any(scalars[f] is None for f in sampled):
            return []
        candidates = {g for g, sets in enumerate(scalars) if sets is not None and sets[1] and
                      any(sets[1] & scalars[f][0] for f in sampled if f != g)}
        # (a setter the sample holds at a rate of four times SAMPLE_SETTERS in the block is one of
        # many there: nothing is counted)
        seen = Counter(fids)
        if not candidates or any(seen[g] * self.length > 4 * SAMPLE_SETTERS * len(fids) for g in candidates):
            return []
        tokens = {f'"{table.functions[g].name}"'.encode() for g in candidates}
        found = 0
        for token in tokens:
            found += source.count(token)
            if found > SAMPLE_SETTERS:
                return []
        starts: set[int] = set()  # (the lines holding a name, by where they start)
        for token in tokens:
            at = source.find(token)
            while at >= 0:
                starts.add(source.rfind(b"\n", 0, at) + 1)
                at = source.find(token, at + 1)
        texts, lines, line, before = [], [], 1, 0
        for start in sorted(starts):
            line += source.count(b"\n", before, start)
            before = start
            if not any(a <= start < b for a, b in spans):  # (the sample's own are timed as its setters)
                end = source.find(b"\n", start)
                texts.append(source[start:len(source) if end < 0 else end])
                lines.append(line)
        if not texts:
            return []
        try:
            decoded = self.chain.decoder().decode(b"\n".join(texts), self.display, 0, 1)
        except Exception:  # noqa: BLE001 - a line the run will report: no setter to time after
            return []
        ids = map(table.ids.get, decoded.functions, repeat(-1))
        return [(lines[k - 1], fn, call, f) for k, fn, call, f in zip(decoded.lines, decoded.fns, decoded.calls, ids)
                if f in candidates]

    def _setting(self, used: set[int]) -> tuple[set[int], set]:
        """Of the functions ``used``, those that write or add to a variable without keys (a rate, a
        bound, a switch: of any instance) that another of them reads, by their summaries, and the
        variables they set ((contract, name)); none when a function has no summary."""
        table = self.ex.table
        scalars = {f: table.scalars(f) for f in used}
        if any(v is None for v in scalars.values()):
            return set(), set()
        setting = {f for f in used if any(scalars[f][1] & scalars[g][0] for g in used if g != f)}
        return setting, set().union(*(scalars[f][1] for f in setting))

    def _by_stretch(self, tx_us: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Each transaction's time (``tx_us``: its function's, as the estimate measured it over the
        sample), where the block holds a few calls that set what others read (:meth:`_setting`: at
        most SAMPLE_SETTERS, one in SETTERS_SHARE): the calls of the functions reading it, between
        two setters, timed again after the setters before them, one a stretch first and, unless
        each is within twice its function's price, up to SAMPLE_RUNS of them a stretch, no more
        than one in RUN_SHARE of the block's transactions in all (their median, or the mean but
        the slowest when they differ more than twice).  The calls after a setter that lowers the
        rounds they loop over are priced as they cost there, not as those before it."""
        fnids, n = self.fnids, self.n
        used = set(np.flatnonzero(np.bincount(fnids[valid], minlength=1)).tolist())  # (by C code: no sort)
        setting, variables = self._setting(used) if len(used) > 1 else (set(), set())
        if not setting:
            return tx_us
        places = np.flatnonzero(isin(fnids, sorted(setting)))
        if len(places) > min(SAMPLE_SETTERS, n // SETTERS_SHARE):
            return tx_us
        table = self.ex.table
        reading = sorted(f for f in used if table.scalars(f)[0] & variables)
        targets = isin(fnids, reading)
        targets[places] = False
        where = np.flatnonzero(targets)
        if not len(where):
            return tx_us
        # (each target's function and stretch, the setters before it, as one key: groups in block order)
        key = fnids[where].astype(np.int64) * (len(places) + 1) + np.searchsorted(places, where)
        order = np.argsort(key, kind="stable")
        starts = np.flatnonzero(np.diff(key[order], prepend=-1))
        groups = np.split(where[order], starts[1:])
        runs = min(SAMPLE_RUNS, max(1, n // RUN_SHARE) // len(groups))
        if not runs:
            return tx_us
        picks = [_spread(g, runs) for g in groups]
        idx = np.sort(np.concatenate([places, *picks]))  # (the setters and the calls timed, in block order)
        block = self.block_from_calls(idx=idx)
        timer = _Timer(self.chain.ctx, block.fns, block.calls, np.searchsorted(idx, places).tolist(), self.chain.store)

        def timed(ks: np.ndarray) -> dict[int, float]:  # (in block order: each setter run once a pass)
            ks = np.sort(ks)
            return dict(zip(ks.tolist(), map(timer, np.searchsorted(idx, ks).tolist())))

        try:
            # First a call of each stretch: where each is within twice what its function was
            # priced at (what a setter sets changes no cost: a fee), that price stands.
            took = timed(np.array([g[0] for g in picks]))
            priced = tx_us[[g[0] for g in groups]]
            ratio = np.array([took[g[0]] for g in picks]) * 1e6 / np.maximum(priced, 1e-3)
            if ((ratio <= 2) & (ratio >= 0.5)).all():
                return tx_us
            took.update(timed(np.concatenate([g[1:] for g in picks])))
        finally:
            timer.undo()
        out = tx_us.copy()
        for group, picked in zip(groups, picks):
            out[group] = _typical(list(map(took.__getitem__, picked.tolist()))) * 1e6
        return out

    def plan(self) -> dict | None:
        """Windows, each on lanes or run by the parent (the cheaper, as predicted), and each
        transaction's lane; or None when the block runs better inline (self.why says why)."""
        t = time.perf_counter()
        ex = self.ex
        rows = self.all_rows  # (the rows of every stripe, once the keys settled: ``tainted``)
        table = AccessTable.of(rows)
        n, w = self.n, ex.workers
        valid = self.fnids >= 0
        # Microseconds of each transaction inline (as measured per function, or from its static
        # cost), and on a lane.
        table_fns = self.ex.table.functions
        per_fid = np.array([self.exec_us(f) for f in range(len(table_fns))] + [0.0])
        tx_us = self._by_stretch(per_fid[np.where(valid, self.fnids, len(table_fns))], valid)
        model = self.model
        inline = model.inline_us(float(tx_us.sum()), n)
        weights = np.where(valid, model.lane_work_us(tx_us), 0.0)
        tx_rows = np.bincount(table.tx, minlength=n)  # (each transaction's access rows: the parent's work)
        # Each transaction's time run by the parent, and the parent's work for it on a lane: a light
        # one (the first no more than its share of a lane and the second) may run in the parent,
        # beside the lanes running the rest of its window (``_part``).
        alone = model.inline_us(tx_us, 1)
        overhead = model.lanes_us(0.0, 1, 0, tx_rows)
        light_tx = valid & self.is_light(alone, weights, overhead)
        parting = ex.force_beside if ex.force else \
            bool(ex.beside and light_tx.any() and (valid & ~light_tx).any())
        # The locations written (but by a wildcard), each once: the table's groups by location (sorted
        # once, for the components too) that hold a write or an add.
        by_loc = table.by_location
        distinct_written = int(np.count_nonzero(np.logical_or.reduceat(by_loc.mode != R, np.flatnonzero(
            by_loc.start)))) if len(by_loc.mode) else 0
        distinct_written = distinct_written or n

        def written_share(k: int) -> int:  # (windows of 1/k of the distinct locations written)
            return max(WINDOW_MIN, min(WINDOW_MAX, n, distinct_written // k))

        sizes = [ex.force_window] if ex.force_window else list(dict.fromkeys(map(written_share, (4, 16))))
        if ex.force_lanes is not None:  # the test's lanes, one window
            lanes = np.array(ex.force_lanes, np.int64)
            lanes[~valid] = -1
            self.components = len(set(ex.force_lanes))
            _, *shared_adds = _lanes_apart(table, lanes, [0, n])
            self.timing["plan"] += time.perf_counter() - t
            return {"lanes": lanes, "bounds": [0, n], "predicted": [0.0], "inline": [False],
                    "shared_adds": shared_adds, "checked": np.zeros(1, bool)}

        def forced(windows: int) -> np.ndarray:  # (a test's windows run by the parent)
            return isin(np.arange(windows), sorted(ex.force_inline))

        def judge(window: np.ndarray, windows: int, given: np.ndarray | None) -> tuple:
            """A plan of these windows: each on lanes, or run by the parent (``given``, or whichever
            is predicted to cost less)."""
            comps = components(table, n, window)
            lanes, loads = _deal(comps.label, comps.count, weights, window, w)
            count = np.bincount(window, minlength=windows)
            rows_in = np.bincount(window, weights=tx_rows, minlength=windows)
            busiest = np.maximum(loads.max(axis=1), loads.sum(axis=1) / self.cpus)  # (more lanes than CPUs share them)
            on_lanes = model.lanes_us(busiest, count, rows=rows_in)
            part = self._part(table, window, light_tx) if parting else None
            if part is not None and part.any():
                # Or the window's light components run by the parent beside the lanes (as one more
                # lane, numbered ``w``), the rest dealt to the lanes: where that is predicted to cost
                # less (forced: wherever there is a part).  The parent and the lanes share the CPUs.
                rest, rest_loads = _deal(comps.label, comps.count, np.where(part, 0.0, weights), window, w)
                mine = np.bincount(window, weights=np.where(part, alone, 0.0), minlength=windows)
                slowest = self.beside_us(mine, rest_loads.max(axis=1), rest_loads.sum(axis=1))
                # (the part's rows planned and checked too)
                beside = model.lanes_us(slowest, count - np.bincount(window, weights=part, minlength=windows),
                                        rows=rows_in)
                use = (mine > 0) & ((beside < on_lanes) | ex.force)
                lanes = np.where(use[window], np.where(part, w, rest), lanes)
                loads = np.where(use[:, None], rest_loads, loads)
                busiest = np.where(use, slowest, busiest)
                on_lanes = np.where(use, beside, on_lanes)
            lanes[~valid] = -1
            dealt = loads.max(axis=1)
            by_parent = model.inline_us(np.bincount(window, weights=tx_us, minlength=windows), count)
            if ex.force:
                parent = given if given is not None else forced(windows)
            else:
                parent = (by_parent <= on_lanes) | (given if given is not None else False)
            predicted = float(np.where(parent, by_parent, on_lanes).sum())
            lane_work = float(loads[~parent].sum())
            efficiency = lane_work / (w * dealt[~parent].sum()) if lane_work else 1.0
            return predicted, lanes, window, comps, efficiency, busiest, parent

        # Each transaction that changes a location most others read (a price) alone in a window:
        # the readers between two of them are not joined through it.
        hot = _alone(table, n) if not ex.force_window else np.zeros(0, np.int64)
        cut = None
        if len(hot):
            cut = np.zeros(n, bool)
            cut[hot] = True
            cut[hot[hot + 1 < n] + 1] = True
        best = None
        if cut is None and not ex.force_window and sizes[0] < n and not _joined_in_sample(table, n, w):
            # Windows as large as they may be: each run of windows that the parent would not run
            # (judged with their lanes evenly loaded, and without a round trip each: a run of them
            # is one window) is one window on lanes, if its components
            # deal as evenly; the whole block when no part of it is light.  Every window is a
            # barrier the lanes wait at and relays their writes: on this machine that costs more
            # than the model's round trip.  (Not when an eighth of the block is joined already:
            # a giant component, transfers among 10,000 accounts, say.)
            small = np.arange(n, dtype=np.int64) // sizes[0]
            windows = int(small[-1]) + 1
            count = np.bincount(small, minlength=windows)
            if ex.force:
                light = forced(windows)
            else:
                by_parent = model.inline_us(np.bincount(small, weights=tx_us, minlength=windows), count)
                small_work = np.bincount(small, weights=weights, minlength=windows)
                light = by_parent <= model.lanes_us(small_work / self.cpus, count, 0,
                                                    rows=np.bincount(small, weights=tx_rows, minlength=windows))
                if parting:  # (nor with its light transactions run by the parent beside the lanes)
                    light &= by_parent <= self.split_us(small, windows, alone, weights, overhead,
                                                        model.lanes_us(0.0, 0, 0, tx_rows), light_tx)
            run = _runs(light, sizes[0])
            runs = int(run[-1]) + 1
            if not light.all() and runs < windows:
                given = light[np.searchsorted(run, np.arange(runs))]
                candidate = judge(run[small], runs, given)
                # Kept if its lanes deal evenly, and no run meant for lanes is now the parent's: merged,
                # its transactions can join into a component too large for the lanes (two random
                # accounts per call: sparse in small windows, one giant component in the block).
                if candidate[4] >= EFFICIENCY and not (candidate[6] & ~given).any():
                    best = candidate
        if best is None:
            # Windows of half the distinct locations written first, where the round trips of those
            # of a quarter would be a good part of what the block costs on lanes: each window is a
            # barrier and a relay of the lanes' writes (transfers among 1,000 accounts, forced onto
            # lanes: 400 windows of 250 calls, or 200 of 500 in four fifths of the time).
            tried = sizes
            half = written_share(2)
            if cut is None and not ex.force_window and half > sizes[0] and -(-n // sizes[0]) * model.window_us > \
                    ROUND_TRIPS_SHARE * model.lanes_us(float(weights.sum()) / self.cpus, n, 0, rows=len(table.tx)):
                tried = [half, *sizes]
            for size in tried:
                if cut is None:
                    window = np.arange(n, dtype=np.int64) // size
                else:
                    window = np.cumsum(cut | (np.arange(n) % size == 0)) - 1
                candidate = judge(window, int(window[-1]) + 1 if n else 0, None)
                if best is None or candidate[0] < best[0]:
                    best = candidate
                if candidate[4] >= EFFICIENCY:
                    break
        predicted, lanes, window, comps, efficiency, busiest, parent = best
        if not ex.force and (predicted > PLAN_GAIN * inline or parent.all()):
            self.timing["plan"] += time.perf_counter() - t
            largest = int(np.bincount(comps.label, weights=weights, minlength=comps.count).argmax())
            joined = _joined_through(table, comps.label, largest, self.chain.compiled_summaries.var_ids.names)
            self.why = (f"one component of the DAG, joined through {joined}, holds most of the work"
                        if efficiency < EFFICIENCY else
                        "light transactions: lanes and their windows would cost more than they save")
            return None
        self.timing["plan"] += time.perf_counter() - t
        self.components = comps.count
        starts = np.flatnonzero(np.diff(window, prepend=-1)).tolist()
        # Where a window on lanes meets one the parent runs, the light transactions at its edge go
        # to the parent's (a transaction is light when the parent runs it for less than its share
        # of a lane): so the lanes' window holds only what pays there, and is more often apart from
        # the parent's, which it can then run beside (``execute``).
        light = light_tx & (not ex.force)
        bounds, inline, seconds = _edges(starts + [n], parent.tolist(), (busiest / 1e6).tolist(), light)
        for begin, end, mine in zip(bounds, bounds[1:], inline):
            if mine:
                lanes[begin:end] = -1  # (the parent's)
        # Lanes check themselves only where the plan is seen to keep them apart (it always does:
        # a plan that did not would have a bug, and the parent's check of the lanes' logs would
        # still keep the block exact).
        apart, *shared_adds = _lanes_apart(table, lanes, bounds)
        checked = self.exact(bounds) & apart
        chunks = self.shared_chunks(table, comps.label, lanes, bounds, inline, checked, weights)
        if chunks is not None:  # (the rest of a shared window dealt again: the adds its lanes share, again)
            apart, *shared_adds = _lanes_apart(table, lanes, bounds)
            checked &= apart
        beside = lanes == w
        if beside.any() and not apart:
            # The parent runs its part of a window only where the plan is seen to keep it apart from
            # the lanes (it checks its part against its rows; the lanes check themselves, or in a
            # window with a wildcard the parent compares their logs with what its part wrote): its
            # components are apart from the lanes', but for a bug in the plan, in which case lanes
            # run them.
            lanes[beside] = 0
            apart, *shared_adds = _lanes_apart(table, lanes, bounds)
            checked = self.exact(bounds) & apart
        return {"lanes": lanes, "bounds": bounds, "predicted": seconds, "inline": inline,
                "shared_adds": shared_adds, "checked": checked, "chunks": chunks}

    def shared_chunks(self, table: AccessTable, label: np.ndarray, lanes: np.ndarray, bounds: list[int],
                      inline: list[bool], checked: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        """Each transaction's chunk where the lanes of a window share part of its work in turns (-1
        elsewhere), or None when no window is shared; ``lanes`` re-dealt for the rest of such windows.

        A window is shared when the transport has turns to share (:class:`compiler.runtime.pool.Turns`),
        its lanes check themselves, and its transactions are heavy enough (``SHARED_MIN_US`` a
        transaction on a lane, more with more lanes: every lane receives the shared part's calls).
        Its cheapest components that touch no location two of its components add to (a lane runs
        the chunks it takes after its own part, not in block order, so such adds would not come in
        block order on it, nor be merged), up to ``SHARED_PART`` of its work, are cut into chunks
        of about equal cost (the costliest first, so that the last ones taken are small), each
        chunk's transactions in block order; the other components are dealt to the lanes again,
        evenly without them (the caller finds the adds they share again).  Each lane runs its dealt
        part, then takes chunks until none is left: a lane on a slower core takes fewer."""
        ex = self.ex
        w = ex.transport.size
        if getattr(ex.transport, "turns", None) is None or w < 2:
            return None
        on_lanes = (lanes >= 0) & (lanes < w)  # (not the parent's)
        candidates = []
        for k, (begin, end) in enumerate(zip(bounds, bounds[1:])):
            count = int(on_lanes[begin:end].sum())
            if inline[k] or not checked[k] or count < 2 * w or not on_lanes[begin:end].all():
                continue  # (nor a window the parent runs part of: ``plan``)
            if ex.force_shared or float(weights[begin:end].sum()) >= SHARED_MIN_US * w / 2 * count:
                candidates.append(k)
        if not candidates:
            return None
        # The locations two components of a window add to (``_lanes_apart`` with the components as
        # lanes; none when no transaction on lanes adds anything), and the transactions touching them.
        adding = np.zeros(len(lanes), bool)
        if (table.mode == A).any():
            apart, lids, _ = _lanes_apart(table, np.where(on_lanes, label, -1), bounds)
            if not apart:
                return None
            adding[table.tx[isin(table.loc, lids)]] = True
        chunks = np.full(len(lanes), -1, np.int32)
        shared = 0
        for k in candidates:
            begin, end = bounds[k], bounds[k + 1]
            tx = begin + np.flatnonzero(on_lanes[begin:end])
            _, comp = np.unique(label[tx], return_inverse=True)
            cost = np.bincount(comp, weights=weights[tx])
            excluded = np.bincount(comp, weights=adding[tx], minlength=len(cost)) > 0
            cheapest = np.argsort(np.where(excluded, np.inf, cost), kind="stable")
            cheapest = cheapest[:len(cost) - int(excluded.sum())]
            pool = cheapest[np.cumsum(cost[cheapest]) <= SHARED_PART * float(cost.sum())][::-1]
            if len(pool) < 2 * w:
                continue
            most = min(Turns.MOST, SHARED_CHUNKS * w, len(pool))
            before = np.cumsum(cost[pool]) - cost[pool]
            rank = np.minimum((before * most / (float(cost[pool].sum()) or 1.0)).astype(np.int64), most - 1)
            chunk = np.full(len(cost), -1, np.int64)
            chunk[pool] = np.unique(rank, return_inverse=True)[1]  # (a component larger than a chunk: none skipped)
            chunks[tx] = chunk[comp]
            dealt = chunk[comp] < 0
            lanes[tx[dealt]] = _deal(comp[dealt], len(cost), weights[tx[dealt]], np.zeros(int(dealt.sum()), np.int64),
                                     w)[0]
            shared += 1
        return chunks if shared else None

    def exact(self, bounds: list[int]) -> np.ndarray:
        """Per window, whether none of its rows is a wildcard: its lanes then check their own
        accesses against their rows (a wildcard's accesses are not told apart by location ids: the
        lanes of a window with one send theirs, and the parent checks them)."""
        rows = self.all_rows
        wild = np.searchsorted(np.asarray(bounds, np.int64), rows["tx"][rows["wild"]], side="right") - 1
        return np.bincount(wild, minlength=len(bounds) - 1) == 0

    def _part(self, table: AccessTable, window: np.ndarray, light: np.ndarray) -> np.ndarray:
        """Each transaction, whether it may be of the parent's part of its window: of a component
        (joined by what is written or added to: a location only added to then has all its adds on
        one side, the parent's or the lanes') whose transactions are all ``light``, and none of whose
        rows is a wildcard (the parent checks its part's accesses against its rows, location by
        location; in a window with a wildcard the lanes' logs are checked against what it wrote)."""
        joined = components(table, self.n, window, adds=True)
        whole = np.bincount(joined.label, weights=~light, minlength=joined.count) == 0
        if table.wild.any():
            whole &= np.bincount(joined.label[table.tx[table.wild]], minlength=joined.count) == 0
        return whole[joined.label] & light


def _sample_chunks(source: bytes) -> list[bytes]:
    """Whole lines from SAMPLE_CHUNKS places spread over the block (:func:`_sample_spans`)."""
    return [source[a:b] for a, b in _sample_spans(source)]


def _sample_spans(source: bytes) -> list[tuple[int, int]]:
    """Where whole lines from SAMPLE_CHUNKS places spread over the block are (its start, and evenly
    after): a block light at its start and heavy further on is seen as it is."""
    budget = min(SAMPLE_BYTES, max(SAMPLE_MIN_BYTES, len(source) // SAMPLE_SHARE))
    if len(source) <= budget:
        return [(0, len(source))]
    size = budget // SAMPLE_CHUNKS
    spans = []
    for k in range(SAMPLE_CHUNKS):
        at = (len(source) - size) * k // (SAMPLE_CHUNKS - 1)
        begin = 0 if at == 0 else source.find(b"\n", at - 1) + 1
        end = source.rfind(b"\n", begin, begin + size)
        if (begin > 0 and end > begin) or (begin == 0 and end > 0):
            spans.append((begin, end))
    return spans


def _joined_through(table, label: np.ndarray, group: int, names: dict) -> str:
    """The variable (``Contract.variable``) of the location that joins the most transactions of
    component ``group`` (a wildcard's variable when no location does): what a user looks at first."""
    mine = label[table.tx] == group
    rows = mine & ~table.wild & (table.mode == W)  # (a location only added to joins nobody)
    if not rows.any():
        rows = mine & ~table.wild & (table.mode == A)  # (... unless it is read too)
        rows &= isin(table.loc, table.loc[mine & ~table.wild & (table.mode == R)])
    if not rows.any():
        rows = mine & table.wild
        if not rows.any():
            return "?"
        return "every key of " + ".".join(names[int(table.var[rows][0])])
    _, first, counts = np.unique(table.loc[rows], return_index=True, return_counts=True)
    return ".".join(names[int(table.var[rows][first[counts.argmax()]])])


def _conflicting(imbalance: float, joined: str) -> str:
    """Why a block whose sampled transactions conflict runs inline."""
    return (f"conflicting transactions: in a sample of the block, its busiest lane would have {imbalance:.1f}x its "
            f"share of the work (its largest group of transactions, joined through {joined}, runs on one lane, "
            f"in order): lanes would cost more than running the block")


class _Timer:
    """Runs of calls (``fns`` and ``calls``: a block's, or some of them, in block order) on the chain's
    state, each timed and undone at once (its journal rolled back: nothing of it stays but the values
    read from a state file), on the state as the ``setters`` (places among them) before it leave it:
    those run in order (undone when a call before them is timed, and by :meth:`undo`)."""

    def __init__(self, ctx, fns: list, calls: list, setters: list[int], store=None) -> None:
        self.ctx, self.fns, self.calls, self.setters = ctx, fns, calls, setters
        self.marks = (len(ctx.journal), len(ctx.events))
        self.applied: list[tuple[int, int, int]] = []  # the setters run: (place, journal and events' marks)
        self.store = store  # (the state file whose ``loads`` count the keys read one by one: None, none)
        self.warm: set = set()  # (the functions run here already)

    def _at(self, k: int) -> tuple[int, int]:
        """The setters before call ``k`` run (those from k on undone); the marks to undo a run to."""
        ctx, applied, setters = self.ctx, self.applied, self.setters
        while applied and applied[-1][0] >= k:
            _, j, e = applied.pop()
            ctx.rollback(j, e)
        for s in setters[bisect_right(setters, applied[-1][0]) if applied else 0:bisect_left(setters, k)]:
            applied.append((s, len(ctx.journal), len(ctx.events)))
            ctx.budget = ctx.cost_limit
            try:
                self.fns[s](ctx, *self.calls[s])
            except Revert:
                ctx.rollback(*applied[-1][1:])
        return len(ctx.journal), len(ctx.events)

    def __call__(self, k: int) -> float:
        """Call ``k``'s time, in seconds.  Twice, the second timed: the first loads what it reads
        from a state file (the block's run reads it in bulk first) and warms the caches; once for a
        call that takes longer than WARM_S, whose reads from a state file (the keys its variables
        came to hold) could be no more than LOADS_SHARE of its time, and for a call of a function
        run here already that read nothing from a state file (the function's first call warmed
        what a second run would: a block of 18 light functions' estimate 6.3 -> 5.6 ms)."""
        ctx, clock = self.ctx, time.perf_counter
        fn, call = self.fns[k], self.calls[k]
        mark = self._at(k) if self.setters else self.marks
        held = self._loads()
        warmed = fn in self.warm
        self.warm.add(fn)
        for _ in range(2):
            ctx.budget = ctx.cost_limit
            started = clock()
            try:
                fn(ctx, *call)
            except Revert:
                pass
            elapsed = clock() - started
            ctx.rollback(*mark)
            loads = self._loads() - held
            if (elapsed >= WARM_S and loads * KEY_LOAD_S <= LOADS_SHARE * elapsed) or (warmed and not loads):
                break
        return elapsed

    def _loads(self) -> int:
        """The keys read from the state file one by one so far (none without one)."""
        return self.store.loads if self.store is not None else 0

    def undo(self) -> None:
        """The setters run taken back: the state as it was."""
        self.applied.clear()
        self.ctx.rollback(*self.marks)


def _typical(times: list[float]) -> float:
    """What a function's calls take, from a few timed: their median, or, when they differ more than
    twice (a loop its arguments bound, a branch), their mean but the slowest (a pause of the
    machine's): the median of calls mostly light and sometimes heavy would call them light."""
    t = sorted(times)
    if len(t) > 2 and t[-1] > 2 * t[0]:
        return sum(t[:-1]) / (len(t) - 1)
    return t[len(t) // 2]


def _spread(seq, most: int):
    """At most ``most`` of ``seq`` (a list or an array), evenly spaced from its first."""
    return seq[::-(-len(seq) // most)] if len(seq) else seq


def _alone(table, n: int) -> np.ndarray:
    """The writers of a hot location among ``n`` transactions (:func:`vectorized.hot_writers`), each
    to be a window of its own, if there are few enough for that (HOT_WINDOWS transactions each)."""
    hot = hot_writers(table, n)
    return hot if len(hot) * HOT_WINDOWS <= n else hot[:0]


def _busiest(groups: np.ndarray, lanes: int) -> float:
    """The busiest of ``lanes`` lanes when groups of work ``groups`` are dealt largest first, each
    to the least busy lane."""
    loads = [0.0] * lanes
    for g in np.sort(groups)[::-1].tolist():
        heapq.heapreplace(loads, loads[0] + g)
    return max(loads)


def _deal(label: np.ndarray, count: int, costs: np.ndarray, window: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E501
    """Components dealt to ``w`` lanes, window by window: each transaction's lane and each window's
    loads.  The costliest first, in a snake order (0, 1, ..., w-1, w-1, ..., 0: even for many
    components of like costs); where that leaves some window's busiest lane over ``EVEN`` times an
    even share, dealt again by filling (:func:`_fill`: even for one large component and many small
    ones, where the snake put half the small ones beside the large one: a component of 45% of a
    block's work left its lane 70% of it, and a block that gained 1.4x on lanes ran inline), and
    per window the deal whose busiest lane is the less busy kept.  C code but for the fill's few
    costliest components."""
    comp_cost = np.bincount(label, weights=costs, minlength=count)
    comp_window = np.zeros(count, np.int64)
    comp_window[label] = window
    windows = int(window.max()) + 1 if len(window) else 0
    order = np.lexsort((-comp_cost, comp_window))  # (by window, the costliest first)
    cost_sorted, window_sorted = comp_cost[order], comp_window[order]
    rank = np.arange(count) - np.searchsorted(window_sorted, window_sorted, side="left")
    turn = rank % (2 * w)
    comp_lane = np.empty(count, np.int64)
    comp_lane[order] = np.where(turn < w, turn, 2 * w - 1 - turn)
    lanes = comp_lane[label]
    loads = np.bincount(window * w + lanes, weights=costs, minlength=windows * w).reshape(windows, w)
    busiest = loads.max(axis=1)
    if (busiest <= loads.sum(axis=1) / w * EVEN).all():  # (even already: most often)
        return lanes, loads
    comp_lane[order] = _fill(cost_sorted, window_sorted, windows, w)
    filled = comp_lane[label]
    dealt = np.bincount(window * w + filled, weights=costs, minlength=windows * w).reshape(windows, w)
    better = dealt.max(axis=1) < busiest
    return np.where(better[window], filled, lanes), np.where(better[:, None], dealt, loads)


def _fill(cost: np.ndarray, window: np.ndarray, windows: int, w: int) -> np.ndarray:
    """Each component's lane (``cost``, ``window``: sorted by window, the costliest first): a
    window's costliest (each at least half an even share of its lanes: at most ``2 w`` of them) one
    by one to the least loaded lane, then the rest, the cheapest first, into the room each lane has
    left up to an even share, lane after lane: each to the lane whose room holds the middle of its
    cost summed with those before it (a cumulative sum and a binary search)."""
    share = np.bincount(window, weights=cost, minlength=windows) / w
    big = cost >= share[window] / 2
    lanes = np.zeros(len(cost), np.int64)
    big_loads = np.zeros((windows, w))
    at = np.flatnonzero(big & (cost > 0))
    if len(at):
        loads: dict[int, list[float]] = {}
        dealt = []
        for win, c in zip(window[at].tolist(), cost[at].tolist()):
            row = loads.setdefault(win, [0.0] * w)
            lane = row.index(min(row))
            row[lane] += c
            dealt.append(lane)
        lanes[at] = dealt
        big_loads[list(loads)] = list(loads.values())
    rest = np.flatnonzero(~big)
    if len(rest):
        bounds = np.cumsum(np.maximum(share[:, None] - big_loads, 0.0).ravel())  # (the lanes' room, one run)
        before = np.r_[0.0, bounds][np.arange(windows) * w]  # (where each window's room begins)
        c, win = cost[rest], window[rest]
        summed = np.cumsum(c)
        within = summed - np.r_[0.0, summed][np.searchsorted(win, win, side="left")]  # (down to its own)
        total = np.bincount(win, weights=c, minlength=windows)
        slot = np.searchsorted(bounds, before[win] + total[win] - within + c / 2, side="right")
        lanes[rest] = np.clip(slot - win * w, 0, w - 1)
    return lanes


def _edges(bounds: list[int], parent: list[bool], seconds: list[float], light: np.ndarray
           ) -> tuple[list[int], list[bool], list[float]]:
    """Windows (``bounds``, one more than windows; ``parent``: run by the parent; ``seconds``
    predicted) with the ``light`` transactions at the edges of windows on lanes that meet the
    parent's moved into the parent's, and consecutive windows of the parent made one."""
    bounds = list(bounds)
    for i in range(1, len(parent)):
        if parent[i - 1] and not parent[i]:      # the parent's, then lanes: move forward
            heavy = np.flatnonzero(~light[bounds[i]:bounds[i + 1]])
            bounds[i] = bounds[i] + int(heavy[0]) if len(heavy) else bounds[i + 1]
        elif not parent[i - 1] and parent[i]:    # lanes, then the parent's: move back
            heavy = np.flatnonzero(~light[bounds[i - 1]:bounds[i]])
            bounds[i] = bounds[i - 1] + int(heavy[-1]) + 1 if len(heavy) else bounds[i - 1]
    out_bounds: list[int] = []
    out_parent: list[bool] = []
    out_seconds: list[float] = []
    for begin, end, mine, time_ in zip(bounds, bounds[1:], parent, seconds):
        if begin >= end:
            continue  # (a window on lanes all of whose transactions were light)
        if mine and out_parent and out_parent[-1]:
            continue
        out_bounds.append(begin)
        out_parent.append(mine)
        out_seconds.append(time_)
    return out_bounds + [bounds[-1]], out_parent, out_seconds


def _runs(parent: np.ndarray, size: int) -> np.ndarray:
    """Each window's run (numbered from 0): consecutive windows on lanes, up to ``WINDOW_MAX``
    transactions, or consecutive windows of the parent (``parent``: each window's)."""
    k = len(parent)
    new = np.ones(k, bool)
    new[1:] = parent[1:] != parent[:-1]
    start = np.maximum.accumulate(np.where(new, np.arange(k), 0))
    new |= ~parent & ((np.arange(k) - start) % max(1, WINDOW_MAX // size) == 0)
    return np.cumsum(new) - 1


def _joined_in_sample(table, n: int, w: int, every: int = 8) -> bool:
    """Whether every ``every``-th transaction of the block, alone, already forms components too
    uneven for ``w`` lanes (one holding more than its share, by count): the whole block, whose
    components can only be coarser, would be no better."""
    m = n // every
    if m < WINDOW_MIN:
        return False
    return largest_in_sample(table, n, every) > m / (EFFICIENCY * w)


def _lanes_apart(table: AccessTable, lanes: np.ndarray, bounds: list[int]) -> tuple[bool, np.ndarray, np.ndarray]:
    """The plan's lanes checked against its rows, window by window: whether they share only
    locations that all their rows read or all add to (what lets each lane check only itself:
    ``first_outside``), and the locations they only add to on more than one lane (the lanes send
    these adds' extents, :class:`protocol.Lanes`): their ids, sorted within each window, and each
    window's offset into them (one more than the windows).  One pass over the rows in the order
    the components sorted them (by location, then transaction: a location's rows of one window
    are consecutive)."""
    s = table.by_location
    none = True, np.zeros(0, np.int64), np.zeros(len(bounds), np.int64)
    if not len(s.tx):
        return none
    edges = np.asarray(bounds, np.int64)
    win = np.repeat(np.arange(len(edges) - 1), np.diff(edges))[s.tx]
    small = np.int8 if int(lanes.max(initial=0)) < 127 else np.int64  # (narrow columns: passes a fraction as long)
    lane = lanes.astype(small)[s.tx]
    start = s.start.copy()
    start[1:] |= win[1:] != win[:-1]
    group = np.cumsum(start) - 1  # (each row's location in its window)
    on = np.flatnonzero(lane >= 0)  # (the parent's transactions are on no lane)
    lane, on_group = lane[on], group[on]
    # The groups of rows on more than one lane: two of their rows on lanes, side by side, differ
    # (a pass over the rows; a few groups then, whose modes are or-ed).
    several = distinct(on_group[np.flatnonzero((lane[1:] != lane[:-1]) & (on_group[1:] == on_group[:-1])) + 1])
    if not len(several):
        return none
    chosen = np.zeros(int(group[-1]) + 1, bool)
    chosen[several] = True
    rows = on[chosen[on_group]]
    of = group[rows]
    first = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
    modes = np.bitwise_or.reduceat(np.left_shift(1, s.mode[rows], dtype=np.int8), first)
    shared = rows[first][modes == 1 << A]  # (each such group's first row on a lane)
    win, lid = win[shared], s.locations[s.dense[shared]]
    order = np.lexsort((lid, win))
    win, lid = win[order], lid[order]
    return (not joins(modes).any(), lid.astype(np.int64),
            np.searchsorted(win, np.arange(len(bounds)), side="left").astype(np.int64))
