"""Lanes of one window of a block: what a worker gets, runs and returns; the parent's own lane.

A window's transactions are split into lanes that share no location, except
locations every access of the window only adds to (*pure adds*) and
locations they only read.  The parent plans the lanes (:func:`plan`):

- a **worker lane** gets exactly the slice of state its transactions'
  accesses name (whole variables for wildcards), in chunks of transactions,
  each chunk with the locations not sent before, so the worker starts on the
  first chunk while the parent prepares the next.  It runs on that slice
  (:mod:`compiler.runtime.worker_lane`); a read or write of anything else,
  or a write to a location it was only predicted to read, is an *escape*:
  the lane stops there.  It returns each transaction's outcome, what the lane
  left in each location it wrote, and the running values of its adds to
  locations other lanes add to.  Locations travel as small integers: their
  position in the order the parent sent them.
- the **parent's lane** runs on the live state itself (:func:`run_live`):
  no slice, no shipping, no merge.  So that it cannot see or overwrite what
  the workers own, every location a worker lane writes or adds to is
  *poisoned* meanwhile (any use of the poison value raises an escape; a
  variable a worker writes as a whole is replaced by one that refuses every
  access), and a write of the parent's lane to any location a worker lane
  touches is an escape too.

Then the parent finds the first transaction, in block order, from which the
lanes cannot be trusted (:func:`first_untrusted`): an escape, a lane whose
worker failed, an add to a location several lanes add to that leaves
0 .. 2^256-1 in block order (or that reverted on arithmetic on its lane,
which saw only its own lane's adds).  It undoes its own lane from there
(its journal), removes the poison, applies the workers' results before that
point in block order (:func:`settle`), and leaves the rest to the sequential
executor.  So the result is exactly the sequential one.
"""

from __future__ import annotations

import bisect
import marshal
from collections import defaultdict
from typing import Any

from ..schedule.compiled import WILD
from .context import Context
from .errors import Revert
from .receipts import INVALID, OK, REVERTED

MAX = (1 << 256) - 1
ARITHMETIC = ("arithmetic overflow", "arithmetic underflow")
R = 0
CHUNK = 256        # transactions of a worker lane per message
_NO_EVENTS = ()


class Escape(Exception):
    """A transaction touched state outside its predicted accesses."""


class _Poison:
    """Stands for a location a worker owns while the parent's lane runs: any use raises Escape."""

    __slots__ = ()

    def _escape(self, *args):
        raise Escape("a location of another lane")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _escape
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _escape
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __truediv__ = __rtruediv__ = _escape
    __pow__ = __rpow__ = __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = _escape
    __lshift__ = __rlshift__ = __rshift__ = __rrshift__ = __neg__ = __pos__ = __abs__ = _escape
    __invert__ = __bool__ = __hash__ = __index__ = __int__ = __len__ = __iter__ = _escape

    def __repr__(self) -> str:
        return "<owned by another lane>"


POISON = _Poison()
_ABSENT = object()


class _Missing(dict):
    """A variable a lane must not touch at all."""

    __slots__ = ()

    def __missing__(self, key):
        raise Escape(key)

    def get(self, key, default=None):
        raise Escape(key)


# ====================================================================== planning

class WorkerPlan:
    """One worker lane: its messages, and the (store, key) of each location it was sent."""

    def __init__(self, lane: list[int]) -> None:
        self.lane = lane
        self.messages: list[bytes] = []
        self.slots: list[tuple[dict, Any]] = []
        self.writes: list = []                      # the lane's final writes, from its last reply
        self.extent: list = []                      # [(location number, lowest, highest, last value)]
        self.adds: dict[int, list[int]] = {}        # transaction -> its shared adds' location numbers
        self.arith: int | None = None               # its first add-making transaction to revert


class Plan:
    """The lanes of one window: the workers' plans and what guards the parent's lane."""

    def __init__(self) -> None:
        self.workers: list[WorkerPlan] = []
        self.cross: set[tuple] = set()                 # (id(store), key) several lanes add to
        self.cross_of: dict[int, list[tuple]] = {}     # parent's transaction -> [(store, key)] of those
        self.initial: dict[tuple, int] = {}            # their values before the window
        self.guarded: set[tuple] = set()               # (id(store), key) workers read: the parent may not write
        self.guarded_stores: set[int] = set()          # the id(store) of those
        self.guarded_whole: set[int] = set()           # id(store) of variables the parent may not write
        self.owned: list[tuple[dict, Any]] = []        # what to poison
        self.owned_whole: dict[tuple, None] = {}       # (address, index) of variables to hide
        self.poisoned: list[tuple[dict, Any, Any]] = []   # (store, key, value before or _ABSENT)
        self.swapped: list[tuple[list, int, dict]] = []   # (instance storage, index, the real variable)
        self.accesses = 0                              # accesses sliced for the workers
        self.results: dict[int, tuple] = {}            # window index -> a worker's result


