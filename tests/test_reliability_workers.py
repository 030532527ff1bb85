"""Workers of the parallel executor are never orphaned or waited for in vain: they die with
`lane run` however it dies, and a stopped or hung worker costs seconds, not a minute."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.runtime import parallel, pool, protocol
from compiler.runtime.block import parse_block_text
from compiler.runtime.chain import Chain
from compiler.runtime.pool import _worker_main, process_state

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")

BUSY = """
contract Busy {
    storage acc: map<address, u256>;
    pub fn work(n: u256) {
        let s: u256 = 0;
        for i in 0..2000 { s += n; }
        acc[msg.sender] += s;
    }
}
"""

# `lane run` with every block forced onto lanes in small windows, so that workers are forked at
# once and kept busy; SIGTERM and SIGHUP get their default action (a test runner may ignore them).
FORCED_RUN = """
import signal, sys
from compiler.runtime import parallel, pool
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
watch = sys.argv.pop(1)  # which of the worker's three watches to keep: all, or one alone
if watch not in ("all", "pdeathsig"):
    pool._prctl = lambda: None  # no PR_SET_PDEATHSIG
if watch not in ("all", "ppid"):
    pool.PARENT_CHECK_S = 3600.0  # no look at the parent pid in time
if watch not in ("all", "pipes"):
    pool._close_inherited = lambda keep: None  # the parent's pipe ends left open
