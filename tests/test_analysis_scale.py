"""The access analysis is linear in the program, and calls nest at most MAX_CALL_DEPTH deep.

Every function is summarised once and instantiated at its call sites, and every
loop body is walked once.  The tests count what the summariser walks (each
statement of each function exactly once) and the size of what it builds, on
programs that were exponential when every call and loop was walked again at
every use (tests/scale_programs.py).  A hang guard fails a test that runs far
longer than it should; the timings themselves are in benchmarks/analysis.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from compiler.analysis import symbolic as S
from compiler.analysis.conflicts import ALWAYS, NEVER, UNDECIDED, WHEN, ConflictChecker, conflict_table
from compiler.analysis.summary import ADD, MAX_ACCESSES_PER_VARIABLE, READ, WRITE, Summariser, summarise
from compiler.cli import app
from compiler.diagnostics import Diagnostics
from compiler.limits import MAX_CALL_DEPTH, MAX_LOOP_DEPTH
from compiler.pipeline import CompilerData
from compiler.schedule.instantiate import instantiate
from compiler.semantics import checker
from compiler.semantics.checker import CheckedProgram
from compiler.syntax import ast, parser

import scale_programs as P
from fuzzing import examples

GUARD_S = 10  # far above what any case here takes (see benchmarks/analysis.py)


@contextlib.contextmanager
def hang_guard(seconds: float = GUARD_S):
    """Fail, instead of hanging, when the body runs longer than ``seconds``."""
    def expired(signum, frame):
        raise AssertionError(f"took more than {seconds} s: the analysis is not linear in the program")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def program_of(tmp_path: Path, text: str, name: str = "scale.lane", errors: tuple[str, ...] = ()
               ) -> tuple[CompilerData, CheckedProgram]:
    """The checked program of ``text``, with exactly the errors of codes ``errors``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    data = CompilerData(path)
    assert data.checked is not None
    assert tuple(d.code for d in data.diags.errors) == errors, [d.message for d in data.diags.errors]
    return data, data.checked


def past_the_loop_limit(monkeypatch) -> None:
    """Let the parser build contracts nested past MAX_LOOP_DEPTH: the analysis must stay linear
    on them too (the front end refuses them for the sake of the generated code)."""
    monkeypatch.setattr(parser, "check_nesting", lambda tree, file: [])


def statements_in(program: CheckedProgram) -> int:
    """The statements of every function body but init's, nested ones included."""
    return sum(len(node.stmts) for info in program.contracts.values() for fn in info.functions.values()
               for node in ast.walk(fn.decl.body) if isinstance(node, ast.Block))


def summarised(program: CheckedProgram) -> Summariser:
    summariser = Summariser(program)
    with hang_guard():
        summariser.run()
    return summariser


def all_syms(summariser: Summariser):
    for summary in summariser.functions.values():
        for a in summary.accesses:
            yield from (a.address, *a.keys, a.cond)
        for pc, value in summary.returns:
            yield from (pc, value)


