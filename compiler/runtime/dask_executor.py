"""The parallel executor's lanes on a Dask distributed cluster (``lane run --executor dask``).

Only the transport differs from the multiprocessing executor: the block is
scheduled, planned, checked and merged in block order by the same
:class:`~compiler.runtime.parallel.ParallelExecutor`, and each lane is a
:class:`~compiler.runtime.replica.Replica` answering the same bytes
(:mod:`compiler.runtime.protocol`).  Here a replica lives in a Dask *actor*: an
object kept on one worker, whose methods the parent calls over the network.

- **The cluster.** ``--scheduler ADDRESS`` connects to a running scheduler;
  without it a ``LocalCluster`` of ``--workers`` processes is started here and
  closed with the chain.
- **Each replica's chain.** An actor loads the world from its file (the same
  absolute path on every machine; the program cache makes that fast) and checks
  that it is the parent's world.  A chain on a state file is read from the file
  by the worker itself, read-only, as a forked worker does; the state of a chain
  in memory is shipped once, when the actors are made.  From then on the
  protocol keeps the replicas in step with the parent.
- **Order.** Dask runs an actor's calls one at a time, but promises nothing about
  the order in which calls sent one after the other arrive (each may travel on
  its own connection).  So each lane has at most one call in flight: what the
  parent sends meanwhile waits here, and goes as one batch when the call returns.
- **Faults.** A call that fails (its worker died, or the scheduler lost it) makes
  :meth:`DaskLanes.wait` report the lane as gone (``False``): the parent then
  runs the block itself, and the next block gets fresh actors.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from ..diagnostics import LaneError

DASK_EXTRA = "pip install 'lane-lang[dask]'"
CONNECT_TIMEOUT_S = 10.0     # to reach a scheduler given by --scheduler
LOCAL_WORKERS_S = 30.0       # for a LocalCluster's workers to come back after one died
REPLICA_START_S = 300.0      # for the actors to be made (a cold program cache compiles the contracts)
MAX_LANES = 127              # lanes are int8 in the protocol, -1 meaning none
DIE = b"die"                 # fault injection (tests): the message that makes a worker exit


def require_dask():
    """The ``distributed`` module, or a user error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise LaneError(f"the dask executor runs on Dask, which is not installed; install it with "
                        f"{DASK_EXTRA}", code="usage") from None
    return distributed


# ------------------------------------------------------------------------ the worker's side

class ReplicaError(Exception):
    """A replica that cannot be made on a worker for a reason the user can fix (a world file
    missing there, or another world): its message says which."""


class ReplicaActor:
    """A lane's replica, kept on a Dask worker: :meth:`handle` takes the protocol's messages in
    the order the parent sent them and returns the replies."""

    def __init__(self, world_path: str, fingerprint: str, state_path: str | None, shipped: bytes | None) -> None:
        from .replica import FunctionTable, Replica

        chain = _worker_chain(world_path, fingerprint, state_path, shipped)
        self.replica = Replica(chain, FunctionTable(chain.world))

    def handle(self, batch: list[bytes]) -> tuple[list[bytes], float]:
        """The replies to ``batch`` (messages without one, such as ``Lanes``, give none) and the
        seconds spent on it here, which tell the network's share of a call's time."""
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


def _worker_chain(world_path: str, fingerprint: str, state_path: str | None, shipped: bytes | None):
    """The parent's chain, made again on a worker: its world from the world file, its state from
    the state file or from what the parent shipped."""
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
        raise ReplicaError(f"world file {world_path} {where} is not the world the block runs on: its contracts "
                           f"or deployments differ; every machine needs the same files at the same path")
    return chain


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "?"


# ------------------------------------------------------------------------ the parent's side

