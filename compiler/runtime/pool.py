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

A worker writes its replies into a region of memory shared by the pool's processes (its
:class:`Arena`), and sends through its pipe only where each lies: the parent reads them where they
lie, and a reply's bytes it sends on to another worker (a window's writes, a stripe's calls) go
as the same reference, which that worker copies out.  What the parent sends every worker it writes
once into its own arena (:meth:`Processes.shared`).  So the parent copies no reply's bytes, in nor
out (through pipes, 100,000 transfers passed about 48 MB through it: 16 ms of its time a block).
Each arena is written from its start again once every worker has read every message of the block
and the parent holds nothing of their replies (:meth:`Processes.release`, at each block's end).

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
import mmap
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

ARENA_BYTES = 1 << 30       # a worker's arena (address space: its pages are taken as they are first written)
ARENAS_HELD_MOST = 256 << 20  # what a pool's arenas may hold between blocks none of which drained (``held``)
POISON = False              # tests: an arena written again is first filled with 0xAB (a view kept would show it)

# Fault injection for the tests: a message that is one of these makes the worker misbehave.
DIE, HANG = b"die", b"hang"

# A frame (what a pipe carries of one message) starts with a signed length: the message's bytes
# follow (-1: then its length in 8 bytes, for one of 2 GiB or more); or SEGMENTS: then a flags
# byte and a count (4 bytes), as many segments (``_SEGMENT``: an arena's number, or -1 for bytes
# that follow in the pipe, in order; an offset in the arena; a length), and the message is their
# bytes one after the other.
SEGMENTS = -2
RESET = 1                   # flag: the worker may write its arena from its start again (``release``)
_SEGMENTS_HEAD = struct.Struct("!BI")
_SEGMENT = struct.Struct("!iQQ")
_ARENAS: dict[int, "Arena"] = {}   # the arenas this process maps, by number (a worker: its pool's)
_BY_MAP: dict[int, "Arena"] = {}   # ... by their mapping's id (to find where a part lies)


class Arena:
    """The messages one process of a pool writes (a worker's replies; what the parent sends every
    worker), in memory every process of the pool maps: an anonymous shared mapping, made before the
    workers are forked.  Written from its start (``used``: how far), from the start again when it is
    released (a worker: told so by ``RESET``); a message that does not fit goes through the pipe
    whole."""

    _numbers = itertools.count()

    def __init__(self, size: int = ARENA_BYTES) -> None:
        self.number = next(Arena._numbers)
        self.map = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_NORESERVE", 0))
        self.view = memoryview(self.map)
        self.base = _address(self.view)
        self.used = 0
        _ARENAS[self.number] = self
        _BY_MAP[id(self.map)] = self

    def write(self, message: bytes | list) -> memoryview | None:
        """The message's bytes written after what is used: a view of them there; None if they do not fit."""
        parts = _parts(message)
        start = at = self.used
        if at + sum(map(len, parts)) > len(self.view):
            return None
        for part in parts:
            self.view[at:at + len(part)] = part
            at += len(part)
        self.used = at
        return self.view[start:at]

    def reset(self) -> None:
        if POISON and self.used:
            self.view[:self.used] = b"\xab" * self.used
        self.used = 0

    def drop(self) -> None:
        """Forgotten by this process (its mapping unmapped once no view of it is left)."""
        _ARENAS.pop(self.number, None)
        _BY_MAP.pop(id(self.map), None)
        try:
            self.view.release()
            self.map.close()
        except BufferError:
            pass  # (a view of it is alive: it goes with the last one)


def _address(view: memoryview) -> int:
    """Where a writable view's bytes start in memory."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _parts(message: bytes | list) -> list[memoryview]:
    parts = [memoryview(p).cast("B") for p in ([message] if isinstance(message, (bytes, bytearray, memoryview))
                                                else message)]
    return [p for p in parts if len(p)]


def _segments_frame(flags: int, segments: list[tuple[int, int, int]], inline: list) -> list:
    head = struct.pack("!i", SEGMENTS) + _SEGMENTS_HEAD.pack(flags, len(segments)) + \
        b"".join(_SEGMENT.pack(*s) for s in segments)
    return [memoryview(head), *inline]


def receive(conn, copy: bool = True):
    """The next message of a pipe (:func:`framed`), read straight into one buffer
    (``Connection.recv_bytes`` copies each chunk of a long message twice more on the way); or, not
    ``copy``-ing, a message that lies whole in an arena, as a view of it there."""
    return _receive(conn.fileno(), copy)[0]


def _receive(fd: int, copy: bool = True) -> tuple[Any, int]:
    """The next message and its frame's flags."""
    size = struct.unpack("!i", _read(fd, 4))[0]
    if size == -1:
        size = struct.unpack("!Q", _read(fd, 8))[0]
    if size != SEGMENTS:
        return _read(fd, size), 0
    flags, count = _SEGMENTS_HEAD.unpack(_read(fd, _SEGMENTS_HEAD.size))
    raw = _read(fd, count * _SEGMENT.size)
    segments = [_SEGMENT.unpack_from(raw, i * _SEGMENT.size) for i in range(count)]
    if not copy and count == 1 and segments[0][0] >= 0:
        number, at, size = segments[0]
        arena = _ARENAS[number]
        arena.used = max(arena.used, at + size)  # (the writer's, as far as this process has read)
        return arena.view[at:at + size], flags
    buf = bytearray(sum(s[2] for s in segments))
    view = memoryview(buf)
    at = 0
    for number, start, size in segments:
        if number < 0:
            _read_into(fd, view[at:at + size])
        else:
            view[at:at + size] = _ARENAS[number].view[start:start + size]
        at += size
    return buf, flags


def framed(message: bytes | list, arenas: frozenset = frozenset(), flags: int = 0) -> list[memoryview]:
    """A message as :func:`receive` reads it, as views to write in turn: its length (4 bytes,
    big-endian; -1 then 8 bytes for one of 2 GiB or more), then its parts (bytes-like objects); or,
    with ``flags`` or where a part lies in one of the ``arenas`` (numbers) the reader maps, its
    segments (``SEGMENTS``): such a part as where it lies, the others' bytes after them."""
    parts = _parts(message)
    where = [_lies_in(p, arenas) for p in parts] if arenas and _BY_MAP else [None] * len(parts)
    if flags or any(w is not None for w in where):
        segments = [(-1, 0, len(p)) if w is None else (*w, len(p)) for p, w in zip(parts, where)]
        return _segments_frame(flags, segments, [p for p, w in zip(parts, where) if w is None])
    size = sum(map(len, parts))
    head = struct.pack("!i", size) if size < 1 << 31 else struct.pack("!iQ", -1, size)
    return [memoryview(head), *parts]


def _lies_in(part: memoryview, arenas: frozenset) -> tuple[int, int] | None:
    """The arena (among ``arenas``) and the offset where ``part`` lies, if it does."""
    arena = _BY_MAP.get(id(part.obj))
    if arena is None or arena.number not in arenas:
        return None
    return arena.number, _address(part) - arena.base


def write_all(fd: int, message: bytes | list) -> None:
    """Write a message (:func:`framed`) to a blocking descriptor, whole."""
    _write_frame(fd, framed(message))


def _write_frame(fd: int, frame: list) -> None:
    pending = collections.deque(frame)
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
    _read_into(fd, memoryview(buf))
    return buf


def _read_into(fd: int, view: memoryview) -> None:
    got, size = 0, len(view)
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError
        got += n


def _worker_main(tasks, replies, make_handler: Callable[[], Any], parent: int, keep: tuple[int, ...] = (),
                 arena: Arena | None = None, siblings: frozenset = frozenset()) -> None:
    _close_inherited((tasks.fileno(), replies.fileno(), *keep))
    for other in list(_ARENAS.values()):  # (only its own and its siblings' stay mapped)
        if other is not arena and other.number not in siblings:
            other.drop()
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
            message, flags = _receive(tasks.fileno())
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if flags & RESET and arena is not None:
            arena.reset()
        if message == DIE:
            os._exit(1)
        if message == HANG:
            while os.getppid() == parent:
                time.sleep(PARENT_CHECK_S)
            return
        reply = handler.handle(message)
        if reply is not None:
            try:
                written = arena.write(reply) if arena is not None else None
                _write_frame(replies.fileno(), framed(reply) if written is None else
                             framed(written, frozenset((arena.number,))))
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

    def __init__(self, make_handler: Callable[[], Any], keep: tuple[int, ...] = (), arena: Arena | None = None,
                 siblings: frozenset = frozenset()) -> None:
        """``arena``: its own (made before its siblings are forked, so that they map it too: else
        a new one); ``siblings``: the arenas (numbers) of the other workers of its pool, which it maps."""
        self.arena = arena if arena is not None else Arena()
        self.arenas = siblings | {self.arena.number}  # (what it maps: a part lying there is sent as where it lies)
        self.fresh = False  # (its next message says RESET)
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
            self.process = fork(_worker_main, task_r, reply_w, make_handler, os.getpid(), keep, self.arena,
                                siblings)
        except BaseException:  # (no process: none of its pipes is kept)
            self.tasks.close()
            self.replies.close()
            self.arena.drop()
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
        self.pending.extend(framed(message, self.arenas, RESET if self.fresh else 0))
        self.fresh = False
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
            return receive(self.replies, copy=False)
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
        self.arena.drop()


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
        self.arena: Arena | None = None  # (the parent's, likewise: what it sends every worker, ``shared``)

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
        if self.arena is None:
            self.arena = Arena()
        turns = self.turns
        store = chain.store if chain.store is not None else chain.backing
        # SQLite must not see a file open across a fork: the parent closes it meanwhile.
        with store.detached() if store is not None else contextlib.nullcontext():
            # (every new worker's arena made first: each maps all of them, and those of the workers alive)
            arenas = [Arena() for _ in range(count - len(self.workers))]
            siblings = frozenset(a.number for a in [self.arena, *arenas, *(w.arena for w in self.workers)])
            try:
                for arena in arenas:
                    self.workers.append(Worker(make_replica(chain, table, turns.take), (turns.read_fd,), arena,
                                               siblings - {arena.number}))
            finally:
                for arena in arenas:  # (those no worker took: a fork failed)
                    if not any(w.arena is arena for w in self.workers):
                        arena.drop()

    def send(self, k: int, message: bytes) -> None:
        self.workers[k].send(message)

    def wait(self, waiting: set[int], timeout: float) -> list[tuple[int, bytes | bool]]:
        return wait_any(self.workers, waiting, timeout)

    def shared(self, data) -> memoryview:
        """``data``'s bytes where every worker reads them (the parent's arena): parts of messages
        lying there are sent as where they lie (a block's file, cut into stripes; rows every worker
        gets).  Read by the workers only, until ``release``: the parent keeps its own copy of what it
        uses.  Where they do not fit, or before any worker, ``data`` itself."""
        written = self.arena.write([data]) if self.arena is not None else None
        return memoryview(data).cast("B") if written is None else written

    def release(self) -> None:
        """Every worker has read every message sent so far, and the parent holds nothing of their
        replies (no view of one is used again): each worker writes its arena from its start again
        at its next message, and the parent its own now."""
        for w in self.workers:
            w.fresh = True
            w.arena.used = 0  # (the parent's count of it: ``held``)
        if self.arena is not None:
            self.arena.reset()

    def held(self) -> int:
        """The bytes the arenas hold (the workers' as far as the parent has read their replies):
        what blocks that were not released wrote (a block whose plan ran it inline after the
        workers scheduled it), kept till one is."""
        return sum(a.used for a in [self.arena, *(w.arena for w in self.workers)] if a is not None)

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
        if self.arena is not None:
            self.arena.drop()
            self.arena = None


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
