"""The package's layers import one way (the contracts in pyproject.toml, ``[tool.importlinter]``):
front ends, then the executors (runtime), the schedule, the pipeline, code generation, the
machine transactions run on (vm), the analysis, the semantics and the syntax; and no module
imports another that imports it back.  ``lint-imports`` checks them, here as in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT, "--no-cache", "--no-logo", "pyproject.toml"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_every_import_contract_is_kept():
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_the_schedule_importing_an_executor_breaks_the_layers(tmp_path):
    """The contract can fail: a copy of the package where the schedule imports the parallel executor."""
    shutil.copytree(REPO / "compiler", tmp_path / "compiler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    dag = tmp_path / "compiler" / "schedule" / "dag.py"
    dag.write_text(dag.read_text() + "\n\ndef _late():\n    from ..runtime import parallel  # noqa: F401\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout
    assert "compiler.schedule is not allowed to import compiler.runtime" in done.stdout