def lane(*args) -> tuple[int, str, str]:
    """``lane ARGS`` in process: (exit status, stdout, stderr); never an internal error."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr, result.exception)
    return result.exit_code, result.stdout, result.stderr


# ================================================================== linearity

@pytest.mark.parametrize("depth", [1, 2, 8, MAX_LOOP_DEPTH, 30])
def test_nested_loops_are_walked_once(tmp_path, monkeypatch, depth):
    past_the_loop_limit(monkeypatch)
    _, program = program_of(tmp_path, P.nested_loops(depth))
    summariser = summarised(program)
    # Each statement once: the loops and the two statements of the innermost body.
    assert summariser.statements == statements_in(program) == depth + 2
    with hang_guard():
        (summary,) = summarise(program).values()
    inner = f"i{depth - 1}"
    assert {(a.var, a.mode, tuple(map(str, a.keys))) for a in summary.accesses} == {
        ("total", ADD, ()), ("grid", READ, ("x",)), ("grid", WRITE, (inner,))}
    # The key is the innermost index, over its 10 values (the outer ones do not matter to it).
    (write,) = [a for a in summary.accesses if a.mode == WRITE]
    assert isinstance(write.keys[0], S.LoopIndex) and write.keys[0].bound == 10


@pytest.mark.parametrize("depth", [1, 2, 8, 16, 30])
def test_doubled_calls_are_summarised_once(tmp_path, depth):
    _, program = program_of(tmp_path, P.doubled_calls(depth))
    summariser = summarised(program)
    # g_0 .. g_depth and run, each walked once: 2^depth calls of g0 when unfolded.
    assert summariser.statements == statements_in(program) == 2 * depth + 2
    (summary,) = summarise(program).values()
    assert [(a.var, a.mode, a.keys) for a in summary.accesses] == [("total", ADD, ())]


def multiplied_keys(depth: int) -> set[str]:
    """Every key of P.multiplying_keys(depth), as the summary prints it: 2 * k or 2 * k + 1, depth times."""
    keys = {"x"}
    for _ in range(depth):
        inner = {k if k == "x" else f"({k})" for k in keys}
        keys = {f"2 * {k}" for k in inner} | {f"(2 * {k}) + 1" for k in inner}
    return keys


@pytest.mark.parametrize("depth", [3, 5, 6, 7, 30])
def test_keys_multiplying_through_calls_stay_bounded(tmp_path, depth):
    _, program = program_of(tmp_path, P.multiplying_keys(depth))
    summariser = summarised(program)
    assert summariser.statements == statements_in(program) == 2 * depth + 3
    for summary in summariser.functions.values():
        assert len(summary.accesses) <= MAX_ACCESSES_PER_VARIABLE
    run = summarise(program)["Keys.run"]
    if 2 ** depth <= MAX_ACCESSES_PER_VARIABLE:
        # Below the cap every key is kept, exact: 2^depth of them.
        assert len(run.accesses) == 2 ** depth
        assert {a.kind for a in run.accesses} == {S.EXACT}
        assert {str(a.keys[0]) for a in run.accesses} == multiplied_keys(depth)
    else:
        # Past it, one write of any key of m: sound, and it still conflicts with a write of m[x].
        assert [(a.var, a.mode, a.kind, a.cond) for a in run.accesses] == [("m", WRITE, S.WILDCARD, S.TRUE)]
    with hang_guard():
        table = {(v.a, v.b): v for v in conflict_table(summarise(program).values())}
    assert table["Keys.run", "Keys.one"].verdict != NEVER


def test_values_too_large_to_follow_become_unknown(tmp_path):
    depth = 30
    text = ["contract Sums {", "    storage m: map<u256, u256>;", "    fn g0(x: u256) -> u256 { return x + 1; }"]
    text += [f"    fn g{k}(x: u256) -> u256 {{ return g{k - 1}(x) + g{k - 1}(x); }}" for k in range(1, depth + 1)]
    text += [f"    pub fn run(x: u256) {{ m[g{depth}(x)] = 1; m[g5(x)] = 2; }}", "}"]
    _, program = program_of(tmp_path, "\n".join(text) + "\n")
    summariser = summarised(program)
    assert all(s.size <= S.MAX_SIZE and s.depth <= S.MAX_DEPTH for s in all_syms(summariser))
    run = summarise(program)["Sums.run"]
    # g_k returns a value of 2^(k+2) - 1 nodes: g30's is any value, g5's (127) is kept.
    assert [a.kind for a in run.accesses] == [S.WILDCARD, S.EXACT]
    assert run.accesses[1].keys[0].size == 2 ** 7 - 1


@settings(max_examples=examples(15), deadline=None)
@given(calls=st.integers(1, 30), loops=st.integers(1, MAX_LOOP_DEPTH))
def test_every_statement_is_walked_once(calls, loops):
    """Doubled calls of a function with nested loops: each statement walked once, whatever the depths."""
    body = "".join(f"for i{k} in 0..3 {{ " for k in range(loops)) + f"grid[i{loops - 1}] += 1; " + "} " * loops
    text = P.doubled_calls(calls).replace("fn g0() { total += 1; }",
                                          f"storage grid: map<u256, u256>;\n    fn g0() {{ {body}}}")
    with pytest.MonkeyPatch.context() as mp:
        past_the_loop_limit(mp)
        module, problems = parser.parse(text, "t.lane")
    assert problems == []
    program = checker.check([module], Diagnostics())
    summariser = summarised(program)
    assert summariser.statements == statements_in(program) == 2 * calls + 1 + loops + 1
    (summary,) = summarise(program).values()
    assert [(a.var, a.mode) for a in summary.accesses] == [("grid", ADD)]


def test_an_access_depends_on_at_most_as_many_loops_as_a_function_nests(tmp_path):
    text = P.dependent_loops(MAX_LOOP_DEPTH)
    _, program = program_of(tmp_path, text)
    (summary,) = summarise(program).values()
    for a in summary.accesses:
        loops = {n.id for p in (a.address, *a.keys, a.cond, a.alias) for n in S.walk(p) if isinstance(n, S.LoopIndex)}
        assert len(loops) <= MAX_LOOP_DEPTH
    # The add's alias names the write's key, and its 16 loops besides its own: it may alias.
    (add,) = [a for a in summary.accesses if a.mode == ADD]
    assert isinstance(add.alias, S.Unknown) and str(add.keys[0]) == f"i{MAX_LOOP_DEPTH - 1}"
    # Instantiation nests one Python loop per index (CPython allows 20): this was an internal error.
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "n"\nsource = "scale.lane"\ncontract = "Nests"\nsender = "alice"\nargs = []\n')
    (tmp_path / "block.jsonl").write_text('{"from": "alice", "to": "n", "fn": "both", "args": []}\n')
    status, out, err = lane("schedule", tmp_path / "world.toml", tmp_path / "block.jsonl", "--json")
    assert status == 0, err
    assert json.loads(out)["stats"]["transactions"] == 1


# ================================================================== call chains

def test_a_chain_of_200_contracts_is_analysed_without_recursion(tmp_path):
    # The program itself is refused (below); its checked tables are still built.
    _, program = program_of(tmp_path, P.contract_chain(200), errors=("limit",))
    summariser = summarised(program)
    assert summariser.statements == statements_in(program) == 2 * 200
    first = next(s for fn, s in summariser.functions.items() if fn.qualname == "C0.f")
    assert len({a.contract for a in first.accesses if a.var == "x"}) == 200
    assert all(s.size <= S.MAX_SIZE and s.depth <= S.MAX_DEPTH for s in all_syms(summariser))


def test_lane_check_refuses_a_call_chain_past_the_limit(tmp_path):
    text = P.contract_chain(200)
    (tmp_path / "chain.lane").write_text(text, encoding="utf-8")
    status, _, err = lane("check", tmp_path / "chain.lane")
    first = text.splitlines()[0]
    column = first.index("next.f(") + len("next.") + 1
    note_line = text.splitlines()[MAX_CALL_DEPTH]
    note_column = note_line.index("next.f(") + len("next.") + 1
    assert status == 1
    assert err.splitlines()[0] == (
        f"{tmp_path / 'chain.lane'}:1:{column}: error: calls nested too deeply: more than {MAX_CALL_DEPTH} "
        "calls inside one another (C0.f -> C1.f -> C2.f -> ... -> C198.f -> C199.f: 199 calls)")
    assert f"note: call {MAX_CALL_DEPTH + 1} of the chain ({tmp_path / 'chain.lane'}:{MAX_CALL_DEPTH + 1}:" \
           f"{note_column})" in err
    assert "checked 1 file: 1 error" in err


def internal_chain(calls: int) -> str:
    lines = ["contract Deep {", "    storage n: u256;", f"    fn f{calls - 1}() {{ n += 1; }}"]
    lines += [f"    fn f{k}() {{ f{k + 1}(); }}" for k in range(calls - 2, -1, -1)]
    lines += ["    pub fn run() { f0(); }", "}"]
    return "\n".join(lines) + "\n"


def test_internal_calls_count_toward_the_limit(check):
    assert check(internal_chain(MAX_CALL_DEPTH)) == []
    text = internal_chain(MAX_CALL_DEPTH + 1)
    (error,) = check(text)
    assert error.code == "limit"
    assert (error.location.line, error.location.column) == (len(text.splitlines()) - 1, 20)
    assert error.message == (f"calls nested too deeply: more than {MAX_CALL_DEPTH} calls inside one another "
                             f"(Deep.run -> Deep.f0 -> Deep.f1 -> ... -> Deep.f63 -> Deep.f64: 65 calls)")


def test_a_chain_at_the_limit_runs_in_every_executor(tmp_path):
    length = MAX_CALL_DEPTH + 1  # functions: as many calls as the limit allows
    (tmp_path / "chain.lane").write_text(P.contract_chain(length), encoding="utf-8")
    (tmp_path / "world.toml").write_text(P.chain_world("chain.lane", length), encoding="utf-8")
    (tmp_path / "block.jsonl").write_text('{"from": "alice", "to": "c0", "fn": "f", "args": [1]}\n' * 2)
    assert lane("check", tmp_path / "chain.lane")[0] == 0
    for options in (["--executor", "sequential", "--check-accesses"], ["--executor", "parallel", "--verify"]):
        status, out, err = lane("run", tmp_path / "world.toml", tmp_path / "block.jsonl", *options, "--json")
        assert status == 0, err
        receipts = json.loads(out)["receipts"]
        assert [(r["status"], r["return"]) for r in receipts] == [("ok", str(length))] * 2


# ================================================================== semantics kept through call sites

SITES = """
contract Sites {
    storage m: map<u256, u256>;
    storage n: map<u256, u256>;
    storage w: map<u256, u256>;
    fn get(k: u256) -> u256 { return m[k]; }
    fn put(k: u256) { m[k] = 1; }
    fn fresh(k: u256) -> u256 { m[k] = 1; return m[k]; }
    fn fill(hi: u256) { for j in 0..min(hi, 8) { w[j] = 1; } }
    pub fn after_write(k: u256) { m[k] = 2; n[get(k)] = 1; }
    pub fn before_write(k: u256) { n[get(k)] = 1; m[k] = 2; }
    pub fn in_loop() { for i in 0..3 { n[m[i]] = 1; put(i); } }
    pub fn two_calls() { if fresh(1) != fresh(2) { w[0] = 1; } }
    pub fn early(x: u256) { for i in 0..5 { if m[i] == x { return; } n[i] = x; } }
    pub fn nested() { for i in 1..4 { fill(i); } }
}
"""


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    return summarise(program_of(tmp_path_factory.mktemp("sites"), SITES)[1])


def n_key(summary) -> str:
    (write,) = [a for a in summary.accesses if a.var == "n"]
    return write.kind


def test_a_callee_read_of_what_the_caller_wrote_before_is_unknown(sites):
    assert n_key(sites["Sites.after_write"]) == S.WILDCARD
    assert n_key(sites["Sites.before_write"]) == S.DYNAMIC


def test_a_loop_body_writing_through_a_call_makes_its_reads_unknown(sites):
    assert n_key(sites["Sites.in_loop"]) == S.WILDCARD


def test_two_calls_of_one_function_do_not_share_unknowns(sites):
    # The same unknown on both sides would make the condition false and drop the write of w[0].
    (write,) = [a for a in sites["Sites.two_calls"].accesses if a.var == "w"]
    assert str(write.cond) == "* != *"


def test_an_early_return_in_a_loop_conditions_only_what_follows_it(sites):
    accesses = {(a.var, a.mode): str(a.cond) for a in sites["Sites.early"].accesses}
    assert accesses == {("m", READ): "true", ("n", WRITE): "!(m[i] == x)"}


def test_a_callee_loop_bounded_by_a_caller_loop_is_enumerated(sites):
    # fill's index is numbered after nested's: instantiation takes i first, then j in 0..i.
    found = instantiate(sites["Sites.nested"], sender=1, target=7, args=[])
    assert {(loc.var, loc.key, mode) for loc, mode in found} == {("w", k, WRITE) for k in range(3)}


# ================================================================== the conflict table

def test_a_pair_with_too_many_ways_to_conflict_is_not_solved(tmp_path):
    _, program = program_of(tmp_path, P.wide(60))
    with hang_guard():
        table = {(v.a, v.b): v for v in conflict_table(summarise(program).values())}
    assert (table["Wide.spread", "Wide.spread"].verdict, table["Wide.spread", "Wide.spread"].condition) == \
        (WHEN, UNDECIDED)
    # 60 ways: solved.  m[x * (k + 2) + k] is never m[z * 3] when k + 2 is a multiple of 3 and k is not.
    one = table["Wide.spread", "Wide.one"]
    ways = one.condition.split(" || ")
    assert one.verdict == WHEN and len(ways) == 40
    assert "((a.x * 4) + 2 == b.z * 3 && a.y > 2)" in ways and "((a.x * 3) + 1 == b.z * 3 && a.y > 1)" not in ways


def test_an_exhausted_solver_budget_counts_as_a_possible_conflict(tmp_path):
    text = """
