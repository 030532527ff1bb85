"""A world's state and the blocks run on it: what ``lane run`` and ``lane call`` drive.

A block goes through these phases, each timed (``BlockResult.phases``; SPEC §5):

- ``read``: the block file's bytes;
- ``decode``: JSON Lines to calls (:mod:`compiler.runtime.decode`);
- ``schedule``: for a state file, the locations the block's access summaries name
  are read from it in bulk (:meth:`Chain.prefetch`); the parallel executor
  schedules its lanes inside ``execute``;
- ``execute``: the executor;
- ``receipts``: each receipt's canonical encoding and digest (:mod:`compiler.runtime.encoding`);
- ``roots``: the state root moved by the block's changes, the receipts root
  (:mod:`compiler.runtime.roots`);
- ``commit``: the changed locations, the block and its receipts into the state
  file, in one database transaction.

``seconds`` is their sum: the wall time from reading the block file to its state
committed.
"""

from __future__ import annotations

import marshal
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import itemgetter, ne
from typing import Any, Callable

from ..diagnostics import LaneError
from . import encoding
from .accesses import merged_writes
from ..vm.transaction import gc_paused
from .block import prepare
from ..vm.context import Context
from .decode import Block, Decoder
from .executed import Executed
from ..vm.errors import Revert
from .files import read_block_bytes
from .receipts import Receipt, receipts_json, return_kinds
from .changes import ABSENT, from_befores, put_back
from .roots import StateHash, receipts_root, root_of
from .store import PREFETCH_MIN, StateStore
from ..vm.values import U256_MAX, ValueError_, parse_value, quoted, shown
from ..vm.variables import LazyVar, copy_storage
from .world import World, genesis, load_world

_STATUS, _COST, _FAILURE = itemgetter(0), itemgetter(4), itemgetter(0, 1, 5)

# Block numbers are SQLite INTEGERs in a state file; block.timestamp is a u256.
MAX_BLOCK_NUMBER = 2**63 - 1
PHASES = ("read", "decode", "schedule", "execute", "receipts", "roots", "commit")
# Bytes of lanes' writes a chain defers (``Chain.defer``) before it applies the oldest, at a block's
# start: what a chain of blocks on lanes holds beyond its state, at most (a block of 100,000 transfers
# among 10,000 accounts defers 0.4 MB: ``_Merge.coalesce``).
PENDING_MOST = 64 << 20


@dataclass
class BlockResult:
    number: int
    timestamp: int
    executor: str
    workers: int
    executed: Executed                   # what the executor delivered (receipts as bytes, ...)
    state_root: str
    receipts_root: str
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    detail: dict | None = None  # what the parallel executor did: lanes, inline or not, fallbacks
    verified: float | None = None  # with verify: the seconds of the sequential run that agreed
    decode: Callable[[], Block] | None = field(default=None, repr=False)   # the block, decoded on demand
    _block: Block | None = field(default=None, repr=False)
    _receipts: list[Receipt] | None = field(default=None, repr=False)
    _json: list[dict] | None = field(default=None, repr=False)

    @property
    def block(self) -> Block:
        """The block's transactions (decoded here when the executor's workers decoded it)."""
        if self._block is None:
            self._block = self.decode()
        return self._block

    @property
    def outcomes(self) -> list[tuple]:
        """Each transaction's ``(status, reason, value, events, cost, at)``."""
        executed = self.executed
        if executed.outcomes is None or (executed.outcomes and len(executed.outcomes[0]) == 5):
            at = {f[0]: f[4] for f in executed.failures}
            executed.outcomes = [(*o, at.get(i)) for i, o in enumerate(executed.all_outcomes())]
        return executed.outcomes

    @property
    def encodings(self) -> list[bytes]:
        return encoding.encode_outcomes(self.outcomes)

    @property
    def transactions(self) -> int:
        return sum(self.executed.counts.values())

    @property
    def receipts(self) -> list[Receipt]:
        """The receipts as objects (made on first use: a big block's summary does not need them)."""
        if self._receipts is None:
            self._receipts = [Receipt(tx, *o) for tx, o in zip(self.block.txs(), self.outcomes)]
        return self._receipts

    @property
    def receipts_json(self) -> list[dict]:
        if self._json is None:
            block = self.block
            self._json = receipts_json(block.world, block.functions, block.first, self.outcomes)
        return self._json

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds > 0 else 0.0

    @property
    def cost(self) -> int:
        """What the block's transactions used, in the static cost unit."""
        return self.executed.cost

    def counts(self) -> dict[str, int]:
        return dict(self.executed.counts)

    def failures(self) -> list[tuple[int, int, str, str]]:
        """(index, line, status, reason) of each transaction that did not succeed."""
        return [f[:4] for f in self.executed.failures]

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "timestamp": self.timestamp,
            "state_root": self.state_root,
            "receipts_root": self.receipts_root,
            "receipts": self.receipts_json,
            "cost": self.cost,
            "executor": self.executor,
            "workers": self.workers,
            "seconds": self.seconds,
            "phases": {name: self.phases.get(name, 0.0) for name in PHASES},
            "tps": self.tps,
            "detail": self.detail,
            "verified": None if self.verified is None else {"sequential_seconds": self.verified},
        }