def plan(ctx: Context, txs: list, lanes: list[list[int]], accesses: list[list], pure: dict,
         compiled, by_address: dict, window: int, fn_keys: dict, send) -> Plan:
    """Slice the state for lanes[1:] (the workers) and note what guards it from lanes[0] (the parent).

    ``accesses[j]`` are transaction j's instantiated ``((address, var id, key), mode)``;
    ``pure`` maps each pure-add location to the transactions adding to it.  Each message is
    handed to ``send(k, message)`` (worker lane k) as soon as it is made.  Nothing is poisoned
    yet: see :func:`poison`.
    """
    p = Plan()
    storage = ctx.storage
    slots = compiled.slots
    parent_adds: set = set()    # pure adds the parent's lane shares with a worker lane
    adds_of: dict[int, list] = {}
    adds_locs: set = set()      # pure adds shared by several lanes: they travel as deltas
    if pure and len(lanes) > 1:
        lane_of = {j: k for k, lane in enumerate(lanes) for j in lane}
        cross_of = p.cross_of
        for loc, who in pure.items():
            ks = {lane_of.get(j, -1) for j in who}
            if len(ks) < 2:
                continue  # one lane's alone: its adds are exact there
            a, vid, key = loc
            index, zero = slots[vid]
            store = storage[a][index]
            where = (id(store), key)
            p.cross.add(where)
            p.initial[where] = store.get(key, zero)
            adds_locs.add(loc)
            if 0 in ks:
                parent_adds.add(loc)
                mine = (store, key)
                for j in [j for j in who if lane_of.get(j) == 0]:
                    got = cross_of.get(j)
                    if got is None:
                        cross_of[j] = [mine]
                    else:
                        got.append(mine)
            for j in [j for j in who if lane_of.get(j, 0) != 0]:
                got = adds_of.get(j)
                if got is None:
                    adds_of[j] = [loc]
                else:
                    got.append(loc)
    guarded, guarded_stores, owned = p.guarded, p.guarded_stores, p.owned
    guard, guard_store, own = guarded.add, guarded_stores.add, owned.append
    number, timestamp, cost_limit = ctx.number, ctx.timestamp, ctx.cost_limit
    n_accesses = 0
    for lane in lanes[1:]:
        wp = WorkerPlan(lane)
        p.workers.append(wp)
        index_of: dict[tuple, int] = {}
        lookup = index_of.get
        writable: list[bool] = []
        add_slot, add_writable = wp.slots.append, writable.append
        shared: list[int] = []
        sent_whole: dict[tuple, bool] = {}
        for c in range(0, len(lane), CHUNK):
            exact: list[tuple] = []
            add_exact = exact.append
            whole: list[tuple] = []
            upgrades: list[int] = []
            items = []
            for j in lane[c:c + CHUNK]:
                acc = accesses[j]
                n_accesses += len(acc)
                for loc, mode in acc:
                    idx = lookup(loc)
                    if idx is not None:
                        if mode and not writable[idx]:
                            writable[idx] = True
                            upgrades.append(idx)
                            if loc not in parent_adds:
                                own(wp.slots[idx])
                        continue
                    key = loc[2]
                    index, zero = slots[loc[1]]
                    if key is WILD:
                        _plan_whole(p, storage, compiled, by_address, loc[0], loc[1], index, mode, sent_whole, whole)
                        continue
                    stores = storage.get(loc[0])
                    if stores is None:
                        continue  # no contract there: the call reverts before touching it
                    store = stores[index]
                    index_of[loc] = len(writable)
                    add_slot((store, key))
                    if mode:
                        add_writable(True)
                        add_exact((loc[0], index, key, store.get(key, zero), True))
                        if loc in adds_locs:
                            shared.append(len(writable) - 1)
                        if loc not in parent_adds:
                            own((store, key))
                    else:
                        add_writable(False)
                        add_exact((loc[0], index, key, store.get(key, zero), False))
                        guard((id(store), key))
                        guard_store(id(store))
                tx = txs[j]
                adds = ()
                if j in adds_of:
                    adds = wp.adds[j] = [index_of[loc] for loc in adds_of[j] if loc in index_of]
                items.append((j, fn_keys[tx.function], tx.call, adds))
            last = c + CHUNK >= len(lane)
            wp.messages.append(marshal.dumps((window, c == 0, number, timestamp, cost_limit, exact, whole, upgrades,
                                              items, shared if last else None)))
            send(len(p.workers) - 1, wp.messages[-1])
    p.accesses = n_accesses
    return p


