"""A plain (non-editable) install carries the grammar and checks contracts from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONTRACT = """
contract Counter {
    storage count: map<address, u256>;
    pub fn bump() { count[msg.sender] += 1; }
}
"""

BAD = "contract Broken { pub fn f() -> u256 { return true; } }\n"

RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import compiler
from importlib import resources
assert compiler.__file__.startswith(sys.argv[1]), compiler.__file__
assert resources.files(compiler).joinpath("grammar", "lane.lark").is_file()
from compiler.cli import main
sys.argv = ["lane", "check", *sys.argv[2:]]
main()
"""


def test_wheel_ships_the_grammar_and_checks_from_elsewhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "compiler/grammar/lane.lark" in names
    assert "compiler/cli.py" in names

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "counter.lane").write_text(CONTRACT)
    (elsewhere / "broken.lane").write_text(BAD)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    ok = subprocess.run([sys.executable, "-c", RUN, str(site), "counter.lane"], cwd=elsewhere,
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "checked 1 file: no problems" in ok.stderr

    bad = subprocess.run([sys.executable, "-c", RUN, str(site), "broken.lane"], cwd=elsewhere,
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1
    assert "broken.lane:1:47: error: expected u256, found bool" in bad.stderr
