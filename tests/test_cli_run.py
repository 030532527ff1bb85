"""``lane run``, ``lane call`` and ``lane compile``: output and user errors (SPEC §5)."""

from __future__ import annotations

import json
import re

import pytest

from compiler.runtime.chain import Chain
from runtime_helpers import (ALICE, MAX, TOKEN, account, instance, lane_fails, lane_json, lane_ok, make_world, run_block,
                             tx, write_block)

EXTRA = """
contract Probe {
    storage flag: bool;
    storage who: address;
    event Seen(n: u256, on: bool);

    init(on: bool, w: address) { flag = on; who = w; }

    pub view fn is_on() -> bool { return flag; }
    pub view fn whom() -> address { return who; }
    pub view fn me() -> Probe { return Probe(self); }
    pub view fn big() -> u256 { return 115792089237316195423570985008687907853269984665640564039457584007913129639935; }
    pub view fn total(xs: array<u256, 3>) -> u256 {
        let s: u256 = 0;
        for i in 0..len(xs) { s += xs[i]; }
        return s;
    }
    pub view fn sender() -> address { return msg.sender; }
    pub view fn when() -> u256 { return block.number; }
    pub fn nothing() { }
    pub fn toggle(n: u256) -> bool { flag = !flag; emit Seen(n, flag); return flag; }
}
"""


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, {"token.lane": TOKEN, "probe.lane": EXTRA}, [
        {"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice", "args": ["1000"]},
        {"name": "probe", "source": "probe.lane", "contract": "Probe", "args": [True, "alice"]},
    ], accounts={"alice": ALICE})


BLOCK = [
    tx("alice", "token", "transfer", "bob", 100),
    tx("bob", "token", "transfer", "carol", 500),      # reverted
    tx("bob", "token", "transfer", "carol", 40),
    tx("carol", "token", "transfer", "dave", 41),      # reverted
    tx("alice", "token", "mint", "bob", 1),            # invalid: no such function
    tx("alice", "probe", "toggle", 7),
]


# ------------------------------------------------------------------------ run

def test_run_summary(world, tmp_path):
    block = write_block(tmp_path, BLOCK)
    proc = lane_ok("run", str(world), str(block), cwd=tmp_path)
    lines = proc.stdout.splitlines()
    js = lane_json("run", str(world), str(block), cwd=tmp_path)
    assert lines[:7] == [
        "block 1 (timestamp 12): 6 transactions: 3 ok, 2 reverted, 1 invalid; cost 95",  # 4 x 20 + 0 + 15
        "  reverted: insufficient balance (x2)",
        "  invalid: unknown function 'mint' of Token (x1)",
        "  failed transactions:",
        "    #1 (line 2): reverted: insufficient balance",
        "    #3 (line 4): reverted: insufficient balance",
        "    #4 (line 5): invalid: unknown function 'mint' of Token",
    ]
    # The default executor is parallel (SPEC §4); a block this small runs inline.
    assert re.fullmatch(r"executor parallel: ran inline(, not on its \d+ workers)? \([^)]*\); \d+\.\d{4} s from the "
                        r"block file to the committed state, [\d,]+ tx/s", lines[7]), lines[7]
    # Where the time went: each phase in milliseconds and its share (SPEC §5 phases).
    assert re.fullmatch(r"  (\w+ \d+\.\d ms \(\d+%\), )*execute \d+\.\d ms \(\d+%\)(, \w+ \d+\.\d ms \(\d+%\))*",
                        lines[8]), lines[8]
    assert lines[9:] == [f"state root    {js['state_root']}", f"receipts root {js['receipts_root']}"]
    assert proc.stderr == ""


def test_lane_run_keeps_no_block_it_has_shown(world, tmp_path, monkeypatch):
    """Blocks run one after the other: shown as text, or with --json as one more element of the
    object's "blocks" (written as each is done, the text a whole-object print gives), a block's
    result (its receipts, its bytes) goes, so that a long chain's run does not grow with it (a
    100,000-transfer block's result held 300 MB)."""
    from compiler.cli_support import json_text

    import gc
    import weakref

    from typer.testing import CliRunner

    from compiler.cli import app

    made: list = []
    alive: list[int] = []  # (the results of the blocks before, alive when each block starts)
    real = Chain.run_file

    def run_file(self, *args, **options):
        gc.collect()
        alive.append(sum(ref() is not None for ref in made))
        result = real(self, *args, **options)
        made.append(weakref.ref(result))
        return result

    monkeypatch.setattr(Chain, "run_file", run_file)
    blocks = [write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 1)], f"b{k}.jsonl") for k in range(3)]
    for flags, expected in (([], [0, 0, 0]), (["--json"], [0, 0, 0])):
        made.clear()
        alive.clear()
        got = CliRunner().invoke(app, ["run", str(world), *map(str, blocks), *flags])
        assert got.exit_code == 0, got.output
        assert alive == expected, flags
        if flags:
            out = json.loads(got.output)
            assert len(out["blocks"]) == 3 and got.output == json_text(out)
        else:
            assert sum(line.startswith("block ") for line in got.output.splitlines()) == 3, got.output