def _plan_whole(p: Plan, storage: dict, compiled, by_address: dict, address, vid: int, index: int,
                mode: int, sent: dict, out: list) -> None:
    """A wildcard access: the whole variable, of one instance or of every instance of its contract."""
    contract = compiled.var_ids.names[vid][0]
    addresses = [address] if address is not None else \
        [a for a, inst in by_address.items() if inst.contract.name == contract]
    for a in addresses:
        if a not in storage:
            continue
        store = storage[a][index]
        before = sent.get((a, index))
        if before is None or (mode != R and not before):
            sent[(a, index)] = mode != R
            out.append((a, index, dict(store), store.zero, mode != R))  # sent again when it becomes writable
        p.guarded_whole.add(id(store))
        if mode != R:
            p.owned_whole[(a, index)] = None


def poison(p: Plan, ctx: Context) -> None:
    """Hide what the workers own from the parent's lane (undone by :func:`unpoison`)."""
    poisoned = p.poisoned
    for store, key in p.owned:
        poisoned.append((store, key, store.get(key, _ABSENT)))
        store[key] = POISON
    for a, index in p.owned_whole:
        stores = ctx.storage[a]
        p.swapped.append((stores, index, stores[index]))
        stores[index] = _Missing()


def unpoison(p: Plan) -> None:
    for stores, index, real in reversed(p.swapped):
        stores[index] = real
    for store, key, value in reversed(p.poisoned):
        if value is _ABSENT:
            store.pop(key, None)
        else:
            store[key] = value
    p.swapped.clear()
    p.poisoned.clear()


# ====================================================================== the parent's lane

class LiveLane:
    """The parent's lane, run on the live state: outcomes, and how to undo it from any transaction."""

    def __init__(self) -> None:
        self.outcomes: dict[int, tuple] = {}
        self.marks: list[tuple[int, int, int]] = []    # (transaction, journal mark, events mark)
        self.trail: list[tuple] = []                   # (transaction, id(store), key, value after it)
        self.arith: int | None = None
        self.escaped: int | None = None


def run_live(ctx: Context, txs: list, lane: list[int], p: Plan, between=None, every: int = 32) -> LiveLane:
    """Run the parent's lane; ``between()`` is called every ``every`` transactions (to feed the
    workers and collect their replies)."""
    out = LiveLane()
    journal, events = ctx.journal, ctx.events
    cross_of = p.cross_of
    outcomes, marks, trail = out.outcomes, out.marks, out.trail
    start_j, start_e = len(journal), len(events)
    countdown = every
    limit = ctx.cost_limit
    for j in lane:
        if between is not None:
            countdown -= 1
            if not countdown:
                between()
                countdown = every
        tx = txs[j]
        jmark, emark = len(journal), len(events)
        marks.append((j, jmark, emark))
        adds = cross_of.get(j)
        ctx.budget = limit
        try:
            value = tx.fn(ctx, *tx.call)
        except Revert as r:
            ctx.rollback(jmark, emark)
            outcomes[j] = (REVERTED, r.reason, None, _NO_EVENTS, ctx.cost_used(), r.at)
            if adds and r.reason in ARITHMETIC and out.arith is None:
                out.arith = j
            continue
        except (Escape, KeyError, IndexError):
            ctx.rollback(jmark, emark)
            out.escaped = j
            break
        if value is POISON:
            out.escaped = j
            break
        if adds:
            for store, key in adds:
                trail.append((j, id(store), key, store.get(key, 0)))
        outcomes[j] = (OK, None, value, tuple(events[emark:]) if len(events) != emark else _NO_EVENTS, limit - ctx.budget,
                       None)
    if p.workers:
        _check_live(ctx, out, p, start_j, start_e)
    return out


def _check_live(ctx: Context, out: LiveLane, p: Plan, start_j: int, start_e: int) -> None:
    """An escape the parent's lane made without touching the poison: a write to a location a worker
    lane uses (or of a poisoned value), or a poisoned value emitted."""
    guarded, guarded_stores, guarded_whole = p.guarded, p.guarded_stores, p.guarded_whole
    journal, events = ctx.journal, ctx.events
    bad_j = bad_e = None
    for pos in range(start_j, len(journal)):
        store, key, old = journal[pos]
        sid = id(store)
        if (old is POISON or store[key] is POISON or sid in guarded_whole
                or (sid in guarded_stores and (sid, key) in guarded)):
            bad_j = pos
            break
    for pos in range(start_e, len(events)):
        if any(arg is POISON for arg in events[pos][2]):
            bad_e = pos
            break
    if bad_j is None and bad_e is None:
        return
    culprits = []
    if bad_j is not None:
        culprits.append(out.marks[bisect.bisect_right([m[1] for m in out.marks], bad_j) - 1][0])
    if bad_e is not None:
        culprits.append(out.marks[bisect.bisect_right([m[2] for m in out.marks], bad_e) - 1][0])
    j = min(culprits)
    if out.escaped is None or j < out.escaped:
        out.escaped = j


# ====================================================================== settling

