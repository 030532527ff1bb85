"""Shared helpers for the front-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterable, Mapping

import pytest

from compiler.diagnostics import Diagnostic
from compiler.pipeline import CompilerData
from compiler.syntax import ast
from compiler.syntax.parser import parse

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.lane"))


def dedent(text: str) -> str:
    """Dedent a triple-quoted snippet and drop the newline right after the opening quotes."""
    text = textwrap.dedent(text)
    return text[1:] if text.startswith("\n") else text


def check_source(tmp_path: Path, text: str, name: str = "t.lane",
                 extra_files: Mapping[str, str] | None = None, hot_spots: bool = False) -> list[Diagnostic]:
    """Write ``text`` (dedented, see :func:`dedent`) and ``extra_files`` under ``tmp_path``,
    run the front end on ``name`` through CompilerData and return its sorted diagnostics
    (without the analysis's hot-spot warnings unless ``hot_spots``)."""
    for rel, body in (extra_files or {}).items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(body), encoding="utf-8")
    root = tmp_path / name
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text(dedent(text), encoding="utf-8")
    return [d for d in CompilerData(root).diagnostics() if hot_spots or d.code != "hot-spot"]


def fmt(diags: Iterable[Diagnostic]) -> list[tuple[str, int, int, str]]:
    """Diagnostics as ``(severity, line, column, message)`` tuples, for exact comparisons."""
    out = []
    for d in diags:
        loc = d.location
        out.append((d.severity.value, loc.line if loc else 0, loc.column if loc else 0, d.message))
    return out


def errors(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.is_error]


def parse_ok(text: str, file: str = "t.lane") -> ast.Module:
    """Parse ``text`` (dedented) and insist that it has no diagnostic at all."""
    module, diags = parse(dedent(text), file)
    assert diags == [], fmt(diags)
    assert module is not None
    return module


def run_lane(*args: str, cwd: Path | None = None, raw: bool = False) -> subprocess.CompletedProcess:
    """``python -m compiler ARGS`` in a subprocess, with its output captured as text
    (or as bytes with ``raw``, where no newline translation can hide a stray '\\r')."""
    env = dict(os.environ)
    env.pop("LANE_DEBUG", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd or REPO,
                          capture_output=True, text=not raw, env=env, timeout=60)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """The analysis caches its tables on disk: the suite (and the commands it runs) uses its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANE_CACHE_DIR", str(tmp_path_factory.mktemp("lane-cache")))
        yield


@pytest.fixture
def check(tmp_path):
    """``check(text, **kw)``: :func:`check_source` bound to this test's tmp_path."""

    def run(text: str, **kw) -> list[Diagnostic]:
        return check_source(tmp_path, text, **kw)

    return run


@pytest.fixture(autouse=True)
def _two_cpus_at_least(monkeypatch):
    """The parallel executor runs a block inline where its process can use one CPU only (its
    affinity, its container's quota): the tests of its judgements run as on a machine of two CPUs or
    more, wherever they run (those of that rule set the count themselves)."""
    from compiler.runtime import plan

    usable = plan.usable_cpus
    monkeypatch.setattr(plan, "usable_cpus", lambda: max(2, usable()))



# The demo world and the register world, funded, for the property tests of the schedule and of the
# executors (one of each per test module; made in tests/test_schedule_props.py).

@pytest.fixture(scope="module")
def funded():
    """The demo world after its funding block (block 1), and what blocks can be drawn on it."""
    from test_schedule_props import funded_demo

    return funded_demo()


@pytest.fixture(scope="module")
def reg_chain(tmp_path_factory):
    from test_schedule_props import reg_world

    return reg_world(tmp_path_factory.mktemp("reg-world"))


@pytest.fixture(scope="module")
def reg_funded(reg_chain):
    from test_schedule_props import fund_reg

    return fund_reg(reg_chain)
