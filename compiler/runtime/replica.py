"""A worker of the parallel executor: a replica of the state, and what it does for a block.

A :class:`Replica` lives in a worker process forked after the world and the
state were loaded: its state is the parent's, and stays so, block after block,
by applying the other lanes' writes after every window (``dict.update``, one
call per variable).  It answers the messages of :mod:`compiler.runtime.protocol`
(bytes in, bytes out), so it runs the same behind a pipe or a Dask task:

- ``Schedule``: decode a stripe of the block and instantiate each transaction's
  access summary against the state before the block; reply with the calls and
  the accesses as arrays (a location's id is the hash of ``(address, variable,
  key)``; two locations with one id only ever join transactions that need not
  be), and the locations that keys were read from;
- ``Peers`` (a few workers on one machine): the other stripes' calls and the
  block's rows, unmarshalled while the parent plans; then ``Lanes``: take the
  lane's transactions and their rows (what they were predicted to touch; those
  of a window's shared part too).  Without ``Peers``, ``Lanes`` keeps the lane's
  transactions of the stripe and sends the others' calls and rows to their lanes
  (``Routed``, which the parent forwards: ``Calls``);
- ``Window`` after ``Window``: run the lane's transactions of the window, in
  block order (then, in a shared window, the chunks it takes in turns, each in
  block order), with code that logs every access it makes (but reads of the
  variables no function of the block writes: :meth:`FunctionTable.quiet`); reply with its
  writes (the keys its journal holds, with their values now), its pure adds
  (before, after, lowest and highest running values), the locations it
  changed for the first time in the block, its receipts' digests, and either the first transaction
  that touched what its rows do not allow (a window without wildcards: the
  lane checks itself), or (a window with one) the first that wrote what its
  rows, wildcards included, do not let it write, and the accesses it made (a
  row per location, for the parent to check: :mod:`compiler.runtime.accesses`);
- ``Sync`` (between blocks): what blocks the parent ran alone changed, applied;
- ``Cut``: undo the window's transactions from one on (a conflict with another
  lane was found there); ``Finish``: apply the last window's writes, and reply
  with the state root's move and the rows of a state file for the locations
  the lane was the first in the block to change (from what its variables
  recorded of each key's value before the lane's first write of it in the block,
  ``Var.before``), and with the encodings of its receipts (compressed, when big).
"""

from __future__ import annotations

import itertools
import marshal
import time
import traceback
from functools import cached_property
from itertools import compress, repeat
from operator import itemgetter, ne
from typing import Callable, NamedTuple

import numpy as np

from . import encoding, protocol as P
from .accesses import FIRST_A, FIRST_W, LOC, NONE, allows, expected, first_outside, merged_writes, moves, summarize
from ..vm.context import Context
from ..vm.errors import Revert
from ..vm.locations import loc_ids
from .receipts import INVALID, OK, REVERTED
from .changes import Changes, from_befores, written_keys
from .functions import FunctionTable
from .roots import StateHash
from .store import PREFETCH_MIN, change_rows
from ..schedule.vectorized import COLUMNS, grouped_order, isin, isin_sorted, pick, scope_id

R, W, A = 0, 1, 2
EVERY = -1
_NO_EVENTS = ()
_COST = itemgetter(4)
_LOG_MARKS = (itemgetter(3), itemgetter(4), itemgetter(5))  # a transaction's mark -> where its log entries
                                                             # of each mode (read, write, add) start
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
PEERS_ROWS = ("tx", "loc", "mode", "wild")  # the columns of the rows Peers brings (schedule.vectorized.COLUMNS)
_DTYPES = dict(COLUMNS)
COMPRESS_MIN = 512  # transactions in a stripe: a lane of them likely compresses its receipts (encoding.part)
PROGRESS_S = 0.25   # a worker at a long message says it is still at work this often (``Replica.progress``) ...
PROGRESS_BATCH = 8  # ... looking at the clock after this many of a window's transactions (each within its limit)


def places(storage: dict[int, list[dict]]) -> dict[int, tuple[int, int]]:
    """Each variable of a state (by ``id``) -> (its instance's address, its index there)."""
    return {id(v): (a, i) for a, vs in storage.items() for i, v in enumerate(vs)}


class Predicted(NamedTuple):
    """A lane's rows, in block order: each one's location (a wildcard's: its scope's id), mode,
    whether it is a wildcard's, and transaction; and where each window's rows begin."""

    loc: np.ndarray
    mode: np.ndarray
    wild: np.ndarray
    cuts: list[int]
    tx: np.ndarray