def first_untrusted(p: Plan, live: LiveLane, stops: list[int]) -> int | None:
    """The first transaction (window index) from which the lanes' results cannot be kept.

    ``stops`` holds, for each worker lane, the first transaction it did not run to completion
    (its escape, or where a failed worker's results stop), or -1.
    """
    candidates = [j for j in stops if j >= 0]
    if live.escaped is not None:
        candidates.append(live.escaped)
    if not p.cross:
        return min(candidates, default=None)
    # Adds several lanes make to one location: a transaction that reverted on arithmetic saw
    # only its own lane's adds.  Otherwise each lane's own running values stayed in bounds, and
    # in block order the location is its value before plus what each lane had added so far: when
    # the lowest and the highest sums of that kind are in bounds, so is every one.
    candidates += [j for j in [live.arith] + [wp.arith for wp in p.workers] if j is not None]
    extents: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    mine: dict[tuple, list[int]] = defaultdict(list)
    for _, sid, key, v in live.trail:
        mine[(sid, key)].append(v)
    for loc, values in mine.items():
        extents[loc].append((min(values), max(values)))
    for wp in p.workers:
        for i, lo, hi, _last in wp.extent:
            store, key = wp.slots[i]
            extents[(id(store), key)].append((lo, hi))
    for loc, ranges in extents.items():
        initial = p.initial[loc]
        low = initial + sum(min(lo, initial) - initial for lo, _ in ranges)
        high = initial + sum(max(hi, initial) - initial for _, hi in ranges)
        if low < 0 or high > MAX:
            j = _first_out_of_bounds(p, live, loc)
            if j is not None:
                candidates.append(j)
    return min(candidates, default=None)


def _first_out_of_bounds(p: Plan, live: LiveLane, loc: tuple) -> int | None:
    """The first transaction whose add to ``loc`` leaves 0 .. 2^256-1 in block order."""
    initial = p.initial[loc]
    flow = []
    prev = initial
    for j, sid, key, v in live.trail:
        if (sid, key) == loc:
            flow.append((j, v - prev))
            prev = v
    for wp in p.workers:
        prev = initial
        for j in wp.lane:
            got = p.results.get(j)
            if got is None or not got[2]:
                continue
            tx_adds = wp.adds.get(j, ())
            for i, v in zip(tx_adds, got[2]):
                if (id(wp.slots[i][0]), wp.slots[i][1]) == loc:
                    flow.append((j, v - prev))
                    prev = v
    value = initial
    for j, d in sorted(flow):
        value += d
        if not 0 <= value <= MAX:
            return j
    return None


def settle(ctx: Context, txs: list, p: Plan, live: LiveLane, stop: int | None) -> list:
    """Keep what the lanes did before ``stop`` (all of it when None), in block order.

    The parent's lane is undone from ``stop``, the poison removed, and each worker's final writes
    (its replies to the last message, or to a cut at ``stop``) and its adds to locations other lanes
    add to are applied.  Returns the window's outcomes before ``stop`` (None after)."""
    n = len(txs)
    end = n if stop is None else stop
    for j, jmark, emark in live.marks:
        if j >= end:
            ctx.rollback(jmark, emark)
            break
    unpoison(p)
    results, live_outcomes = p.results, live.outcomes
    storage, journal = ctx.storage, ctx.journal
    added: dict[tuple, list] = {}
    for wp in p.workers:
        slots = wp.slots
        for w, value in wp.writes:
            if type(w) is int:
                store, key = slots[w]
            else:
                store, key = storage[w[0]][w[1]], w[2]
            journal.append((store, key, store.get(key, 0)))
            store[key] = value
        if not p.cross:
            continue
        if stop is None:
            deltas = [(i, last - p.initial[(id(slots[i][0]), slots[i][1])]) for i, _lo, _hi, last in wp.extent]
        else:
            last_value: dict[int, int] = {}
            for j in wp.lane:
                if j >= end:
                    break
                got = results.get(j)
                if got is not None and got[2]:
                    for i, v in zip(wp.adds.get(j, ()), got[2]):
                        last_value[i] = v
            deltas = [(i, v - p.initial[(id(slots[i][0]), slots[i][1])]) for i, v in last_value.items()]
        for i, d in deltas:
            store, key = slots[i]
            total = added.get((id(store), key))
            if total is None:
                added[(id(store), key)] = [store, key, d]
            else:
                total[2] += d
    for store, key, d in added.values():
        old = store.get(key, 0)
        journal.append((store, key, old))
        store[key] = old + d
    outcomes: list = [None] * n
    for j in range(end):
        got = results.get(j)
        if got is not None:
            outcomes[j] = got[1]
        else:
            tx = txs[j]
            outcomes[j] = live_outcomes[j] if tx.fn is not None else (INVALID, tx.invalid, None, _NO_EVENTS, 0, None)
    return outcomes