def _modules_after(args: list[str], names: list[str], cwd, before: str = "") -> tuple[list[str], str]:
    """Which of the modules ``names`` a fresh process running ``lane ARGS`` (after the Python of
    ``before``) has loaded, and its standard output."""
    import subprocess
    import sys

    probe = ("import runpy, sys\n" + before
             + f"sys.argv = ['lane', *{args!r}]\n"
             "try:\n    runpy.run_module('compiler', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"print(sorted(m for m in {names!r} if m in sys.modules), file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return eval(out.stderr.strip().splitlines()[-1]), out.stdout


def test_a_run_from_the_program_cache_imports_neither_lark_z3_nor_networkx(world, tmp_path):
    """Start-up: once the world's programs are cached, ``lane run`` with a state file parses nothing,
    analyses nothing and draws no graph, so it does not import the libraries that do."""
    block = write_block(tmp_path, BLOCK[:1])
    args = ["run", str(world), str(block), "--state", str(tmp_path / "s.sqlite")]
    lane_ok(*args, cwd=tmp_path)  # (fills the program cache)
    assert _modules_after(args, ["lark", "z3", "networkx"], tmp_path)[0] == []


def test_a_block_the_parallel_executor_runs_inline_loads_none_of_the_lanes_machinery(world, tmp_path):
    """A block too small for lanes: ``lane run`` with the parallel executor (its default) runs it as the
    sequential executor does, and loads none of the modules of the lanes' messages, merge and replicas
    (named, not imported: :mod:`compiler.runtime.lazy`), which cost a run 10 ms with cached bytecode
    and 40 ms without.  A process's first block on lanes loads them (the same probe,
    lanes forced): its ``seconds.imports`` (not in its ``parent_cpu``); its next block has none."""
    import json

    block = write_block(tmp_path, BLOCK[:1])
    args = ["run", str(world), str(block), "--state", str(tmp_path / "s.sqlite"), "--executor", "parallel",
            "--workers", "2"]
    lane_ok(*args, cwd=tmp_path)  # (fills the program cache)
    lanes = ["compiler.runtime.merge", "compiler.runtime.protocol", "compiler.runtime.replica",
             "compiler.schedule.stored"]  # (the parent's, on lanes)
    names = lanes + ["compiler.schedule.rows",  # (and the workers' schedule's, or the estimate's)
                     "multiprocessing"]  # (never: the workers are forked by os.fork, runtime.pool)

    def loaded(force: bool) -> tuple[list[str], list[dict]]:
        run = [*args[:3], str(block), *args[3:], "--json"]  # (the block twice: two blocks of one process)
        forced = ("from compiler.runtime import parallel\n"
                  "made = parallel.ParallelExecutor.__init__\n"
                  "parallel.ParallelExecutor.__init__ = lambda ex, *a, **k: made(ex, *a, **{**k, 'force': True})\n")
        modules, out = _modules_after(run, names, tmp_path, forced if force else "")
        return modules, [b["detail"] for b in json.loads(out)["blocks"]]

    modules, details = loaded(force=False)
    assert modules == [] and [d["mode"] for d in details] == ["inline", "inline"]
    modules, (first, second) = loaded(force=True)
    assert modules == lanes and first["mode"] == second["mode"] == "parallel"
    assert first["seconds"]["imports"] > 0 and "imports" not in second["seconds"]


def test_run_summary_of_a_clean_block(world, tmp_path):
    block = write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 1)])
    lines = lane_ok("run", str(world), str(block), "--number", "3", "--timestamp", "99", cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "block 3 (timestamp 99): 1 transaction: 1 ok, 0 reverted, 0 invalid; cost 20"
    assert len(lines) == 5 and lines[1].startswith("executor parallel: ran inline")


def test_run_json(world, tmp_path):
    block = write_block(tmp_path, BLOCK)
    proc = lane_ok("run", str(world), str(block), "--json", cwd=tmp_path)
    out = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert isinstance(out, dict)
    assert {"state_root", "receipts_root", "receipts", "executor", "workers", "seconds", "tps"} <= set(out)
    assert out["executor"] == "parallel" and out["workers"] >= 1
    assert out["detail"]["mode"] == "inline"
    assert isinstance(out["seconds"], float) and 0 < out["seconds"] < 10
    assert out["tps"] == pytest.approx(6 / out["seconds"])
    assert re.fullmatch(r"0x[0-9a-f]{64}", out["state_root"]) and re.fullmatch(r"0x[0-9a-f]{64}", out["receipts_root"])
    assert [(r["status"], r["reason"], r["return"]) for r in out["receipts"]] == [
        ("ok", None, True), ("reverted", "insufficient balance", None), ("ok", None, True),
        ("reverted", "insufficient balance", None), ("invalid", "unknown function 'mint' of Token", None),
        ("ok", None, False)]
    assert out["receipts"][0]["events"] == [{"contract": "token", "address": instance("token"), "event": "Transfer",
                                             "args": [ALICE, account("bob"), "100"]}]
    assert out["receipts"][5]["events"] == [{"contract": "probe", "address": instance("probe"), "event": "Seen",
                                             "args": ["7", False]}]
    # The same as the Python API.
    result = run_block(Chain.open(world), BLOCK)
    assert (out["state_root"], out["receipts_root"]) == (result.state_root, result.receipts_root)
    assert out["receipts"] == result.receipts_json


def test_run_unknown_executor(world, tmp_path):
    block = write_block(tmp_path, BLOCK)
    err = lane_fails("run", str(world), str(block), "--executor", "quantum", cwd=tmp_path)
    assert err.startswith("error: unknown executor 'quantum' (choose from: parallel, sequential")


# ----------------------------------------------------------------------- call

def test_call_prints_values(world, tmp_path):
    def call(*args):
        return lane_ok("call", str(world), *args, cwd=tmp_path).stdout

    assert call("token", "balance_of", "alice") == "1000\n"
    assert call("token", "balance_of", ALICE) == "1000\n"
    assert call("token", "balance_of", "bob") == "0\n"
    assert call("probe", "is_on") == "true\n"
    assert call("probe", "whom") == ALICE + "\n"
    assert call("probe", "me") == instance("probe") + "\n"
    assert call(instance("probe"), "is_on") == "true\n"
    assert call("probe", "big") == f"{MAX}\n"
    assert call("probe", "total", "[1, 2, \"3\"]") == "6\n"
    assert call("probe", "sender") == "0x" + "0" * 40 + "\n"
    assert call("probe", "sender", "--from", "alice") == ALICE + "\n"
    assert call("probe", "toggle", "1") == "false\n"      # runs, but nothing is kept
    assert call("probe", "is_on") == "true\n"
    assert call("probe", "nothing") == "(no value)\n"


def test_call_errors(world, tmp_path):
    def fails(*args):
        return lane_fails("call", str(world), *args, cwd=tmp_path)

    assert fails("tok", "balance_of", "alice") == "error: unknown contract 'tok' (deployed: token, probe)\n"
    assert fails("token", "balance_of") == "error: Token.balance_of takes 1 argument, found 0\n"
    assert fails("token", "nope").startswith("error: Token (token) has no function 'nope' (pub functions: transfer,")
    assert fails("token", "transfer", "bob", "1") == "error: call reverted: insufficient balance\n"
    assert fails("probe", "total", "[1, 2, 3, 4]") == (
        "error: argument 'xs' has 4 elements; its type array<u256, 3> allows at most 3\n")
    assert fails("probe", "total", "[1, 2") == \
        "error: argument 'xs' ('[1, 2') opens a list with '[' but does not close it\n"


# -------------------------------------------------------------------- compile

def test_compile_formats(world, tmp_path):
    source = str(tmp_path / "token.lane")
    python = lane_ok("compile", source, cwd=tmp_path).stdout
    assert python == lane_ok("compile", "-f", "python", source, cwd=tmp_path).stdout
    assert "def f5_Token_transfer(rt, this, sender, v_to, v_amount):" in python
    compile(python, "token.py", "exec")  # valid Python
    tree = json.loads(lane_ok("compile", "-f", "ast", source, cwd=tmp_path).stdout)
    assert [m["node"] for m in tree] == ["Module"]
    assert [c["name"] for c in tree[0]["contracts"]] == ["Token"]
    abi = json.loads(lane_ok("compile", "--format", "abi", source, cwd=tmp_path).stdout)
    assert [c["contract"] for c in abi] == ["Token"]
    fns = {f["name"]: f for f in abi[0]["functions"]}
    assert set(fns) == {"transfer", "balance_of", "init"}
    assert fns["transfer"]["inputs"] == [{"name": "to", "type": "address"}, {"name": "amount", "type": "u256"}]
    assert (fns["transfer"]["output"], fns["transfer"]["pub"], fns["balance_of"]["view"]) == ("bool", True, True)
    assert abi[0]["storage"] == [{"name": "balances", "type": "map<address, u256>", "slot": 0},
                                 {"name": "supply", "type": "u256", "slot": 1}]


def test_compile_unknown_format(world, tmp_path):
    err = lane_fails("compile", "-f", "xml", str(tmp_path / "token.lane"), cwd=tmp_path)
    assert err == "error: unknown format 'xml' (choose from: python, ast, abi)\n"


# -------------------------------------------------------------- user errors

def _deploy(**kw):
    entry = {"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice", "args": ["10"]}
    entry.update(kw)
    return entry


def test_bad_json_line(world, tmp_path):
    block = tmp_path / "b.jsonl"
    block.write_text(json.dumps(tx("alice", "token", "transfer", "bob", 1)) + "\n\n"
                     + '{"from": "alice", "to": token}\n')
    err = lane_fails("run", str(world), "b.jsonl", cwd=tmp_path)
    assert err == ("b.jsonl:3:25: error: invalid JSON: Expecting value\n"
                   '3 | {"from": "alice", "to": token}\n'
                   "  |                         ^\n")


def test_bad_toml(tmp_path):
    (tmp_path / "token.lane").write_text(TOKEN)
    (tmp_path / "w.toml").write_text('[[deploy]]\nname = "token"\nsource = token.lane\n')
    block = write_block(tmp_path, [])
    err = lane_fails("run", "w.toml", str(block), cwd=tmp_path)
    assert err.startswith("w.toml:3:10: error: invalid TOML: ")
    assert "3 | source = token.lane\n" in err


def test_missing_files(world, tmp_path):
    block = write_block(tmp_path, [])
    assert lane_fails("run", "nope.toml", str(block), cwd=tmp_path) == "error: world file not found: nope.toml\n"
    assert lane_fails("run", str(world), "nope.jsonl", cwd=tmp_path) == "error: block file not found: nope.jsonl\n"
    assert lane_fails("call", "nope.toml", "token", "balance_of", "x", cwd=tmp_path) == (
        "error: world file not found: nope.toml\n")
    make_world(tmp_path, {}, [_deploy(source="lib/missing.lane")], name="m.toml")
    err = lane_fails("run", "m.toml", str(block), cwd=tmp_path)
    assert err.splitlines()[0] == "m.toml:3:1: error: deployment #1 ('token'): source file not found: lib/missing.lane"
    assert lane_fails("compile", "missing.lane", cwd=tmp_path) == "error: cannot read 'missing.lane': no such file\n"


def test_unknown_contract_in_deployment(tmp_path):
    make_world(tmp_path, {"token.lane": TOKEN}, [_deploy(), _deploy(name="t2", contract="Tokn")], name="w.toml")
    err = lane_fails("run", "w.toml", str(write_block(tmp_path, [])), cwd=tmp_path)
    # (pointing at the key that is wrong)
    assert err == ("w.toml:11:1: error: deployment #2 ('t2'): no contract 'Tokn' in token.lane (it has: Token)\n"
                   '11 | contract = "Tokn"\n'
                   "   | ^\n")


def test_init_that_reverts(tmp_path):
    strict = TOKEN.replace("balances[msg.sender] = initial;",
                           'require(initial > 0, "empty supply"); balances[msg.sender] = initial;')
    make_world(tmp_path, {"token.lane": strict}, [_deploy(), _deploy(name="t2", args=["0"])], name="w.toml")
    err = lane_fails("run", "w.toml", str(write_block(tmp_path, [])), cwd=tmp_path)
    assert err.splitlines()[0] == "w.toml:8:1: error: deployment 't2': init reverted: empty supply"


def test_init_arity_and_argument_type(tmp_path):
    block = str(write_block(tmp_path, []))
    make_world(tmp_path, {"token.lane": TOKEN}, [_deploy(args=[1, 2])], name="w.toml")
    assert lane_fails("run", "w.toml", block, cwd=tmp_path).splitlines()[0] == (
        "w.toml:6:1: error: deployment 'token': init of Token takes 1 argument, found 2")
    make_world(tmp_path, {"token.lane": TOKEN}, [_deploy(args=[])], name="w.toml")
    assert lane_fails("run", "w.toml", block, cwd=tmp_path).splitlines()[0] == (
        "w.toml:6:1: error: deployment 'token': init of Token takes 1 argument, found 0")
    make_world(tmp_path, {"token.lane": TOKEN}, [_deploy(args=[-5])], name="w.toml")
    assert lane_fails("run", "w.toml", block, cwd=tmp_path).splitlines()[0] == (
        "w.toml:6:1: error: deployment 'token': init argument 'initial' must not be negative, found -5")


def test_contract_with_errors(tmp_path):
    bad = "contract Bad {\n    pub fn f() -> u256 {\n        return true;\n    }\n}\n"
    make_world(tmp_path, {"bad.lane": bad}, [{"name": "b", "source": "bad.lane", "contract": "Bad"}], name="w.toml")
    expected = ("bad.lane:3:16: error: expected u256, found bool: function 'f' returns u256\n"
                "3 |         return true;\n"
                "  |                ^^^^\n")
    assert lane_fails("run", "w.toml", str(write_block(tmp_path, [])), cwd=tmp_path) == expected
    assert lane_fails("call", "w.toml", "b", "f", cwd=tmp_path) == expected
    assert lane_fails("compile", "bad.lane", cwd=tmp_path) == expected


def test_world_unknown_section_and_key(tmp_path):
    (tmp_path / "token.lane").write_text(TOKEN)
    block = str(write_block(tmp_path, []))
    (tmp_path / "w.toml").write_text('[[deploy]]\nname = "t"\nsource = "token.lane"\ncontract = "Token"\n'
                                     'args = ["1"]\ncolour = "red"\n')
    assert lane_fails("run", "w.toml", block, cwd=tmp_path).splitlines()[0] == (
        "w.toml:6:1: error: deployment #1: unknown key 'colour'")
    (tmp_path / "w.toml").write_text('[[deploy]]\nname = "t"\ncontract = "Token"\n')
    assert lane_fails("run", "w.toml", block, cwd=tmp_path).splitlines()[0] == (
        "w.toml:1:1: error: deployment #1 needs 'source' (a string)")


def test_block_number_and_timestamp_out_of_range(world, tmp_path):
    block = str(write_block(tmp_path, [tx("alice", "probe", "when")]))
    state = str(tmp_path / "s.sqlite")
    assert lane_fails("run", str(world), block, "--state", state, "--number", str(2**63), cwd=tmp_path) == (
        f"error: block number {2**63} is out of range (1 .. 2^63-1)\n")
    assert lane_fails("run", str(world), block, "--timestamp", str(2**256), cwd=tmp_path) == (
        f"error: block timestamp {2**256} is out of range (0 .. 2^256-1)\n")
    out = lane_json("run", str(world), block, "--state", state, "--number", str(2**63 - 1),
                    "--timestamp", str(MAX), cwd=tmp_path)
    assert (out["number"], out["timestamp"], out["receipts"][0]["return"]) == (2**63 - 1, MAX, str(2**63 - 1))


def test_the_program_cache_keeps_the_lanes_code_as_generated(world, tmp_path):
    """The parallel executor's workers compile the lanes' code (every access logged) from the text
    the program cache kept: the text a fresh generation gives."""
    from compiler import pipeline
    from compiler.codegen.python import generate

    source = world.parent / "token.lane"
    pipeline.program(source)  # (fills the cache, or finds it)
    cached = pipeline.program(source)
    assert cached.__dict__.get("_cached_logged_source")
    assert cached.logged.source == generate(cached.require_checked(), log=True)
    assert "LOGR(" in cached.logged.source and "LOGR(" not in cached.compiled.source


def test_the_program_cache_keeps_both_codes_compiled_for_this_python_only(world, tmp_path, monkeypatch):
    """A run loads the program's code, and a worker the lanes' code, compiled (a fiftieth of the time
    compiling takes); cached by another Python, the code is compiled again from its text."""
    from compiler import pipeline
    from compiler.codegen import compiled as codegen

    source = world.parent / "token.lane"
    pipeline.program(source)  # (fills the cache, or finds it)
    cached = pipeline.program(source)

    def no_compiling(*args):
        raise AssertionError("compiled again")

    monkeypatch.setattr(codegen, "compile", no_compiling, raising=False)
    plain, logged = cached.compiled.function("Token", "transfer"), cached.logged.function("Token", "transfer")
    assert plain.__code__.co_filename == logged.__code__.co_filename == "<lane:token.lane>"
    assert "log" in logged.__code__.co_names and "log" not in plain.__code__.co_names
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "_magic", lambda: b"another")
    other = pipeline.program(source)
    assert "_cached_code" not in other.__dict__ and "_cached_logged_code" not in other.__dict__
    assert "log" in other.logged.function("Token", "transfer").__code__.co_names
