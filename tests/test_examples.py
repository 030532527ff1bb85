"""The example contracts are the language's showcase: each checks clean, alone and together."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.pipeline import CompilerData

from conftest import EXAMPLES, REPO, fmt


def test_there_are_examples():
    assert len(EXAMPLES) >= 5
    assert "token.lane" in {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_checks_without_errors_or_warnings(path):
    data = CompilerData(path)
    # Hot spots (SPEC §2.6) are the analysis speaking about parallelism, not mistakes in the code.
    assert fmt(d for d in data.diagnostics() if d.code != "hot-spot") == []
    assert data.ok
    checked = data.checked
    assert checked is not None
    # Every contract of the file itself is in the checked program.
    names = {c.name for m in data.loaded.modules if m.file == str(path) for c in m.contracts}
    assert names and names <= set(checked.contracts)
    # Every pub function of the showcase has a body the checker walked.
    assert any(f.is_pub for c in checked.contracts.values() for f in c.functions.values())


def _lane_command() -> list[str]:
    script = Path(sys.executable).with_name("lane")
    if script.exists():
        return [str(script)]
    found = shutil.which("lane")
    return [found] if found else [sys.executable, "-m", "compiler"]


def test_lane_check_on_all_examples_exits_0():
    files = [str(p.relative_to(REPO)) for p in EXAMPLES]
    proc = subprocess.run([*_lane_command(), "check", *files], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "error:" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if ": warning: " in line]
    assert warnings and all(": warning: hot spot: " in line for line in warnings)
    assert f"checked {len(files)} files: {len(warnings)} warnings" in proc.stderr
    assert "Traceback" not in proc.stderr
