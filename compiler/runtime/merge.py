"""The parallel executor's merge (SPEC §4): what the lanes of a block sent, put together in block order.

Window by window, :class:`_Merge` checks what the lanes did (each lane's own
check, or their logs compared lane against lane), merges the adds several
lanes made to one location when every order of them stays in range, takes
their receipts, counts and failures, and keeps the parent's state up to date
(the lanes' writes deferred, applied when something reads it); it adds the
windows the parent ran itself, and at the block's end the state root's moves
and a state file's rows.  What it finds wrong is said with one of the causes
below (``detail.why``), and the executor (:mod:`compiler.runtime.parallel`)
runs the block on sequentially from there.
"""

from __future__ import annotations

import marshal
from itertools import accumulate, compress, repeat
from operator import add, sub
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import accesses, encoding, protocol as P
from .accesses import AFTER, CEILING, FLOOR, HIGHEST, LOWEST, MOST_LANES, MOVES
from .changes import from_befores, from_journal, put_back
from .decode import Block
from .executed import Executed
from .receipts import INVALID, OK, REVERTED, return_kinds_of_ids
from .replica import owned, places
from .roots import MOD, StateHash
from .store import change_rows, merge_rows
from . import sequential
from ..schedule.vectorized import isin, pick
from ..vm.locations import loc_ids
from ..vm.values import U256_MAX

if TYPE_CHECKING:
    from .chain import Merged
    from .parallel import _BlockRun


class Prepared(NamedTuple):
    """What a window the parent ran adds to the block (``_Merge.prepared``), before ``_Merge.inline``
    adds it."""
    begin: int                               # its first transaction (its writes', ``_Merge.owners``)
    idx: np.ndarray                          # its valid transactions
    receipts: tuple[bytes, bytes, np.ndarray]  # their digests, encodings and where each ends (``_encoded``)
    counted: tuple[int, int, int, list]      # (ok, reverted, cost, failures)
    journal: list                            # what they wrote, (dict, key, value before) each
    writes: bytes                            # marshal: their writes for every worker
    loc: np.ndarray                          # the locations they changed
    places: list                             # the variables they changed, (address, index) each


class Ready(NamedTuple):
    """The parent's moves made ahead (``_Merge.ready_moves``), and what they held for."""
    journal: int                    # the length of its journal then
    locations: np.ndarray           # the locations its windows changed, sorted
    moved: tuple[int, dict | None]  # the root's move and the state file's rows (``_Merge._moved``)



# Why a window's lanes cannot be trusted from one of its transactions on (``_Merge.check``; ``why``).
OUTSIDE = "a transaction touched what its lane's predicted accesses do not let it (an access the analysis missed, \
which `lane run --check-accesses` names, or a read of a location other lanes add to)"

CONFLICT = "a transaction read or wrote what another lane wrote earlier in the window"

AHEAD = "a transaction touched what the parent wrote while the lanes ran (its window before, or its part of this one)"

UNLOGGED = ("the parent's window run while the lanes ran this one wrote a variable no function of the block "
            "writes by its summary, whose reads the lanes do not log (an access the analysis missed, which "
            "`lane run --check-accesses` names)")

PART_OUTSIDE = "a transaction the parent ran beside the lanes touched what its predicted accesses do not let it (an \
access the analysis missed, which `lane run --check-accesses` names)"

ADDS = "several lanes added to one location, and in block order their adds leave 0 .. 2^256-1 (or were not \
predicted)"



