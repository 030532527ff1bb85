"""A plain (non-editable) install works from any directory: the wheel carries the grammar, the
examples and the demo world, and ``lane demo``, ``lane gen`` and ``lane bench`` run in a folder
that has nothing of the repository.

The wheel is built without network access (hatchling is in the test extra).  It is installed
into a fresh virtual environment whose dependencies (lark, z3, typer...) come from this
environment's site-packages, so nothing is downloaded either; Lane itself comes only from the
wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

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


def _env() -> dict[str, str]:
    """This environment without what would let a subprocess find Lane elsewhere than installed."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LANE_EXAMPLES", "LANE_DEBUG")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    (built,) = wheels.glob("*.whl")
    return built


def test_wheel_ships_the_grammar_the_examples_and_the_demo_world(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"compiler/grammar/lane.lark", "compiler/cli.py", "compiler/resources.py"} <= names
    examples = {p.name for p in (REPO / "examples").glob("*.lane")}
    assert {f"compiler/examples/{name}" for name in examples} <= names
    demo = {p.name for p in (REPO / "examples" / "demo").iterdir() if p.is_file()}
    assert {"world.toml", "block1.jsonl", "block2.jsonl", "block3.jsonl"} <= demo
    assert {f"compiler/examples/demo/{name}" for name in demo} <= names


def test_wheel_checks_from_elsewhere(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "counter.lane").write_text(CONTRACT)
    (elsewhere / "broken.lane").write_text(BAD)

    ok = subprocess.run([sys.executable, "-c", RUN, str(site), "counter.lane"], cwd=elsewhere,
                        capture_output=True, text=True, env=_env(), timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "checked 1 file: no problems" in ok.stderr

    bad = subprocess.run([sys.executable, "-c", RUN, str(site), "broken.lane"], cwd=elsewhere,
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert bad.returncode == 1
    assert "broken.lane:1:47: error: expected u256, found bool" in bad.stderr


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with Lane installed from the wheel, as ``pip install`` would;
    its ``bin`` folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies, from this environment: a path in a .pth file is added to sys.path, after the
    # new environment's own site-packages (and the .pth files there, such as this checkout's
    # editable install, are not read), so `compiler` is the wheel's.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True, timeout=300, env=_env())
    where = subprocess.run([str(python), "-c", "import compiler; print(compiler.__file__)"], check=True,
                           capture_output=True, text=True, cwd=env_dir, env=_env()).stdout
    assert where.startswith(str(site)), where
    return env_dir / "bin"


def lane(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "lane"), *args], cwd=cwd, capture_output=True, text=True,
                          env={**_env(), "NO_COLOR": "1"}, timeout=300)


def test_demo_gen_and_bench_run_from_any_directory_after_install(installed, tmp_path):
    demo = lane(installed, "demo", "--transactions", "100", "--workers", "2", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert out.startswith("== 1. check 10 example contracts\n   all clean;"), out[:200]
    assert "== 3. run the demo's blocks in order" in out
    assert "-- block3.jsonl\n   block 600 (timestamp 7200): 15 transactions: 10 ok, 4 reverted, 1 invalid" in out
    assert "== 4. a generated DeFi block: 100 transactions" in out
    assert "results identical: True" in out

    gen = lane(installed, "gen", "work", "-n", "50", "-a", "10", cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["block.jsonl", "setup.jsonl", "token.lane",
                                                                     "world.toml"]
    run = lane(installed, "run", "work/world.toml", "work/setup.jsonl", "work/block.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "block 2 (timestamp 24): 50 transactions: 50 ok, 0 reverted, 0 invalid" in run.stdout

    bench = lane(installed, "bench", "--workloads", "transfers", "--accounts", "10", "--workers", "1",
                 "-n", "50", "--repeat", "1", cwd=tmp_path)
    assert bench.returncode == 0, bench.stderr
    assert bench.stdout.startswith("transfers     10 accounts  parallelism"), bench.stdout
