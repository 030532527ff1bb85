"""The command line as its users expect it: errors as JSON with ``--json``, flags shown without a
value in ``--help``, ``lane call`` arguments as a shell user writes them, ``lane bench --plot``
refused before it measures anything without its plotting library."""

from __future__ import annotations

import json

import pytest
import typer.main
from runtime_helpers import ALICE, TOKEN, make_world, tx, write_block
from typer.testing import CliRunner

import compiler.bench as harness
from compiler.cli import app

PROBE = """
contract Probe {
    storage flag: bool;
    pub view fn total(xs: array<u256, 3>) -> u256 {
        let s: u256 = 0;
        for i in 0..len(xs) { s += xs[i]; }
        return s;
    }
    pub view fn count(ws: array<address, 2>) -> u256 { return len(ws); }
    pub view fn echo(n: u256) -> u256 { return n; }
}
"""


def lane(*args, cwd=None):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "100", "NO_COLOR": "1"})


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_world(tmp_path, {"token.lane": TOKEN, "probe.lane": PROBE}, [
        {"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice", "args": ["1000"]},
        {"name": "probe", "source": "probe.lane", "contract": "Probe"},
    ], accounts={"alice": ALICE})
    write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 1)])
    return "world.toml"


def error(message: str, code: str, status: int = 1) -> dict:
    diagnostics = [{"severity": "error", "code": code, "message": message, "location": None, "notes": [],
                    "hint": None}] if status == 1 else []
    return {"error": {"message": message, "code": code, "exit_status": status, "diagnostics": diagnostics}}


# ------------------------------------------------------------------ --json errors