contract Slots {
    storage slots: map<u256, u256>;
    pub fn even(i: u256) { slots[2 * i] = 1; }
    pub fn odd(j: u256) { slots[2 * j + 1] = 1; }
}
"""
    sums = summarise(program_of(tmp_path, text)[1])
    assert ConflictChecker().verdict(sums["Slots.even"], sums["Slots.odd"]).verdict == NEVER
    assert ConflictChecker(budget_s=0).verdict(sums["Slots.even"], sums["Slots.odd"]).verdict == WHEN
    assert ConflictChecker(budget_s=0).verdict(sums["Slots.even"], sums["Slots.even"]).verdict != ALWAYS


# ================================================================== lane check, end to end

def test_lane_check_of_the_deepest_loops_and_doubled_calls_is_prompt(tmp_path):
    loops = P.nested_loops(MAX_LOOP_DEPTH)
    calls = P.doubled_calls(30).replace("contract Doubled", "contract Calls")
    (tmp_path / "both.lane").write_text(loops + calls, encoding="utf-8")
    with hang_guard():
        status, _, err = lane("check", tmp_path / "both.lane")
        assert status == 0, err
        status, out, err = lane("analyze", tmp_path / "both.lane", "--json")
    assert status == 0, err
    functions = {f"{f['contract']}.{f['function']}": f for f in json.loads(out)["functions"]}
    assert [(a["var"], a["mode"]) for a in functions["Calls.run"]["accesses"]] == [("total", ADD)]