class Cluster:
    """A Dask client: on the scheduler at ``address``, or on a ``LocalCluster`` of ``workers``
    processes started here and stopped by :meth:`close`."""

    def __init__(self, address: str | None, workers: int) -> None:
        distributed = require_dask()
        self.address = address
        self.local = None
        if address is None:
            self.local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None, silence_logs=logging.ERROR)
            self.client = distributed.Client(self.local, direct_to_workers=True)
            self.local_workers = workers
            return
        try:
            # The parent talks to the workers directly: a window's round trip goes through no scheduler.
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, direct_to_workers=True)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise LaneError(f"cannot reach the Dask scheduler at {address}: {_reason(err)} (start one with "
                            f"`dask scheduler`, and give the address it prints: docs/distributed.md)",
                            code="dask") from None

    def workers(self) -> list[str]:
        """The addresses of the cluster's workers, sorted."""
        return sorted(self.client.scheduler_info()["workers"])

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


def _reason(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


class _Lane:
    """One lane's actor and what is on its way to it or back."""

    __slots__ = ("address", "future", "actor", "outbox", "busy", "replies", "dead")

    def __init__(self, address: str, future, actor) -> None:
        self.address, self.future, self.actor = address, future, actor
        self.outbox: list[bytes] = []      # sent by the parent while a call was in flight
        self.busy = False                  # a call is in flight
        self.replies: deque = deque()
        self.dead = False


class DaskLanes:
    """The parallel executor's transport to replicas in Dask actors (the interface of
    :class:`compiler.runtime.pool.Processes`: ``size``, ``ensure``, ``send``, ``wait``, ``close``)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.workers: list[_Lane] = []
        self._cond = threading.Condition()
        self.calls = 0                     # calls made, and the seconds they took beyond the actors'
        self.network_s = 0.0               # own work: the price of each round trip

    @property
    def size(self) -> int:
        return len(self.workers)

    # ------------------------------------------------------------ the actors
    def ensure(self, chain, table, count: int) -> None:
        """``count`` lanes with replicas of the chain's state as it is now (the live ones are kept)."""
        if len(self.workers) == count and not any(lane.dead for lane in self.workers):
            return
        self.close()
        from .parallel import Fault

        distributed = require_dask()
        client = self.cluster.client
        self.cluster.settle()
        addresses = self.cluster.workers()
        if not addresses:
            raise LaneError(f"the Dask cluster at {self.cluster.address} has no workers (start some with "
                            f"`dask worker {self.cluster.address}`)", code="dask")
        world = chain.world
        state = os.path.abspath(chain.store.path) if chain.store is not None else None
        # A chain in memory: its state travels once, to one worker, and the others fetch it from there.
        shipped = None if state is not None else client.scatter(_state_bytes(chain.ctx.storage), direct=True)
        placed = [addresses[k % len(addresses)] for k in range(count)]
        futures = [client.submit(ReplicaActor, os.path.abspath(world.path), world.fingerprint(), state, shipped,
                                 actor=True, workers=[address], allow_other_workers=False, pure=False)
                   for address in placed]
        try:
            deadline = time.monotonic() + REPLICA_START_S
            while True:
                try:
                    distributed.wait(futures, timeout=1.0)
                    break
                except TimeoutError:
                    gone = set(placed) - set(self.cluster.workers())
                    if gone:
                        raise Fault(f"Dask worker {sorted(gone)[0]} left while its replica was made") from None
                    if time.monotonic() > deadline:
                        raise Fault(f"the replicas were not made within {REPLICA_START_S:.0f} s") from None
            for future, address in zip(futures, placed):
                if future.status == "error":
                    err = future.exception()
                    if type(err).__name__ == ReplicaError.__name__:
                        raise LaneError(str(err), code="dask")
                    raise Fault(f"Dask worker {address} could not make its replica: {_reason(err)}")
            self.workers = [_Lane(address, future, future.result()) for future, address in zip(futures, placed)]
        except BaseException:
            for future in futures:
                future.release()
            raise
        finally:
            if shipped is not None:
                shipped.release()

    def close(self) -> None:
        """Release the actors (a call still in flight finds its lane gone and is forgotten)."""
        with self._cond:
            lanes, self.workers = self.workers, []
            for lane in lanes:
                lane.dead = True
                lane.outbox.clear()
        for lane in lanes:
            try:
                lane.future.release()
            except Exception:  # noqa: BLE001 - a client already closed: nothing left to release
                pass

    # ------------------------------------------------------------ messages
    def send(self, k: int, message: bytes) -> None:
        lane = self.workers[k]
        with self._cond:
            lane.outbox.append(message)
            if lane.busy or lane.dead:
                return
            lane.busy = True
        self.cluster.client.loop.add_callback(self._pump, lane)

    async def _pump(self, lane: _Lane) -> None:
        """Send the lane's messages, a batch at a time, each after the last one's replies (on the
        client's event loop)."""
        while True:
            with self._cond:
                if not lane.outbox or lane.dead:
                    lane.busy = False
                    return
                batch, lane.outbox = lane.outbox, []
            start = time.perf_counter()
            try:
                replies, busy = await lane.actor.handle(batch)
            except Exception:  # noqa: BLE001 - its worker died or was lost: the lane is gone
                with self._cond:
                    lane.dead = True
                    lane.busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self.calls += 1
                self.network_s += max(0.0, time.perf_counter() - start - busy)
                lane.replies.extend(replies)
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


def _state_bytes(storage: dict[int, list[dict]]) -> bytes:
    """A state wholly in memory, as its values: {address: [{key: value}, ...]}."""
    import marshal

    return marshal.dumps({address: [dict(var) for var in variables] for address, variables in storage.items()})


# ------------------------------------------------------------------------ the executor

class DaskExecutor:
    """The parallel executor of one chain, its lanes on a Dask cluster: its own (a LocalCluster, or
    a client of ``scheduler``) unless given ``cluster``, which it then leaves running."""

    def __init__(self, chain, workers: int | None, scheduler: str | None = None, cluster: Cluster | None = None) -> None:
        from .parallel import ParallelExecutor

        self.scheduler = scheduler
        self.owns_cluster = cluster is None
        self.cluster = cluster or Cluster(scheduler, workers or os.cpu_count() or 1)
        # Without --workers, a lane per worker of the cluster: an actor's calls run one at a time on
        # its worker, so two lanes on one worker would take turns.
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

    def run(self, source, display: str, number: int, timestamp: int, progress=None):
        calls, network = self.transport.calls, self.transport.network_s
        executed = self.parallel.run(source, display, number, timestamp, progress)
        made = self.transport.calls - calls
        executed.detail["dask"] = {
            "scheduler": self.cluster.address or "a LocalCluster",
            "calls": made,
            "overhead_ms": round(1e3 * (self.transport.network_s - network) / made, 3) if made else None,
        }
        return executed

    def close(self) -> None:
        """Release the actors (their replicas no longer hold the chain's state); the cluster stays."""
        self.parallel.close()

    def shutdown(self) -> None:
        self.close()
        if self.owns_cluster:
            self.cluster.close()


def executor_for(chain, workers: int | None, scheduler: str | None = None):
    """The chain's Dask executor's ``run`` (made on first use, and again for other settings)."""
    executor = getattr(chain, "_dask", None)
    if executor is None or executor.scheduler != scheduler or workers not in (None, executor.workers):
        if executor is not None:
            executor.shutdown()
        executor = chain._dask = DaskExecutor(chain, workers, scheduler)
    return executor.run


def start(chain, workers: int | None, scheduler: str | None = None) -> int:
    """The chain's Dask executor, ready before its first block (``lane run`` starts it with the
    world loaded, so that a block's time is the block's): the cluster reached or started, the
    actors made.  Returns its number of lanes."""
    executor_for(chain, workers, scheduler)
    chain._dask.start()
    return chain._dask.workers
