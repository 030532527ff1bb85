"""The worker's side of ``--executor dask``: a lane's replica in a Dask actor, and its stream.

A :class:`ReplicaActor` is made on a Dask worker by the parent
(:mod:`compiler.runtime.dask_executor`) and holds a
:class:`~compiler.runtime.replica.Replica` of the parent's chain: the world
loaded from its file (the same absolute path on every machine), and the state
read from the state file or shipped by the parent.

The messages of a block then travel on one Dask connection per lane, which
:class:`StreamPlugin` adds to every worker: the parent opens it and writes
batches of the protocol's messages; the worker hands each batch, in the order it
came, to the actor's thread and writes back the replies.  Dask's own actor calls
would do, but each is a request of its own (its own connection from a pool, so
calls sent one after the other may arrive in another order), and a window's
round trip through them costs several milliseconds more on a LocalCluster.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time

from distributed.diagnostics.plugin import WorkerPlugin

from ..diagnostics import LaneError

STREAM_OP = "lane_replica_stream"   # the worker's handler of a lane's connection
DIE = b"die"                        # fault injection (tests): the message that makes a worker exit


class ReplicaError(Exception):
    """A replica that cannot be made on a worker for a reason the user can fix (a world file
    missing there, or another world): its message says which."""


class ReplicaActor:
    """A lane's replica, kept on a Dask worker: :meth:`handle` takes the protocol's messages in
    the order the parent sent them and returns the replies."""

    def __init__(self, world_path: str, fingerprint: str, state_path: str | None, shipped: bytes | None) -> None:
        from .replica import FunctionTable, Replica

        chain = worker_chain(world_path, fingerprint, state_path, shipped)
        self.replica = Replica(chain, FunctionTable(chain.world))

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
                    replies.append(reply)
        finally:
            if enabled:
                gc.enable()
        return replies, time.perf_counter() - start


def worker_chain(world_path: str, fingerprint: str, state_path: str | None, shipped: bytes | None):
    """The parent's chain, made again on a worker: its world from the world file, its state from
    the state file (read-only) or from what the parent shipped."""
    import marshal

    from .chain import Chain
    from .context import Context
    from .roots import StateHash
    from .world import load_world

    where = f"on Dask worker {_worker_address()}"
    if not os.path.isfile(world_path):
        raise ReplicaError(f"world file {world_path} not found {where}: every machine of the cluster needs the "
                           f"world and its contracts at the same path (docs/distributed.md)")
    try:
        if state_path is not None:
            chain = Chain.open(world_path, state_path, read_only=True)
        else:
            world = load_world(world_path)
            storage = world.new_storage()
            for address, variables in marshal.loads(shipped).items():
                for var, items in zip(storage[address], variables):
                    var.update(items)
            ctx = Context(storage, world.code, cost_limit=world.cost_limit)
            chain = Chain(world, ctx, None, (0, 0), StateHash(world, 0))
    except LaneError as err:
        raise ReplicaError(f"{err} ({where})") from None
    if chain.world.fingerprint() != fingerprint:
        raise ReplicaError(f"world file {world_path} {where} is not the world the block runs on (its contracts "
                           f"or deployments differ): every machine needs the same files at the same path")
    return chain


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "?"


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
    released: the connection closes, and the parent sees the lane gone)."""
    from distributed.core import Status

    replica = worker.state.actors.get(actor)
    if replica is None:
        comm.abort()
        return Status.dont_reply
    loop = asyncio.get_running_loop()
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
