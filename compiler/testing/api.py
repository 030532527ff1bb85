"""Testing contracts from Python: a chain in memory, contracts deployed into it, calls as methods.

    from compiler import Chain, Reverted

    chain = Chain()
    alice, bob = chain.account("alice"), chain.account("bob")
    token = chain.deploy("examples/token.lane", 1_000_000, sender=alice)
    token.transfer(bob, 10, sender=alice)          # a transaction: returns the function's value
    token.balance_of(bob)                          # a view: no transaction
    with chain.reverts("insufficient balance"):
        token.transfer(alice, 10**9, sender=bob)

What a call does is what the same transaction does in a block (SPEC §1.6): it
runs the compiled function on the chain's :class:`~compiler.vm.context.Context`
under the world's cost limit, in a block of its own (``block.number`` one more
than the last, ``block.timestamp`` 12 times it unless :meth:`Chain.warp` set a
later one), and a revert undoes its writes.  Names stand for the addresses a
world file gives them (SPEC §3).

The state is the context's variables; its journal of writes is kept from one
transaction to the next, so :meth:`Chain.snapshot` is a mark in it and
:meth:`Chain.restore` undoes the writes after the mark (and the deployments).
The state root is computed when asked, from the writes since it was last
asked (:class:`compiler.runtime.roots.StateHash`).  Blocks of several calls go
through the runtime's own :class:`compiler.runtime.chain.Chain` and its
executors (:mod:`.blocks`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

from ..analysis.cost import DEFAULT_COST_LIMIT
from ..diagnostics import LaneError
from ..pipeline import CompilerData
from ..runtime import executors
from ..runtime.chain import MAX_BLOCK_NUMBER
from ..runtime.chain import Chain as RuntimeChain
from ..runtime.cpus import usable_cpus
from ..vm.context import Context
from ..runtime.decode import Block
from ..vm.errors import Revert
from ..runtime.receipts import OK, REVERTED
from ..runtime.changes import from_journal, known
from ..runtime.roots import StateHash, root_of
from ..vm.values import U256_MAX, format_address, format_value
from ..vm.variables import Var
from ..runtime.world import Instance, World
from ..semantics import types as T
from .blocks import BlockCollector, BlockRun, transactions
from .contract import Call, Contract, Function
from .errors import CallError, CompileError, Reverted
from .events import Event, Receipt
from .reverts import ExpectRevert
from .values import Address, arguments_reader, return_reader, sender_reader

_NO_EVENTS = ()


class Snapshot:
    """A point of a chain's history that :meth:`Chain.restore` returns to."""

    __slots__ = ("journal", "instances", "number", "timestamp", "accumulator", "counters", "alive")

    def __init__(self, chain: "Chain") -> None:
        self.accumulator = chain._accumulator()   # so a restore need not hash anything again
        self.journal = len(chain.ctx.journal)
        self.instances = len(chain.world.instances)
        self.number, self.timestamp = chain.number, chain.timestamp
        self.counters = dict(chain._counters)
        self.alive = True

    def __repr__(self) -> str:
        return f"<snapshot at block {self.number}, {self.journal} writes{'' if self.alive else ', dropped'}>"


# The executors a test chain runs blocks with: those of lane run that work on its state in memory.
_EXECUTORS = ("sequential", "parallel")