class _Merge:
    """What the lanes sent, merged in block order, and the parent's state kept up to date."""

    def __init__(self, run: _BlockRun, lanes: np.ndarray) -> None:
        self.run = run
        self.chain = run.chain
        self.n = run.n
        self.digest_parts: list[tuple[np.ndarray, bytes]] = []
        self.encoding_parts: list[tuple[np.ndarray, bytes, np.ndarray]] = []  # (the parent's: encoding.pack_parts)
        self.packed_parts: list[bytes] = []  # (the lanes', as they came: encoding.part)
        self.failures: list[tuple] = [(i, line, INVALID, reason, None) for i, line, reason in run.invalid]
        self.ok = 0
        self.reverted = 0
        self.cost = 0
        self.root = 0
        self.rows: dict | None = {} if self.chain.store is not None else None  # a state file's (store.Rows)
        self.fixups: Merged | None = None  # the last applied window's merged adds (``Window.fixups``: its parts)
        self.shared: list = []  # the last checked window's (``accesses.merged_writes``' parts)
        self.cause = ""  # what the last ``check`` that found a conflict found (``OUTSIDE``, ...)
        self.writers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (loc, tx, lane) of each write
        self._concatenated: tuple[int, tuple] | None = None  # (``_writes``: how many of them, their columns)
        self.mark = run.chain.pending_mark()  # the parent's deferred writes before the block (0 once applied)
        self.settles = run.chain.settles      # (whether the parent's state took some of them since: ``coalesce``)
        self.final_writes: list = []          # each lane's values after the block of the locations it owns
        self.undo_log: list = []       # (dict, key, value before) of every write the parent's state took
        self.journal: list = []        # the writes of the windows the parent ran (its own lane)
        self._where: dict | None = None
        self._ready: Ready | None = None  # the parent's moves and rows made ahead (``ready_moves``)
        if run.invalid:
            outcomes = [(INVALID, reason, None, (), 0, None) for _, _, reason in run.invalid]
            self._receipts(np.array([i for i, _, _ in run.invalid], np.int64), outcomes)

    def _receipts(self, idx: np.ndarray, outcomes: list) -> None:
        digests, encodings, ends = _encoded(outcomes)
        self.digest_parts.append((idx, digests))
        self.encoding_parts.append((idx, encodings, ends))

    # ---------------------------------------------------------------- checking a window
    def check(self, done: dict, begin: int, end: int, checked: bool, ahead: np.ndarray | None = None) -> int | None:
        """The first transaction of the window that cannot be trusted (None: all can); the adds
        several lanes made to one location are noted (``shared``).  ``checked``: each lane checked
        its accesses against its rows (``WindowDone.untrusted``); otherwise each checked its writes
        against its rows and wildcards (``untrusted`` too), and its accesses are compared here, lane
        against lane (``WindowDone.log``).  ``ahead``: the locations the parent wrote while the
        lanes ran this window (in the window before; in an unchecked one, its part of this one too):
        the first transaction that touched one of them, or in a checked window was predicted to,
        cannot be trusted."""
        order_lanes = sorted(done)
        # (transactions that cannot be trusted, each with why: the least counts)
        bad = [(d.untrusted, OUTSIDE) for d in done.values() if d.untrusted >= 0]
        if checked:
            if ahead is not None and len(ahead):
                bad += [(t, AHEAD) for t in self.run.first_touch(begin, end, ahead)]
            lids, firsts, adders = accesses.several_adders([done[k].adds for k in order_lanes])
        else:
            tables = [P.arr(done[k].log, P.I64).reshape(-1, accesses.WIDTH) for k in order_lanes]
            rows, lane = accesses.shared(tables, order_lanes)
            first = accesses.first_conflict(rows, lane)
            if first is not None:
                bad.append((first, CONFLICT))
            if ahead is not None and len(ahead):
                for table in tables:
                    hit = table[isin(table[:, accesses.LOC], ahead), accesses.FIRST]
                    if len(hit):
                        bad.append((int(hit.min()), AHEAD))
            lids, firsts, adders = accesses.second_adders(rows, lane)
        # Adds to one location by several lanes: merged, if every order of them stays in range.
        # (An add that reverted on arithmetic is a read in its lane's log: at a location other lanes add
        # to, a lane's check or the logs' comparison finds it, as a read of what they changed.)
        shared: list = []
        if len(lids):
            shared, out_of_range = _merged_adds(lids, adders, [done[k].adds for k in order_lanes])
            if out_of_range:  # (from the second lane's first add)
                bad += [(t, ADDS) for t in firsts[np.searchsorted(lids, out_of_range)].tolist()]
        self.shared = shared
        if bad and min(bad)[0] < end:
            first, self.cause = min(bad)
            return max(begin, int(first))
        return None

    # ---------------------------------------------------------------- the parent's own state
    def settle(self) -> None:
        """The lanes' writes so far applied to the parent's state (each write it takes kept in
        ``undo_log``, what puts it back; those of earlier blocks are not this block's)."""
        self.chain.settle(self.undo_log, self.mark, absent=True)
        self.mark = 0

    @property
    def where(self) -> dict:
        """Each variable of the parent's state (by ``id``) -> (address, index)."""
        if self._where is None:
            self._where = places(self.chain._ctx.storage)
        return self._where

    def prepared(self, begin: int, end: int, outcomes: list, journal: list, idx: np.ndarray | None = None
                 ) -> Prepared:
        """What a window the parent ran (``outcomes`` of transactions ``begin`` to ``end``, or of
        those of them in ``idx``, valid ones; ``journal`` what they wrote) adds to the block, made
        without adding it (``inline`` does): its receipts' digests and encodings, its counts, its
        writes for every worker and their locations.  (A window run behind the lanes' is prepared
        while they still run.)"""
        first = begin if idx is None or not len(idx) else int(idx[0])  # (its writes' first transaction)
        if idx is None:
            valid = self.run.fnids[begin:end] >= 0
            if not valid.all():  # (an invalid transaction's receipt is made already)
                outcomes = list(compress(outcomes, valid.tolist()))
            idx = np.arange(begin, end, dtype=np.int64)[valid]
        writes = from_journal(journal).writes(self.where)
        locs = [loc_ids(address, index, values) for (address, index), values in writes.items()]
        loc = np.concatenate(locs) if locs else np.zeros(0, np.int64)
        return Prepared(first, idx, _encoded(outcomes), self._counted(idx, outcomes), list(journal),
                        marshal.dumps(writes), loc, list(writes))

    def inline(self, prepared: Prepared, sync: list[list[bytes]]) -> None:
        """A window the parent ran (``prepared``) added to the block: its receipts, and its writes
        for every worker, after the last window's merged adds (the parent's state has them:
        ``apply``)."""
        begin, idx, (digests, encodings, ends), counted, journal, blob, loc, _ = prepared
        self.digest_parts.append((idx, digests))
        self.encoding_parts.append((idx, encodings, ends))
        self._add(counted)
        self.undo_log += journal
        self.journal += journal
        merged = marshal.dumps(self.fixups.writes()) if self.fixups else b""  # (as this state took them)
        for lane in sync:
            if merged:
                lane.append(merged)
            lane.append(blob)
        self.fixups = None
        self.writers.append((loc, np.full(len(loc), begin, np.int64), np.full(len(loc), len(sync), np.int64)))

    def _counted(self, idx: np.ndarray, outcomes: list) -> tuple[int, int, int, list]:
        """(ok, reverted, cost, failures) of transactions ``idx``."""
        lines = self.run.lines
        ok = reverted = cost = 0
        failures = []
        for i, o in zip(idx.tolist(), outcomes):
            if o[0] == OK:
                ok += 1
            else:
                if o[0] == REVERTED:
                    reverted += 1
                failures.append((i, int(lines[i]), o[0], o[1], o[5]))
            cost += o[4]
        return ok, reverted, cost, failures

    def _add(self, counted: tuple[int, int, int, list]) -> None:
        ok, reverted, cost, failures = counted
        self.ok += ok
        self.reverted += reverted
        self.cost += cost
        self.failures += failures

    def parent_moves(self, locations: np.ndarray) -> None:
        """The state root's move and the rows of a state file for the locations the parent was the
        first in the block to change (in the windows it ran), from its state after the block (made
        ahead, ``ready_moves``, when they are still what it made)."""
        if not self.journal:
            return
        rewritten = self._rewritten_by_lanes()
        ready, self._ready = self._ready, None
        if ready is not None and ready.journal == len(self.journal) and not rewritten and \
                np.array_equal(np.sort(locations), ready.locations):
            moved = ready.moved
        else:
            if rewritten:
                self.settle()  # (their values after the block: the lanes' writes applied first)
            moved = self._moved(owned(from_journal(self.journal), self.where, locations))
        root, rows = moved
        self.root += root
        if self.rows is not None:
            merge_rows(self.rows, rows)

    def ready_moves(self, behind: list) -> None:
        """``parent_moves`` made ahead, while the parent waits for the lanes' last window: the move
        and rows of every location its windows changed (``journal``, and ``behind``, the journal of a
        window it ran behind the lanes', not added yet), as if it were the first and the last to
        change them.  At the end they are used if that held: the locations it owns are those, no
        lane wrote one, and it ran nothing more (else they are made again)."""
        journal = self.journal + behind
        if not journal:
            return
        changes = from_journal(journal)  # (the values its windows left: a lane's write of one voids this)
        where = self.where
        locs = [loc_ids(*where[id(store)], keys) for store, keys, _olds, _news in changes.groups]
        self._ready = Ready(len(journal), np.sort(np.concatenate(locs)) if locs else np.zeros(0, np.int64),
                            self._moved(changes))

    def _moved(self, changes) -> tuple[int, dict | None]:
        """The state root's move by the parent's ``changes`` (its state's values now), and their
        rows for a state file (None: no state file).  (Not ``.ctx``: the lanes' writes stay deferred,
        see Chain.ctx.)"""
        root = StateHash(self.chain.world, 0).moved(self.chain._ctx.storage, changes)
        return root, change_rows(self.chain.store.codecs, changes) if self.rows is not None else None

    def _rewritten_by_lanes(self) -> bool:
        """Whether a lane wrote or added to a location the parent's windows wrote (a lane's write
        before the parent's window is applied already: the parent's run read its state)."""
        parent = self.run.ex.transport.size  # (the parent's number among the writers, ``owners``)
        loc, _, by = self._writes()
        return bool(isin(loc[by == parent], loc[by != parent]).any())

    def _writes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every write of the windows so far as three columns, (location, transaction, lane) of
        ``writers``, concatenated once for ``owners`` and ``parent_moves`` at the block's end."""
        if self._concatenated is None or self._concatenated[0] != len(self.writers):
            self._concatenated = (len(self.writers), tuple(np.concatenate(c) for c in zip(*self.writers)))
        return self._concatenated[1]

    # ---------------------------------------------------------------- merging a window
    def apply(self, done: dict) -> None:
        """A checked window's lanes into the receipts, and their writes into the parent's state
        (deferred: applied when something in this process reads it, see ``Chain.ctx``)."""
        chain = self.chain
        for k in sorted(done):
            d = done[k]
            chain.defer(d.writes)
            idx, digests = d.receipts  # (their encodings come with Finished)
            self.digest_parts.append((P.arr(idx, P.I64), digests))
            if d.failures:
                self.failures += [(i, int(self.run.lines[i]), s, r, at) for i, s, r, at in d.failures]
            ok, bad, cost = d.counts
            self.ok += ok
            self.reverted += bad
            self.cost += cost
        for k in sorted(done):
            loc, tx = P.arr(done[k].changed, P.I64).reshape(-1, 2).T
            self.writers.append((loc, tx, np.full(len(loc), k, np.int64)))
        # The merged adds: their values are made where they are applied (each worker; this state
        # only when read), from one lane's extents and the sums of the moves.
        self.fixups = chain.defer_merged(self.shared) if self.shared else None

    def undo(self) -> None:
        """Take back every write of the block: the lanes' that the parent's state has not taken, and
        what it took (the lanes' and its own windows')."""
        self.chain.forget_pending(self.mark)
        put_back(self.undo_log)
        self.undo_log.clear()
        self.journal.clear()
        self.chain._ctx.begin()  # (what its variables recorded of the windows it ran)

    def owners(self, w: int) -> list[np.ndarray]:
        """Per lane, the locations it was the first in the block to change: it reports their move."""
        if not self.writers:
            return [np.zeros(0, np.int64) for _ in range(w)]
        loc, tx, lane = self._writes()
        # The earliest writer of each location and its lane at once: the least (transaction, lane),
        # packed as one integer.
        loc, first = _earliest(loc, tx * _LANES + lane)
        lane = first % _LANES
        return [loc[lane == k] for k in range(w)]

    def finished(self, m: P.Finished) -> None:
        self.root += m.root
        if self.rows is not None:
            merge_rows(self.rows, marshal.loads(m.rows))
        self.packed_parts.append(m.receipts)
        self.final_writes.append(m.writes)

    def coalesce(self, parent_owned: np.ndarray) -> None:
        """The lanes' writes deferred in the block (each window's, a location once a window it
        was written in) replaced by their values after the block (a location once), when the
        parent's state took nothing during the block (no deferred write applied, no location the
        parent owns: it wrote none): every location the lanes wrote is then owned by a lane, whose
        replica holds its value after the block, and one whose value came back to what it was is
        left out by its lane and holds that value here already.  What a long chain on lanes keeps
        and applies shrinks from its windows' writes to its blocks' changes."""
        if len(parent_owned) or self.chain.settles != self.settles:
            return
        self.chain.replace_pending(self.mark, self.final_writes)

    # ---------------------------------------------------------------- the rest, sequentially
    def sequential_from(self, first: int) -> None:
        """Run the block from ``first`` in the parent, on its state (merged up to there)."""
        run = self.run
        block = run.block_from_calls()
        rest = Block(block.world, block.fns[first:], block.calls[first:], block.functions[first:],
                     {i - first: tx for i, tx in block.invalid.items() if i >= first}, block.lines[first:], first)
        self.settle()
        ctx = self.chain.ctx
        ctx.begin()
        outcomes = sequential.execute(ctx, rest)
        # The invalid transactions' receipts from ``first`` on are made again here.
        self.failures = [f for f in self.failures if f[0] < first]
        self.digest_parts = [(i[i < first], _select(d, i < first)) for i, d in self.digest_parts]
        # (the lanes' receipts came with Finished, of the transactions before ``first`` only)
        self.encoding_parts = [encoding.select(i, b, e, i < first) for i, b, e in self.encoding_parts]
        idx = np.arange(first, run.n, dtype=np.int64)
        self._receipts(idx, outcomes)
        self._add(self._counted(idx, outcomes))
        changes = from_befores(ctx.storage)
        for store, keys, olds, _news in changes.groups:
            self.undo_log += zip(repeat(store), keys, olds)
        self.root += StateHash(self.chain.world, 0).moved(ctx.storage, changes)
        if self.rows is not None:
            merge_rows(self.rows, change_rows(self.chain.store.codecs, changes))
        ctx.begin()

    # ---------------------------------------------------------------- the result
    def executed(self) -> Executed:
        n = self.n
        idx = np.concatenate([i for i, _ in self.digest_parts]) if self.digest_parts else np.zeros(0, np.int64)
        digests = np.frombuffer(b"".join(d for _, d in self.digest_parts), np.uint8).reshape(-1, 32)
        in_order = np.empty((n, 32), np.uint8)  # (each part's digests put in place: no sort)
        in_order[idx] = digests
        seen = np.zeros(n, bool)
        seen[idx] = True
        assert len(idx) == n and seen.all(), "every transaction has one receipt"
        packed = encoding.pack_parts(self.encoding_parts, self.packed_parts)
        invalid = sum(1 for f in self.failures if f[2] == INVALID)
        accumulator = (self.chain.hash.accumulator + self.root) % MOD
        return Executed(packed, in_order.tobytes(),
                        {"ok": self.ok, "reverted": self.reverted, "invalid": invalid}, self.cost,
                        sorted(self.failures), accumulator, rows=self.rows, undo=self.undo_log,
                        pending_from=self.mark,
                        returns=None if self.chain.store is None else  # (what the state file keeps)
                        return_kinds_of_ids(self.run.fnids, self.run.ex.function_table().functions))



