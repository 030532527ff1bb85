"""``lane analyze FILE... [--json]`` as a user runs it (SPEC §5): the JSON shape, the text report,
the on-disk cache (a warm run does not import Z3), and errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_lane

EXAMPLES = REPO / "examples"

HOT = """\
contract Hot {
    storage total: u256;
    storage owner: address;
    storage by_user: map<address, u256>;

    init() { owner = msg.sender; }

    pub fn set_total(v: u256) { total = v; }
    pub fn add_total(v: u256) { total += v; }
    pub fn mine(v: u256) { by_user[msg.sender] = v; }
    pub view fn get(who: address) -> u256 { return by_user[who]; }
}
"""

BAD = """\
contract Bad {
    storage x: u256;
    pub fn f() { x = true; }
}
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh analysis cache for every test (subprocesses inherit it)."""
    path = tmp_path / "lane-cache"
    monkeypatch.setenv("LANE_CACHE_DIR", str(path))
    return path


def analyze_json(*files) -> dict:
    proc = run_lane("analyze", *map(str, files), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def _hot(tmp_path: Path) -> Path:
    path = tmp_path / "hot.lane"
    path.write_text(HOT)
    return path


# ------------------------------------------------------------------ JSON


def test_json_shape(tmp_path):
    data = analyze_json(_hot(tmp_path))
    assert set(data) >= {"functions", "conflicts", "warnings"}
    fns = data["functions"]
    assert [(f["contract"], f["function"]) for f in fns] == [
        ("Hot", "set_total"), ("Hot", "add_total"), ("Hot", "mine"), ("Hot", "get")]
    for f in fns:
        assert {"contract", "function", "accesses", "cost"} <= set(f)
        assert isinstance(f["cost"], int) and f["cost"] > 0
        for a in f["accesses"]:
            assert {"contract", "var", "key", "mode", "kind"} <= set(a)
            assert isinstance(a["key"], list) and all(isinstance(k, str) for k in a["key"])
            assert a["mode"] in ("read", "write", "add")
            assert a["kind"] in ("exact", "immutable", "dynamic", "wildcard")
    by_name = {f["function"]: f for f in fns}
    assert [{k: a[k] for k in ("contract", "var", "key", "mode", "kind")} for a in by_name["mine"]["accesses"]] == [
        {"contract": "Hot", "var": "by_user", "key": ["msg.sender"], "mode": "write", "kind": "exact"}]
    assert [(a["var"], a["key"], a["mode"]) for a in by_name["set_total"]["accesses"]] == [("total", [], "write")]
    assert [(a["var"], a["mode"]) for a in by_name["add_total"]["accesses"]] == [("total", "add")]


def test_json_conflicts_cover_every_unordered_pair(tmp_path):
    data = analyze_json(_hot(tmp_path))
    names = [f"{f['contract']}.{f['function']}" for f in data["functions"]]
    pairs = [(c["a"], c["b"]) for c in data["conflicts"]]
    assert len(pairs) == len(names) * (len(names) + 1) // 2
    assert {frozenset(p) for p in pairs} == {frozenset((a, b)) for a in names for b in names}
    for c in data["conflicts"]:
        assert set(c) >= {"a", "b", "verdict", "condition"}
        assert c["verdict"] in ("never", "always", "when")
        assert (c["condition"] is not None) == (c["verdict"] == "when")
    table = {(c["a"], c["b"]): (c["verdict"], c["condition"]) for c in data["conflicts"]}
    assert table[("Hot.set_total", "Hot.set_total")] == ("always", None)
    assert table[("Hot.set_total", "Hot.add_total")] == ("always", None)
    assert table[("Hot.add_total", "Hot.add_total")] == ("never", None)
    assert table[("Hot.mine", "Hot.mine")] == ("when", "a.sender == b.sender")
    assert table[("Hot.mine", "Hot.get")] == ("when", "a.sender == b.who")
    assert table[("Hot.get", "Hot.get")] == ("never", None)
    assert table[("Hot.set_total", "Hot.mine")] == ("never", None)


def test_json_of_an_example_with_imports():
    data = analyze_json(EXAMPLES / "amm.lane")
    names = [f"{f['contract']}.{f['function']}" for f in data["functions"]]
    assert "Token.transfer" in names and "Pool.swap" in names  # the imported Token is analysed too
    assert len(data["conflicts"]) == len(names) * (len(names) + 1) // 2
    table = {(c["a"], c["b"]): c for c in data["conflicts"]}
    assert table[("Token.transfer", "Token.transfer")]["condition"] == \
        "a.sender == b.sender || a.sender == b.to || a.to == b.sender"
    assert table[("Pool.swap", "Pool.swap")]["verdict"] == "always"
    swap = next(f for f in data["functions"] if f["function"] == "swap")
    assert {"contract": "Token", "var": "balances", "key": ["self"], "mode": "add",
            "kind": "exact"}.items() <= next(a for a in swap["accesses"] if a["mode"] == "add").items()
    reserves = next(f for f in data["functions"] if f["function"] == "add_liquidity")["accesses"]
    assert any(a["var"] == "reserves" and a["key"] == ["token0"] and a["kind"] == "immutable" for a in reserves)


def test_json_warnings(tmp_path):
    data = analyze_json(_hot(tmp_path))
    warnings = data["warnings"]
    assert [w["function"] for w in warnings] == ["Hot.set_total"]
    assert set(warnings[0]) >= {"function", "message"}
    assert "Hot.total" in warnings[0]["message"]


def test_several_files(tmp_path):
    data = analyze_json(_hot(tmp_path), EXAMPLES / "token.lane")
    names = {f"{f['contract']}.{f['function']}" for f in data["functions"]}
    assert {"Hot.mine", "Token.transfer"} <= names
    assert {w["function"] for w in data["warnings"]} == {"Hot.set_total", "Token.transfer_ownership"}


# ------------------------------------------------------------------ text report


def test_text_report(tmp_path):
    proc = run_lane("analyze", str(_hot(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # One section per function, with its cost and accesses.
    for fn in ("set_total", "add_total", "mine", "get"):
        assert f"Hot.{fn}" in out
    assert "Hot.get view  (worst-case cost" in out
    assert "write  Hot.by_user[msg.sender]  [exact]" in out
    assert "add    Hot.total  [exact]" in out
    # The matrix: a header of indices and one row per function.
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Conflict matrix"))
    assert lines[start + 1].split() == ["1", "2", "3", "4"]
    rows = lines[start + 2:start + 6]
    assert [r.split()[1] for r in rows] == ["Hot.set_total", "Hot.add_total", "Hot.mine", "Hot.get"]
    assert rows[0].split()[2:] == ["x", "x", ".", "."]
    assert rows[1].split()[2:] == ["x", ".", ".", "."]
    assert rows[2].split()[2:] == [".", ".", "?", "?"]
    assert "Hot.mine x Hot.get  when: a.sender == b.who" in out
    # The warnings, with a hint.
    assert "Warnings:" in out
    assert "hot spot: every call of Hot.set_total writes Hot.total" in out
    assert "hint:" in out


def test_text_report_without_hot_spots(tmp_path):
    path = tmp_path / "calm.lane"
    path.write_text("contract Calm {\n    storage m: map<address, u256>;\n"
                    "    pub fn f(v: u256) { m[msg.sender] = v; }\n}\n")
    proc = run_lane("analyze", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "No hot spots." in proc.stdout


# ------------------------------------------------------------------ cache


def _run_importtime(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("LANE_DEBUG", None)
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "compiler", *args], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=120)


def _imported(stderr: str) -> set[str]:
    out = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            out.add(line.rsplit("|", 1)[1].strip())
    return out


def test_warm_cache_gives_the_same_json_without_importing_z3(tmp_path, cache_dir):
    path = shutil.copy(EXAMPLES / "token.lane", tmp_path / "token.lane")
    cold = _run_importtime("analyze", str(path), "--json")
    assert cold.returncode == 0, cold.stderr
    assert "z3" in _imported(cold.stderr)  # the table was computed
    assert list(cache_dir.glob("*.json"))
    warm = _run_importtime("analyze", str(path), "--json")
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout) == json.loads(cold.stdout)
    assert not {m for m in _imported(warm.stderr) if m == "z3" or m.startswith("z3.")}


def test_a_changed_source_is_analysed_again(tmp_path):
    path = _hot(tmp_path)
    first = analyze_json(path)
    path.write_text(HOT.replace("pub fn add_total(v: u256) { total += v; }",
                                "pub fn add_total(v: u256) { total = total + v; }"))
    second = analyze_json(path)
    assert first != second
    table = {(c["a"], c["b"]): c["verdict"] for c in second["conflicts"]}
    assert table[("Hot.add_total", "Hot.add_total")] == "always"


def test_cached_warnings_name_the_file_analysed(tmp_path):
    """Two copies of one file in two folders: each report points at its own file."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    first = analyze_json(_hot(a))
    second = analyze_json(_hot(b))
    assert first["warnings"][0]["location"]["file"] == str(a / "hot.lane")
    assert second["warnings"][0]["location"]["file"] == str(b / "hot.lane")


# ------------------------------------------------------------------ errors


def test_file_with_errors_exits_1_with_the_diagnostic(tmp_path):
    path = tmp_path / "bad.lane"
    path.write_text(BAD)
    for args in (("analyze", str(path)), ("analyze", str(path), "--json")):
        proc = run_lane(*args)
        assert proc.returncode == 1
        if "--json" in args:  # the error as JSON on stdout too (tests/test_cli_json_errors.py)
            (diag,) = json.loads(proc.stdout)["error"]["diagnostics"]
            assert (diag["location"]["line"], diag["location"]["column"]) == (3, 22)
        else:
            assert proc.stdout == ""
        assert f"{path}:3:22: error: " in proc.stderr
        assert "3 |     pub fn f() { x = true; }" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_missing_file_exits_1(tmp_path):
    proc = run_lane("analyze", str(tmp_path / "nope.lane"), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["message"] == f"cannot read '{tmp_path / 'nope.lane'}': no such file"
    assert "nope.lane" in proc.stderr
    assert "Traceback" not in proc.stderr