init = parallel.ParallelExecutor.__init__
def forced(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.force, self.force_window = True, 64
parallel.ParallelExecutor.__init__ = forced
from compiler.cli import main
sys.argv[0] = "lane"
main()
"""


def busy_world(root: Path, n: int) -> tuple[Path, Path]:
    (root / "busy.lane").write_text(BUSY)
    world = root / "world.toml"
    world.write_text('[[deploy]]\nname = "busy"\nsource = "busy.lane"\ncontract = "Busy"\n')
    block = root / "block.jsonl"
    block.write_text("".join(json.dumps({"from": f"u{i}", "to": "busy", "fn": "work", "args": [i]}) + "\n"
                             for i in range(n)))
    return world, block


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return out


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie nobody has reaped yet."""
    return process_state(pid) in ("X", "Z")


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --------------------------------------------------------------------- dying with the parent

@pytest.mark.parametrize("sig, watch", [  # (with "none", the test fails: every worker outlives it)
    (signal.SIGKILL, "all"),
    (signal.SIGTERM, "all"),
    (signal.SIGHUP, "all"),
    # Each watch alone is enough: PR_SET_PDEATHSIG is Linux's, the other two are portable.
    (signal.SIGKILL, "pdeathsig"),
    (signal.SIGKILL, "pipes"),
    (signal.SIGKILL, "ppid"),
])
def test_workers_die_with_lane_run_however_it_dies(tmp_path, sig, watch):
    world, block = busy_world(tmp_path, 8_000)
    env = {k: v for k, v in os.environ.items() if k != "LANE_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-c", FORCED_RUN, watch, "run", str(world), str(block),
                             "--workers", "3"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    try:
        assert wait_until(lambda: len(children(proc.pid)) >= 3 or proc.poll() is not None, 60)
        workers = children(proc.pid)
        assert proc.poll() is None and len(workers) == 3, proc.stderr.read().decode() if proc.poll() else workers
        time.sleep(0.2)  # into the block, the workers busy with their lanes
        os.kill(proc.pid, sig)
        assert proc.wait(10) == -sig
        assert wait_until(lambda: all(gone(pid) for pid in workers), 5), \
            [(pid, process_state(pid)) for pid in workers]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in workers:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        proc.stderr.close()


def fds(pid: int) -> dict[int, tuple[str, int]]:
    """A process's descriptors above the standard streams: fd -> (what it is, its access mode)."""
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        fd = int(name)
        if fd > 2:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
            out[fd] = (os.readlink(f"/proc/{pid}/fd/{fd}"), flags & os.O_ACCMODE)
    return out


def pipe(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


@contextlib.contextmanager
def forked(root: Path, workers: int):
    """An executor whose ``workers`` workers are forked (on a world of one contract), closed after."""
    world, _ = busy_world(root, 1)
    chain = Chain.open(world)
    executor = parallel.executor_for(chain, workers).__self__
    try:
        executor._ensure_pool()
        yield executor
    finally:
        chain.close()


def test_a_worker_keeps_only_its_own_pipe_ends(tmp_path):
    with forked(tmp_path, 4) as executor:
        pool = executor._pool
        assert len(pool) == 4  # as many as --workers: the parent runs no lane of its own
        for w in pool:  # one round trip: each worker is past its start
            w.send(protocol.pack(protocol.Finish(0, [], b"", b"", 0)))
            assert isinstance(protocol.unpack(w.reply(10)), protocol.Finished)
        turns = executor.transport.turns
        for w in pool:
            # The task pipe's read end, the reply pipe's write end and the read end of the turns all
            # lanes share; nothing of the parent's ends, nothing of the workers forked before it.
            assert sorted(fds(w.process.pid).values()) == sorted([(pipe(w.fd), os.O_RDONLY),
                                                                  (pipe(w.replies.fileno()), os.O_WRONLY),
                                                                  (pipe(turns.read_fd), os.O_RDONLY)])
        # So closing a worker's task pipe ends it, though workers were forked after it.
        first = pool[0]
        first.tasks.close()
        first.process.join(5)
        assert first.process.exitcode == 0


def test_a_message_bigger_than_a_pipe_is_written_whole_when_the_parent_delivers_it(tmp_path):
    # Peers (every stripe's calls, megabytes) is written whole before the parent plans, so that
    # the workers read it meanwhile: a message the pipe cannot take would otherwise wait in the
    # parent until it next waits for a reply.  The worker is stopped while it is sent (the pipe
    # fills; delivering it then gives up at once), and reads it all once delivered.
    with forked(tmp_path, 2) as executor:
        worker = executor._pool[0]
        os.kill(worker.process.pid, signal.SIGSTOP)
        executor.transport.send(0, protocol.pack_parts(protocol.Peers(0, [b"x" * (4 << 20)], ())))
        assert worker.pending  # (more than the pipe takes)
        start = time.monotonic()
        executor.transport.deliver(30.0)  # (a stopped worker is not waited for: its next reply gives it up)
        assert worker.pending and time.monotonic() - start < 10
        os.kill(worker.process.pid, signal.SIGCONT)
        executor.transport.deliver(30.0)
        assert not worker.pending
        # (It read the whole message: a Peers with no schedule before it is a bug, said as an Error.)
        assert isinstance(protocol.unpack(worker.reply(30)), protocol.Error)


def test_a_forked_child_exits_with_what_it_did_and_writes_nothing_of_its_parent_twice(tmp_path):
    """``pool.fork``: a child that returns exits 0, one that raises exits 1 with its traceback on its
    standard error, one killed is gone with the signal's negative number; what the parent had
    buffered for its standard output before the fork is written once (the child does not write
    it again), and the child's standard input is not the parent's."""
    import io

    out_r, out_w = os.pipe()
    in_r, in_w = os.pipe()  # (the parent's standard input, for the fork: a pipe)
    saved, saved_in = (sys.stdout, sys.stderr), os.dup(0)
    os.dup2(in_r, 0)
    sys.stdout = io.TextIOWrapper(os.fdopen(out_w, "wb", buffering=1 << 16), write_through=False)
    sys.stderr = sys.stdout
    try:
        print("the parent's line, buffered")

        def child() -> None:
            print("the child's stdin:", os.path.realpath("/proc/self/fd/0") == os.devnull)
            sys.stdout.flush()

        def failing() -> None:
            raise RuntimeError("a bug in the child")

        done, failed = pool.fork(child), pool.fork(failing)
        done.join(10)
        failed.join(10)
        sys.stdout.flush()
    finally:
        sys.stdout.close()
        sys.stdout, sys.stderr = saved
        os.dup2(saved_in, 0)
        for fd in (saved_in, in_r, in_w):
            os.close(fd)
    with os.fdopen(out_r, "rb") as f:
        text = f.read().decode()
    assert done.exitcode == 0 and failed.exitcode == 1 and not done.is_alive()
    assert text.count("the parent's line, buffered") == 1
    assert "the child's stdin: True" in text and "RuntimeError: a bug in the child" in text
    sleeper = pool.fork(time.sleep, 60)
    assert sleeper.is_alive()
    sleeper.kill()
    sleeper.join(10)
    assert not sleeper.is_alive() and sleeper.exitcode == -signal.SIGKILL


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    ctx = mp.get_context("fork")
    task_r, tasks = ctx.Pipe(duplex=False)
    replies, reply_w = ctx.Pipe(duplex=False)
    not_the_parent = 1  # as if the parent had died before the worker ran: it was adopted
    process = ctx.Process(target=_worker_main, args=(task_r, reply_w, dict, not_the_parent), daemon=True)
    process.start()
    task_r.close()
    reply_w.close()
    process.join(5)
    try:
        assert process.exitcode == 0
        with pytest.raises(EOFError):  # it never answered: its reply pipe just closed
            replies.recv_bytes()
    finally:
        if process.is_alive():
            process.kill()
        tasks.close()
        replies.close()


# --------------------------------------------------------------------- a stopped or hung worker

POT = """
contract Pot {
    storage mine: map<address, u256>;
    pub fn give(x: u256) { mine[msg.sender] += x; }
}
"""


def pot_chains(tmp_path: Path):
    (tmp_path / "pot.lane").write_text(POT)
    world = tmp_path / "world.toml"
    world.write_text('[[deploy]]\nname = "pot"\nsource = "pot.lane"\ncontract = "Pot"\n')
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force = True
    assert executor.timeout is None  # the timeout follows the work
    return seq, par, executor


def pot_block(n: int, prefix: str = "u"):
    return parse_block_text("\n".join(json.dumps({"from": f"{prefix}{i}", "to": "pot", "fn": "give", "args": [i]})
                                      for i in range(n)), "b.jsonl")


def same(a, b) -> None:
    assert (b.receipts_json, b.state_root, b.receipts_root) == (a.receipts_json, a.state_root, a.receipts_root)


def test_a_stopped_worker_is_noticed_at_once_and_its_lane_rerun(tmp_path, monkeypatch):
    seq, par, executor = pot_chains(tmp_path)
    stopped: list[int] = []
    real_send = pool.Worker.send

    def send_then_stop(self, message):
        real_send(self, message)
        if not stopped:  # SIGSTOP the worker right after it is given its first message
            stopped.append(self.process.pid)
            os.kill(self.process.pid, signal.SIGSTOP)

    monkeypatch.setattr(pool.Worker, "send", send_then_stop)
    try:
        raw = pot_block(40)
        a = seq.run_block(raw)
        start = time.monotonic()
        b = par.run_block(raw, executor="parallel", workers=2)
        took = time.monotonic() - start
        same(a, b)
        assert stopped and executor.last["failed_lanes"] == 1 and executor.last["fallback_from"] is None
        # Seen stopped within a few looks, well before even the shortest timeout.
        assert took < parallel.LANE_TIMEOUT_MIN_S, took
        assert wait_until(lambda: gone(stopped[0]), 5) and all(w.process.pid != stopped[0] for w in executor._pool)
        # The replaced pool serves the next block normally.
        raw2 = pot_block(8, "v")
        same(seq.run_block(raw2), par.run_block(raw2, executor="parallel", workers=2))
        assert executor.last["failed_lanes"] == 0
    finally:
        par.close()
        seq.close()


def test_a_hung_worker_costs_a_timeout_that_follows_its_lane_not_a_minute(tmp_path):
    seq, par, executor = pot_chains(tmp_path)
    try:
        raw = pot_block(40)
        executor._ensure_pool()
        executor.faults = [pool.HANG]  # the worker sleeps, alive and not stopped: only time tells
        a = seq.run_block(raw)
        start = time.monotonic()
        b = par.run_block(raw, executor="parallel", workers=2)
        took = time.monotonic() - start
        same(a, b)
        assert executor.last["failed_lanes"] == 1
        # 40 tiny transactions are predicted to take microseconds: the floor applies.
        assert executor.lane_timeout == pytest.approx(parallel.LANE_TIMEOUT_MIN_S, abs=0.01)
        assert parallel.LANE_TIMEOUT_MIN_S <= took < parallel.LANE_TIMEOUT_MIN_S + 3, took
    finally:
        par.close()
        seq.close()


def test_a_slow_worker_that_makes_progress_is_never_given_up(tmp_path):
    # The block takes several timeouts, each window of it well under one: every reply starts the
    # clock again, so nothing is given up however long the whole block takes.
    world, _ = busy_world(tmp_path, 1)
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, 2).__self__
    executor.force, executor.force_window = True, 16
    raw = parse_block_text("\n".join(json.dumps({"from": f"u{i}", "to": "busy", "fn": "work", "args": [i]})
                                     for i in range(10_000)), "b.jsonl")  # (0.45 s with 4,000 on a quiet machine)
    try:
        warm = raw[:64]  # the workers forked and their code compiled, before the clock gets short
        same(seq.run_block(warm), par.run_block(warm, executor="parallel", workers=2))
        executor.timeout = 0.2
        a = seq.run_block(raw)
        start = time.monotonic()
        b = par.run_block(raw, executor="parallel", workers=2)
        took = time.monotonic() - start
        same(a, b)
        assert executor.last["failed_lanes"] == 0 and executor.last["mode"] == "parallel"
        assert executor.last["windows"] > 50 and took > 3 * executor.timeout, (took, executor.last)
    finally:
        par.close()
        seq.close()


def test_a_schedule_longer_than_the_timeout_is_waited_for_while_the_worker_says_it_is_at_work(
        tmp_path, monkeypatch):
    # Calls walked one by one (every plan refused) and slowly (each location found after a sleep): a
    # stripe's schedule takes several timeouts, and is one message.  The worker says now and then
    # that it is still at work (``Progress``), and the parent's clock starts again each time; without
    # that it would be given up at the first timeout, and the block run by the parent.
    from compiler.runtime import replica
    from compiler.schedule import rows

    real_loc_id = rows.loc_id

    def slow_loc_id(*args):
        time.sleep(0.0005)
        return real_loc_id(*args)

    monkeypatch.setattr(rows.RowMaker, "plan", lambda *args, **kwargs: None)
    monkeypatch.setattr(rows, "loc_id", slow_loc_id)
    monkeypatch.setattr(replica, "PROGRESS_S", 0.02)
    monkeypatch.setattr(rows, "PROGRESS_CALLS", 8)  # (256 slow calls: longer than the timeout on a busy machine)
    seq, par, executor = pot_chains(tmp_path)  # (its workers forked at the block: with the changes above)
    try:
        raw = pot_block(2_400)
        executor.timeout = 0.2
        a = seq.run_block(raw)
        b = par.run_block(raw, executor="parallel", workers=2)
        same(a, b)
        assert executor.last["failed_lanes"] == 0 and executor.last["mode"] == "parallel", executor.last
        assert executor.last["seconds"]["schedule"] > 2 * executor.timeout, executor.last["seconds"]
    finally:
        par.close()
        seq.close()


def test_the_timeout_grows_with_the_work_predicted(tmp_path):
    seq, par, executor = pot_chains(tmp_path)
    seen: list[float] = []
    try:
        par.run_block(pot_block(40), executor="parallel", workers=2)
        seen.append(executor.lane_timeout)
        par.run_block(pot_block(40_000, "w"), executor="parallel", workers=2)
        seen.append(executor.lane_timeout)
    finally:
        par.close()
        seq.close()
    small, large = seen
    assert parallel.LANE_TIMEOUT_MIN_S <= small < large
    assert parallel.lane_timeout(0.0) == parallel.LANE_TIMEOUT_MIN_S == 2.0
    assert parallel.lane_timeout(1.5) == 2.0 + 4 * 1.5


def test_process_state_reads_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert wait_until(lambda: process_state(child.pid) == "S", 10)
        os.kill(child.pid, signal.SIGSTOP)
        assert wait_until(lambda: process_state(child.pid) == "T", 10)
        os.kill(child.pid, signal.SIGKILL)
        assert wait_until(lambda: process_state(child.pid) == "Z", 10)
        child.wait()
        assert process_state(child.pid) == "X"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert process_state(os.getpid()) == "R"


def _take_all(take, out) -> None:
    got = []
    for k in iter(take, None):
        got.append(k)
        time.sleep(0.0005)  # (so that the other process takes some too)
    out.send(got)


def test_the_turns_of_a_window_are_each_taken_once_by_all_the_workers():
    turns = pool.Turns()
    ctx = mp.get_context("fork")
    try:
        turns.put(3)
        assert turns.take() == 0  # (a turn of an earlier window nobody took ...)
        turns.put(400)            # (... is gone when the next window's are put)
        pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
        workers = [ctx.Process(target=_take_all, args=(turns.take, w)) for _, w in pipes]
        for p in workers:
            p.start()
        got = [r.recv() for r, _ in pipes]
        for p in workers:
            p.join(10)
        assert sorted(got[0] + got[1]) == list(range(400))
        assert all(g == sorted(g) for g in got)  # each in the order they were put
        assert turns.take() is None
    finally:
        turns.close()
