"""The worker pool of ``lane lsp``: jobs off the event loop, a time limit, and killing what is stale.

The jobs here are small functions of this module (a worker imports it to run
them); every test awaits the futures of its jobs, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import pytest_asyncio

from compiler.lsp.workers import JobTimeout, WorkerFault, WorkerPool

BOUND = 30.0  # seconds: a guard against a hang
pytestmark = pytest.mark.asyncio


def work(payload, progress):
    """A job that does what its payload says: ("echo", x), ("sleep", s), ("die",), ("raise",), ("unpicklable",)."""
    what = payload[0]
    if what == "echo":
        progress(("halfway", payload[1]))
        print("never seen by the editor")  # a worker's stdout is /dev/null
        return ("done", payload[1])
    if what == "sleep":
        time.sleep(payload[1])
        return payload[1]
    if what == "die":
        os._exit(3)
    if what == "raise":
        raise ZeroDivisionError("a bug")
    return lambda: payload


async def outcome(job) -> object:
    """The job's result, or the exception it ended with."""
    try:
        return await asyncio.wait_for(asyncio.shield(job.future), BOUND)
    except (JobTimeout, WorkerFault) as err:
        return err


@pytest_asyncio.fixture
async def pool():
    made = []

    def make(handler, **kwargs) -> WorkerPool:
        made.append(WorkerPool(handler, **kwargs))
        return made[-1]

    yield make
    for p in made:
        p.close()


async def test_a_job_sends_its_progress_then_its_result(pool):
    p = pool(work)
    seen = []
    job = p.submit("a", ("echo", 7), on_progress=seen.append)
    assert await outcome(job) == ("done", 7)
    assert seen == [("halfway", 7)]
    assert p.job("a") is None
    # The worker stays for the next job.
    (process,) = p.processes
    assert await outcome(p.submit("b", ("echo", 8))) == ("done", 8)
    assert p.processes == [process]


async def test_a_job_past_the_time_limit_is_killed_and_the_pool_goes_on(pool):
    p = pool(work, time_limit=1)  # from the moment the job starts: a worker's own start does not count
    job = p.submit("slow", ("sleep", 60))
    (process,) = p.processes
    started = time.monotonic()
    err = await outcome(job)
    assert isinstance(err, JobTimeout) and str(err) == "took longer than 1 s"
    assert time.monotonic() - started < 10
    assert process.exitcode == -signal.SIGKILL
    assert await outcome(p.submit("quick", ("sleep", 0))) == 0  # on a new worker


async def test_cancelling_a_running_job_kills_its_worker(pool):
    p = pool(work)
    job = p.submit("a", ("sleep", 60))
    (process,) = p.processes
    p.cancel("a")
    assert job.future.cancelled()
    assert process.exitcode == -signal.SIGKILL
    assert p.job("a") is None and p.processes == []


async def test_a_newer_job_for_the_same_key_replaces_the_older(pool):
    p = pool(work)
    old = p.submit("doc", ("sleep", 60))
    (process,) = p.processes
    new = p.submit("doc", ("sleep", 0))
    assert old.future.cancelled() and process.exitcode == -signal.SIGKILL
    assert await outcome(new) == 0


async def test_a_slow_job_does_not_hold_up_a_job_of_another_key(pool):
    p = pool(work, size=2)
    slow = p.submit("slow", ("sleep", 60))
    assert await outcome(p.submit("quick", ("sleep", 0))) == 0
    assert not slow.future.done()
    # With both workers busy a third job waits its turn, and runs when one is free.
    p.submit("slow2", ("sleep", 60))
    waiting = p.submit("waiting", ("sleep", 0))
    assert len(p.processes) == 2 and not waiting.future.done()
    p.cancel("slow")
    assert await outcome(waiting) == 0


@pytest.mark.parametrize("payload, says", [
    (("die",), "its worker process died (exit code 3)"),
    (("raise",), "ZeroDivisionError: a bug"),
    (("unpicklable",), "Can't pickle"),
])
async def test_a_failing_job_is_a_fault_and_the_pool_goes_on(pool, payload, says):
    p = pool(work)
    err = await outcome(p.submit("a", payload))
    assert isinstance(err, WorkerFault) and says in str(err)
    assert await outcome(p.submit("b", ("echo", 2))) == ("done", 2)


async def test_a_closed_pool_kills_its_workers_and_takes_no_jobs(pool):
    p = pool(work, size=2)
    jobs = [p.submit("a", ("sleep", 60)), p.submit("b", ("sleep", 60))]
    processes = p.processes
    p.close()
    assert all(job.future.cancelled() for job in jobs)
    assert [process.exitcode for process in processes] == [-signal.SIGKILL] * 2
    assert p.submit("c", ("sleep", 0)).future.cancelled()
