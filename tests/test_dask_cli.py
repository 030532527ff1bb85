"""``--executor dask`` from the command line and its user errors: a missing install, an unreachable
scheduler, a world a worker does not have; ``lane bench --executor dask``."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

import compiler.bench as harness
from compiler.cli import app
from compiler.diagnostics import LaneError
from compiler.runtime import dask_executor
from compiler.runtime.chain import Chain
from compiler.runtime.dask_executor import Cluster, DaskExecutor
from compiler.workload import GenOptions, generate

pytest.importorskip("distributed")

POT = """
contract Pot {
    storage pot: u256;
    pub fn give(x: u256) { pot += x; }
}
"""
INSTALL = "install it with pip install 'lane-lang[dask]'"


def lane(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(None, 3)
    yield cluster
    cluster.close()


@pytest.fixture
def pot(tmp_path):
    (tmp_path / "c.lane").write_text(POT)
    world = tmp_path / "world.toml"
    world.write_text('[[deploy]]\nname = "pot"\nsource = "c.lane"\ncontract = "Pot"\nargs = []\n')
    block = tmp_path / "block.jsonl"
    block.write_text("".join(json.dumps({"from": f"u{i}", "to": "pot", "fn": "give", "args": [i]}) + "\n"
                             for i in range(20)))
    return world, block


def test_run_on_an_existing_scheduler_has_a_lane_per_worker(tmp_path, cluster):
    generate(tmp_path, GenOptions("savings", 600, 600, 0.0, 8, 0.0, 1))
    files = [tmp_path / "world.toml", tmp_path / "setup.jsonl", tmp_path / "block.jsonl"]
    got = lane("run", *files, "--executor", "dask", "--scheduler", cluster.client.scheduler.address, "--json")
    assert got.exit_code == 0, got.output
    want = lane("run", *files, "--executor", "sequential", "--json")
    for ours, theirs in zip(json.loads(got.stdout)["blocks"], json.loads(want.stdout)["blocks"]):
        assert ours["executor"] == "dask" and ours["workers"] == 3  # without --workers: one per Dask worker
        assert (ours["state_root"], ours["receipts_root"]) == (theirs["state_root"], theirs["receipts_root"])


def test_run_starts_and_stops_a_local_cluster_of_its_workers(pot):
    world, block = pot
    got = lane("run", world, block, "--executor", "dask", "--workers", "2", "--verify")
    assert got.exit_code == 0, got.output
    assert "executor dask: ran inline, not on its 2 workers (the block is too small)" in got.output
    assert "verified: the sequential executor gave the same receipts and state root" in got.output


def test_without_dask_installed_the_error_says_what_to_install(pot, monkeypatch):
    world, block = pot
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    for args in (("run", world, block, "--executor", "dask"), ("bench", "--executor", "dask")):
        got = lane(*args)
        assert got.exit_code == 1 and INSTALL in got.output and "Traceback" not in got.output, got.output


def test_an_unreachable_scheduler_is_a_clear_error(pot, monkeypatch):
    world, block = pot
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 0.5)
    got = lane("run", world, block, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert got.exit_code == 1, got.output
    assert got.output.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert "`dask scheduler`" in got.output and "Traceback" not in got.output


def test_scheduler_is_for_the_dask_executor_only(pot):
    world, block = pot
    for args in (("run", world, block, "--scheduler", "tcp://127.0.0.1:8786"),
                 ("bench", "--scheduler", "tcp://127.0.0.1:8786")):
        got = lane(*args)
        assert got.exit_code == 1 and "--scheduler is the Dask scheduler of --executor dask" in got.output


def test_the_executors_help_names_dask():
    got = lane("run", "--help")
    assert "dask:" in got.output and "--scheduler" in got.output


def test_a_world_missing_on_a_worker_is_a_clear_error(pot, cluster, tmp_path):
    world, _ = pot
    with Chain.open(world) as chain:
        world.rename(tmp_path / "elsewhere.toml")  # as on a machine that does not have it
        executor = DaskExecutor(chain, 2, cluster=cluster)
        with pytest.raises(LaneError, match=r"world file .*world\.toml not found on Dask worker tcp://.*: every "
                                            r"machine of the cluster needs the world and its contracts at the "
                                            r"same path"):
            executor.start()
        assert executor.transport.size == 0


def test_another_world_on_a_worker_is_refused(pot, cluster, tmp_path):
    world, _ = pot
    with Chain.open(world) as chain:
        (tmp_path / "c.lane").write_text(POT.replace("pot += x;", "pot += x + 1;"))
        with pytest.raises(LaneError, match=r"is not the world the block runs on"):
            DaskExecutor(chain, 2, cluster=cluster).start()


def test_lane_bench_measures_the_dask_executor_and_its_network(cluster):
    lines: list[str] = []
    [row] = harness.bench(["savings"], [60], [2], 150, repeat=1, out=lines.append, executor="dask",
                          cluster=cluster)
    forced = next(run for run in row.runs if run["forced"])
    assert forced["executor"] == "dask" and forced["mode"] == "parallel" and forced["speedup"] > 0
    assert forced["window_overhead_ms"] > 0
    assert "2 workers lanes:" in lines[0] and "ms a window" in lines[0]


def test_a_worker_refuses_another_version_of_lane_or_another_state_file(pot, tmp_path):
    from compiler import __version__
    from compiler.runtime.dask_replica import (
        ChainSource,
        ReplicaError,
        load,
        worker_chain,
    )

    world, block = pot
    state = tmp_path / "s.sqlite"
    with Chain.open(world, state) as chain:
        chain.run_file(block, executor="sequential")
        fingerprint = chain.world.fingerprint()
        stored = chain.store.meta("world")
    with pytest.raises(ReplicaError, match=r"lane run runs Lane 0\.0\.1: every machine needs the same version"):
        load(ChainSource(str(world), fingerprint, version="0.0.1"), "tcp://10.0.0.7:4000")
    loaded = load(ChainSource(str(world), fingerprint, version=__version__), "tcp://10.0.0.7:4000")
    # A copy of the file one block behind the parent's, as a machine without a shared file system has.
    behind = ChainSource(str(world), fingerprint, str(state), stored, 2, __version__)
    with pytest.raises(ReplicaError, match=r"on Dask worker tcp://10\.0\.0\.7:4000 is not the parent's"):
        worker_chain(behind, None, loaded, "tcp://10.0.0.7:4000")
    same = worker_chain(behind._replace(number=1), None, loaded, "tcp://10.0.0.7:4000")
    assert same.store is not None and same.ctx.storage


def test_a_cluster_without_workers_is_a_clear_error(pot, monkeypatch):
    from distributed import LocalCluster

    world, block = pot
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 0.5)
    with LocalCluster(n_workers=0, dashboard_address=":0", scheduler_kwargs={"dashboard": False}) as empty:
        got = lane("run", world, block, "--executor", "dask", "--scheduler", empty.scheduler_address)
    assert got.exit_code == 1, got.output
    assert f"error: the Dask cluster at {empty.scheduler_address} has no workers (start some with `dask worker " \
           in got.output
