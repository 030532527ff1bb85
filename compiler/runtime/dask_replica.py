"""The worker's side of ``--executor dask``: a lane's replica in a Dask actor, and its connection.

A :class:`ReplicaActor` is made on a Dask worker by the parent
(:mod:`compiler.runtime.dask_executor`) and holds a
:class:`~compiler.runtime.replica.Replica` of the parent's chain: the world
loaded from its file (the same absolute path on every machine) and the state
read from the state file, read-only, or shipped by the parent.

The messages of a block travel on one Dask connection per lane, which
:class:`StreamPlugin` lets every worker answer: the parent opens it and writes
batches of the protocol's messages; the worker hands each batch, in the order it
came, to the actor's thread and writes back the replies.  Dask's own actor calls
would do, but each is a request of its own (on a connection of its own from a
pool, so calls sent one after the other may arrive in another order), and a
window's round trip through them costs twice as much on a LocalCluster.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any, NamedTuple

from distributed.diagnostics.plugin import WorkerPlugin

from ..diagnostics import LaneError
from . import protocol as P

STREAM_OP = "lane_replica_stream"   # the worker's handler of a lane's connection
DIE = b"die"                        # fault injection (tests): the message that makes a worker exit


class ReplicaError(Exception):
    """A replica that cannot be made on a worker for a reason the user can fix (a world file
    missing there, or another world): its message says which."""


class ChainSource(NamedTuple):
    """Where a worker finds the parent's chain: the world file (an absolute path, the same on every
    machine) and its fingerprint; the state file, if the chain has one, with the world it records
    and its last block (without one, the parent ships the state)."""

    world: str
    fingerprint: str
    state: str | None = None
    state_world: str | None = None
    number: int = 0
    version: str = ""           # Lane's, where lane run runs: the messages are the same only within one


class ReplicaActor:
    """A lane's replica, kept on a Dask worker: :meth:`handle` takes the protocol's messages in
    the order the parent sent them and returns the replies."""

    def __init__(self, source: ChainSource, shipped: bytes | None) -> None:
        from distributed import get_worker

        worker = get_worker()
        # Made on the thread that runs the actor's calls (:func:`_serve`): a state file's connection
        # may only be used by the thread that opened it.
        self.replica = worker.executors["actor"].submit(_replica, source, shipped, worker.address).result()

    def handle(self, batch: list[bytes]) -> tuple[list[bytes], float]:
        """The replies to ``batch`` (a message without one, such as ``Lanes``, gives none) and the
        seconds spent on it here, which tell the network's share of a round trip."""
        start = time.perf_counter()
        replies = []
        # Nothing a replica makes has reference cycles: the collector would only walk the state.
        enabled = gc.isenabled()
        gc.disable()
        try:
            for message in batch:
                if message == DIE:
                    os._exit(1)
                reply = self.replica.handle(message)
                if reply is not None:
                    replies.append(P.joined(reply))
        finally:
            if enabled:
                gc.enable()
        return replies, time.perf_counter() - start


class _Loaded(NamedTuple):
    """A world loaded on this worker, with what is derived from it alone."""

    world: Any
    table: Any        # compiler.runtime.functions.FunctionTable
    compiled: Any     # compiler.schedule.dag.Compiled
    decoder: Any      # compiler.runtime.decode.Decoder


# The last world loaded in this worker process: the actors of one executor, and of the executors
# after it (the block after a fault, the next `lane run`), share it instead of loading it again.
_LOADED: dict[tuple[str, str], _Loaded] = {}


class WorkerChain:
    """What a replica uses of a :class:`~compiler.runtime.chain.Chain` (``world``, ``ctx``, ``store``,
    ``decoder()``, ``compiled_summaries``), made on a worker."""

    def __init__(self, loaded: _Loaded, storage: dict, store) -> None:
        from ..vm.context import Context

        self.world = loaded.world
        self.compiled_summaries = loaded.compiled
        self._decoder = loaded.decoder
        self.ctx = Context(storage, loaded.world.code, cost_limit=loaded.world.cost_limit)
        self.store = store

    def decoder(self, trace: bool = False):
        return self._decoder


def _replica(source: ChainSource, shipped: bytes | None, worker: str):
    from .replica import Replica

    loaded = load(source, worker)
    return Replica(worker_chain(source, shipped, loaded, worker), loaded.table)