class Merged:
    """Merged adds deferred (``Chain.defer_merged``): the parts :func:`accesses.merged_writes` takes,
    and the writes made from them, once, when first asked for (this state's, and a window the parent
    runs after them sends them on: ``_Merge.inline``)."""

    __slots__ = ("parts", "size", "_writes")

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.size = sum(map(len, parts))
        self._writes: dict | None = None

    def __len__(self) -> int:  # (their bytes: what ``PENDING_MOST`` counts)
        return self.size

    def writes(self) -> dict:
        if self._writes is None:
            self._writes = merged_writes(self.parts)
        return self._writes


class Chain:
    """A loaded world with its current state, in memory or backed by a SQLite file."""

    def __init__(self, world: World, ctx: Context, store: StateStore | None, last: tuple[int, int],
                 state_hash: StateHash) -> None:
        self.world = world
        self._ctx = ctx
        self._pending: list = []  # lanes' writes not applied here yet (see ``ctx``; bytes, or Merged) ...
        self._pending_size = 0             # ... and their bytes
        self.settles = 0                   # how many times this state was brought up to date with them
        self.store = store
        # The state file the state's variables read from when this chain commits nothing to it (a
        # test chain's, which commits on its own): closed while workers are forked, as ``store`` is.
        self.backing: StateStore | None = None
        self.number, self.timestamp = last
        self.hash = state_hash
        self._compiled = None
        self._parallel = None  # the persistent parallel executor, made on first use
        self._dask = None      # the same on a Dask cluster (compiler.runtime.dask_executor)
        self._decoders: dict[bool, Decoder] = {}
        self._locations = None  # what blocks touch, found from their calls (made on first use)

    @property
    def ctx(self) -> Context:
        """The chain's context: its state in memory, its journal and events.

        The parallel executor's lanes run on replicas of the state in worker processes; the writes
        they send back are kept here as they came (``defer``) and applied to this state only when
        something reads it: a block that runs in this process, ``--verify``, a call, a test.  Block
        after block on lanes, the parent does no work per write until ``PENDING_MOST`` bytes of them
        wait (``settle_if_large``)."""
        if self._pending:
            self.settle()
        return self._ctx

    def defer(self, writes: bytes | memoryview) -> None:
        """Writes to apply later, in order: ``marshal`` of ``{(address, index): {key: value}}``.
        They are copied: a view into the reply they came in would keep all of it (its receipts, its
        rows) alive as long as they wait, and a reply that lies in a worker's arena is written over
        once the block is released (``pool.Processes.release``)."""
        blob = bytes(writes)
        self._pending.append(blob)
        self._pending_size += len(blob)

    def defer_merged(self, parts: list) -> Merged:
        """The merged adds of a window to apply later, in order with the writes deferred around them, as
        :func:`~compiler.runtime.accesses.merged_writes` takes them: their values are made only if they
        are applied (block after block on lanes, the lanes' values after the block replace them:
        ``replace_pending``).  Copied, as ``defer``'s."""
        merged = Merged([bytes(part) for part in parts])
        self._pending.append(merged)
        self._pending_size += len(merged)
        return merged

    def settle_if_large(self) -> None:
        """Apply the oldest deferred writes until at most ``PENDING_MOST`` bytes of them wait (between
        blocks: block after block on lanes, they would otherwise grow with the chain; a long chain
        applies about a block's writes at each block's start)."""
        if self._pending_size <= PENDING_MOST:
            return
        k, size = 0, self._pending_size
        while size > PENDING_MOST:
            size -= len(self._pending[k])
            k += 1
        oldest, self._pending, self._pending_size = self._pending[:k], self._pending[k:], size
        self._apply(oldest)

    def settle(self, undo: list | None = None, since: int = 0, absent: bool = False) -> None:
        """Apply the deferred writes (``dict.update``, one call per variable and message); with
        ``undo``, append to it ``(dict, key, value before)`` for each location that the writes from
        the ``since``-th on write, as a journal would (what puts them back); with ``absent``, a key
        not in memory is not read from a state file for it: its value before is ``changes.ABSENT``
        (:func:`~compiler.runtime.changes.put_back` then drops it from memory again)."""
        pending, self._pending, self._pending_size = self._pending, [], 0
        self._apply(pending, undo, since, absent)

    def _apply(self, pending: list[bytes], undo: list | None = None, since: int = 0, absent: bool = False) -> None:
        self.settles += 1
        storage = self._ctx.storage
        for k, blob in enumerate(pending):
            writes = blob.writes() if isinstance(blob, Merged) else marshal.loads(blob)
            for (address, index), values in writes.items():
                var = storage[address][index]
                if undo is not None and k >= since:
                    before = map(var.get, values, repeat(ABSENT)) if absent else map(var.__getitem__, values)
                    undo.extend(zip(repeat(var), values, before))
                var.update(values)

    def pending_mark(self) -> int:
        return len(self._pending)

    def replace_pending(self, mark: int, writes: list) -> None:
        """The deferred writes from ``mark`` on replaced by ``writes`` (the same state, fewer bytes:
        ``_Merge.coalesce``)."""
        self.forget_pending(mark)
        for blob in writes:
            self.defer(blob)

    def forget_pending(self, mark: int) -> None:
        """Drop the deferred writes from ``mark`` on (a block's lanes, taken back)."""
        del self._pending[mark:]
        self._pending_size = sum(map(len, self._pending))

    @classmethod
    def open(cls, world_path: str | os.PathLike, state: str | os.PathLike | None = None,
             read_only: bool = False) -> "Chain":
        """Load a world and its state (genesis, for a new or absent state file).  For a command
        that only reads (``read_only``), a missing state file is an error (a mistyped path must not
        answer from a new genesis) and nothing is ever written to it."""
        world = load_world(world_path)
        if state is None:
            ctx = genesis(world)
            return cls(world, ctx, None, (0, 0), StateHash.of(world, ctx.storage))
        store = StateStore(state, writable=not read_only)
        try:
            if store.new:
                if read_only:
                    raise LaneError(f"state file {store.path} holds no state yet (run a block on it first)",
                                    code="state")
                ctx = genesis(world)
                state_hash = StateHash.of(world, ctx.storage)
                store.write_genesis(world, ctx.storage, state_hash.accumulator, state_hash.root)
                return cls(world, ctx, store, (0, 0), state_hash)
            store.check_world(world)
            number, timestamp, accumulator = store.head
            ctx = Context(store.bind(world), world.code, cost_limit=world.cost_limit)
        except BaseException:
            store.close()
            raise
        return cls(world, ctx, store, (number, timestamp), StateHash(world, accumulator))

    def close(self) -> None:
        parallel = getattr(self, "_parallel", None)
        if parallel is not None:
            parallel.close()
            self._parallel = None
        dask = getattr(self, "_dask", None)
        if dask is not None:
            dask.shutdown()  # its actors, and the LocalCluster it started
            self._dask = None
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def state_root(self) -> str:
        """The current state root (kept up to date block by block, never recomputed)."""
        return self.hash.root

    def decoder(self, trace: bool = False) -> Decoder:
        got = self._decoders.get(trace)
        if got is None:
            got = self._decoders[trace] = Decoder(self.world, trace)
        return got

    # ------------------------------------------------------------ a block
    def run_file(self, path: str | os.PathLike, **options) -> BlockResult:
        """Read a block file and run it (its reading is the block's first phase)."""
        start = time.perf_counter()
        display, data = read_block_bytes(path)
        return self.run_block(data, display=display, started=start, **options)

    def run_block(self, source: bytes | list | Block, number: int | None = None,
                  timestamp: int | None = None, executor: str = "sequential", workers: int = 1,
                  progress=None, check_accesses: bool = False, verify: bool = False,
                  before_commit: Callable[[BlockResult], None] | None = None, display: str = "block",
                  started: float | None = None, scheduler: str | None = None) -> BlockResult:
        """Execute a block: the bytes of a block file, the reference's ``[(line, object)]`` or a
        decoded :class:`Block`.  With ``check_accesses`` every access is checked against its
        summary (§2.5); with ``verify`` the block also runs sequentially on a copy of the state and
        any difference is an error naming the first differing receipt or location (nothing is kept).

        ``before_commit(result)`` runs once the result is complete and before the block is
        committed: what a command prints is made there, so that nothing that could fail on the
        block's data comes after the commit (a user told that a run failed runs it again, and a
        committed block would be applied twice).  If it raises, the block is undone.  Its time is
        not the block's.  ``scheduler`` is the Dask scheduler of ``executor="dask"`` (None: a
        LocalCluster of ``workers`` processes)."""
        clock = time.perf_counter
        phases: dict[str, float] = {}
        t = started if started is not None else clock()
        if started is not None:
            phases["read"] = clock() - t
        number, timestamp = self.next_block(number, timestamp)
        self.settle_if_large()
        ctx = self._ctx  # not settled: a block on lanes does not need this process's state
        ctx.number, ctx.timestamp = number, timestamp
        ctx.begin()
        if not isinstance(source, (bytes, bytearray, memoryview, Block)):
            source = Block.of_txs(self.world, prepare(self.world, source, trace=check_accesses))
        # For --verify: the state before the block, for the sequential run to start from.
        before = copy_storage(self.ctx.storage) if verify else None
        mark = self.pending_mark()  # the writes deferred before this block (none after a copy)
        on_lanes = executor in ("parallel", "dask") and not check_accesses
        with gc_paused():  # a block makes many small acyclic objects: calls, journal, events, outcomes
            if on_lanes:
                t = clock()
                if executor == "dask":  # the same lanes, on a Dask cluster
                    from .dask_executor import executor_for as lanes_for

                    run = lanes_for(self, workers, scheduler)
                else:
                    from .parallel import executor_for

                    run = executor_for(self, workers)
                executed = run(source, display, number, timestamp, progress)
                wall = clock() - t
                seconds = executed.detail.get("seconds", {})
                for name, parts in _EXECUTOR_PHASES:
                    phases[name] = sum(seconds.get(part, 0.0) for part in parts)
                # What the executor did not lap (its making, what it says of the block) is its time too.
                phases["execute"] += max(0.0, wall - sum(phases[name] for name, _ in _EXECUTOR_PHASES))
            else:
                executed = self._run_sequential(source, display, progress, phases, trace=check_accesses)
            t = clock()
            result = BlockResult(number, timestamp, executor, workers, executed, root_of(executed.accumulator),
                                 receipts_root(executed.digests), detail=executed.detail or None,
                                 decode=lambda: self._decode(source, display, check_accesses))
            if isinstance(source, Block):
                result._block = source
            elif executed.block is not None:  # decoded once: the receipts' JSON does not decode again
                result._block = executed.block
            phases["roots"] = phases.get("roots", 0.0) + clock() - t
        if check_accesses:  # the traced sequential run ran, whatever executor was asked for
            result.executor, result.workers, result.detail = "sequential", 1, {"mode": "check-accesses"}
        if before is not None:
            self._verify(result, before, number, timestamp)
        if before_commit is not None:
            result.seconds, result.phases = sum(phases.values()), phases  # as far as known
            try:
                before_commit(result)
            except BaseException:
                self._undo(executed, mark)
                raise
        t = clock()
        if self.store is not None:
            returns = executed.returns if executed.returns is not None else \
                return_kinds(executed.block.functions) if executed.block is not None else b""  # (none known)
            self.store.commit_block(executed.changes, number, timestamp, result.transactions, result.cost,
                                    result.state_root, result.receipts_root, executed.accumulator, executed.packed,
                                    parent=self.number, rows=executed.rows, returns=returns)
        _lap(phases, "commit", t)
        self.hash.accumulator = executed.accumulator
        ctx.begin()  # (nothing of the block is kept in memory but the state)
        self.number, self.timestamp = number, timestamp
        result.phases = phases
        result.seconds = sum(phases.values())
        return result

    def _run_sequential(self, source: bytes | Block, display: str, progress, phases: dict,
                        trace: bool = False) -> Executed:
        """A block run in this process, in order (the sequential executor, or the soundness checker
        with ``trace``), with its phases timed into ``phases``."""
        ctx = self.ctx
        t = time.perf_counter()
        block = self._decode(source, display, trace)
        t = _lap(phases, "decode", t)
        if self.store is not None:
            self.prefetch(block)
        t = _lap(phases, "schedule", t)
        if progress is not None and hasattr(progress, "total"):
            progress.total = len(block)
        if trace:
            from . import soundness

            outcomes = soundness.execute(ctx, block.txs(), progress=progress)
        else:
            from . import sequential

            outcomes = sequential.execute(ctx, block, progress=progress)
        t = _lap(phases, "execute", t)
        encodings = encoding.encode_outcomes(outcomes)
        digests = encoding.digests(encodings)
        packed = encoding.pack(encodings)
        counts = {"ok": 0, "reverted": 0, "invalid": 0}
        counts.update(Counter(map(_STATUS, outcomes)))
        failed = compress(range(len(outcomes)), map(ne, map(_STATUS, outcomes), repeat("ok")))  # (C code)
        failures = [(block.first + k, block.lines[k], *_FAILURE(outcomes[k])) for k in failed]
        cost = sum(map(_COST, outcomes))
        t = _lap(phases, "receipts", t)
        changes = from_befores(ctx.storage)
        accumulator = self.hash.moved(ctx.storage, changes)
        _lap(phases, "roots", t)
        return Executed(packed, digests, counts, cost, failures, accumulator, outcomes=outcomes, changes=changes,
                        block=block)

    def _undo(self, executed: Executed, mark: int) -> None:
        """Take back a block that was run but is not to be kept (``mark``: the deferred writes
        before it)."""
        self.forget_pending(mark if executed.pending_from is None else executed.pending_from)
        if executed.changes is not None:  # each variable holds its written keys' values before the block
            for variables in self.ctx.storage.values():
                for var in variables:
                    var.update(var.before)
            return
        # On lanes: what this process's state took of the block is put back (the lanes' writes it
        # applied, the windows it ran itself), the rest was only deferred.
        put_back(executed.undo)
        for lanes in (self._parallel, self._dask):
            if lanes is not None:
                lanes.close()  # their replicas are ahead of this state now

    def _decode(self, source: bytes | list | Block, display: str, trace: bool) -> Block:
        if isinstance(source, Block):
            return source
        if isinstance(source, (bytes, bytearray, memoryview)):
            return self.decoder(trace).decode(bytes(source), display)
        return Block.of_txs(self.world, prepare(self.world, source, trace=trace))

    def prefetch(self, block: Block) -> int:
        """Read from the state file, in bulk, the locations the block's calls name by their plain keys,
        then those that keys read from them name (:mod:`compiler.schedule.locations`).  Any other
        location (keys computed, a wildcard's, what the block changes on the way) is read when the
        block first touches it: the state's variables are lazy."""
        store = self.store
        if len(block) < PREFETCH_MIN:
            return 0  # a few locations: read one by one as touched, cheaper than finding them first
        if store is None or self._locations is None and not any(
                type(v) is LazyVar for vs in self.ctx.storage.values() for v in vs):
            return 0
        if self._locations is None:
            from ..schedule.locations import BlockLocations

            self._locations = BlockLocations(self.world, self.ctx.storage)
        return self._locations.load(store, block.functions, block.calls)

    def _verify(self, result: BlockResult, before: dict, number: int, timestamp: int) -> None:
        """Run the block sequentially on ``before`` and compare with ``result``; on a mismatch the
        block is undone and reported."""
        import json

        from . import sequential

        ref = Context(copy_storage(before), self.world.code, number, timestamp, self.world.cost_limit)
        started = time.perf_counter()
        block = result.block
        ref_outcomes = sequential.execute(ref, block)
        seconds = time.perf_counter() - started
        problem = None
        ref_digests = encoding.digests(encoding.encode_outcomes(ref_outcomes))
        mine_digests = result.executed.digests
        if ref_digests != mine_digests:
            k = next(k for k in range(0, max(len(ref_digests), len(mine_digests)), 32)
                     if ref_digests[k:k + 32] != mine_digests[k:k + 32]) // 32
            ref_json = Receipt(block.txs()[k], *ref_outcomes[k]).to_json(self.world)
            problem = (f"receipt #{block.first + k} differs: {result.executor} gave "
                       f"{json.dumps(result.receipts_json[k])}, sequential gave {json.dumps(ref_json)}")
        if problem is None:
            ref_hash = StateHash(self.world, self.hash.accumulator)
            ref_changes = from_befores(ref.storage)
            if root_of(ref_hash.moved(ref.storage, ref_changes)) != result.state_root:
                ours = result.executed.changes
                problem = "the state differs" + (": " + _first_difference(self.world, ours, ref_changes)
                                                 if ours is not None else "")
        if problem is not None:
            self._undo(result.executed, 0)  # the state was settled for the copy
            raise LaneError(f"verify failed: {problem}", code="verify")
        result.verified = seconds

    @property
    def compiled_summaries(self):
        """The world's pub functions' summaries, compiled for instantiation (built once)."""
        if self._compiled is None:
            from ..schedule.dag import Compiled

            self._compiled = Compiled(self.world)
        return self._compiled

    def next_block(self, number: int | None, timestamp: int | None) -> tuple[int, int]:
        """The number and timestamp of the next block: given, or the next number and 12 x it
        (or the last block's timestamp, if that is later); a timestamp before the last block's is
        an error."""
        if number is None:
            number = self.number + 1
        elif self.store is not None and number <= self.number:
            raise LaneError(f"block number {number} is not after the last block ({self.number}) "
                            f"of {self.store.path}", code="block")
        if not 1 <= number <= MAX_BLOCK_NUMBER:
            raise LaneError(f"block number {number} is out of range (1 .. 2^63-1)", code="block")
        if timestamp is None:
            # Time never goes backwards: after a block given a later time (--timestamp), the
            # default stays at that block's time instead of falling back to 12 x number.
            timestamp = max(12 * number, self.timestamp)
        elif not 0 <= timestamp <= U256_MAX:
            raise LaneError(f"block timestamp {timestamp} is out of range (0 .. 2^256-1)", code="block")
        elif timestamp < self.timestamp:
            where = f" of {self.store.path}" if self.store is not None else ""
            raise LaneError(f"block timestamp {timestamp} is before the last block's: block {self.number}"
                            f"{where} has timestamp {self.timestamp}", code="block")
        return number, timestamp

    def schedule(self, source: bytes | list | Block, number: int | None = None,
                 timestamp: int | None = None, keep_accesses: bool = False, display: str = "block"):
        """The block's dependency DAG on the current state (nothing is executed)."""
        from ..schedule.dag import build

        number, timestamp = self.next_block(number, timestamp)
        compiled = self.compiled_summaries  # once per world, not part of a block's time
        start = time.perf_counter()
        block = self._decode(source, display, False)
        if self.store is not None:
            self.prefetch(block)
        schedule = build(compiled, block.txs(), self.ctx.storage, number, timestamp, keep_accesses)
        schedule.seconds = time.perf_counter() - start
        return schedule

    def call(self, contract: str, fn_name: str, raw_args: list[Any], sender: str | None = None,
             number: int | None = None, timestamp: int | None = None):
        """Run a pub function on the current state without keeping anything; returns (function, value).
        With a state file, it reads from the file only the locations the call reads."""
        world = self.world
        inst = world.instances.get(contract)
        if inst is None:
            try:
                inst = world.by_address.get(parse_value_address(world, contract, "the contract"))
            except ValueError_:
                inst = None
        if inst is None:
            known = ", ".join(world.instances) or "none"
            raise LaneError(f"unknown contract {quoted(contract)} (deployed: {known})", code="call")
        function = inst.contract.functions.get(fn_name)
        if function is None or not function.is_pub:
            names = ", ".join(f.name for f in inst.contract.pub_functions)
            what = "no pub function" if function is not None else "no function"
            raise LaneError(f"{inst.contract.name} ({shown(contract)}) has {what} {quoted(fn_name)} "
                            f"(pub functions: {names})",
                            code="call")
        if len(raw_args) != len(function.params):
            n = len(function.params)
            raise LaneError(f"{function.qualname} takes {n} argument{'s' if n != 1 else ''}, found {len(raw_args)}",
                            code="call")
        try:
            args = [parse_value(p.type, a, world.parse_address, f"argument '{p.name}'")
                    for p, a in zip(function.params, raw_args)]
            caller = parse_value_address(world, sender, "--from") if sender is not None else 0
        except ValueError_ as err:
            raise LaneError(str(err), code="call") from None
        ctx = self.ctx
        ctx.number = self.number if number is None else number
        ctx.timestamp = self.timestamp if timestamp is None else timestamp
        jmark, emark = len(ctx.journal), len(ctx.events)
        ctx.budget = ctx.cost_limit  # a call is limited as a transaction is
        try:
            value = inst.program.function(inst.contract.name, fn_name)(ctx, inst.address, caller, *args)
        except Revert as r:
            if ctx.out_of_cost:
                raise LaneError(f"call reverted: cost limit exceeded ({function.qualname} needs more than the "
                                f"world's limit of {ctx.cost_limit:,} per transaction; [chain] cost_limit "
                                f"sets it)", code="revert") from None
            raise LaneError(f"call reverted: {r.reason}", code="revert") from None
        finally:
            ctx.rollback(jmark, emark)
        return function, value


