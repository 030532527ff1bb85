"""A worker process: its side of a lane (see :mod:`compiler.runtime.lanes`), and the pipes to it.

The worker keeps, for the window being run, the slice of state received so
far; each message adds locations and transactions, and its reply carries their
outcomes (and, after the window's last message, what the lane left in each
location it wrote).

A worker dies with the process that forked it (docs/runtime.md): right after
the fork it closes every descriptor it inherited but its own two pipe ends, so
the parent's death closes its task pipe; on Linux the kernel also kills it
then (``PR_SET_PDEATHSIG``); and it checks, whenever it waits a second without
a message, that its parent is still the process that forked it.
"""

from __future__ import annotations

import bisect
import collections
import ctypes
import fcntl
import functools
import gc
import marshal
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Iterable
from typing import Any

from .context import Context
from .errors import Revert
from .lanes import ARITHMETIC, Escape, _Missing
from .receipts import OK, REVERTED
from .variables import Var

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PR_SET_PDEATHSIG = 1        # prctl(2): the signal a process gets when its parent dies
PARENT_CHECK_S = 1.0        # a waiting worker looks at its parent this often
STALLED = frozenset("TtZX")  # /proc states of a worker that will not answer: stopped, traced, dead
_NO_EVENTS = ()


class _Slice(dict):
    """A variable of which a worker holds only the keys its transactions may touch."""

    __slots__ = ()

    def __missing__(self, key):
        raise Escape(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            raise Escape(key) from None


class WorkerWindow:
    """A worker's state for one window: the slice received so far, and its lane's progress."""

    def __init__(self, number: int, timestamp: int, cost_limit: int, code: dict, widths: dict) -> None:
        self.widths = widths
        self.storage: dict[int, list[dict]] = {}
        self.where: dict[int, tuple[int, int]] = {}          # id(store) -> (address, index)
        self.index_of: dict[tuple, int] = {}                 # (id(store), key) -> location number
        self.stores: list[tuple[dict, Any]] = []
        self.writable: list[bool] = []
        self.whole_writable: set[int] = set()
        self.ctx = Context(self.storage, code, number, timestamp, cost_limit)
        self.marks: list[int] = []                           # journal mark of each transaction run
        self.emarks: list[int] = []                          # ... its events mark
        self.ran: list[int] = []                             # ... and its index in the window
        self.escaped: int | None = None
        self.shared: set[int] = set()                        # location numbers that travel as deltas
        self.trail: dict[int, list[int]] = {}                # shared location -> its values after each add
        self.arith: int | None = None                        # first add-making transaction to revert

    def _stores(self, address: int) -> list[dict]:
        stores = self.storage.get(address)
        if stores is None:
            stores = self.storage[address] = [_Missing() for _ in range(self.widths[address])]
        return stores

    def receive(self, exact: list, whole: list, upgrades: list) -> None:
        for a, index, items, zero, can_write in whole:
            stores = self._stores(a)
            old = stores[index]
            if type(old) is Var:  # sent whole before: now writable too
                store_copy = old
            else:
                store_copy = Var(zero, items)
                store_copy.update(old)  # what this lane's slice of it holds (and wrote) is newer
                stores[index] = store_copy
                self.where[id(store_copy)] = (a, index)
                if old:  # its keys sent one by one now live in the whole copy
                    for i, (store, key) in enumerate(self.stores):
                        if store is old:
                            self.stores[i] = (store_copy, key)
                            self.index_of[(id(store_copy), key)] = i
            if can_write:
                self.whole_writable.add(id(store_copy))
        index_of, stores_list, writable = self.index_of, self.stores, self.writable
        for a, index, key, value, can_write in exact:
            stores = self._stores(a)
            store = stores[index]
            if type(store) is _Missing:
                store = stores[index] = _Slice()
                self.where[id(store)] = (a, index)
            if type(store) is _Slice:
                store[key] = value
            index_of[(id(store), key)] = len(stores_list)
            stores_list.append((store, key))
            writable.append(can_write)
        for idx in upgrades:
            writable[idx] = True

    def run(self, items: list, functions: dict) -> list:
        """Run transactions; per transaction (index, outcome, the values its adds to locations
        shared with other lanes left).  Stops at an escape."""
        if self.escaped is not None:
            return []
        ctx = self.ctx
        journal, events, stores = ctx.journal, ctx.events, self.stores
        marks, ran = self.marks, self.ran
        limit = ctx.cost_limit
        results = []
        for index, fn_key, call, adds in items:
            jmark, emark = len(journal), len(events)
            ctx.budget = limit
            try:
                value = functions[fn_key](ctx, *call)
            except Revert as r:
                ctx.rollback(jmark, emark)
                results.append((index, (REVERTED, r.reason, None, _NO_EVENTS, ctx.cost_used(), r.at), ()))
                if adds and r.reason in ARITHMETIC and self.arith is None:
                    self.arith = index  # its lane saw only its own lane's adds
                continue
            except (Escape, KeyError, IndexError):
                ctx.rollback(jmark, emark)
                self.escaped = index
                break
            marks.append(jmark)
            self.emarks.append(emark)
            ran.append(index)
            vals = ()
            if adds:
                vals = tuple(stores[i][0][stores[i][1]] for i in adds)
                trail = self.trail
                for i, v in zip(adds, vals):
                    t = trail.get(i)
                    if t is None:
                        trail[i] = [v]
                    else:
                        t.append(v)
            results.append((index, (OK, None, value, tuple(events[emark:]) if len(events) != emark else _NO_EVENTS,
                                    limit - ctx.budget, None), vals))
        return results

    def cut(self, stop: int) -> None:
        """Undo every transaction from window index ``stop`` on."""
        k = bisect.bisect_left(self.ran, stop)
        if k < len(self.ran):
            self.ctx.rollback(self.marks[k], self.emarks[k])
            del self.ran[k:], self.marks[k:], self.emarks[k:]
        if self.escaped is not None and self.escaped >= stop:
            self.escaped = None

    def final_writes(self) -> list:
        """What the lane left in each location it wrote: ``(location number, value)``, or
        ``((address, index, key), value)`` in a variable sent whole.  Locations in ``shared`` (adds
        shared with other lanes) travel as deltas instead.  A write the lane was not predicted to
        make is an escape of the transaction that made it."""
        journal = self.ctx.journal
        index_of, writable, where = self.index_of, self.writable, self.where
        seen: dict[tuple, int] = {}
        for pos, (store, key, _old) in enumerate(journal):
            loc = (id(store), key)
            if loc not in seen:
                seen[loc] = pos
        out = []
        shared = self.shared
        first_bad = None
        for (sid, key), pos in seen.items():
            idx = index_of.get((sid, key))
            store = journal[pos][0]
            if idx is not None and writable[idx]:
                if idx not in shared:
                    out.append((idx, store[key]))
            elif sid in self.whole_writable:
                out.append((where[sid] + (key,), store[key]))
            elif first_bad is None or pos < first_bad:
                first_bad = pos
        if first_bad is not None:
            culprit = self.ran[bisect.bisect_right(self.marks, first_bad) - 1]
            if self.escaped is None or culprit < self.escaped:
                self.escaped = culprit
        return out


class WorkerState:
    """What a worker process keeps between messages."""

    def __init__(self, functions: dict, code: dict, widths: dict) -> None:
        self.functions, self.code, self.widths = functions, code, widths
        self.window: WorkerWindow | None = None

    def handle(self, message: bytes) -> bytes:
        """One message: (window, first, number, timestamp, cost limit, exact, whole, upgrades, items, shared)
        with ``shared`` None but in the window's last message; or (window, stop) to undo the
        window's transactions from ``stop`` on.  Reply: (window, results, escaped, final writes
        (after the last message or a cut) or None, seconds)."""
        start = time.perf_counter()
        got = marshal.loads(message)
        if len(got) == 2:
            window, stop = got
            w = self.window
            if w is None:
                return marshal.dumps((window, [], None, [], 0.0))
            w.cut(stop)
            return marshal.dumps((window, [], w.escaped, (w.final_writes(), [], None),
                                  time.perf_counter() - start))
        window, first, number, timestamp, cost_limit, exact, whole, upgrades, items, shared = got
        if first or self.window is None:
            self.window = WorkerWindow(number, timestamp, cost_limit, self.code, self.widths)
        w = self.window
        w.receive(exact, whole, upgrades)
        results = w.run(items, self.functions)
        writes = None
        if shared is not None:
            w.shared = set(shared)
            writes = (w.final_writes(), [(i, min(t), max(t), t[-1]) for i, t in w.trail.items()], w.arith)
        return marshal.dumps((window, results, w.escaped, writes, time.perf_counter() - start))


def _worker_main(tasks, replies, functions: dict, code: dict, widths: dict, parent: int) -> None:
    _close_inherited((tasks.fileno(), replies.fileno()))
    if not _die_with_parent(parent):
        return
    # The worker is forked from a parent holding the world: left on, the collector would walk all
    # of it again and again.  Lanes make no reference cycles.
    gc.freeze()
    gc.disable()
    worker = WorkerState(functions, code, widths)
    while True:
        try:
            if not tasks.poll(PARENT_CHECK_S):
                if os.getppid() != parent:
                    return
                continue
            message = tasks.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message == b"stop":
            return
        if message == b"die":  # for the fault tests
            os._exit(1)
        if message == b"hang":
            while os.getppid() == parent:
                time.sleep(PARENT_CHECK_S)
            return
        reply = worker.handle(message)
        try:
            replies.send_bytes(reply)
        except OSError:  # the parent is gone (a broken pipe): nobody is left to answer
            return


def _close_inherited(keep: tuple[int, ...]) -> None:
    """Close every descriptor the fork copied but the standard streams and ``keep``: above all the
    parent's ends of this worker's pipes and of every worker forked before it.  A worker holding the
    write end of its own task pipe would never see it close when the parent dies."""
    wanted = {0, 1, 2, *keep}
    fds: Iterable[int]
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: every descriptor number the system allows
        fds = range(3, os.sysconf("SC_OPEN_MAX"))
    for fd in fds:
        if fd not in wanted:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory listing's own descriptor, already closed


@functools.cache
def _prctl():
    """libc's prctl, on Linux (loaded in the parent, once, so that forked workers find it loaded)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int) -> bool:
    """Have the kernel kill this worker when its parent dies (Linux); False if it already has."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the line above: then this process has been adopted.
    return os.getppid() == parent


class Worker:
    """A worker process and two pipes: tasks to it, replies from it.

    The parent writes tasks without ever blocking: what the pipe cannot take now waits in
    ``pending`` and is written whenever the parent passes by (between its own transactions), so
    the parent never waits for a busy worker and the two can never wait for each other.
    """

    PIPE_BYTES = 1 << 20

    def __init__(self, ctx_mp, functions: dict, code: dict, widths: dict) -> None:
        task_r, self.tasks = ctx_mp.Pipe(duplex=False)
        self.replies, reply_w = ctx_mp.Pipe(duplex=False)
        for conn in (self.tasks, self.replies):
            try:
                fcntl.fcntl(conn.fileno(), F_SETPIPE_SZ, self.PIPE_BYTES)
            except OSError:
                pass  # the system's limit: smaller pipes only mean more passes
        _prctl()
        self.process = ctx_mp.Process(target=_worker_main, daemon=True,
                                      args=(task_r, reply_w, functions, code, widths, os.getpid()))
        self.process.start()
        task_r.close()
        reply_w.close()
        self.fd = self.tasks.fileno()
        os.set_blocking(self.fd, False)
        self.pending: collections.deque = collections.deque()

    def send(self, message: bytes) -> None:
        self.pending.append(memoryview(struct.pack("!i", len(message)) + message))
        self.flush()

    def flush(self) -> bool:
        """Write what the pipe takes now; True when nothing is left to write."""
        pending = self.pending
        try:
            while pending:
                view = pending[0]
                written = os.write(self.fd, view)
                if written == len(view):
                    pending.popleft()
                else:
                    pending[0] = view[written:]
        except BlockingIOError:
            return False
        except OSError:
            pending.clear()  # the worker is gone: the parent sees it when it waits for the reply
        return True

    def reply(self, timeout: float):
        """The next reply: None when none came within ``timeout`` seconds, False if the worker is gone."""
        deadline = time.monotonic() + timeout
        try:
            while not self.flush():
                # Both pipes full would be a deadlock: read while waiting to write.
                ready, _, _ = select.select([self.replies], [self.fd], [], max(0.0, deadline - time.monotonic()))
                if self.replies in ready:
                    break
                if not ready and time.monotonic() >= deadline:
                    return None
            if not self.replies.poll(max(0.0, deadline - time.monotonic())):
                return None
            return marshal.loads(self.replies.recv_bytes())
        except (EOFError, OSError):
            return False

    def stalled(self) -> bool:
        """Whether the worker will not answer however long one waits: stopped (SIGSTOP, a
        debugger) or dead.  Where there is no /proc, only a dead worker is seen."""
        if not self.process.is_alive():
            return True
        return process_state(self.process.pid) in STALLED

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.tasks.close()
        self.replies.close()


def process_state(pid: int) -> str | None:
    """A process's state letter in /proc/PID/stat (R running, S sleeping, T stopped, Z zombie...);
    "X" if it is gone, None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return "X" if os.path.isdir("/proc/self") else None
    except OSError:
        return None
    # "pid (command) state ...": the command may hold spaces and parentheses, the state follows the last ")".
    return chr(stat[stat.rindex(b")") + 2])