class Replica:
    """The worker's side of the parallel executor (see the module's doc)."""

    def __init__(self, chain, table: FunctionTable, take=None) -> None:
        self.chain = chain
        self.take = take  # the next chunk of a shared window (pool.Turns.take), or None: no turns to share
        self.world = chain.world
        self.table = table
        self.storage = chain.ctx.storage
        self.ctx = Context(self.storage, self.world.code, cost_limit=self.world.cost_limit)
        self.store = chain.store
        self.where = places(self.storage)
        self.block = -1
        self.rows = None  # compiler.schedule.rows.RowMaker, made on first use
        self.receipts: dict[int, tuple] = {}  # window -> its receipts (indices, encodings, ends), sent at the end
        self.locations = None  # compiler.schedule.locations.BlockLocations, made on first use
        self.chunks: dict[int, list[list[int]]] = {}  # per shared window, its chunks (``on_Lanes``) ...
        self.chunk_of: np.ndarray | None = None  # ... and each transaction's chunk (-1: none)
        self.synced = 0.0      # seconds applying the other lanes' writes, not reported yet
        self.unreported = 0.0  # seconds on messages that have no reply (``Calls``), not reported yet ...
        self.unreported_cpu = 0.0  # ... and of CPU time
        self.began = (0.0, 0.0)  # the wall clock and this thread's CPU time when the message being handled came
        self.say: Callable[[bytes], None] | None = None  # a message to the parent now (a pool's worker; not Dask's)
        self.said = 0.0          # ... when the last went, or the message being handled came
        self.block_calls: list | None = None  # the whole block's calls, when ``Peers`` brought the others' ...
        self.block_rows: dict | None = None   # ... and its access rows
        self.ahead = None      # work to do before the next message, if the parent is still deciding (``idle``)
        self.claimed: dict[int, int] = {}  # per variable (by ``id``), how many of its ``before`` keys were claimed
        self.seen: dict[tuple[int, int], set] = {}  # per variable ((address, index)), the keys others changed
        self.claiming: dict[int, int] = {}  # ... and by the last window's reply, until the parent takes it

    # ------------------------------------------------------------ messages
    def handle(self, data: bytes) -> bytes | list | None:
        """The reply to a message (bytes, or parts: :func:`compiler.runtime.protocol.pack_parts`)."""
        self.began = (time.perf_counter(), time.thread_time())
        self.said = self.began[0]
        try:
            message = P.unpack(data)
            return getattr(self, "on_" + type(message).__name__)(message)
        except Exception:  # noqa: BLE001 - a bug: the parent runs the block itself, and says so
            return P.pack(P.Error(self.block, traceback.format_exc()))

    def progress(self, done: int) -> None:
        """Tell the parent, at most every ``PROGRESS_S``, that this worker is still at the message it
        handles (``done`` of its transactions so far): a long schedule (calls walked one by one, a
        block of 100,000 calls that each pay eight payees, say) is not taken for a hang."""
        now = time.perf_counter()
        if self.say is not None and now - self.said >= PROGRESS_S:
            self.said = now
            self.say(P.pack(P.Progress(self.block, done)))

    def idle(self) -> None:
        """Work done ahead while the parent decides what comes next (a worker calls this after a
        message when no other is waiting): while the parent plans.  What it does is only done
        earlier, never needed: if it fails, it is done when needed."""
        work, self.ahead = self.ahead, None
        if work is None:
            return
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            work()
        except Exception:  # noqa: BLE001 - done again where it is needed (and reported there)
            pass
        self.unreported += time.perf_counter() - wall  # (the first window's reply says it)
        self.unreported_cpu += time.thread_time() - cpu

    def _warm(self) -> None:
        """The lanes' code of the stripe's functions loaded (the program cache keeps it compiled)
        and the compressor of big receipts imported (5 ms, at the block's end otherwise): run
        while the parent plans, when the workers would wait.  (Not the stripe's locations read
        from a state file: the plan deals about half of them to other lanes, whose replicas only
        ever receive their values; on defi calls, whose locations cost about 7 us a call to find,
        reading them cost more than it saved: measured on 2026-12-04.)"""
        for fid in set(self.stripe_fnids):
            if fid >= 0:
                self.table.logged_code(fid)
        if len(self.stripe[0]) >= COMPRESS_MIN:  # (its receipts will be compressed at the block's end)
            encoding.import_compressor()
        if self.store is not None and len(self.stripe[0]) >= PREFETCH_MIN:  # (``_prefetch``, after ``Lanes``)
            self.store.recent()  # (and the worker's own connection to the file: 4 ms to open)

    def spent(self) -> tuple[float, float]:
        """The seconds on the message being handled, and this thread's CPU time on it (a reply's
        ``seconds`` and ``cpu``: its time but for what others took of its core meanwhile)."""
        wall, cpu = self.began
        return time.perf_counter() - wall, time.thread_time() - cpu

    # ------------------------------------------------------------ scheduling
    def on_Schedule(self, m: P.Schedule) -> bytes:
        self.block = m.block
        self.synced = self.unreported = self.unreported_cpu = 0.0  # (an abandoned block's)
        self.seen = {}
        self.number, self.timestamp = m.number, m.timestamp
        self.ctx.number, self.ctx.timestamp, self.ctx.cost_limit = m.number, m.timestamp, m.cost_limit
        if m.stripe or not m.calls:
            decoded = self.chain.decoder().decode(bytes(m.stripe), "block", m.first_index, m.first_line)
            functions = decoded.functions
            fnids = list(map(self.table.ids.get, functions, repeat(-1)))  # (an invalid one's, None: -1)
            calls = decoded.calls
            lines = decoded.lines
            invalid = [(m.first_index + k, decoded.lines[k], tx.invalid) for k, tx in sorted(decoded.invalid.items())]
            self.progress(0)
        else:
            got = marshal.loads(m.calls)
            fnids = [f for f, _, _ in got]
            calls = [c for _, c, _ in got]
            lines = [line for _, _, line in got]
            invalid = []
            functions = [self.table.functions[f] if f >= 0 else None for f in fnids]
        self.stripe = (calls, functions)
        self.stripe_fnids = fnids
        # (the variables the stripe's functions write: a loop's reads of others are one row, rows.py)
        self.stripe_written = self.table.written(np.array(fnids, np.int32))
        self.stripe_rows = None
        self.block_calls = self.block_rows = None
        self.ahead = None
        rows, sources, stored = self._instantiate(list(range(len(calls))), None)
        ids = np.array(fnids, np.int32)
        lines = np.array(lines, np.int64)
        dense = not len(lines) or (lines[0] == m.first_line and lines[-1] == m.first_line + len(lines) - 1
                                   and bool((np.diff(lines) == 1).all()))
        return P.pack_parts(P.Scheduled(
            m.block, m.first_index, len(calls), marshal.dumps(calls), ids.tobytes(), rows, sources, stored,
            marshal.dumps(invalid), b"" if dense else lines.tobytes(), *self.spent()))

    def on_Reschedule(self, m: P.Reschedule) -> bytes:
        unresolved: dict[int, dict] = {}
        for tx, loc, values in zip(P.arr(m.txs, P.I64).tolist(), P.arr(m.locs, P.I64).tolist(),
                                   marshal.loads(m.values)):
            unresolved.setdefault(tx, {})[loc] = values
        local = sorted(unresolved)
        rows, sources, stored = self._instantiate(local, unresolved)
        return P.pack_parts(P.Rescheduled(m.block, np.array(local, np.int64).tobytes(), rows, sources, stored,
                                          *self.spent()))

    def _instantiate(self, which: list[int], unresolved: dict | None) -> tuple[tuple, tuple, bytes]:
        """The accesses of the stripe's transactions ``which`` (positions in the stripe), as arrays,
        and what they store at locations of key variables (``Scheduled.stored``).  The stripe's rows
        are kept, those of ``which`` in place of any made before (the plan's: ``on_Lanes``)."""
        from ..schedule.rows import RowMaker, row_bytes, source_bytes

        if self.rows is None:
            self.rows = RowMaker(self.chain.compiled_summaries)
        calls, functions = self.stripe
        rows, sources, stored = self.rows.rows(which, pick(functions, which), pick(calls, which), self.storage,
                                               self.number, self.timestamp, unresolved, self.stripe_written,
                                               self.progress)
        order = grouped_order(rows["loc"], rows["tx"])  # (the parent merges the stripes' runs: grouped_order)
        rows = {name: column[order] for name, column in rows.items()}
        kept = self.stripe_rows
        if kept is None:
            self.stripe_rows = rows
        else:
            keep = ~isin(kept["tx"], np.array(which, np.int64))
            self.stripe_rows = {name: np.concatenate([kept[name][keep], column]) for name, column in rows.items()}
        return row_bytes(rows), source_bytes(sources), marshal.dumps(stored)

    # ------------------------------------------------------------ a lane
    def on_Peers(self, m: P.Peers) -> None:
        """The whole block's calls, the other stripes' (as their workers decoded them) around this
        one's, and its access rows: ``Lanes`` needs no routing (unmarshalled while the parent plans)."""
        own = self.stripe[0]
        calls: list = []
        for blob in m.calls:
            calls += marshal.loads(blob) if len(blob) else own
        self.block_calls = calls
        self.block_rows = {name: P.arr(column, _DTYPES[name]) for name, column in zip(PEERS_ROWS, m.rows)}
        self.ahead = self._warm  # (the parent plans now: ``idle``)
        self._unreported()

    def on_Lanes(self, m: P.Lanes) -> bytes | None:
        """The block's lanes: keep this lane's transactions and their rows (where some window is
        checked by its lanes).  After ``Peers`` this worker holds every call and row: no reply.
        Otherwise keep those of the stripe and reply with the others', by lane (``Routed``;
        ``Calls`` brings the rest)."""
        self.fnids = P.arr(m.fnids, np.int32).tolist()
        lanes = P.arr(m.lanes, np.int8)
        bounds = P.arr(m.windows, P.I64)
        self.checked = P.arr(m.checked, np.int8).astype(bool)
        chunks = P.arr(m.chunks, P.I32) if m.chunks else None
        everyone = chunks >= 0 if chunks is not None else None  # (a shared window's: every lane has their calls)
        blobs: list[bytes] | None = None
        if self.block_calls is not None:
            self.calls = self.block_calls
            self.predicted_parts = [lane_rows(self.block_rows, lanes, m.lane, everyone)]
        else:
            blobs = self._route(m, lanes, everyone)
        mine = np.flatnonzero((lanes == m.lane) if everyone is None else (lanes == m.lane) & ~everyone)
        cuts = np.searchsorted(mine, bounds)
        self.windows = [mine[cuts[w]:cuts[w + 1]].tolist() for w in range(len(bounds) - 1)]
        self.chunks = {} if chunks is None else _chunks(chunks, bounds)
        self.chunk_of = chunks
        if self.chunks:  # (what the lane may run: read ahead)
            mine = np.flatnonzero((lanes == m.lane) | everyone)
        self.receipts = {}
        self.bounds = bounds
        adds, offsets = P.arr(m.adds, P.I64), P.arr(m.add_offsets, P.I64)
        self.shared_adds = [adds[offsets[w]:offsets[w + 1]] for w in range(len(bounds) - 1)]
        self.mine = mine
        self.firsts = {}
        quiet = self.table.quiet(P.arr(m.fnids, np.int32))
        for address, variables in self.storage.items():  # (what the lanes' code sees: ``Var.quiet``)
            for index, variable in enumerate(variables):
                variable.quiet = (address, index) in quiet
        if blobs is None:
            self._ready()
            self._unreported()
            return None
        return P.pack_parts(P.Routed(m.block, blobs, *self.spent()))

    def _route(self, m: P.Lanes, lanes: np.ndarray, everyone: np.ndarray | None) -> list[bytes]:
        """Keep this lane's transactions of the stripe and their rows; the others', by lane (marshal
        blobs: ``Routed.blobs``)."""
        calls = self.stripe[0]
        n = len(calls)
        mine_in_stripe = lanes[m.first:m.first + n]
        routed = rows_by_lane(self.stripe_rows, lanes, m.count, everyone, m.first)
        blobs: list[bytes] = []
        self.calls: dict[int, tuple] | list = {}
        self.predicted_parts: list[tuple] = []
        for lane in range(m.count):
            to_lane = mine_in_stripe == lane
            if everyone is not None:
                to_lane |= everyone[m.first:m.first + n]
            where = np.flatnonzero(to_lane)
            picked = [calls[k] for k in where.tolist()]
            indices = where + m.first
            rows = routed[lane]
            if lane == m.lane:
                self.calls.update(zip(indices.tolist(), picked))
                self.predicted_parts.append(rows)
                blobs.append(b"")
            else:
                blobs.append(marshal.dumps((indices.astype(np.int64).tobytes(), picked,
                                            *(column.tobytes() for column in rows))))
        return blobs

    def on_Calls(self, m: P.Calls) -> None:
        parts = self.predicted_parts
        for blob in m.routed:
            if blob:
                indices, picked, *rows = marshal.loads(blob)
                self.calls.update(zip(np.frombuffer(indices, np.int64).tolist(), picked))
                if rows:
                    parts.append(tuple(P.arr(c, t) for c, t in zip(rows, _ROW_TYPES)))
        self._ready()
        self._unreported()
        return None

    def _ready(self) -> None:
        """The lane's transactions all here: their rows in block order, and what they name read
        from a state file."""
        self._predictions(self.predicted_parts)
        self._prefetch(self.mine.tolist())

    def _unreported(self) -> None:
        """This message's time, for a message without a reply: the first window's reply says it."""
        wall, cpu = self.spent()
        self.unreported += wall
        self.unreported_cpu += cpu

    def _predictions(self, parts: list[tuple]) -> None:
        """The rows of the lane's transactions (location, mode, whether a wildcard's), in block
        order, where each window's rows begin, and each row's transaction."""
        parts = [p for p in parts if p]
        if not parts:
            self.predicted = None
            return
        tx, loc, mode, wild = (np.concatenate(c) for c in zip(*parts))
        order = np.argsort(tx, kind="stable")
        tx = tx[order]
        self.predicted = Predicted(loc[order], mode[order], wild[order], np.searchsorted(tx, self.bounds).tolist(), tx)

    def _untrusted(self, window: int, tx: np.ndarray, loc: np.ndarray, mode: np.ndarray) -> int:
        """The first of the window's transactions that touched what its lane's rows do not allow
        (:func:`compiler.runtime.accesses.first_outside`), or in a shared window what its chunk's
        rows do not; -1: none."""
        shared = self.shared_adds[window]
        if self.predicted is None:
            return first_outside((np.zeros(0, np.int64), np.zeros(0, np.int8)), shared, tx, loc, mode)
        rows_loc, rows_mode, _, cuts, rows_tx = self.predicted  # (a checked window has no wildcard)
        a, b = cuts[window], cuts[window + 1]
        if window not in self.chunks:
            return first_outside(expected(rows_loc[a:b], rows_mode[a:b]), shared, tx, loc, mode)
        # A shared window: each chunk within its own rows (every lane has them all), and the lane's
        # own part (chunk -1) within its rows.  A lane runs its chunks after its part, in the order
        # it takes them, so two of these must not have touched one location either: within the
        # lane's rows is not enough.
        chunk_of = self.chunk_of
        log_chunk, row_chunk = chunk_of[tx], chunk_of[rows_tx[a:b]]
        by_log, by_row = np.argsort(log_chunk, kind="stable"), np.argsort(row_chunk, kind="stable")
        log_chunk, row_chunk = log_chunk[by_log], row_chunk[by_row]
        tx, loc, mode = tx[by_log], loc[by_log], mode[by_log]
        rows_loc, rows_mode = rows_loc[a:b][by_row], rows_mode[a:b][by_row]
        ran = log_chunk[np.flatnonzero(np.r_[True, log_chunk[1:] != log_chunk[:-1]])] if len(log_chunk) else log_chunk
        log_at = np.searchsorted(log_chunk, ran).tolist() + [len(log_chunk)]
        row_from, row_to = np.searchsorted(row_chunk, ran).tolist(), np.searchsorted(row_chunk, ran, "right").tolist()
        first = -1
        for k, (p, q) in enumerate(zip(log_at, log_at[1:])):
            allowed = expected(rows_loc[row_from[k]:row_to[k]], rows_mode[row_from[k]:row_to[k]])
            got = first_outside(allowed, shared, tx[p:q], loc[p:q], mode[p:q])
            if got >= 0 and (first < 0 or got < first):
                first = got
        return first

    def _written_outside(self, window: int, tx: np.ndarray, loc: np.ndarray, mode: np.ndarray,
                         groups: list) -> int:
        """In a window with a wildcard (whose lanes' logs the parent compares): the first of its
        transactions that wrote or added to a location its lane's rows did not predict it would,
        neither by location nor by a wildcard (one that writes, or adds to, that variable of that
        instance or of every instance: its scope, :func:`compiler.schedule.vectorized.scope_id`;
        the journal, grouped by variable (``groups``: :func:`written_keys`), says which variable a
        location written is of); -1: none.  What the lanes read the parent compares: a write is the
        lane's own to check, whoever else touches it."""
        changes = mode != R
        if not changes.any():
            return -1
        tx, loc, mode = tx[changes], loc[changes], mode[changes]
        if self.predicted is None:
            return int(tx.min())
        rows_loc, rows_mode, rows_wild, cuts, _ = self.predicted
        a, b = cuts[window], cuts[window + 1]
        rows_loc, rows_mode, wild = rows_loc[a:b], rows_mode[a:b], rows_wild[a:b]
        outside = ~allows(expected(rows_loc[~wild], rows_mode[~wild]), loc, mode)[0]
        tx, loc, mode = tx[outside], loc[outside], mode[outside]
        if not len(tx):
            return -1
        scopes, scope_modes = rows_loc[wild], rows_mode[wild]
        writes = set(scopes[scope_modes == W].tolist())
        adds = set(scopes[scope_modes == A].tolist())
        allowed = np.zeros(len(loc), bool)
        if writes or adds:
            for store, keys in groups:
                one, every = self.scopes[id(store)]
                if one in writes or every in writes:
                    only_adds = False
                elif one in adds or every in adds:
                    only_adds = True
                else:
                    continue
                hit = isin(loc, loc_ids(*self.where[id(store)], keys))
                allowed |= hit & (mode == A) if only_adds else hit
        return -1 if allowed.all() else int(tx[~allowed].min())

    @cached_property
    def scopes(self) -> dict[int, tuple[int, int]]:
        """Each variable of the replica (by ``id``) -> the ids of the wildcard scopes it is in: its
        instance's variable, and the variable of every instance (as the schedule's rows name them)."""
        var_ids, by_address = self.chain.compiled_summaries.var_ids, self.world.by_address
        out = {}
        for address, variables in self.storage.items():
            inst = by_address[address]
            names = {index: var for var, index in inst.program.layouts[inst.contract.name].index.items()}
            for index, variable in enumerate(variables):
                vid = var_ids(inst.contract.name, names[index])
                one, every = scope_id(np.array([vid, vid], np.int64), np.array([hash(address), EVERY], np.int64))
                out[id(variable)] = (int(one), int(every))
        return out

    def _prefetch(self, txs: list[int]) -> None:
        """Read in bulk, from a state file, the locations the lane's transactions ``txs`` name by
        their plain keys (the replica's variables are lazy: anything else is read when touched)."""
        if self.store is None or len(txs) < PREFETCH_MIN:
            return
        from ..schedule.locations import BlockLocations

        if self.locations is None:
            self.locations = BlockLocations(self.chain.world, self.storage)
        functions = self.table.functions
        fns = [functions[self.fnids[i]] for i in txs]
        self.locations.load(self.store, fns, [self.calls[i] for i in txs])

    def on_Window(self, m: P.Window) -> bytes:
        self._claimed()
        self._apply(m.sync, m.fixups)
        return self._run(m.window)

    def on_Sync(self, m: P.Sync) -> None:
        """What blocks the parent ran alone changed, applied: the replica is in step again (no reply;
        the next block's ``Schedule`` starts its accounts, ``synced`` and ``seen``, afresh)."""
        self._apply(m.sync, [])

    def on_Finish(self, m: P.Finish) -> bytes:
        """The last writes of the others applied, the state root's move and the rows of a state file
        for the locations this lane owns (the first in the block to change them)."""
        self._apply(m.sync, m.fixups)
        self.claimed, self.claiming = {}, {}  # (the block's last claims: ``before`` is cleared below)
        clash = self._clash()
        mine = owned(from_befores(self.storage), self.where, P.arr(m.owned, P.I64))
        root = StateHash(self.world, 0).moved(self.storage, mine)
        rows = change_rows(self.store.codecs, mine) if self.store is not None else {}
        receipts = encoding.part([self.receipts[w] for w in sorted(self.receipts)], m.before)
        self.receipts = {}
        ctx = self.ctx
        ctx.begin()  # (what the lane's variables recorded before the block goes too)
        for entries in ctx.log:
            entries.clear()
        synced, self.synced = self.synced, 0.0
        self.seen = {}
        wall, cpu = self.spent()
        writes = marshal.dumps(mine.writes(self.where))
        return P.pack_parts(P.Finished(m.block, root, marshal.dumps(rows), writes, receipts, wall, synced, cpu, clash))

    def _clash(self) -> bool:
        """Whether two locations have one id (:func:`compiler.vm.locations.loc_id`, a hash: keys
        2^61 - 1 apart have one, and a sender chooses keys) among those this lane wrote in the block
        (``before``: a write taken back too, which claims its id as well) and those the others
        changed (``seen``: by ``Finish`` every replica has been sent every change).  The parent
        finds each location's owner by id, and merges adds by id: two locations of one id would be
        counted as one.  The lane that owns an id has written one of its locations, and has seen
        every other that changed: it finds them (so may others); of an id the parent owns, the lane
        that changed another location has seen the parent's.  C code over the keys, numpy over the
        ids."""
        seen, parts = self.seen, []
        for address, variables in self.storage.items():
            for index, var in enumerate(variables):
                keys = seen.get((address, index))
                keys = set(var.before) if keys is None else keys.union(var.before)
                if keys:
                    parts.append(loc_ids(address, index, list(keys)))
        if not parts:
            return False
        lids = np.sort(np.concatenate(parts))  # (not np.unique: its first call in a worker takes 8 ms)
        return bool((lids[1:] == lids[:-1]).any())

    def on_Cut(self, m: P.Cut) -> bytes:
        """Undo the window's transactions from ``stop`` on; the reply is the window's as if they had
        never run."""
        ran = self.ran
        keep = sum(1 for i in ran if i < m.stop)
        if keep < len(ran):
            _, jmark, emark, *lmarks = self.marks[keep]
            self.ctx.rollback(jmark, emark)
            for entries, lmark in zip(self.ctx.log, lmarks):
                del entries[lmark:]
            del ran[keep:], self.marks[keep:], self.outcomes[keep:]
        return self._done(m.window)

    def _apply(self, sync: list, fixups: list) -> None:
        """The other lanes' writes (and the merged adds, made here from the lanes' extents and the sums of
        their moves: :func:`~compiler.runtime.accesses.merged_writes`) applied to the replica: what keeping
        it in step costs (``synced``; each lane applies every other's, so this does not shrink with more
        lanes)."""
        start = time.perf_counter()
        storage, seen = self.storage, self.seen
        for writes in itertools.chain(map(marshal.loads, sync), map(merged_writes, [fixups] if fixups else [])):
            for place, values in writes.items():
                storage[place[0]][place[1]].update(values)
                keys = seen.get(place)
                if keys is None:
                    seen[place] = set(values)
                else:
                    keys.update(values)
        self.synced += time.perf_counter() - start

    def _run(self, window: int) -> bytes:
        ctx = self.ctx
        journal, events = ctx.journal, ctx.events
        reads, writes, adds = ctx.log
        journal.clear()  # (what the window writes is what its journal holds)
        events.clear()
        for entries in ctx.log:
            entries.clear()
        limit = ctx.cost_limit
        fnids, calls, table = self.fnids, self.calls, self.table
        logged = table.logged
        self.ran: list[int] = []
        self.marks: list[tuple] = []
        self.outcomes: list[tuple] = []
        ran, marks, outcomes = self.ran, self.marks, self.outcomes
        chunks = self.chunks.get(window)
        # The lane's part of the window, in batches; then, in a shared window, the chunks it takes
        # until none is left (pool.Turns).  Between two batches the lane tells the parent it is at
        # work (``progress``): a window far longer than predicted (heavy calls its sample missed) is
        # not taken for a hang.
        own = self.windows[window]
        batches = [own[k:k + PROGRESS_BATCH] for k in range(0, len(own), PROGRESS_BATCH)]
        if chunks is not None:
            batches = itertools.chain(batches, map(chunks.__getitem__, iter(self.take, None)))
        for batch in batches:
            for i in batch:
                fid = fnids[i]
                fn = logged[fid] or table.logged_code(fid)
                jmark, emark = len(journal), len(events)
                marks.append((i, jmark, emark, len(reads), len(writes), len(adds)))
                ran.append(i)
                ctx.budget = limit
                try:
                    value = fn(ctx, *calls[i])
                except Revert as r:
                    ctx.rollback(jmark, emark)
                    outcomes.append((REVERTED, r.reason, None, _NO_EVENTS, ctx.cost_used(), r.at))
                    continue
                outcomes.append((OK, None, value, tuple(events[emark:]) if len(events) != emark else _NO_EVENTS,
                                 limit - ctx.budget, None))
            self.progress(len(ran))
        return self._done(window)

    def _done(self, window: int) -> bytes:
        """The window's reply: its writes, its pure adds, the accesses it made (a row per location,
        :mod:`compiler.runtime.accesses`), its receipts' digests (their encodings are kept for ``Finish``).

        Every step is a C-level pass over the log or the journal (``map``, ``dict.fromkeys``,
        numpy), grouped per variable: no Python runs per access."""
        ctx, ran, outcomes, marks = self.ctx, self.ran, self.outcomes, self.marks
        journal = ctx.journal
        # The accesses made: per transaction, its log entries of each mode (a reverted one's too:
        # what it read decided that it reverted).
        ran_tx = np.array(ran, np.int64)
        log_tx, log_loc, log_mode = [], [], []
        for mode, (entries, mark) in enumerate(zip(ctx.log, _LOG_MARKS)):
            if entries:
                starts = np.fromiter(map(mark, marks), np.int64, len(marks))
                log_tx.append(np.repeat(ran_tx, np.diff(starts, append=len(entries))))
                log_loc.append(np.fromiter(entries, np.int64, len(entries)))
                log_mode.append(np.full(len(entries), mode, np.int8))
        log_tx, log_loc, log_mode = (np.concatenate(c) if c else np.zeros(0, t)
                                     for c, t in ((log_tx, np.int64), (log_loc, np.int64), (log_mode, np.int8)))
        # The window's failed transactions, found by C code (most succeed): their places in ``ran``.
        failed = list(compress(range(len(outcomes)), map(ne, map(_FIRST, outcomes), repeat(OK))))
        reverted = [ran[k] for k in failed if outcomes[k][0] == REVERTED]
        if reverted:  # what a reverted transaction wrote never happened; what it read decided its fate
            log_mode[isin(log_tx, np.array(reverted, np.int64))] = R
        checked = bool(self.checked[window])
        groups = written_keys(journal)  # (the window's writes by variable: for the check and the writes)
        untrusted = self._untrusted(window, log_tx, log_loc, log_mode) if checked else \
            self._written_outside(window, log_tx, log_loc, log_mode, groups)
        # Locations the lane added to and wrote in no other way (a transaction that read one and
        # added to it wrote it; a reverted one only read), among those the plan predicted other
        # lanes add to as well: the parent merges the adds, if what each lane did (before, after,
        # lowest and highest value on the way) stays in range in every order.  (Adds to one location
        # by several lanes that the plan did not predict are outside the lanes' rows, or, in a window
        # the parent checks, find no extents: the block runs on sequentially from there.)  A checked
        # window sends no rows: only those of the shared adds' locations are made (a location's row
        # is of its own accesses alone).
        shared = self.shared_adds[window]
        at = isin_sorted(log_loc, shared) if checked else slice(None)
        rows = summarize(log_tx[at], log_loc[at], log_mode[at])
        pure_rows = rows[(rows[:, FIRST_W] == NONE) & (rows[:, FIRST_A] != NONE)]
        pure_rows = pure_rows[isin_sorted(pure_rows[:, LOC], shared)]
        writes, adds = self._writes(journal, groups, pure_rows)
        encodings = encoding.encode_outcomes(outcomes)
        # (a window cut at a conflict answers again: its receipts replace those of its first answer)
        self.receipts[window] = (ran_tx, b"".join(encodings),
                                 np.cumsum(np.fromiter(map(len, encodings), np.int64, len(encodings))))
        failures = [(ran[k], o[0], o[1], o[5]) for k in failed for o in (outcomes[k],)]
        cost = sum(map(_COST, outcomes))
        wall, cpu = self.spent()
        wall, cpu, self.unreported, self.unreported_cpu = wall + self.unreported, cpu + self.unreported_cpu, 0.0, 0.0
        synced, self.synced = self.synced, 0.0
        return P.pack_parts(P.WindowDone(
            self.block, window, marshal.dumps(writes), adds, b"" if checked else rows.tobytes(), untrusted,
            self._claims(groups, ran_tx), (ran_tx.tobytes(), encoding.digests(encodings)),
            failures, (len(outcomes) - len(failures), len(failures), cost), wall, synced, cpu))

    def _claims(self, groups: list, ran_tx: np.ndarray) -> bytes:
        """The locations this lane first wrote or added to in the block (``Var.before`` records each
        key's first write, a write taken back since too) by the window's journal's variables (its
        ``groups``), those not claimed in an earlier window, each with the lane's first transaction
        of the window: int64 pairs (``WindowDone.changed``).  The parent makes the earliest claim of
        each location its owner (``_Merge.owners``): that lane's ``before`` holds its value before
        the block (the replicas are in step when a window begins, and a window's lanes touch only
        their own locations, but for adds, which all find the value the window began with).  A key
        first written by a transaction taken back is claimed too, perhaps a window late (if its
        variable is written again): its owner's move is then its true one, or none.  A window cut at
        a conflict is answered again (``on_Cut``): what its first answer claimed is claimed again,
        as the parent takes that answer only (``claimed`` moves on with the next message)."""
        claimed, claiming, where = self.claimed, {}, self.where
        locs = []
        for store, _keys in groups:
            before = store.before
            seen = claimed.get(id(store), 0)
            if len(before) > seen:
                locs.append(loc_ids(*where[id(store)], list(itertools.islice(before, seen, None))))
                claiming[id(store)] = len(before)
        self.claiming = claiming
        loc = np.concatenate(locs) if locs else np.zeros(0, np.int64)
        first = int(ran_tx.min()) if len(ran_tx) else 0
        return np.stack([loc, np.full(len(loc), first, np.int64)], axis=1).tobytes()

    def _claimed(self) -> None:
        """The last window's claims taken by the parent (a message after its reply came)."""
        self.claimed.update(self.claiming)
        self.claiming = {}

    def _writes(self, journal: list, groups: list, pure_rows: np.ndarray) -> tuple[dict, tuple]:
        """The window's writes per variable, and the pure adds' extents (``WindowDone.adds``).

        The journal holds the window's writes (a reverted or cut transaction's are taken out of
        it, their keys back to their values; ``groups``: the keys it wrote by variable,
        :func:`written_keys`): the writes are those keys with their values
        now, by C code over each variable (a key whose value came back to what it was goes too:
        every replica has that value, and applying it again changes nothing).
        A pure add's extent is (address, index, key, before, after, lowest, highest), sent as seven
        columns in two parts (the first four, what a merged value is made from, and the rest): its
        value before the window (its first journal entry's), the lowest and highest of its values
        before each of its writes (the journal's entries) and after them;
        with the first transaction that added to it (``pure_rows``: the lane's rows of the pure adds
        to send, sorted by location), and the moves from before as int64 when they are small
        (:func:`compiler.runtime.accesses.moves`: what the parent sums)."""
        pure = pure_rows[:, LOC] if len(pure_rows) else None
        writes: dict = {}
        lids: list[np.ndarray] = []
        columns: tuple[list, ...] = ([], [], [], [], [], [], [])  # address, index, key, before, after, low, high
        position: dict = {}  # (id(variable), key) -> its extent's place, for the journal's pass
        where = self.where
        for store, keys in groups:
            address, index = where[id(store)]
            writes[(address, index)] = dict(zip(keys, map(store.__getitem__, keys)))
            if pure is None:
                continue
            jloc = loc_ids(address, index, keys)
            mine = np.flatnonzero(isin_sorted(jloc, pure))
            if not len(mine):
                continue
            picked = pick(keys, mine)
            news = list(map(store.__getitem__, picked))
            base = len(columns[0])
            position.update(zip(zip(repeat(id(store)), picked), range(base, base + len(picked))))
            lids.append(jloc[mine])
            for column, part in zip(columns, (repeat(address, len(picked)), repeat(index, len(picked)), picked,
                                              repeat(None, len(picked)), news, news, news)):
                column.extend(part)
        if position:
            # Each pure add's value before the window (its first entry in the journal) and the values
            # between its first write and its last (each entry's value before its write): the
            # journal's entries of their keys, found by C code (a few of the window's).
            before, low, high = columns[3], columns[5], columns[6]
            pure_keys = {key for _, key in position}
            for entry in compress(journal, map(pure_keys.__contains__, map(_SECOND, journal))):
                k = position.get((id(entry[0]), entry[1]))
                if k is None:
                    continue
                old = entry[2]
                if before[k] is None:
                    before[k] = old
                if old < low[k]:
                    low[k] = old
                elif old > high[k]:
                    high[k] = old
        if not lids:
            return writes, (b"", b"", marshal.dumps(columns[:4]), marshal.dumps(columns[4:]), b"")
        every = np.concatenate(lids)
        order = np.argsort(every, kind="stable")  # sorted by location id, for the parent's lookups
        positions = order.tolist()
        every = every[order]
        first = pure_rows[np.searchsorted(pure_rows[:, LOC], every), FIRST_A]
        columns = tuple(pick(c, positions) for c in columns)
        return writes, (every.tobytes(), first.tobytes(), marshal.dumps(columns[:4]), marshal.dumps(columns[4:]),
                        moves(*columns[3:]))