# The phases of a block run by an executor of lanes, from the parts it laps (``detail["seconds"]``):
# its estimate of the block and the start of its workers are scheduling, as the schedule is.
_EXECUTOR_PHASES = (("decode", ("decode",)),
                    ("schedule", ("estimate", "imports", "start", "schedule", "plan", "prefetch")),
                    ("execute", ("lanes", "execute")), ("receipts", ("receipts",)), ("roots", ("roots",)))


def _lap(phases: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - since
    return now


def _first_difference(world: World, ours: list[tuple], theirs: list[tuple]) -> str:
    """The first location (in a stable order) whose value after the block differs between two runs."""
    mine = {(id(v), repr(k)): (v, k, new) for v, k, _old, new in ours}
    ref = {(id(v), repr(k)): (v, k, new) for v, k, _old, new in theirs}
    for where in sorted(set(mine) | set(ref), key=lambda w: w[1]):
        a, b = mine.get(where), ref.get(where)
        if a is None or b is None or a[2] != b[2]:
            key = (a or b)[1]
            return f"at key {key!r}: {a[2] if a else 'unchanged'} against {b[2] if b else 'unchanged'}"
    return "somewhere"


def parse_value_address(world: World, raw: str, what: str) -> int:
    from ..semantics import types as T

    return parse_value(T.ADDRESS, raw, world.parse_address, what)