class Chain:
    """A chain for tests: a world built in code (:meth:`deploy`), its state in memory, and its
    contracts' functions callable from Python.

    ``cost_limit`` is the per-transaction cost limit (a world's ``[chain] cost_limit``);
    ``default_sender`` the account that sends a call given no ``sender=``.  A chain that runs
    blocks on the parallel executor holds worker processes: close it (``with Chain() as chain``,
    or :meth:`close`) when done."""

    def __init__(self, state: str | os.PathLike | None = None, *, cost_limit: int = DEFAULT_COST_LIMIT,
                 default_sender: str = "deployer") -> None:
        if not (isinstance(cost_limit, int) and not isinstance(cost_limit, bool) and cost_limit > 0):
            raise LaneError(f"cost_limit must be a positive integer, found {cost_limit!r}", code="chain")
        world = ctx = None
        accumulator, self._file = 0, None
        self._closed_file: str | None = None  # the state file, once close() wrote it: nothing more is kept
        if state is not None:
            from .statefile import ChainFile

            self._file, world, ctx, (self.number, self.timestamp), accumulator = ChainFile.open(state, cost_limit)
        if world is None:
            world, ctx = World("<chain>", "", cost_limit=cost_limit), Context({}, {}, 0, 0, cost_limit)
            self.number = 0       # the last block's number and timestamp (0: nothing ran yet)
            self.timestamp = 0
        self.world, self.ctx = world, ctx
        self._hash = StateHash(world, accumulator)
        self._hashed = 0      # the journal's length when the accumulator was last brought up to date
        self._handles: dict[int, Contract] = {}
        self._programs: dict[tuple[str, str], CompilerData] = {}
        self._sources: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._snapshots: list[Snapshot] = []
        self._collecting: BlockCollector | None = None
        # (function, sender, args, outcome, value) of the last transaction, and of the last call
        # (a view's outcome is None)
        self._last: tuple | None = None
        self._last_call: tuple | None = None
        self._calls = 0                      # calls made (transactions, views, blocks): for chain.reverts
        self._blocks_run = -1                # the value of _calls when the last block ran
        self._event_readers: dict[tuple[str, str], list] = {}
        self._runtime: RuntimeChain | None = None
        self._read_sender = sender_reader(world.parse_address)
        for inst in world.instances.values():  # those of a state file opened again
            self._handles[inst.address] = Contract(self, inst)
            self._sources.update(inst.data.sources)
        self.default_sender = self.account(default_sender)

    # ------------------------------------------------------------ accounts and contracts
    def account(self, name: str) -> Address:
        """The address of the account ``name``: the one a world file derives from the name."""
        if not isinstance(name, str):
            raise CallError(f"an account's name is a string, found {type(name).__name__}")
        return Address(self.world.add_account(name), name)

    def deploy(self, source: str | os.PathLike, *args: Any, sender: Any = None, contract: str | None = None,
               name: str | None = None) -> Contract:
        """Deploy a contract of the file ``source`` and run its ``init`` with ``args`` (a
        transaction of its own: a revert raises :class:`Reverted` and deploys nothing).

        ``contract`` names the contract when the file declares several; ``name`` the instance
        (its address is derived from it as a world file's are); by default the contract's name
        in snake case and a counter (``token_1``)."""
        __tracebackhide__ = True
        self._check_open()
        if self._collecting is not None:
            raise CallError("a deployment is not a transaction of a block: deploy before 'with chain.block()'")
        if self._file is not None:
            self._file.check_deploy()
        data, display = self._program(source)
        info = self._contract_of(data, display, contract)
        init = info.init
        values = arguments_reader(f"{info.name}.init", init.params if init else [], self.world.parse_address)(args)
        caller = self._sender(sender)
        counters = dict(self._counters)
        if name is None:
            name = self._default_name(info.name)
        elif not isinstance(name, str):
            raise CallError(f"an instance's name is a string, found {type(name).__name__}")
        try:
            inst = self.world.add_instance(name, data, info)
        except LaneError:
            self._counters = counters
            raise
        # What the deployment ran with, as a world file writes it (a state file's world, its identity).
        self.world.deployments.append({
            "name": name, "sender": format_address(caller), "line": None, "folder": os.getcwd(),
            "args": [format_value(p.type, v) for p, v in zip(init.params if init else [], values)]})
        ctx = self.ctx
        layout = inst.program.layouts[info.name]
        ctx.storage[inst.address] = [Var(T.zero_value(layout.value_type[v])) for v in layout.index]
        ctx.code[inst.address] = info.name
        self._sources.update(data.sources)
        self._forget_runtime()
        if init is not None:
            try:
                self._transact(_Init(inst, init), values, caller)
            except Reverted:
                self._undeploy(inst)
                self._counters = counters  # the name it would have had is free again
                raise
        else:
            self._mine_one()
        handle = self._handles[inst.address] = Contract(self, inst)
        return handle

    def contract(self, name: str | int) -> Contract:
        """The handle of a deployed instance, by its name or address (an ``Address``, a handle, an
        integer or 0x hex)."""
        asked = name
        if isinstance(name, Contract):
            name = int(name.address)
        elif isinstance(name, str) and name[:2].lower() == "0x" and re.fullmatch(r"0[xX][0-9a-fA-F]{1,40}", name):
            name = int(name, 16)
        if isinstance(name, int):
            handle = self._handles.get(int(name))
        else:
            inst = self.world.instances.get(name)
            handle = self._handles.get(inst.address) if inst is not None else None
        if handle is None:
            known = ", ".join(self.world.instances) or "none"
            raise CallError(f"no deployed contract {asked!r} (deployed: {known})")
        return handle

    @property
    def contracts(self) -> dict[str, Contract]:
        """The deployed instances' handles, by name, in deployment order."""
        return {name: self._handles[inst.address] for name, inst in self.world.instances.items()}

    def _program(self, source: str | os.PathLike) -> tuple[CompilerData, str]:
        """The checked and compiled program of a file (once per file), and the file as it is shown:
        as named, or relative to the working folder when it lies inside it."""
        if not isinstance(source, (str, os.PathLike)):
            raise CallError(f"deploy takes the path of a .lane file, found {type(source).__name__}")
        display = os.path.normpath(os.fspath(source))
        if os.path.isabs(display):
            relative = os.path.relpath(display)
            if not relative.startswith(os.pardir):
                display = relative
        key = (os.path.abspath(display), display)
        data = self._programs.get(key)
        if data is None:
            if not os.path.isfile(display):
                raise LaneError(f"contract file not found: {display}", code="deploy")
            from ..pipeline import program

            try:
                data = program(display)
            except LaneError as err:
                raise CompileError(err.diagnostics, sources=err.sources) from None
            self._programs[key] = data
        return data, display

    @staticmethod
    def _contract_of(data: CompilerData, display: str, wanted: str | None):
        contracts = data.checked.contracts
        if wanted is not None:
            info = contracts.get(wanted)
            if info is None:
                raise LaneError(f"no contract {wanted!r} in {display} (it has: {', '.join(contracts) or 'none'})",
                                code="deploy")
            return info
        here = os.path.realpath(display)
        own = [c for c in contracts.values() if os.path.realpath(c.file) == here]
        if len(own) != 1:
            names = ", ".join(c.name for c in own) or "none"
            raise LaneError(f"{display} declares {'several contracts' if own else 'no contract'} ({names}): "
                            f"say which to deploy with contract=", code="deploy")
        return own[0]

    def _default_name(self, contract: str) -> str:
        base = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", contract).lower()
        n = self._counters.get(base, 0)
        while True:
            n += 1
            name = f"{base}_{n}"
            if name not in self.world.instances and name not in self.world.accounts:
                self._counters[base] = n
                return name

    def _undeploy(self, inst: Instance) -> None:
        self.world.remove_instance(inst.name)
        self.world.deployments = [d for d in self.world.deployments if d["name"] != inst.name]
        del self.ctx.storage[inst.address]
        del self.ctx.code[inst.address]
        self._handles.pop(inst.address, None)
        self._forget_runtime()

    # ------------------------------------------------------------ one call
    def _sender(self, raw: Any) -> int:
        return self.default_sender if raw is None else self._read_sender(raw)

    def _next_block(self) -> tuple[int, int]:
        number = self.number + 1
        return number, max(12 * number, self.timestamp)

    def _mine_one(self) -> None:
        self.number, self.timestamp = self._next_block()

    def _transact(self, f: Function, values: tuple, sender: int) -> Any:
        """Run one transaction in a block of its own (see the module's docstring)."""
        __tracebackhide__ = True
        self._check_open()
        ctx = self.ctx
        number = self.number + 1
        if number > MAX_BLOCK_NUMBER:
            raise CallError(f"the chain is at the last block number there is, {MAX_BLOCK_NUMBER}: no block follows")
        timestamp = self.timestamp if self.timestamp > 12 * number else 12 * number  # max(), without a call
        ctx.number, ctx.timestamp = self.number, self.timestamp = number, timestamp
        events = ctx.events
        if events:
            events.clear()
        jmark = len(ctx.journal)
        ctx.budget = limit = ctx.cost_limit
        self._calls += 1
        try:
            value = f.fn(ctx, f.to, sender, *values)
        except Revert as r:
            ctx.rollback(jmark, 0)
            self._last = self._last_call = (f, sender, values,
                                            (REVERTED, r.reason, None, _NO_EVENTS, ctx.cost_used(), r.at), None)
            raise Reverted(r.reason, r.at, f.qualname, self._sources, self.last_receipt) from None
        outcome = (OK, None, value, tuple(events) if events else _NO_EVENTS, limit - ctx.budget, None)
        if f.read_return is not None:
            value = f.read_return(value)
        self._last = self._last_call = (f, sender, values, outcome, value)
        return value

    def _view(self, f: Function, values: tuple, sender: int, next_block: bool = False) -> Any:
        """Run a function on the current state and keep nothing (a view, or ``.call``)."""
        __tracebackhide__ = True
        ctx = self.ctx
        ctx.number, ctx.timestamp = self._next_block() if next_block else (self.number, self.timestamp)
        jmark, emark = len(ctx.journal), len(ctx.events)
        ctx.budget = ctx.cost_limit
        self._calls += 1
        try:
            value = f.fn(ctx, f.to, sender, *values)
        except Revert as r:
            self._last_call = (f, sender, values, None, None)
            raise Reverted(r.reason, r.at, f.qualname, self._sources) from None
        finally:
            ctx.rollback(jmark, emark)
        value = f.read_return(value) if f.read_return is not None else value
        self._last_call = (f, sender, values, None, value)
        return value

    def _address_value(self, value: int, contract: str | None) -> Any:
        """An address returned or emitted: the handle of the instance there when the type is a
        contract's and it is one, else an Address with the name it has, if any."""
        if contract is not None:
            handle = self._handles.get(value)
            if handle is not None and handle.contract == contract:
                return handle
        return Address(value, self.world.name_of(value))

    # ------------------------------------------------------------ what the last call did
    @property
    def last_receipt(self) -> Receipt | None:
        """The receipt of the last transaction (None before any; views are not transactions)."""
        last = self._last
        if last is None:
            return None
        f, _sender, _args, outcome, value = last
        return Receipt(outcome, f.qualname, value, self._decode_events)

    @property
    def last_events(self) -> list[Event]:
        """The events of the last transaction, decoded: ``[Transfer(from=..., to=..., amount=10)
        from token_1]``."""
        receipt = self.last_receipt
        return receipt.events if receipt is not None else []

    def _describe_last(self) -> str:
        """The last call and what it returned, for a message: ``Token.transfer(alice, 1) returned True``."""
        f, _sender, args, _outcome, value = self._last_call
        params = getattr(f, "info", None)
        types = [p.type for p in params.params] if params is not None else [None] * len(args)
        shown = []
        for ty, arg in zip(types, args):
            name = self.world.name_of(arg) if ty is T.ADDRESS or isinstance(ty, T.ContractType) else None
            shown.append(name or repr(arg))
        return f"{f.qualname}({', '.join(shown)}) returned {value!r}"

    def _decode_events(self, raw: Iterable[tuple]) -> list[Event]:
        out = []
        for address, name, args in raw:
            inst = self.world.by_address.get(address)
            if inst is None:
                raise CallError(f"an event of this receipt was emitted by a contract at {format_address(address)} "
                                f"that a restore took away: read a receipt's events before restoring")
            key = (inst.contract.name, name)
            readers = self._event_readers.get(key)
            if readers is None:
                readers = self._event_readers[key] = [
                    (pname, return_reader(ty, self._address_value)) for pname, ty in inst.contract.events[name].params]
            out.append(Event(Address(address, inst.name), name,
                             {pname: read(v) if read is not None else v for (pname, read), v in zip(readers, args)}))
        return out

    # ------------------------------------------------------------ expectations
    def reverts(self, reason: str | re.Pattern | None = None, *, at: str | None = None) -> ExpectRevert:
        """``with chain.reverts("only owner"):`` fails the test unless a call in it reverts with
        that reason (any, when none is given; a compiled pattern is searched for) and, given
        ``at``, at that place (``"token.lane:62"`` or ``"examples/token.lane:62:9"``)."""
        return ExpectRevert(self, reason, at)

    # ------------------------------------------------------------ time
    def mine(self, blocks: int = 1) -> None:
        """Let ``blocks`` empty blocks pass (``block.number`` moves on, and the default timestamp)."""
        if type(blocks) is not int or blocks < 0 or self.number + blocks > MAX_BLOCK_NUMBER:
            raise CallError(f"mine takes a number of blocks, 0 or more, found {blocks!r}")
        self.number += blocks
        self.timestamp = max(12 * self.number, self.timestamp)

    def warp(self, timestamp: int) -> None:
        """Move time on: the next transaction runs at ``timestamp`` at least (views see it now)."""
        if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= U256_MAX:
            raise CallError(f"warp takes a timestamp, an integer 0 .. 2^256-1, found {timestamp!r}")
        if timestamp < self.timestamp:
            raise CallError(f"time does not go backwards: the chain is at timestamp {self.timestamp}, "
                            f"warp asked for {timestamp}")
        self.timestamp = timestamp

    # ------------------------------------------------------------ snapshots
    def snapshot(self) -> Snapshot:
        """The chain as it is now, to :meth:`restore` later (a mark in the journal, not a copy)."""
        snap = Snapshot(self)
        self._snapshots.append(snap)
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Undo everything since ``snap`` was taken: writes, deployments, blocks, time.  Snapshots
        taken after it are dropped; ``snap`` itself can be restored again."""
        if not isinstance(snap, Snapshot) or not any(s is snap for s in self._snapshots):
            raise CallError("not a snapshot of this chain, or one dropped by restoring an earlier snapshot")
        if self._file is not None:
            self._file.check_restore(snap)
        k = next(i for i, s in enumerate(self._snapshots) if s is snap)
        for dropped in self._snapshots[k + 1:]:
            dropped.alive = False
        del self._snapshots[k + 1:]
        self.ctx.rollback(snap.journal, 0)
        for name in list(self.world.instances)[snap.instances:][::-1]:
            self._undeploy(self.world.instances[name])
        self.number, self.timestamp = snap.number, snap.timestamp
        self._hash.accumulator, self._hashed = snap.accumulator, snap.journal
        self._counters = dict(snap.counters)
        self._last = self._last_call = None

    # ------------------------------------------------------------ state
    def _accumulator(self) -> int:
        """The state's multiset hash, moved by the writes since it was last computed."""
        journal = self.ctx.journal
        if self._hashed != len(journal):
            storage = self.ctx.storage
            changes = from_journal(journal[self._hashed:])
            self._hash.accumulator = self._hash.moved(storage, changes)
            self._hashed = len(journal)
        return self._hash.accumulator

    @property
    def state_root(self) -> str:
        """The state root (SPEC §4), as ``lane run`` computes it for the same state."""
        return root_of(self._accumulator())

    # ------------------------------------------------------------ blocks
    def block(self, *, executor: str = "sequential", workers: int | None = None, number: int | None = None,
              timestamp: int | None = None, verify: bool = False) -> BlockCollector:
        """``with chain.block() as b:`` collects the calls made inside and runs them as one block
        when it ends (:meth:`run_block`); ``b.receipts`` then says what each did."""
        return BlockCollector(self, dict(executor=executor, workers=workers, number=number,
                                         timestamp=timestamp, verify=verify))

    def run_block(self, calls: Iterable[Any], *, executor: str = "sequential", workers: int | None = None,
                  number: int | None = None, timestamp: int | None = None, verify: bool = False) -> BlockRun:
        """Run ``calls`` (``token.transfer.tx(...)`` or block-file dicts) as one block on an executor
        of ``lane run`` (``sequential``, ``parallel``); with ``verify`` also sequentially, and any
        difference is an error.  A reverted or invalid transaction is a receipt, not an exception."""
        self._check_open()
        if executor not in _EXECUTORS:
            why = (" (Dask's workers read a world and a state from files: lane run --executor dask runs "
                   "blocks on a Dask cluster)") if executor in executors.EXECUTORS else ""
            raise CallError(f"unknown executor {executor!r} (executors: {', '.join(_EXECUTORS)}){why}")
        if workers is None:
            workers = usable_cpus() if executor == "parallel" else 1
        elif type(workers) is not int or workers < 1:
            raise CallError(f"workers must be a whole number of at least 1, found {workers!r}")
        calls = list(calls)
        number, timestamp = self._block_time(number, timestamp)
        block = Block.of_txs(self.world, transactions(self.world, calls))
        runtime = self._runtime_chain()
        ctx = self.ctx
        history = ctx.journal[:]    # the runtime's block starts its journal empty, and clears it after
        kept: list = []
        self._calls += 1
        self._blocks_run = self._calls  # (chain.reverts: a block's reverts are receipts, not errors)

        def keep(result) -> None:  # the block's changes, for restore: each location's value before it
            if result.executed.changes is not None:  # (on lanes: what settling replaces, below)
                kept.extend((var, key, old) for var, key, old, _new in result.executed.changes)
            elif result.executed.undo:  # on lanes, what this process's state took of the block
                kept.extend(known(result.executed.undo))

        try:
            result = runtime.run_block(block, number=number, timestamp=timestamp, executor=executor,
                                       workers=workers, verify=verify, before_commit=keep)
            runtime.settle(kept)  # what lanes wrote, deferred by the runtime: this chain's state now
        finally:
            ctx.journal[:] = history
            ctx.journal.extend(kept)
        self._hash.accumulator, self._hashed = runtime.hash.accumulator, len(ctx.journal)
        self.number, self.timestamp = result.number, result.timestamp
        receipts = []
        for tx, outcome in zip(block.txs(), result.outcomes):
            f = tx.function
            value = outcome[2]
            read = return_reader(f.return_type, self._address_value) if f is not None and outcome[0] == OK else None
            if read is not None:
                value = read(value)
            receipt = Receipt(outcome, f.qualname if f is not None else "", value, self._decode_events)
            receipt.events  # decoded now: a restore may remove the contracts that emitted them
            receipts.append(receipt)
        for item, receipt in zip(calls, receipts):
            if isinstance(item, Call):
                item.receipt = receipt
        if receipts:
            tx = block.txs()[-1]
            self._last = self._last_call = (_Described(tx), tx.sender, tx.args, result.outcomes[-1],
                                            receipts[-1].value)
        return BlockRun(result, receipts)

    def schedule(self, calls: Iterable[Any], *, number: int | None = None, timestamp: int | None = None):
        """The dependency DAG of ``calls`` as one block on the current state (nothing runs): what
        ``lane schedule`` gives, with its ``stats``."""
        number, timestamp = self._block_time(number, timestamp)
        block = Block.of_txs(self.world, transactions(self.world, calls))
        return self._runtime_chain().schedule(block, number=number, timestamp=timestamp)

    def _block_time(self, number: int | None, timestamp: int | None) -> tuple[int, int]:
        for what, value in (("number", number), ("timestamp", timestamp)):
            if value is not None and type(value) is not int:
                raise CallError(f"a block's {what} is a whole number, found {value!r}")
        if number is not None and not self.number < number <= MAX_BLOCK_NUMBER:
            raise CallError(f"block number {number!r} is not after the last block ({self.number})")
        if timestamp is not None and not self.timestamp <= timestamp <= U256_MAX:
            raise CallError(f"block timestamp {timestamp!r} is before the last block's ({self.timestamp})")
        if number is None:
            number = self.number + 1
        return number, max(12 * number, self.timestamp) if timestamp is None else timestamp

    def _runtime_chain(self) -> RuntimeChain:
        """The runtime's chain over this world and state (made again after a deployment: its
        executors and decoders know the world's instances as they were)."""
        runtime = self._runtime
        if runtime is None:
            runtime = self._runtime = RuntimeChain(self.world, self.ctx, None, (self.number, self.timestamp),
                                                   StateHash(self.world, 0))
        runtime.number, runtime.timestamp = self.number, self.timestamp
        runtime.hash.accumulator = self._accumulator()
        # (the file the state reads what it has not loaded from, once the chain was committed to it)
        runtime.backing = self._file.store if self._file is not None else None
        return runtime

    def _forget_runtime(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    # ------------------------------------------------------------ the end
    def _check_open(self) -> None:
        __tracebackhide__ = True
        if self._closed_file is not None:
            raise CallError(f"this chain was closed: its state file {self._closed_file} keeps nothing done "
                            f"after (open it again: Chain(state=...))")

    def commit(self) -> None:
        """Write what changed since the last commit to the state file (``Chain(state=...)``)."""
        self._check_open()
        if self._file is None:
            raise CallError("this chain has no state file: Chain(state=\"chain.sqlite\") makes one")
        self._file.commit(self)

    def close(self) -> None:
        """Commit to the state file, if any, and stop the parallel executor's workers."""
        try:
            if self._file is not None:
                file, self._file = self._file, None
                self._closed_file = file.path
                file.close(self)
        finally:
            self._forget_runtime()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Chain at block {self.number}: {len(self.world.instances)} contracts>"


class _Init:
    """A contract's init, run as :meth:`Chain._transact` runs a function."""

    __slots__ = ("fn", "to", "qualname", "read_return")

    def __init__(self, inst: Instance, init) -> None:
        self.fn = inst.program.function(inst.contract.name, "init")
        self.to = inst.address
        self.qualname = init.qualname
        self.read_return = None


class _Described:
    """The last transaction of a block, as :meth:`Chain._describe_last` names it."""

    __slots__ = ("qualname",)

    def __init__(self, tx) -> None:
        self.qualname = tx.function.qualname if tx.function is not None else "an invalid transaction"