def rows_by_lane(rows: dict, lanes: np.ndarray, count: int, everyone: np.ndarray | None, first: int = 0) -> list[tuple]:
    """Per lane, the rows (``tx``, ``loc``, ``mode``, ``wild`` columns; ``tx`` numbered from
    ``first`` in the block) of the transactions on it, as (block index int64, location int64, mode
    int8, wild bool) columns (a wildcard's location: its scope's id); those of a shared window's
    transactions (``everyone``) go to every lane."""
    columns = _columns(rows, first)
    lane = lanes[columns[0]]
    if everyone is not None:
        shared = everyone[columns[0]]
        return [tuple(c[(lane == k) | shared] for c in columns) for k in range(count)]
    order = np.argsort(lane, kind="stable")
    cuts = np.searchsorted(lane[order], np.arange(count + 1)).tolist()
    return [tuple(c[order[cuts[k]:cuts[k + 1]]] for c in columns) for k in range(count)]


def lane_rows(rows: dict, lanes: np.ndarray, k: int, everyone: np.ndarray | None) -> tuple:
    """:func:`rows_by_lane`'s part of lane ``k`` alone (the block's rows: ``tx`` numbered from 0)."""
    columns = _columns(rows, 0)
    mask = lanes[columns[0]] == k
    if everyone is not None:
        mask |= everyone[columns[0]]
    return tuple(c[mask] for c in columns)


