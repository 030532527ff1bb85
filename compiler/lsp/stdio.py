"""The server on stdin and stdout: a reader thread that frames what the editor sends, and the event loop.

pygls's own reader trusts the stream (a bad ``Content-Length`` desynchronised
it for good, a huge one raised MemoryError), so the server reads stdin itself:
a thread reads chunks as they come, :class:`~.framing.Framer` turns them into
messages (skipping what is not one), and the event loop gets them, in order,
through :class:`~.rpc.Dispatcher`.  The reader tells a slow sender from a
stalled frame by time: when the stream has been quiet for
:data:`STALL_SECONDS` in the middle of a frame, the frame is given up.

The server ends on ``exit``, when stdin reaches its end (the editor is gone),
or when stdout cannot be written any more; the worker processes go with it.
"""

from __future__ import annotations

import asyncio
import os
import select
import sys
import threading
from typing import TYPE_CHECKING, BinaryIO, Callable

from .framing import Event, Framer
from .rpc import Dispatcher

if TYPE_CHECKING:  # pragma: no cover
    from .server import LaneServer

STALL_SECONDS = 1.0  # quiet in the middle of a frame for this long: the frame is given up
_CHUNK = 64 * 1024
_IN_FLIGHT = 16  # batches of messages read ahead of the event loop; then the reader waits for it


class Writer:
    """pygls's writer on a binary stream; a client that stopped reading ends the server, once."""

    def __init__(self, stream: BinaryIO, lost: Callable[[], None]) -> None:
        self._stream = stream
        self._lost = lost
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):  # a broken pipe, a closed stream
            self.broken = True
            self._lost()

    def close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass


def serve_stdio(server: LaneServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
                stall: float = STALL_SECONDS, starting: Callable[[], None] | None = None) -> int:
    """Serve one client until it exits or goes away; the exit status (0 after ``shutdown``, else 1).

    Without streams, the process's own stdin and stdout, kept to the server alone (:func:`_own_stdio`).
    ``starting`` runs on the event loop before the first message is read.
    """
    if stdin is None or stdout is None:
        stdin, stdout = _own_stdio()
    return asyncio.run(_serve(server, stdin.fileno(), stdout, stall, starting))


def _own_stdio() -> tuple[BinaryIO, BinaryIO]:
    """The LSP pipes moved to descriptors no child process inherits; fd 0 becomes /dev/null, fd 1 stderr.

    So a stray print() cannot corrupt the stream, and the processes multiprocessing starts (its fork
    server, its resource tracker), which inherit fds 0 to 2, do not hold the editor's pipes open
    after the server has ended.
    """
    sys.stdout.flush()
    stdin = os.fdopen(os.dup(0), "rb", buffering=0)  # os.dup: not inheritable
    stdout = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    try:
        os.dup2(2, 1)  # stray output goes where the editor shows the server's log
    except OSError:  # no stderr at all
        os.dup2(devnull, 1)
    os.close(devnull)
    return stdin, stdout


async def _serve(server: LaneServer, fd: int, stdout: BinaryIO, stall: float,
                 starting: Callable[[], None] | None) -> int:
    loop = asyncio.get_running_loop()
    if starting is not None:
        starting()
    ended: asyncio.Future[int] = loop.create_future()

    def end(status: int) -> None:
        if not ended.done():
            ended.set_result(status)

    writer = Writer(stdout, lambda: end(dispatch.exit_status))
    server.protocol.set_writer(writer)
    dispatch = Dispatcher(server, writer.write, end)
    gate = threading.Semaphore(_IN_FLIGHT)
    stopped = threading.Event()

    def deliver(events: list[Event]) -> None:
        gate.release()
        if ended.done():
            return
        try:
            dispatch(events)
        except Exception:  # noqa: BLE001 - a bug in Lane: say so, and read on
            server.report_fault("reading a message")

    reader = threading.Thread(target=_read, name="lane-lsp-stdin", daemon=True,
                              args=(fd, stall, loop, deliver, lambda: end(dispatch.exit_status), gate, stopped))
    reader.start()
    try:
        return await ended
    finally:
        stopped.set()
        server.close()


def _read(fd: int, stall: float, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[Event]], None],
          at_end: Callable[[], None], gate: threading.Semaphore, stopped: threading.Event) -> None:
    """The reader thread: frame stdin until its end, handing each batch of events to the loop."""
    framer = Framer()
    try:
        while not stopped.is_set():
            stalled = framer.pending and not _readable(fd, stall)
            data = b""
            if not stalled:
                try:
                    data = os.read(fd, _CHUNK)
                except OSError:
                    pass
                if not data:
                    loop.call_soon_threadsafe(at_end)
                    return
            try:
                events = framer.stall() if stalled else framer.feed(data)
            except Exception:  # noqa: BLE001 - a bug in the framer must not stop the reading: start afresh
                framer, events = Framer(), []
            if not events:
                continue
            while not gate.acquire(timeout=0.5):  # the loop is behind: wait, unless it has ended
                if stopped.is_set():
                    return
            loop.call_soon_threadsafe(deliver, events)
    except RuntimeError:
        return  # the event loop is closed: the server has ended


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` has bytes (or its end) within ``timeout``; True where that cannot be known."""
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):  # Windows cannot select on a pipe: no stall detection there
        return True
    return bool(ready)
