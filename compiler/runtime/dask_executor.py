"""The parallel executor's lanes on a Dask distributed cluster (``lane run --executor dask``).

Only the transport differs from the multiprocessing executor: the block is
scheduled, planned, checked and merged in block order by the same
:class:`~compiler.runtime.parallel.ParallelExecutor`, and each lane is a
:class:`~compiler.runtime.replica.Replica` answering the same bytes
(:mod:`compiler.runtime.protocol`), kept on a Dask worker in an actor
(:mod:`compiler.runtime.dask_replica`).

- **The cluster.** ``--scheduler ADDRESS`` connects to a running scheduler;
  without it a ``LocalCluster`` of ``--workers`` processes is started here and
  stopped with the chain.
- **The replicas.** One actor per lane, on the workers in turn, made from the
  chain's state as it is when they are made: a state file is read by the workers
  themselves, a state in memory is shipped to them once.  From then on the
  protocol keeps them in step with the parent.
- **Order.** Each lane's messages go on one connection, in the order they were
  sent, and its worker answers them in that order (Dask's actor calls make no such
  promise: each is a request of its own).
- **Faults.** A lane whose connection breaks (its worker died) is reported gone
  by :meth:`DaskLanes.wait`; the parent then runs the block itself, and the next
  block gets fresh actors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from ..diagnostics import LaneError
from .cpus import usable_cpus
from . import protocol as P

DASK_EXTRA = "pip install 'lane-lang[dask]'"
CONNECT_TIMEOUT_S = 10.0     # to reach a scheduler given by --scheduler, or a worker
LOCAL_WORKERS_S = 30.0       # for a LocalCluster's workers to come back after one died
REPLICA_START_S = 300.0      # for the actors to be made (a cold program cache compiles the contracts)
MAX_LANES = 127              # lanes are int8 in the protocol, -1 meaning none


# A world's fingerprint (what a worker checks its world file against), worked out once per world.
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def require_dask():
    """The ``distributed`` module, or a user error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise LaneError(f"the dask executor runs on Dask, which is not installed; install it with "
                        f"{DASK_EXTRA}", code="usage") from None
    return distributed


def _reason(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


class Cluster:
    """A Dask client: on the scheduler at ``address``, or on a ``LocalCluster`` of ``workers``
    processes started here and stopped by :meth:`close`."""

    def __init__(self, address: str | None, workers: int) -> None:
        distributed = require_dask()
        from .dask_replica import StreamPlugin

        self.address = address
        self.local = None
        self.local_workers = workers
        if address is None:
            self.local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                                                  silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self.local)
        else:
            try:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError, TypeError) as err:
                raise LaneError(f"cannot reach the Dask scheduler at {address}: {_reason(err)} (start one with "
                                f"`dask scheduler` and give the address it prints: docs/distributed.md)",
                                code="dask") from None
        try:
            self.client.register_plugin(StreamPlugin())
        except Exception as err:  # noqa: BLE001 - raised on a worker: most likely Lane is not installed there
            self.close()
            raise LaneError(f"the Dask workers cannot serve Lane's lanes: {_reason(err)} (every machine needs "
                            f"Lane installed, with the same version: docs/distributed.md)", code="dask") from None

    def require_workers(self) -> None:
        """A user error if the cluster has no worker (after a while for one to join)."""
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError):
            raise LaneError(f"the Dask cluster at {self.address} has no workers (start some with `dask worker "
                            f"{self.address}`: docs/distributed.md)", code="dask") from None

    def workers(self) -> list[str]:
        """The addresses of the cluster's workers, sorted."""
        try:
            return sorted(self.client.scheduler_info()["workers"])
        except OSError as err:
            raise LaneError(f"the Dask scheduler at {self.address or 'the LocalCluster'} stopped answering: "
                            f"{_reason(err)}", code="dask") from None

    def settle(self) -> None:
        """A LocalCluster back to its size after a worker died (its nanny starts another), or as
        near as it gets in a while: lanes then share workers."""
        if self.local is not None and len(self.workers()) < self.local_workers:
            try:
                self.client.wait_for_workers(self.local_workers, timeout=LOCAL_WORKERS_S)
            except (TimeoutError, OSError):
                pass

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