# -------------------------------------------------------------------- arrays

def _encoded(outcomes: list) -> tuple[bytes, bytes, np.ndarray]:
    """Receipts made in the parent: their digests, their encodings one after the other, and where
    each ends."""
    encodings = encoding.encode_outcomes(outcomes)
    return encoding.digests(encodings), b"".join(encodings), np.cumsum([len(e) for e in encodings]).astype(np.int64)


def _earliest(keys: np.ndarray, tx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys, sorted, and the least transaction of each."""
    order = np.argsort(keys)
    keys = keys[order]
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    return keys[starts], np.minimum.reduceat(tx[order], starts) if len(starts) else tx[:0]



_LANES = 1 << 16  # (more lanes than any executor has: a lane number packed under a transaction's)



def _merged_adds(lids: np.ndarray, adders: np.ndarray, adds: list[tuple]) -> tuple[list, list[int]]:
    """The locations ``lids`` (sorted) that ``adders`` lanes each added to, merged from each lane's
    extents (``WindowDone.adds``): the merged adds as :func:`~compiler.runtime.accesses.merged_writes`
    takes them (``Window.fixups``: [] when none), and the locations that cannot be merged: whose adds
    could leave 0 .. 2^256-1 in some order (the lowest and highest running values of each lane's adds,
    moved by the others', out of range), or for which some lane that added sent no extent (the plan
    did not predict that several lanes add to it, or the lane also read or wrote it: a conflict the
    rows report too).  From the lanes' int64 moves, numpy alone: each location's value is left to be
    made by those who apply it, from one lane's extents and the moves' sums (no Python per location
    here; 9 ms of a block of 100,000 transfers on lanes when the parent made them, 2026-12-06).  Two
    locations of one id (keys a sender chose 2^61 - 1 apart) are merged here as one: each lane's
    check at the block's end finds them (``Replica._clash``) and the parent runs the block;
    comparing the lanes' locations here cost the parent 0.04-0.1 us a transfer on lanes (measured
    on 2026-12-06)."""
    lanes = []  # (the lane's extents, each location's place in them, which locations it has)
    count = np.zeros(len(lids), np.int64)
    for extent in adds:
        have = P.arr(extent[0], P.I64)
        if not len(have):
            continue
        at = np.minimum(np.searchsorted(have, lids), len(have) - 1)
        found = have[at] == lids
        if found.any():
            count += found
            lanes.append((extent, at, found))
    whole = count == adders
    out = lids[~whole].tolist()
    if not whole.any():
        return [], out
    if len(lanes) <= MOST_LANES and all(len(extent[4]) for extent, _, _ in lanes):
        return _summed_moves(lids, np.flatnonzero(whole), lanes, out)
    # Some move too big for int64 (or more lanes than int64 sums allow): the lanes' columns of
    # Python ints, summed per location, and the merged writes made here.
    found_lids, picked = [], [[] for _ in range(7)]
    for extent, at, found in lanes:
        found &= whole
        found_lids.append(lids[found])
        positions = at[found].tolist()
        for into, column in zip(picked, marshal.loads(extent[2]) + marshal.loads(extent[3])):
            into += pick(column, positions)
    every = np.concatenate(found_lids)
    order = np.argsort(every, kind="stable")
    ordered = every[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(ordered)).tolist()
    starts = starts.tolist()
    positions = order.tolist()
    address, index, key, before, after, low, high = (pick(c, positions) for c in picked)

    def moved(values: list) -> list:  # per location, before + the sum over lanes of (value - before)
        sums = list(accumulate(map(sub, values, before), initial=0))
        return list(map(add, pick(before, starts), map(sub, pick(sums, ends), pick(sums, starts))))

    lows, highs = moved(low), moved(high)
    merged_lids = ordered[starts].tolist()
    out += [lid for lid, lo, hi in zip(merged_lids, lows, highs) if lo < 0 or hi > U256_MAX]
    writes = accesses.by_variable(pick(address, starts), pick(index, starts), pick(key, starts), moved(after), {})
    return [marshal.dumps(writes)], out


def _summed_moves(lids: np.ndarray, merged: np.ndarray, lanes: list, out: list[int]) -> tuple[list, list[int]]:
    """:func:`_merged_adds`' answer for the locations ``lids[merged]`` from the lanes' int64 moves
    (:func:`compiler.runtime.accesses.moves`), summed by numpy; each location's address, index, key
    and value before are taken from the first lane that added to it (every lane's before is the same:
    the replicas are in step when a window begins), where it lies in that lane's extents."""
    n = len(merged)
    total = np.zeros((n, MOVES), np.int64)  # the moves summed over the lanes, before's room as it is
    source = np.full(n, -1, np.int64)       # (each location's first lane with it: its columns')
    for k, (extent, at, found) in enumerate(lanes):
        mine, at = found[merged], at[merged]
        if not mine.any():
            continue
        every = mine.all()  # (two lanes: every location is each one's; slices, not masks)
        into = slice(None) if every else mine
        rows = P.arr(extent[4], P.I64).reshape(-1, MOVES)[at if every else at[mine]]
        total[into, :FLOOR] += rows[:, :FLOOR]
        total[into, FLOOR:] = rows[:, FLOOR:]
        source[mine & (source < 0)] = k
    in_range = (total[:, LOWEST] >= -total[:, FLOOR]) & (total[:, HIGHEST] <= total[:, CEILING])
    out += lids[merged][~in_range].tolist()
    parts: list = [b""]
    for k, (extent, at, _) in enumerate(lanes):
        mine = np.flatnonzero(source == k)
        if len(mine):
            parts += [extent[2], at[merged[mine]].tobytes(), total[mine, AFTER].tobytes()]
    return parts, out


def _select(digests: bytes, keep: np.ndarray) -> bytes:
    return np.frombuffer(digests, np.uint8).reshape(-1, 32)[keep].tobytes()