@pytest.mark.parametrize("args, message, code", [
    (["analyze", "missing.lane"], "cannot read 'missing.lane': no such file", "io"),
    (["run", "world.toml", "missing.jsonl"], "block file not found: missing.jsonl", "io"),
    (["schedule", "world.toml", "missing.jsonl"], "block file not found: missing.jsonl", "io"),
    (["run", "world.toml", "block.jsonl", "--executor", "quantum"],
     "unknown executor 'quantum' (choose from: parallel, sequential, dask)", "usage"),
    (["state", "show", "--state", "missing.sqlite"], "state file not found: missing.sqlite", "state"),
    (["state", "receipts", "world.toml", "--state", "missing.sqlite"], "state file not found: missing.sqlite", "state"),
    (["state", "verify", "world.toml", "--state", "missing.sqlite"], "state file not found: missing.sqlite", "state"),
])
def test_with_json_a_user_error_is_json_on_stdout_too(world, args, message, code):
    result = lane(*args, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == error(message, code)
    assert result.stderr == f"error: {message}\n"
    plain = lane(*args)  # without --json: the message alone, on stderr
    assert (plain.exit_code, plain.stdout, plain.stderr) == (1, "", f"error: {message}\n")


def test_blocks_that_ran_before_a_failing_one_are_in_the_error_object(world):
    # Block 1 is committed to the state file before block 2's file is found missing: the JSON says
    # so beside the error, and stderr tells whoever reads the text.
    result = lane("run", "world.toml", "block.jsonl", "missing.jsonl", "--state", "s.sqlite", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["error"] == error("block file not found: missing.jsonl", "io")["error"]
    assert [(b["number"], [r["status"] for r in b["receipts"]]) for b in out["blocks"]] == [(1, ["ok"])]
    assert "note: block 1 ran before this error and is committed to s.sqlite" in result.stderr
    shown = lane("state", "show", "--state", "s.sqlite", "--json")
    assert json.loads(shown.stdout)["head"]["state_root"] == out["blocks"][0]["state_root"]
    # Without --state nothing is kept, and the note says so.
    result = lane("run", "world.toml", "block.jsonl", "block.jsonl", "missing.jsonl")
    assert result.exit_code == 1 and "note: blocks 1 to 2 ran before this error (in memory: nothing is kept)" \
        in result.stderr


@pytest.mark.parametrize("fault, code, status", [(KeyboardInterrupt, "interrupted", 130),
                                                 (RuntimeError, "internal", 3)])
def test_blocks_written_before_an_interrupt_or_a_fault_make_one_object_with_it(world, monkeypatch, fault, code,
                                                                             status):
    from compiler.runtime.chain import Chain

    run_file, calls = Chain.run_file, []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise fault()
        return run_file(self, *args, **kwargs)

    monkeypatch.setattr(Chain, "run_file", failing)
    result = lane("run", "world.toml", "block.jsonl", "block.jsonl", "--json")
    assert result.exit_code == status
    out = json.loads(result.stdout)
    assert out["error"]["code"] == code and [b["number"] for b in out["blocks"]] == [1]
    again = lane("run", "world.toml", "block.jsonl", "--json")  # (nothing left open for the next command)
    assert again.exit_code == 0 and json.loads(again.stdout)["number"] == 1


def test_with_json_a_usage_error_is_json_on_stdout_with_exit_status_1(world):
    result = lane("run", "world.toml", "block.jsonl", "--workers", "0", "--json")
    assert result.exit_code == 1
    message = "Invalid value for '--workers' / '-w': 0 is not in the range x>=1."
    assert json.loads(result.stdout) == error(message, "usage")
    assert message in result.stderr


def test_with_json_an_internal_fault_is_json_on_stdout_with_exit_status_3(world, monkeypatch):
    from compiler.runtime import chain

    def broken(*args, **kwargs):
        raise RuntimeError("a fault of Lane's own")

    monkeypatch.setattr(chain.Chain, "schedule", broken)
    result = lane("schedule", "world.toml", "block.jsonl", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == error("internal error: RuntimeError: a fault of Lane's own", "internal", 3)
    assert result.stderr.startswith("internal error: RuntimeError: a fault of Lane's own\nThis is a bug in Lane")


def test_a_contract_with_errors_gives_its_diagnostics_in_the_json_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.lane").write_text("contract Bad { pub fn f() -> u256 { return true; } }\n")
    result = lane("analyze", "bad.lane", "--json")
    assert result.exit_code == 1
    (diag,) = json.loads(result.stdout)["error"]["diagnostics"]
    assert (diag["code"], diag["message"], diag["location"]["line"], diag["location"]["column"]) == (
        "type-mismatch", "expected u256, found bool: function 'f' returns u256", 1, 44)


# ------------------------------------------------------------------ --help

def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_shows_flags_without_a_value():
    for path, command in _commands(typer.main.get_command(app)):
        result = lane(*path, "--help")
        assert result.exit_code == 0, path
        assert "<bool>" not in result.stdout, (path, result.stdout)
        flags = [p for p in command.params if getattr(p, "is_flag", False) and not p.hidden]
        for flag in flags:  # the flag, then its help text: nothing between
            assert any(line.split()[1:2] == [flag.opts[0]] and line.split()[2] != "<bool>"
                       for line in result.stdout.splitlines() if len(line.split()) > 2), (path, flag.opts)


def test_options_that_take_a_value_still_show_it():
    out = lane("run", "--help").stdout
    assert any("--workers" in line and "<int range>" in line for line in out.splitlines()), out


# ------------------------------------------------------------------ lane call

@pytest.mark.parametrize("args, printed", [
    (["total", "1,2,3"], "6"),
    (["total", "[1, 2, 3]"], "6"),
    (["total", '["1", 2]'], "3"),
    (["total", "[]"], "0"),
    (["total", "7"], "7"),                 # one element needs no brackets
    (["count", "alice,bob"], "2"),
    (["count", "[alice, 'bob']"], "2"),
    (["echo", "0x10"], "16"),
])
def test_call_takes_arrays_as_a_shell_user_writes_them(world, args, printed):
    result = lane("call", "world.toml", "probe", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (0, printed + "\n", "")


@pytest.mark.parametrize("args, message", [
    (["echo", "-5"], "argument 'n' must not be negative, found '-5'"),
    (["total", "-1,2"], "argument 'xs'[0] must not be negative, found '-1'"),
    (["total", "1,2,3,4"], "argument 'xs' has 4 elements; its type array<u256, 3> allows at most 3"),
    (["total", "[1, 2"], "argument 'xs' ('[1, 2') opens a list with '[' but does not close it"),
    (["echo", "--bogus"], "no such option: '--bogus' (see lane call --help)"),
])
def test_call_reads_values_that_look_like_options_as_values(world, args, message):
    result = lane("call", "world.toml", "probe", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"error: {message}\n")


def test_call_options_still_work_after_the_arguments(world):
    assert lane("run", "world.toml", "block.jsonl", "--state", "s.sqlite").exit_code == 0
    result = lane("call", "world.toml", "token", "balance_of", "bob", "--state", "s.sqlite")
    assert (result.exit_code, result.stdout) == (0, "1\n")


# ------------------------------------------------------------------ lane bench --plot

def test_bench_plot_without_its_library_is_refused_before_measuring(monkeypatch):
    real = harness.importlib.util.find_spec
    monkeypatch.setattr(harness.importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))

    def measured(*args, **kwargs):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(harness, "bench", measured)
    result = lane("bench", "--plot", "speedup.png")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("error: --plot draws with matplotlib, which is not installed; install Lane's bench "
                             "extra: pip install 'lane-lang[bench]'\n")


@pytest.mark.parametrize("option", ["--output", "--plot"])
def test_bench_output_it_cannot_write_is_refused_before_measuring(tmp_path, monkeypatch, option):
    # Found out after the whole benchmark, its results would be thrown away (it was an internal error).
    def measured(*args, **kwargs):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(harness, "bench", measured)
    monkeypatch.setattr(harness, "require_plotting", lambda: None)
    for path, says in ((f"{tmp_path}/no/such/results", "no folder"), (f"{tmp_path}/", "names a folder")):
        result = lane("bench", option, path)
        assert (result.exit_code, result.stdout) == (1, ""), result.output
        assert result.stderr.startswith(f"error: {option} {path!r}") and says in result.stderr, result.stderr


def test_bench_output_that_fails_when_written_is_a_user_error(tmp_path, monkeypatch):
    def full(rows, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(harness, "bench", lambda *args, **kwargs: [])
    monkeypatch.setattr(harness, "write", full)
    result = lane("bench", "-o", str(tmp_path / "results.json"))
    assert result.exit_code == 1 and "internal error" not in result.stderr, result.output
    assert result.stderr == f"error: cannot write {str(tmp_path / 'results.json')!r}: No space left on device\n"


def test_bench_plot_draws_the_figure(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    result = lane("bench", "--workloads", "transfers", "--accounts", "10", "--workers", "1", "-n", "50",
                  "--repeat", "1", "--plot", "speedup.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