class _Lane:
    """One lane: its actor, its connection, and what is on its way."""

    __slots__ = ("address", "comm", "dead", "future", "last", "outbox", "replies", "sent", "writing")

    def __init__(self, address: str, future) -> None:
        self.address, self.future = address, future
        self.comm: Any = None              # its Dask connection, once opened
        self.outbox: list[bytes] = []      # sent by the parent, not yet written to the connection
        self.writing = False               # a writer is emptying ``outbox``
        self.sent: deque = deque()         # when each batch in flight was written
        self.last = 0.0                    # when the last reply came
        self.replies: deque = deque()
        self.dead = False


class DaskLanes:
    """The parallel executor's transport to replicas on a Dask cluster: the interface of
    :class:`compiler.runtime.pool.Processes` (``size``, ``ensure``, ``send``, ``wait``, ``close``).
    Its connections live on the Dask client's event loop; the parent waits on a condition."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.loop = cluster.client.loop
        self.workers: list[_Lane] = []
        self._cond = threading.Condition()
        self.round_trips = 0               # batches answered, and the seconds they took beyond
        self.network_s = 0.0               # the replicas' own work: the price of the network

    @property
    def size(self) -> int:
        return len(self.workers)

    # ------------------------------------------------------------ the actors
    def ensure(self, chain, table, count: int) -> None:
        """``count`` lanes with replicas of the chain's state as it is now (the lanes there are, if
        they are ``count`` and all alive: their replicas have followed the chain)."""
        if len(self.workers) == count and not any(lane.dead for lane in self.workers):
            return
        self.close()
        from .dask_replica import ReplicaActor, state_bytes
        from .parallel import Fault

        distributed = require_dask()
        client = self.cluster.client
        self.cluster.settle()
        addresses = self.cluster.workers()
        if not addresses:
            self.cluster.require_workers()
            addresses = self.cluster.workers()
        source = self._source(chain)
        # A chain in memory: its state travels once, to one worker, and the others fetch it there.
        # (Under a key of its own: by its content's hash, the same state shipped again just after
        # another run released it was found lost by the scheduler, which was forgetting that key.)
        shipped = None if source.state is not None else \
            client.scatter(state_bytes(chain.ctx.storage), direct=True, hash=False)
        placed = [addresses[k % len(addresses)] for k in range(count)]
        futures = [client.submit(ReplicaActor, source, shipped, actor=True, workers=[address],
                                 allow_other_workers=False, pure=False)
                   for address in placed]
        lanes = [_Lane(address, future) for address, future in zip(placed, futures)]
        try:
            self._made(distributed, futures, placed)
            for lane in lanes:
                try:
                    lane.comm = client.sync(self._open, lane)
                except (OSError, TimeoutError) as err:  # its worker died since it made the actor
                    raise Fault(f"Dask worker {lane.address} did not answer: {_reason(err)}") from None
                self.loop.add_callback(self._read, lane)
        except BaseException:
            self.workers = lanes
            self.close()
            raise
        finally:
            if shipped is not None:
                shipped.release()
        self.workers = lanes

    def _source(self, chain):
        """Where the workers find the chain (the world's fingerprint is worked out once)."""
        from .. import __version__
        from .dask_replica import ChainSource

        world = chain.world
        fingerprint = _FINGERPRINTS.get(world)
        if fingerprint is None:
            fingerprint = _FINGERPRINTS[world] = world.fingerprint()
        store = chain.store
        if store is None:
            return ChainSource(os.path.abspath(world.path), fingerprint, version=__version__)
        return ChainSource(os.path.abspath(world.path), fingerprint, os.path.abspath(store.path),
                           store.meta("world"), chain.number, __version__)

    def _made(self, distributed, futures: list, placed: list[str]) -> None:
        """Wait for the actors; a user error if a worker cannot make its replica (a missing world
        file), a Fault if a worker leaves meanwhile."""
        from .dask_replica import ReplicaError
        from .parallel import Fault

        deadline = time.monotonic() + REPLICA_START_S
        while True:
            try:
                distributed.wait(futures, timeout=1.0)
                break
            except TimeoutError:
                gone = set(placed) - set(self.cluster.workers())
                if gone:
                    raise Fault(f"Dask worker {min(gone)} left while its replica was made") from None
                if time.monotonic() > deadline:
                    raise Fault(f"the replicas were not made within {REPLICA_START_S:.0f} s") from None
        for future, address in zip(futures, placed):
            if future.status == "error":
                err = future.exception()
                if isinstance(err, ReplicaError):
                    raise LaneError(str(err), code="dask")
                raise Fault(f"Dask worker {address} could not make its replica: {_reason(err)}")

    async def _open(self, lane: _Lane):
        """The lane's connection to its worker, answered once (an empty batch) before it is used."""
        from distributed.comm import connect

        from .dask_replica import STREAM_OP

        comm = await connect(lane.address, timeout=CONNECT_TIMEOUT_S, **self.cluster.client.connection_args)
        await comm.write({"op": STREAM_OP, "actor": lane.future.key, "reply": False})
        await comm.write([])
        await asyncio.wait_for(comm.read(), CONNECT_TIMEOUT_S)
        return comm

    def close(self) -> None:
        """Release the actors and their connections (a reply still on its way is forgotten)."""
        with self._cond:
            lanes, self.workers = self.workers, []
            for lane in lanes:
                lane.dead = True
                lane.outbox.clear()
        for lane in lanes:
            if lane.comm is not None:
                self.loop.add_callback(lane.comm.abort)
            try:
                lane.future.release()
            except Exception:  # noqa: BLE001 - a client already closed: nothing left to release
                pass

    # ------------------------------------------------------------ messages
    def shared(self, data) -> memoryview:
        """``data`` as it is: every message travels as bytes (the local pool shares it instead,
        :meth:`compiler.runtime.pool.Processes.shared`)."""
        return memoryview(data).cast("B")

    def release(self) -> None:
        """Nothing to do: each reply is bytes of its own (the local pool's are views of its workers'
        arenas, :meth:`compiler.runtime.pool.Processes.release`)."""

    def held(self) -> int:
        return 0  # (no arenas)

    def send(self, k: int, message: bytes | list) -> None:
        lane = self.workers[k]
        with self._cond:
            lane.outbox.append(P.joined(message))
            if lane.writing or lane.dead:
                return
            lane.writing = True
        self.loop.add_callback(self._write, lane)

    async def _write(self, lane: _Lane) -> None:
        """Write what the parent sent to the lane's connection, a batch at a time (on the loop)."""
        while True:
            with self._cond:
                if not lane.outbox or lane.dead:
                    lane.writing = False
                    return
                batch, lane.outbox = lane.outbox, []
                lane.sent.append(time.perf_counter())
            try:
                await lane.comm.write(batch)
            except Exception:  # noqa: BLE001 - the connection broke: its worker is gone
                self._gone(lane)
                return

    async def _read(self, lane: _Lane) -> None:
        """Take the lane's replies as they come (on the loop), for :meth:`wait`."""
        while not lane.dead:
            try:
                replies, busy = await lane.comm.read()
            except Exception:  # noqa: BLE001 - the connection broke: its worker is gone
                self._gone(lane)
                return
            now = time.perf_counter()
            with self._cond:
                if busy is None:  # (a replica at a long message says it is at work: no batch's answer)
                    lane.replies.extend(replies)
                    self._cond.notify_all()
                    continue
                # A batch's round trip starts when it was written, or when the one before it was
                # answered if it came while the worker was busy with that one.
                started = max(lane.sent.popleft(), lane.last) if lane.sent else now
                lane.last = now
                self.round_trips += 1
                self.network_s += max(0.0, now - started - busy)
                lane.replies.extend(replies)
                self._cond.notify_all()

    def _gone(self, lane: _Lane) -> None:
        with self._cond:
            lane.dead = True
            lane.writing = False
            self._cond.notify_all()

    def wait(self, waiting: set[int], timeout: float) -> list[tuple[int, bytes | bool]]:
        """The next reply of each lane in ``waiting`` that has one, as soon as one has (or after
        ``timeout``): [(k, reply)], a reply False for a lane whose worker is gone."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                out: list[tuple[int, bytes | bool]] = []
                for k in waiting:
                    lane = self.workers[k]
                    if lane.replies:
                        out.append((k, lane.replies.popleft()))
                    elif lane.dead:
                        out.append((k, False))
                if out:
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)


# ------------------------------------------------------------------------ the executor

class DaskExecutor:
    """The parallel executor of one chain, its lanes on a Dask cluster: its own (a LocalCluster, or
    a client of ``scheduler``) unless given ``cluster``, which it then leaves running."""

    def __init__(self, chain, workers: int | None, scheduler: str | None = None,
                 cluster: Cluster | None = None) -> None:
        from .parallel import ParallelExecutor

        self.scheduler = scheduler
        self.owns_cluster = cluster is None
        self.cluster = cluster or Cluster(scheduler, workers or usable_cpus())
        if scheduler is not None and self.owns_cluster:
            try:
                self.cluster.require_workers()
            except LaneError:
                self.cluster.close()
                raise
        # Without --workers, a lane per worker of the cluster: the calls of the actors on one worker
        # run one at a time, so two lanes there would take turns.
        lanes = workers or min(max(1, len(self.cluster.workers())), MAX_LANES)
        self.transport = DaskLanes(self.cluster)
        self.parallel = ParallelExecutor(chain, lanes, transport=self.transport)

    @property
    def workers(self) -> int:
        return self.parallel.workers

    def start(self) -> None:
        """Make the actors now, from the chain's state as it is: start-up, outside any block's time.
        (A worker that fails meanwhile is left to the first block, which makes them again.)"""
        from .parallel import Fault

        if self.workers < 2:
            return  # one lane is the parent's alone: blocks run inline
        try:
            self.parallel._ensure_pool()
        except Fault:
            self.transport.close()
        else:  # (their replicas hold the state as it is: kept by a first block that finds it so)
            self.parallel.in_step = self.parallel.chain.hash.accumulator

    def run(self, source, display: str, number: int, timestamp: int, progress=None):
        transport = self.transport
        trips, network = transport.round_trips, transport.network_s
        executed = self.parallel.run(source, display, number, timestamp, progress)
        trips = transport.round_trips - trips
        executed.detail["dask"] = {
            "scheduler": self.cluster.address or "LocalCluster",
            "round_trips": trips,
            "network_ms": round(1e3 * (transport.network_s - network) / trips, 3) if trips else None,
        }
        return executed

    def close(self) -> None:
        """Release the actors (their replicas no longer hold the chain's state); the cluster stays."""
        self.parallel.close()

    def shutdown(self) -> None:
        self.close()
        if self.owns_cluster:
            self.cluster.close()


def executor_for(chain, workers: int | None, scheduler: str | None = None, cluster: Cluster | None = None):
    """The chain's Dask executor's ``run`` (made on first use, and again for other settings); on
    ``cluster`` if given (lane bench and the tests share one), which it then leaves running."""
    executor = getattr(chain, "_dask", None)
    if executor is None or executor.scheduler != scheduler or workers not in (None, executor.workers) or \
            (cluster is not None and executor.cluster is not cluster):
        if executor is not None:
            executor.shutdown()
        executor = chain._dask = DaskExecutor(chain, workers, scheduler, cluster)
    return executor.run


def start(chain, workers: int | None, scheduler: str | None = None) -> int:
    """The chain's Dask executor, ready before its first block (``lane run`` starts it once the
    world is loaded, so that a block's time is the block's): the cluster reached or started, the
    actors made.  Returns its number of lanes."""
    executor_for(chain, workers, scheduler)
    chain._dask.start()
    return chain._dask.workers
