"""The CPUs a process can use: what a parallel executor's workers should number.

``os.cpu_count()`` counts the machine's CPUs, not those a process may run on: a
``taskset`` or a container's cpuset narrows its affinity, and a container's
``--cpus`` sets a quota on its control group that no count of CPUs shows.
"""

from __future__ import annotations

import math
import os
import time

CGROUP_ROOT = "/sys/fs/cgroup"
CACHE_S = 1.0  # this process's own answer is kept this long: every block asks (its files read: a tenth of a ms)
_cached: tuple[float, int] | None = None  # (when, the answer) for this process


def usable_cpus(root: str = CGROUP_ROOT, cgroups: str | None = None) -> int:
    """The CPUs this process can use, at least 1: those its affinity allows (``taskset``, a
    container's cpuset), fewer when a CPU quota limits its control group (a container's ``--cpus``:
    cgroup v2's ``cpu.max``, v1's ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``, the least of
    its group's and its parents'; a quota of 1.5 CPUs counts as 2).  ``os.cpu_count()`` counts the
    machine's: in a container held to one CPU of 64 it would fork 64 workers to share it.
    ``cgroups``: the text of ``/proc/self/cgroup`` (read when None).  This process's answer (no
    arguments) is read again after ``CACHE_S``: an affinity or a quota changed while it runs counts
    from the next second on."""
    global _cached
    own = root == CGROUP_ROOT and cgroups is None
    if own and _cached is not None and time.monotonic() - _cached[0] < CACHE_S:
        return _cached[1]
    cpus = _usable_cpus(root, cgroups)
    if own:
        _cached = (time.monotonic(), cpus)
    return cpus


def _usable_cpus(root: str, cgroups: str | None) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        cpus = os.cpu_count() or 1
    if cgroups is None:
        try:
            with open("/proc/self/cgroup") as f:
                cgroups = f.read()
        except OSError:
            cgroups = ""
    quota = _cpu_quota(root, cgroups)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def _cpu_quota(root: str, cgroups: str) -> float | None:
    """The least CPU quota (in CPUs) of the process's control groups and their parents, or None."""
    quotas: list[float] = []
    for line in cgroups.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # cgroup v2: one tree
            files, parse = ("cpu.max",), _v2_quota
            base = root
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's tree
            files, parse = ("cpu.cfs_quota_us", "cpu.cfs_period_us"), _v1_quota
            base = next((d for d in (os.path.join(root, controllers), os.path.join(root, "cpu"))
                         if os.path.isdir(d)), None)
            if base is None:
                continue
        else:
            continue
        base = os.path.normpath(base)
        here = os.path.normpath(os.path.join(base, path.strip().lstrip("/")))
        while here.startswith(base):  # (the group, then each parent up to the tree's root)
            try:
                texts = []
                for name in files:
                    with open(os.path.join(here, name)) as f:
                        texts.append(f.read())
                got = parse(*texts)
            except (OSError, ValueError):
                got = None
            if got is not None:
                quotas.append(got)
            if here == base:
                break
            here = os.path.dirname(here)
    return min(quotas) if quotas else None


def _v2_quota(text: str) -> float | None:
    quota, period = text.split()[:2]
    return None if quota == "max" else int(quota) / int(period)


def _v1_quota(quota: str, period: str) -> float | None:
    q = int(quota)
    return None if q <= 0 else q / int(period)
