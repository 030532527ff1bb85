"""Work off the server's event loop, in processes that can be killed: checks that are slow or stale.

Checking a contract can take long (a large file, an analysis that explodes),
and Python cannot stop a thread.  So the server hands each check to a
:class:`WorkerPool`: a few long-lived worker processes, one job at a time
each, and at most one job per key (the document's URI).  A job that runs past
the pool's time limit (from the moment its worker starts it), or whose key
gets a newer job, has its worker killed (SIGKILL); the next job gets a fresh one.  The event loop only ever waits for
a pipe to become readable, so hovers and other documents go on meanwhile.

A job is ``handler(payload, progress)`` run in the worker: ``progress(value)``
sends a partial result ahead of the final one.  Its result, its progress and
its payload travel pickled.  A worker never writes to the server's stdout (the
LSP stream) or reads its stdin: both are /dev/null in it.

Workers are forked from a fork server that has imported the modules named in
``preload`` once, so replacing a killed worker costs milliseconds, not an
interpreter's start; where there is no fork server (Windows) they are spawned.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import signal
import threading
import traceback
from collections import OrderedDict
from typing import Any, Callable

CHECK_SECONDS = 10.0  # the default time limit of one job
WORKERS = 2  # the default number of worker processes
# How long a fresh worker may take to start its first job before that job's time limit runs: its
# start is not the job's fault (on a loaded machine, a spawned worker can take seconds).
START_SECONDS = 30.0


class JobTimeout(Exception):
    """The job ran past the pool's time limit; its worker was killed."""


class WorkerFault(Exception):
    """The job raised, or its worker died: a bug in Lane (or the machine ran out of something)."""


Handler = Callable[[Any, Callable[[Any], None]], Any]


class Job:
    """One submitted job.  ``future`` gets its result, JobTimeout or WorkerFault, or is cancelled."""

    __slots__ = ("future", "key", "on_progress", "payload", "timer", "worker")

    def __init__(self, key: str, payload: Any, future: asyncio.Future,
                 on_progress: Callable[[Any], None] | None) -> None:
        self.key, self.payload, self.future, self.on_progress = key, payload, future, on_progress
        self.worker: _Worker | None = None
        self.timer: asyncio.TimerHandle | None = None


class _Worker:
    __slots__ = ("conn", "job", "lifeline", "process")

    def __init__(self, process, conn, lifeline) -> None:
        self.process, self.conn, self.lifeline = process, conn, lifeline
        self.job: Job | None = None


