"""A world's state and the blocks run on it: what ``lane run`` and ``lane call`` drive."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ..diagnostics import LaneError
from . import executors, soundness
from .block import gc_paused, prepare
from .context import Context
from .errors import Revert
from .receipts import Receipt
from .roots import receipts_root, state_root
from .store import StateStore
from .values import U256_MAX, ValueError_, parse_value
from .world import World, genesis, load_world

# Block numbers are SQLite INTEGERs in a state file; block.timestamp is a u256.
MAX_BLOCK_NUMBER = 2**63 - 1


@dataclass
class BlockResult:
    number: int
    timestamp: int
    executor: str
    workers: int
    receipts: list[Receipt]
    receipts_json: list[dict]
    state_root: str
    receipts_root: str
    seconds: float
    detail: dict | None = None  # what the parallel executor did: lanes, inline or not, fallbacks

    @property
    def tps(self) -> float:
        return len(self.receipts) / self.seconds if self.seconds > 0 else 0.0

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "reverted": 0, "invalid": 0}
        for r in self.receipts:
            out[r.status] += 1
        return out

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "timestamp": self.timestamp,
            "state_root": self.state_root,
            "receipts_root": self.receipts_root,
            "receipts": self.receipts_json,
            "executor": self.executor,
            "workers": self.workers,
            "seconds": self.seconds,
            "tps": self.tps,
            "detail": self.detail,
        }


class Chain:
    """A loaded world with its current state, in memory or backed by a SQLite file."""

    def __init__(self, world: World, ctx: Context, store: StateStore | None, last: tuple[int, int]) -> None:
        self.world = world
        self.ctx = ctx
        self.store = store
        self.number, self.timestamp = last
        self._compiled = None
        self._parallel = None  # the persistent parallel executor, made on first use

    @classmethod
    def open(cls, world_path: str | os.PathLike, state: str | os.PathLike | None = None) -> "Chain":
        """Load a world and its state (genesis, for a new or absent state file)."""
        world = load_world(world_path)
        if state is None:
            return cls(world, genesis(world), None, (0, 0))
        store = StateStore(state)
        if not store.initialised:
            ctx = genesis(world)
            store.write_genesis(world, ctx.storage, state_root(world, ctx.storage))
            return cls(world, ctx, store, (0, 0))
        store.check_world(world)
        with store.reading():  # the storage and the last block of one committed state
            ctx = Context(store.load(world), world.code)
            last = store.last_block
        return cls(world, ctx, store, last)

    def close(self) -> None:
        parallel = getattr(self, "_parallel", None)
        if parallel is not None:
            parallel.close()
            self._parallel = None
        if self.store is not None:
            self.store.close()

    def state_root(self) -> str:
        return state_root(self.world, self.ctx.storage)

    def run_block(self, raw_txs: list[tuple[int, Any]], number: int | None = None,
                  timestamp: int | None = None, executor: str = "sequential", workers: int = 1,
                  progress=None, check_accesses: bool = False, verify: bool = False) -> BlockResult:
        """Execute a block.  With ``check_accesses`` every access is checked against its summary
        (§2.5); with ``verify`` the block also runs sequentially on a copy of the state and any
        difference is an error naming the first differing receipt or location (nothing is kept)."""
        number, timestamp = self.next_block(number, timestamp)
        ctx = self.ctx
        ctx.number, ctx.timestamp = number, timestamp
        ctx.journal.clear()
        ctx.events.clear()
        # For --verify: the state before the block, for the sequential run to start from.
        before = {a: [dict(d) for d in v] for a, v in ctx.storage.items()} if verify else None
        run = soundness.execute if check_accesses else executors.get(executor, self, workers)
        start = time.perf_counter()
        txs = prepare(self.world, raw_txs, trace=check_accesses)
        with gc_paused():  # a block makes many small acyclic objects: journal, events, outcomes
            outcomes = run(ctx, txs, progress=progress)
        seconds = time.perf_counter() - start
        receipts = [Receipt(tx, *outcome) for tx, outcome in zip(txs, outcomes)]
        receipts_json = [r.to_json(self.world) for r in receipts]
        result = BlockResult(number, timestamp, executor, workers, receipts, receipts_json,
                             self.state_root(), receipts_root(receipts_json), seconds)
        if executor == "parallel" and not check_accesses and self._parallel is not None:
            result.detail = dict(self._parallel.last)
        if before is not None:
            self._verify(result, before, txs, number, timestamp)
        if self.store is not None:
            self.store.commit_block(self.world, ctx.storage, ctx.journal, number, timestamp,
                                    result.state_root, result.receipts_root, receipts_json, parent=self.number)
        ctx.journal.clear()
        ctx.events.clear()
        self.number, self.timestamp = number, timestamp
        return result

    def _verify(self, result: BlockResult, before: dict, txs, number: int, timestamp: int) -> None:
        """Run the block sequentially on ``before`` and compare with ``result``; on a mismatch the
        block is undone (its journal holds every write it kept) and reported."""
        from . import sequential
        from .roots import locations

        ref = Context(before, self.world.code, number, timestamp)
        ref_json = [Receipt(tx, *o).to_json(self.world) for tx, o in zip(txs, sequential.execute(ref, txs))]
        problem = None
        for mine, theirs in zip(result.receipts_json, ref_json):
            if mine != theirs:
                problem = (f"receipt #{mine['index']} differs: {result.executor} gave {json.dumps(mine)}, "
                           f"sequential gave {json.dumps(theirs)}")
                break
        if problem is None and result.state_root != state_root(self.world, ref.storage):
            ours = set(locations(self.world, self.ctx.storage))
            ref_locs = set(locations(self.world, ref.storage))
            diff = sorted(ours ^ ref_locs, key=repr)[0]
            inst = self.world.by_address[diff[0]]
            problem = f"the state differs first at {inst.name}.{diff[1]}{list(diff[2])}"
        if problem is not None:
            self.ctx.rollback(0, 0)
            raise LaneError(f"verify failed: {problem}", code="verify")

    @property
    def compiled_summaries(self):
        """The world's pub functions' summaries, compiled for instantiation (built once)."""
        if self._compiled is None:
            from ..schedule.dag import Compiled

            self._compiled = Compiled(self.world)
        return self._compiled

    def next_block(self, number: int | None, timestamp: int | None) -> tuple[int, int]:
        """The number and timestamp of the next block: given, or the next number and 12 x it."""
        if number is None:
            number = self.number + 1
        elif self.store is not None and number <= self.number:
            raise LaneError(f"block number {number} is not after the last block ({self.number}) "
                            f"of {self.store.path}", code="block")
        if not 1 <= number <= MAX_BLOCK_NUMBER:
            raise LaneError(f"block number {number} is out of range (1 .. 2^63-1)", code="block")
        if timestamp is None:
            timestamp = 12 * number
        elif not 0 <= timestamp <= U256_MAX:
            raise LaneError(f"block timestamp {timestamp} is out of range (0 .. 2^256-1)", code="block")
        return number, timestamp

    def schedule(self, raw_txs: list[tuple[int, Any]], number: int | None = None,
                 timestamp: int | None = None, keep_accesses: bool = False):
        """The block's dependency DAG on the current state (nothing is executed)."""
        from ..schedule.dag import build

        number, timestamp = self.next_block(number, timestamp)
        compiled = self.compiled_summaries  # once per world, not part of a block's time
        start = time.perf_counter()
        txs = prepare(self.world, raw_txs)
        schedule = build(compiled, txs, self.ctx.storage, number, timestamp, keep_accesses)
        schedule.seconds = time.perf_counter() - start
        return schedule

    def call(self, contract: str, fn_name: str, raw_args: list[Any], sender: str | None = None,
             number: int | None = None, timestamp: int | None = None):
        """Run a pub function on the current state without keeping anything; returns (function, value)."""
        world = self.world
        inst = world.instances.get(contract)
        if inst is None:
            try:
                inst = world.by_address.get(parse_value_address(world, contract, "the contract"))
            except ValueError_:
                inst = None
        if inst is None:
            known = ", ".join(world.instances) or "none"
            raise LaneError(f"unknown contract '{contract}' (deployed: {known})", code="call")
        function = inst.contract.functions.get(fn_name)
        if function is None or not function.is_pub:
            names = ", ".join(f.name for f in inst.contract.pub_functions)
            what = "no pub function" if function is not None else "no function"
            raise LaneError(f"{inst.contract.name} ({contract}) has {what} '{fn_name}' (pub functions: {names})",
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
        try:
            value = inst.program.function(inst.contract.name, fn_name)(ctx, inst.address, caller, *args)
        except Revert as r:
            raise LaneError(f"call reverted: {r.reason}", code="revert") from None
        finally:
            ctx.rollback(jmark, emark)
        return function, value


def parse_value_address(world: World, raw: str, what: str) -> int:
    from ..semantics import types as T

    return parse_value(T.ADDRESS, raw, world.parse_address, what)