def load(source: ChainSource, worker: str) -> _Loaded:
    """The parent's world, loaded from its file on this worker (or kept from the last actor);
    ``worker`` is the worker's address, for the errors."""
    from .. import __version__
    from ..schedule.dag import Compiled
    from .decode import Decoder
    from .functions import FunctionTable
    from .world import load_world

    where = f"on Dask worker {worker}"
    if source.version != __version__:
        raise ReplicaError(f"Lane {__version__} is installed {where}, and lane run runs Lane {source.version}: "
                           f"every machine needs the same version")
    key = (source.world, source.fingerprint)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    if not os.path.isfile(source.world):
        raise ReplicaError(f"world file {source.world} not found {where}: every machine of the cluster needs the "
                           f"world and its contracts at the same path (docs/distributed.md)")
    try:
        world = load_world(source.world)
    except LaneError as err:
        raise ReplicaError(f"{err} ({where})") from None
    if world.fingerprint() != source.fingerprint:
        raise ReplicaError(f"world file {source.world} {where} is not the world the block runs on (its contracts "
                           f"or deployments differ): every machine needs the same files at the same path")
    _LOADED.clear()
    loaded = _LOADED[key] = _Loaded(world, FunctionTable(world), Compiled(world), Decoder(world))
    return loaded


def worker_chain(source: ChainSource, shipped: bytes | None, loaded: _Loaded, worker: str) -> WorkerChain:
    """The parent's chain, made again on a worker: its state read from the state file (read-only,
    as a forked worker reads it) or made from what the parent shipped."""
    import marshal

    from .store import StateStore

    world = loaded.world
    if source.state is None:
        assert shipped is not None, "a chain in memory ships its state"
        storage = world.new_storage()
        for address, variables in marshal.loads(shipped).items():
            for var, items in zip(storage[address], variables):
                var.update(items)
        return WorkerChain(loaded, storage, None)
    where = f"on Dask worker {worker}"
    try:
        store = StateStore(source.state, writable=False)
    except LaneError as err:
        raise ReplicaError(f"{err} ({where}): every machine needs the state file at the same path") from None
    # The parent's file at the parent's block (the parent checked that it belongs to the world).
    if store.meta("world") != source.state_world or store.last_block[0] != source.number:
        store.close()
        raise ReplicaError(f"state file {source.state} {where} is not the parent's (it holds another world or "
                           f"another block): every machine needs the same file, as on a shared file system")
    return WorkerChain(loaded, store.bind(world), store)


def state_bytes(storage: dict[int, list[dict]]) -> bytes:
    """A state wholly in memory, as its values, for :func:`worker_chain`: {address: [{key: value}]}."""
    import marshal

    return marshal.dumps({address: [dict(var) for var in variables] for address, variables in storage.items()})


class StreamPlugin(WorkerPlugin):
    """A Dask worker plugin: the handler of the lanes' connections (:data:`STREAM_OP`)."""

    name = "lane-replica-streams"   # registered once per worker, however many clients register it

    def setup(self, worker) -> None:
        async def stream(comm, actor: str):   # a handler that takes the connection: named "comm"
            return await _serve(worker, comm, actor)

        worker.handlers[STREAM_OP] = stream

    def teardown(self, worker) -> None:
        worker.handlers.pop(STREAM_OP, None)


async def _serve(worker, comm, actor: str):
    """Answer a lane's batches, in order, until the parent closes the connection (or the actor is
    gone: the connection closes, and the parent sees the lane gone)."""
    from distributed.core import Status

    replica = worker.state.actors.get(actor)
    if replica is None:
        comm.abort()
        return Status.dont_reply
    loop = asyncio.get_running_loop()

    def say(message: bytes) -> None:
        """``Progress``, from the actor's thread while it handles a batch: written by the loop, as a
        batch of its own whose time is None (not an answer: the parent's round trips leave it out)."""
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(_write(comm, ([message], None))))

    replica.replica.say = say
    while True:
        try:
            batch = await comm.read()
        except OSError:  # the parent closed it, or is gone
            break
        # On the actor's thread, as Dask runs an actor's methods: the worker's event loop stays free.
        reply = await loop.run_in_executor(worker.executors["actor"], replica.handle, batch)
        try:
            await comm.write(reply)
        except OSError:
            break
    return Status.dont_reply


async def _write(comm, message) -> None:
    try:
        await comm.write(message)
    except OSError:  # the parent closed the connection, or is gone: the batch's reply finds it so too
        pass