_ROW_TYPES = (P.I64, P.I64, P.I8, bool)  # a lane's rows' columns: tx, loc, mode, wild


def _columns(rows: dict, first: int) -> tuple[np.ndarray, ...]:
    return (rows["tx"].astype(np.int64, copy=False) + first,
            *(rows[name].astype(t, copy=False) for name, t in zip(("loc", "mode", "wild"), _ROW_TYPES[1:])))


def owned(changes: Changes, where: dict, locations: np.ndarray) -> Changes:
    """``changes`` at the ``locations`` (ids, :func:`loc_id`) only; ``where`` maps each variable (by
    ``id``) to its (address, index)."""
    owned_set = set(locations.tolist())

    def owns(store, keys: list):
        return map(owned_set.__contains__, loc_ids(*where[id(store)], keys).tolist())

    return changes.only(owns)


def _chunks(chunks: np.ndarray, bounds: np.ndarray) -> dict[int, list[list[int]]]:
    """Per shared window, its chunks' transactions (``chunks``: each transaction's chunk, -1 when
    its window is not shared), each chunk's in block order."""
    tx = np.flatnonzero(chunks >= 0)
    window = np.searchsorted(bounds, tx, side="right") - 1
    chunk = chunks[tx].astype(np.int64)
    order = np.lexsort((tx, chunk, window))  # (by window, then chunk, then block order)
    tx, window, chunk = tx[order], window[order], chunk[order]
    heads = np.flatnonzero(np.r_[True, (window[1:] != window[:-1]) | (chunk[1:] != chunk[:-1])])
    out: dict[int, list[list[int]]] = {}
    for a, b in zip(heads.tolist(), np.r_[heads[1:], len(tx)].tolist()):
        out.setdefault(int(window[a]), []).append(tx[a:b].tolist())
    return out


def make_replica(chain, table: FunctionTable, take=None):
    """What a forked worker runs (:func:`compiler.runtime.pool.Worker`); ``take``: the turns at a
    shared window's chunks (:meth:`compiler.runtime.pool.Turns.take`)."""
    return lambda: Replica(chain, table, take)


__all__ = ["Replica", "make_replica", "owned", "places", "rows_by_lane", "lane_rows", "PEERS_ROWS",
           "INVALID"]
