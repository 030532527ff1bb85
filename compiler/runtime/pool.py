"""Worker processes: forked, fed bytes through pipes, and dying with their parent.

A worker runs ``handler.handle(message) -> reply`` for each message it reads
(bytes in, bytes out: :mod:`compiler.runtime.protocol` says what they hold), with
a handler made in the child right after the fork from what the parent had
loaded (the world, the state), so nothing of it is ever shipped.

A worker runs as a batch process (Linux's ``SCHED_BATCH``): woken by a message,
it does not preempt the process that woke it.  On a machine with no core to
spare the parent would otherwise lose its core to the first lane it sends a
window to, before it has sent the others theirs (measured: 34-41 ms of wall
time in 80 sends of a 100,000-transfer block on two cores, 3 ms of it CPU).

A worker is forked by ``os.fork`` itself (not multiprocessing's ``Process``, whose import
and start cost a process's first block on lanes 5-12 ms here: :class:`Child`), its pipes
are plain ones (:class:`End`).

A worker never outlives its parent: right after the fork it closes every
descriptor it inherited but its own two pipe ends (so it sees the end of file
when the parent goes), asks the kernel to kill it when the parent dies (Linux's
``PR_SET_PDEATHSIG``), and checks, whenever it waits a second without a
message, that its parent is still the one that forked it.
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import functools
import gc
import itertools
import os
import select
import signal
import struct
import sys
import time
from typing import Any, Callable, Iterable

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PR_SET_PDEATHSIG = 1
PARENT_CHECK_S = 1.0        # how often an idle worker checks that its parent is alive
IOV_MOST = 64               # buffers written by one call (the system allows at least 1024)
STALLED = ("T", "t", "Z", "X")  # stopped, traced, zombie, gone: a worker that will never answer

# Fault injection for the tests: a message that is one of these makes the worker misbehave.
DIE, HANG = b"die", b"hang"


def receive(conn) -> bytearray:
    """The next message of a pipe (:func:`framed`: as ``Connection.send_bytes`` writes one), read
    straight into one buffer: ``Connection.recv_bytes`` copies each chunk of a long message twice
    more on the way."""
    fd = conn.fileno()
    size = struct.unpack("!i", _read(fd, 4))[0]
    if size == -1:
        size = struct.unpack("!Q", _read(fd, 8))[0]
    return _read(fd, size)


def framed(message: bytes | list) -> list[memoryview]:
    """A message as :func:`receive` reads it: its length (4 bytes, big-endian; -1 then 8 bytes for
    one of 2 GiB or more), then its parts (bytes-like objects), as views to write in turn."""
    parts = [memoryview(p).cast("B") for p in ([message] if isinstance(message, (bytes, bytearray, memoryview))
                                                else message)]
    parts = [p for p in parts if len(p)]
    size = sum(map(len, parts))
    head = struct.pack("!i", size) if size < 1 << 31 else struct.pack("!iQ", -1, size)
    return [memoryview(head), *parts]


def write_all(fd: int, message: bytes | list) -> None:
    """Write a message (:func:`framed`) to a blocking descriptor, whole."""
    pending = collections.deque(framed(message))
    while pending:
        _write_some(fd, pending)


def _write_some(fd: int, pending: collections.deque) -> None:
    """Write what the descriptor takes of ``pending``'s buffers, at most ``IOV_MOST`` of them in one
    call, and drop it from ``pending`` (BlockingIOError: nothing, on a non-blocking one that is full)."""
    _consume(pending, os.writev(fd, list(itertools.islice(pending, IOV_MOST))))


def _consume(pending: collections.deque, written: int) -> None:
    """Drop from ``pending`` (views, none empty) the ``written`` bytes at its front."""
    while written:
        view = pending[0]
        if written >= len(view):
            written -= len(view)
            pending.popleft()
        else:
            pending[0] = view[written:]
            return


def _read(fd: int, size: int) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError
        got += n
    return buf


def _worker_main(tasks, replies, make_handler: Callable[[], Any], parent: int, keep: tuple[int, ...] = ()) -> None:
    _close_inherited((tasks.fileno(), replies.fileno(), *keep))
    if not _die_with_parent(parent):
        return
    # Forked from a parent holding the world and the state: left on, the collector would walk all of
    # it again and again.  Nothing a worker makes has reference cycles.
    gc.freeze()
    gc.disable()
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # (see the module's doc)
    except (AttributeError, OSError):
        pass  # not Linux: the parent may wait for its core now and then
    handler = make_handler()
    if hasattr(handler, "say"):  # (what a handler says while at a message: that it is still at work)
        handler.say = functools.partial(_say, replies.fileno())
    while True:
        try:
            if not tasks.poll(PARENT_CHECK_S):
                if os.getppid() != parent:
                    return
                continue
            message = receive(tasks)
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message == DIE:
            os._exit(1)
        if message == HANG:
            while os.getppid() == parent:
                time.sleep(PARENT_CHECK_S)
            return
        reply = handler.handle(message)
        if reply is not None:
            try:
                write_all(replies.fileno(), reply)
            except OSError:  # the parent is gone (a broken pipe): nobody is left to answer
                return
        # Work the handler may do ahead while the parent decides what comes next (none when it has
        # decided already: a message is waiting).
        idle = getattr(handler, "idle", None)
        if idle is not None and not tasks.poll(0):
            idle()


def _say(fd: int, data: bytes) -> None:
    """A message to the parent while the worker handles one (its reply comes after)."""
    try:
        write_all(fd, data)
    except OSError:  # the parent is gone: the reply's write finds it too
        pass


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


class End:
    """One end of a pipe (what the pool reads and writes of one: its descriptor, whether a message
    waits in it, closing it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether there is something to read (or the end of file) within ``timeout`` seconds."""
        if self.fd < 0:
            raise OSError("closed")
        return bool(select.select([self.fd], [], [], max(0.0, timeout))[0])

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class Child:
    """A forked process, as its parent knows it: its pid, whether it is alive (a dead one is
    reaped, its ``exitcode`` kept: negative, the signal that killed it), kill and join."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        if self.exitcode is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # (reaped already, elsewhere)
            self.exitcode = -signal.SIGKILL
            return False
        if pid == 0:
            return True
        self.exitcode = os.waitstatus_to_exitcode(status)
        return False

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.00005  # (a killed process is gone within a fraction of a millisecond, most often)
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(pause)
            pause = min(2 * pause, 0.01)


def fork(target: Callable[..., None], *args: Any) -> Child:
    """``target(*args)`` in a forked process, which then exits (1 if it raised, its traceback
    printed).  What the parent has buffered for its standard streams is written first: the child
    would write it again.  The child never runs the parent's exit handlers (``os._exit``)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    pid = os.fork()
    if pid:
        return Child(pid)
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)  # (its standard input no longer the parent's: as
        os.dup2(null, 0)                          # multiprocessing's children)
        os.close(null)
        target(*args)
        code = 0
    except BaseException:  # noqa: BLE001 - the child's end, whatever happened
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


class Worker:
    """A worker process and two pipes: messages to it, replies from it.

    The parent writes without ever blocking: what the pipe cannot take now waits in ``pending``
    and is written whenever the parent passes by, so the parent never waits for a busy worker
    and the two can never wait for each other.
    """

    PIPE_BYTES = 1 << 20

    def __init__(self, make_handler: Callable[[], Any], keep: tuple[int, ...] = ()) -> None:
        task_r, task_w = os.pipe()
        reply_r, reply_w = os.pipe()
        for fd in (task_w, reply_r):
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, self.PIPE_BYTES)
            except OSError:
                pass  # the system's limit: smaller pipes only mean more passes
        _prctl()
        task_r, reply_w = End(task_r), End(reply_w)
        self.tasks, self.replies = End(task_w), End(reply_r)
        try:
            self.process = fork(_worker_main, task_r, reply_w, make_handler, os.getpid(), keep)
        except BaseException:  # (no process: none of its pipes is kept)
            self.tasks.close()
            self.replies.close()
            raise
        finally:
            task_r.close()
            reply_w.close()
        self.fd = self.tasks.fileno()
        os.set_blocking(self.fd, False)
        self.pending: collections.deque = collections.deque()

    def send(self, message: bytes | list) -> None:
        """Queue a message (bytes, or the buffers of :func:`compiler.runtime.protocol.pack_parts`,
        written as they lie) and write what the pipe takes now."""
        self.pending.extend(framed(message))
        self.flush()

    def flush(self) -> bool:
        """Write what the pipe takes now; True when nothing is left to write."""
        pending = self.pending
        try:
            while pending:
                _write_some(self.fd, pending)
        except BlockingIOError:
            return False
        except OSError:
            pending.clear()  # the worker is gone: the parent sees it when it waits for the reply
        return True

    def reply(self, timeout: float) -> bytes | None | bool:
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
            return receive(self.replies)
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


class Turns:
    """Turns at a window's work, shared by the workers: the parent puts the numbers of a window's
    chunks into a pipe (``put``) before it sends the window, and each lane takes the next one
    (``take``: a read of 4 bytes, whole and in one piece however many lanes read at once, as every
    write is of whole numbers) until none is left.  A lane that is done with its own part early
    takes more of them: they are not dealt in advance, so a lane on a slower core does less of the
    window.  No lock is held, so a worker that dies holds nothing the others wait for."""

    MOST = 1024  # chunks a window (4 KiB of numbers: written at once, whoever reads)

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)

    def put(self, count: int) -> None:
        """The turns of a window of ``count`` chunks (those of an earlier window that nobody took,
        after a lane failed, go first)."""
        assert 0 < count <= self.MOST
        while self.take() is not None:
            pass
        os.write(self.write_fd, b"".join(k.to_bytes(4, "little") for k in range(count)))

    def take(self) -> int | None:
        """The next chunk's number; None when every chunk of the window has been taken."""
        try:
            got = os.read(self.read_fd, 4)
        except BlockingIOError:
            return None
        return int.from_bytes(got, "little") if got else None

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class Processes:
    """The parallel executor's transport to worker processes on this machine: forked with replicas
    of the chain's state, fed bytes through pipes, sharing the turns at a window's work (``turns``).
    (:mod:`compiler.runtime.dask_executor` is the same on a Dask cluster, with no shared turns.)"""

    def __init__(self) -> None:
        self.workers: list[Worker] = []
        self.local = True  # (every worker on this machine: sending each one the whole block costs pipes only)
        self.turns: Turns | None = None  # (made with the first workers, closed with the last)

    @property
    def size(self) -> int:
        return len(self.workers)

    def ensure(self, chain, table, count: int) -> None:
        """``count`` workers, alive; new ones forked from the chain's state as it is now."""
        import contextlib

        from .replica import make_replica

        for w in self.workers:
            if not w.process.is_alive():
                w.kill()  # (its pipes closed)
        self.workers = [w for w in self.workers if w.process.exitcode is None]
        if len(self.workers) >= count:
            return
        if self.turns is None:
            self.turns = Turns()
        turns = self.turns
        store = chain.store if chain.store is not None else chain.backing
        # SQLite must not see a file open across a fork: the parent closes it meanwhile.
        with store.detached() if store is not None else contextlib.nullcontext():
            while len(self.workers) < count:
                self.workers.append(Worker(make_replica(chain, table, turns.take), (turns.read_fd,)))

    def send(self, k: int, message: bytes) -> None:
        self.workers[k].send(message)

    def wait(self, waiting: set[int], timeout: float) -> list[tuple[int, bytes | bool]]:
        return wait_any(self.workers, waiting, timeout)

    def deliver(self, timeout: float) -> None:
        """Write what is queued for the workers as they read it, for at most ``timeout`` seconds:
        the parent is about to work alone for a while, and what it sent is read meanwhile, not
        when it next waits for a reply (a message bigger than a pipe is written as it is read)."""
        deadline = time.monotonic() + timeout
        while True:
            unsent = [w for w in self.workers if w.pending and not w.flush()]
            left = deadline - time.monotonic()
            if not unsent or left <= 0:
                return
            try:
                _, writable, _ = select.select([], [w.fd for w in unsent], [], min(left, 0.05))
            except (OSError, ValueError):
                return
            if not writable and any(w.stalled() for w in unsent):
                return  # (a stopped or dead worker: the next wait for a reply gives it up)

    def close(self) -> None:
        for w in self.workers:  # (every one told first: their exits, a few ms each, overlap)
            w.process.kill()
        for w in self.workers:
            w.kill()
        self.workers = []
        if self.turns is not None:
            self.turns.close()
            self.turns = None


def wait_any(workers: list[Worker], waiting: set[int], timeout: float) -> list[tuple[int, bytes | bool]]:
    """Replies from any of the workers numbered in ``waiting``, as soon as one comes (or after
    ``timeout``): [(k, reply)], a reply False for a worker that is gone or stalled."""
    out: list[tuple[int, bytes | bool]] = []
    conns = {workers[k].replies: k for k in waiting}
    deadline = time.monotonic() + timeout
    while True:
        # A message bigger than a pipe is written as the worker reads it: the parent waits for the
        # pipes it still has to write too, and writes as soon as one takes more.
        unsent = [w.fd for w in workers if w.pending and not w.flush()]
        try:
            ready, writable, _ = select.select(list(conns), unsent, [], max(0.0, deadline - time.monotonic()))
        except (OSError, ValueError):
            ready, writable = [], []
        if ready or not writable:
            break
    for conn in ready:
        k = conns[conn]
        got = workers[k].reply(0)
        if got is not None:
            out.append((k, got))
    if not out:
        out = [(k, False) for k in waiting if workers[k].stalled()]
    return out
