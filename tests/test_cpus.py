"""The CPUs a process can use (compiler.runtime.cpus): its affinity, narrowed by a CPU quota."""

from __future__ import annotations

import os

import pytest

from compiler.runtime import cpus


@pytest.fixture
def eight(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_no_quota_leaves_the_affinity(tmp_path, eight):
    assert cpus.usable_cpus(str(tmp_path), "0::/\n") == 8
    _write(tmp_path / "cpu.max", "max 100000\n")
    assert cpus.usable_cpus(str(tmp_path), "0::/\n") == 8
    assert cpus.usable_cpus(str(tmp_path), "") == 8


def test_a_cgroup_v2_quota_and_its_parents(tmp_path, eight):
    _write(tmp_path / "a" / "b" / "cpu.max", "150000 100000\n")  # 1.5 CPUs: two workers use them
    assert cpus.usable_cpus(str(tmp_path), "0::/a/b\n") == 2
    _write(tmp_path / "a" / "cpu.max", "50000 100000\n")         # a parent's half a CPU holds it
    assert cpus.usable_cpus(str(tmp_path), "0::/a/b\n") == 1
    _write(tmp_path / "a" / "b" / "cpu.max", "garbage")           # unreadable: the others count
    assert cpus.usable_cpus(str(tmp_path), "0::/a/b\n") == 1


def test_a_cgroup_v1_quota(tmp_path, eight):
    tree = tmp_path / "cpu,cpuacct"
    _write(tree / "cpu.cfs_quota_us", "-1\n")
    _write(tree / "cpu.cfs_period_us", "100000\n")
    lines = "12:memory:/\n4:cpu,cpuacct:/\n"
    assert cpus.usable_cpus(str(tmp_path), lines) == 8
    _write(tree / "cpu.cfs_quota_us", "300000\n")
    assert cpus.usable_cpus(str(tmp_path), lines) == 3


def test_the_affinity_counts_when_it_is_narrower(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    _write(tmp_path / "cpu.max", "400000 100000\n")
    assert cpus.usable_cpus(str(tmp_path), "0::/\n") == 1


def test_this_processs_answer_is_read_again_after_a_second(monkeypatch):
    # Every block asks how many CPUs it may use: the files are read once a second at most, and an
    # affinity changed meanwhile counts from then on.
    seen = []
    monkeypatch.setattr(cpus, "_cached", None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: seen.append(pid) or {0, 1, 2}, raising=False)
    assert cpus.usable_cpus() == cpus.usable_cpus() <= 3
    assert len(seen) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: seen.append(pid) or {0}, raising=False)
    monkeypatch.setattr(cpus, "_cached", (cpus._cached[0] - cpus.CACHE_S, cpus._cached[1]))
    assert cpus.usable_cpus() == 1 and len(seen) == 2