class WorkerPool:
    """Up to ``size`` worker processes running ``handler``; see the module's docstring."""

    def __init__(self, handler: Handler, *, size: int = WORKERS, time_limit: float = CHECK_SECONDS,
                 preload: tuple[str, ...] = ()) -> None:
        self.handler = handler
        self.size = max(1, size)
        self.time_limit = time_limit
        self._mp: multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            self._mp = multiprocessing.get_context("forkserver")
            self._mp.set_forkserver_preload(list(preload))
        else:
            self._mp = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._queue: OrderedDict[str, Job] = OrderedDict()  # waiting for a free worker, oldest first
        self._jobs: dict[str, Job] = {}  # by key: queued or running
        self._closed = False
        self._preparing = False

    # ------------------------------------------------------------------ the interface

    def submit(self, key: str, payload: Any, on_progress: Callable[[Any], None] | None = None) -> Job:
        """Run ``payload`` for ``key``, instead of any job ``key`` already has."""
        self.cancel(key)
        job = Job(key, payload, asyncio.get_running_loop().create_future(), on_progress)
        if self._closed:
            job.future.cancel()
            return job
        self._jobs[key] = job
        self._queue[key] = job
        self._dispatch()
        return job

    def job(self, key: str) -> Job | None:
        """The job of ``key`` that is queued or running, if any."""
        return self._jobs.get(key)

    def cancel(self, key: str) -> None:
        """Drop the job of ``key``: out of the queue, or its worker killed."""
        job = self._jobs.pop(key, None)
        if job is None:
            return
        self._queue.pop(key, None)
        if job.worker is not None:
            self._kill(job.worker)
        self._end(job)
        job.future.cancel()
        self._dispatch()

    def close(self) -> None:
        """Cancel every job and kill every worker; the pool takes no more jobs."""
        self._closed = True
        for key in list(self._jobs):
            self.cancel(key)
        for worker in list(self._workers):
            self._kill(worker)

    def prepare(self) -> None:
        """Start what the first job needs (the fork server, one worker) ahead of it, without blocking.

        Until that is done, jobs wait in the queue rather than start a worker on the event loop,
        which would wait there for the fork server's imports.
        """
        if self._closed or self._workers or self._preparing:
            return
        self._preparing = True
        loop = asyncio.get_running_loop()

        def start() -> None:
            try:
                if self._mp.get_start_method() == "forkserver":
                    multiprocessing.forkserver.ensure_running()  # a second or so of imports, off the loop
            except Exception:  # noqa: BLE001 - the first worker's start tries again, and says what fails
                pass
            finally:
                try:
                    loop.call_soon_threadsafe(self._prepared)
                except RuntimeError:
                    pass  # the loop has closed: the server has ended

        threading.Thread(target=start, name="lane-lsp-prepare", daemon=True).start()

    def _prepared(self) -> None:
        self._preparing = False
        if not self._closed and not self._workers:
            try:
                self._start_worker()
            except Exception:  # noqa: BLE001 - the first job tries again, and reports what fails
                pass
        self._dispatch()

    @property
    def processes(self) -> list:
        """The live worker processes (for tests and diagnostics)."""
        return [w.process for w in self._workers]

    # ------------------------------------------------------------------ running jobs

    def _dispatch(self) -> None:
        """Start queued jobs on idle workers, starting workers up to ``size``."""
        if self._preparing:
            return  # :meth:`_prepared` comes back here
        while self._queue and not self._closed:
            worker = next((w for w in self._workers if w.job is None), None)
            if worker is None:
                if len(self._workers) >= self.size:
                    return
                try:
                    worker = self._start_worker()
                except Exception as err:  # noqa: BLE001 - out of processes or memory: fail the job, keep serving
                    key, job = self._queue.popitem(last=False)
                    self._jobs.pop(key, None)
                    job.future.set_exception(WorkerFault(f"could not start a worker process: {err}"))
                    continue
            key, job = self._queue.popitem(last=False)
            try:
                worker.conn.send(job.payload)
            except Exception as err:  # noqa: BLE001 - the worker died while idle, or the payload does not pickle
                self._kill(worker)
                self._jobs.pop(key, None)
                job.future.set_exception(WorkerFault(f"could not hand the job to a worker: {err}"))
                continue
            worker.job, job.worker = job, worker
            job.timer = asyncio.get_running_loop().call_later(max(self.time_limit, START_SECONDS), self._expire, job)

    def _start_worker(self) -> _Worker:
        ours, theirs = self._mp.Pipe(duplex=True)
        # Never written to: when the server ends, however it ends, the worker reads its end-of-file.
        lifeline_r, lifeline_w = self._mp.Pipe(duplex=False)
        process = self._mp.Process(target=_work, args=(theirs, lifeline_r, self.handler), name="lane-lsp-worker",
                                   daemon=True)
        process.start()
        theirs.close()  # only the worker holds its end: when it dies, ours reads end-of-file
        lifeline_r.close()
        worker = _Worker(process, ours, lifeline_w)
        self._workers.append(worker)
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable, worker)
        return worker

    def _readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                kind, value = worker.conn.recv()
                job = worker.job
                if job is None:
                    continue
                if kind == "started":
                    # The time limit is the job's own: it runs from now.
                    if job.timer is not None:
                        job.timer.cancel()
                    job.timer = asyncio.get_running_loop().call_later(self.time_limit, self._expire, job)
                    continue
                if kind == "progress":
                    if job.on_progress is not None:
                        job.on_progress(value)
                    continue
                self._end(job)
                worker.job = None
                if kind == "done":
                    job.future.set_result(value)
                else:
                    job.future.set_exception(WorkerFault(value))
                self._dispatch()
                return
        except (EOFError, OSError):
            self._died(worker, "its worker process died")
        except Exception as err:  # noqa: BLE001 - a result that does not unpickle: the worker is suspect
            self._kill(worker)
            job = worker.job
            if job is not None:
                self._end(job)
                job.future.set_exception(WorkerFault(f"could not read the worker's answer: {err}"))
            self._dispatch()

    def _died(self, worker: _Worker, why: str) -> None:
        job = worker.job
        self._kill(worker)
        if job is not None:
            self._end(job)
            code = worker.process.exitcode
            job.future.set_exception(WorkerFault(f"{why} (exit code {code})" if code is not None else why))
        self._dispatch()

    def _expire(self, job: Job) -> None:
        if self._jobs.get(job.key) is not job or job.worker is None:
            return
        self._kill(job.worker)
        self._end(job)
        job.future.set_exception(JobTimeout(f"took longer than {self.time_limit:g} s"))
        self._dispatch()

    def _end(self, job: Job) -> None:
        """Forget ``job``: it has a result or never will."""
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        job.worker = None

    def _kill(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        process = worker.process
        if process.is_alive():
            process.kill()
        try:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        except (RuntimeError, OSError, ValueError):
            pass  # no loop any more (closing at exit), or the pipe is already closed
        worker.conn.close()
        worker.lifeline.close()
        if worker.job is not None:
            worker.job.worker = None
            worker.job = None
        # SIGKILL cannot be refused: the wait is for the kernel to reap it, which takes a moment.
        process.join(0.5)


def _work(conn, lifeline, handler: Handler) -> None:
    """A worker process: run one job after another until the server goes away or kills it."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # stray output must never reach the editor: stdout is the LSP stream
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in a terminal is for the server, which kills us
    # A server killed outright (SIGKILL) cannot kill its workers: they see its end on the lifeline
    # and stop at once, instead of finishing a check nobody will read.
    threading.Thread(target=_outlive_not, args=(lifeline,), name="lane-lsp-lifeline", daemon=True).start()

    def progress(value: Any) -> None:
        conn.send(("progress", value))

    while True:
        try:
            payload = conn.recv()
            conn.send(("started", None))
        except (EOFError, OSError):
            return
        try:
            answer = ("done", handler(payload, progress))
        except Exception:  # noqa: BLE001 - any failure of a job is the server's to report
            answer = ("fault", traceback.format_exc())
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return
        except Exception:  # noqa: BLE001 - a result that does not pickle
            conn.send(("fault", traceback.format_exc()))


def _outlive_not(lifeline) -> None:
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os._exit(0)
