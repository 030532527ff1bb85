"""Lane's limits on contracts and on the files it reads (docs/limits.md).

Each limit works at its maximum, end to end (``lane check``, ``lane compile``,
``lane run`` of a block that calls it), and one past it gives its diagnostic
at its place.  Then the inputs a hostile tester found, each of which was an
internal error, a hang or a silent change of meaning.
"""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from conftest import REPO, fmt
from runtime_helpers import both_ways
from typer.testing import CliRunner

from compiler import limits
from compiler.cli import app
from compiler.codegen.python import generate
from compiler.limits import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_DEPTH,
    MAX_EXPR_DEPTH,
    MAX_LOOP_DEPTH,
    MAX_SOURCE_BYTES,
    MAX_TYPE_DEPTH,
    MAX_WORLD_BYTES,
    NulByte,
    TooLarge,
    read_text_capped,
)
from compiler.pipeline import CompilerData
from compiler.runtime.block import read_block
from compiler.syntax.parser import parse


def lane(*args) -> tuple[int, str, str]:
    """``lane ARGS`` in process: (exit status, stdout, stderr); never a traceback or an internal error."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def check(tmp_path: Path, text: str, name: str = "t.lane") -> list[tuple[str, str, int, int, str]]:
    """The errors of ``text`` as (code, severity, line, column, message), through the whole front end."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return [(d.code, *fmt([d])[0]) for d in CompilerData(path).diagnostics() if d.is_error]


def where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """(line, column), 1-based, of the ``occurrence``-th ``needle`` in ``text``."""
    at = -1
    for _ in range(occurrence):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def contract(body: str, members: str = "") -> str:
    return f"contract C {{\n    storage s: u256;\n{members}    pub fn f(a: u256) -> u256 {{\n{body}\n        return a;\n    }}\n}}\n"


# ============================================================ the maximal program

# Ways to nest a u256 expression one level deeper (some take two: `n[x][a]`, `u256(address(x))`).
U256_NESTINGS = {
    "add": (lambda x: f"{x} + a", 1),
    "mul": (lambda x: f"({x}) * 1", 1),
    "sub": (lambda x: f"({x}) - 0", 1),
    "div": (lambda x: f"({x}) / 1", 1),
    "mod": (lambda x: f"({x}) % 1000", 1),
    "tuple_key": (lambda x: f"m[{x}, a]", 1),
    "nested_map": (lambda x: f"n[{x}][a]", 2),
    "index": (lambda x: f"arr[{x}]", 1),
    "min": (lambda x: f"min({x}, a)", 1),
    "max": (lambda x: f"max({x}, 0)", 1),
    "call": (lambda x: f"id({x})", 1),
    "method": (lambda x: f"other.echo({x})", 1),
    "conversion": (lambda x: f"u256(address({x}))", 2),
}
BOOL_NESTINGS = {
    "not": lambda x: f"!{x}",
    "and": lambda x: f"{x} && true",
    "or": lambda x: f"{x} || false",
    "eq": lambda x: f"({x}) == true",
}


def u256_chain(kind: str, depth: int) -> str:
    """A u256 expression exactly ``depth`` levels deep, built by nesting ``kind`` (then `+`) around `a`."""
    nest, step = U256_NESTINGS[kind]
    expr, d = "a", 1
    while d < depth:
        if d + step > depth:
            nest, step = U256_NESTINGS["add"]
        expr, d = nest(expr), d + step
    return expr


def bool_chain(kind: str, depth: int) -> str:
    expr = "flag"
    for _ in range(depth - 1):
        expr = BOOL_NESTINGS[kind](expr)
    return expr


def maximal_contract() -> str:
    """Every kind of nesting at its limit, in the places where the generated Python nests deepest."""
    d = MAX_EXPR_DEPTH
    fns = []
    for kind in U256_NESTINGS:
        e = u256_chain(kind, d)
        fns.append(f"    pub fn u_{kind}(a: u256, arr: array<u256, 4>) -> u256 {{\n"
                   f"        emit E({e});\n        s += {e};\n        m[{u256_chain(kind, d - 1)}, a] = {e};\n"
                   f"        require({u256_chain(kind, d - 1)} >= 0, \"never\");\n        return {e};\n    }}")
    for kind in BOOL_NESTINGS:
        fns.append(f"    pub fn b_{kind}(flag: bool) -> bool {{\n"
                   f"        require({bool_chain(kind, d - 1)} || true);\n        return {bool_chain(kind, d)};\n    }}")
    # The deepest block (the body is the first level) holding the deepest expression.
    opens = "".join(f"if a >= {i} {{ " for i in range(MAX_BLOCK_DEPTH - 1))
    fns.append(f"    pub fn blocks(a: u256) {{\n        {opens}require({u256_chain('add', d - 1)} > 0, \"deep\"); "
               f"s += {u256_chain('add', d)};{' }' * (MAX_BLOCK_DEPTH - 1)}\n    }}")
    # An `if` and as many `else if`s as fit: each nests one level deeper than the one before.
    ladder = "if a == 0 { s = 0; }" + "".join(f" else if a == {i} {{ s = {i}; require(a > 0, \"x\"); }}"
                                               for i in range(1, MAX_BLOCK_DEPTH - 1)) + " else { s = 99; }"
    fns.append(f"    pub fn ladder(a: u256) {{\n        {ladder}\n    }}")
    loops = "".join(f"for i{k} in 0..2 {{ " for k in range(MAX_LOOP_DEPTH))
    fns.append(f"    pub fn loops() {{\n        {loops}s += 1;{' }' * MAX_LOOP_DEPTH}\n    }}")
    keys = "[a]" * (MAX_TYPE_DEPTH - 1)
    fns.append(f"    pub fn types(a: u256) -> u256 {{ deep{keys} = a; return deep{keys}; }}")
    deep_type = "u256"
    for _ in range(MAX_TYPE_DEPTH - 1):
        deep_type = f"map<u256, {deep_type}>"
    body = "\n\n".join(fns)
    return f"""contract Other {{
    pub fn echo(x: u256) -> u256 {{ return x; }}
}}

contract Deep {{
    storage s: u256;
    storage m: map<(u256, u256), u256>;
    storage n: map<u256, map<u256, u256>>;
    storage deep: {deep_type};
    storage other: Other;
    event E(v: u256);

    init(o: Other) {{ other = o; }}

    fn id(x: u256) -> u256 {{ return x; }}

{body}
}}
"""


def test_the_maximal_program_nests_exactly_to_each_limit():
    module, diags = parse(maximal_contract(), "deep.lane")
    assert diags == [] and module is not None
    # One level more anywhere is refused: the program is at the limits, not below them.
    text = maximal_contract().replace(u256_chain("add", MAX_EXPR_DEPTH), u256_chain("add", MAX_EXPR_DEPTH + 1), 1)
    assert [d.code for d in parse(text, "deep.lane")[1]] == ["limit"]


def maximal_world(tmp_path: Path, repeat: int = 1) -> None:
    """The maximal program deployed (``deep``), and a block calling each of its functions ``repeat`` times."""
    (tmp_path / "deep.lane").write_text(maximal_contract(), encoding="utf-8")
    (tmp_path / "world.toml").write_text(
        '[[deploy]]\nname = "other"\nsource = "deep.lane"\ncontract = "Other"\nsender = "alice"\n\n'
        '[[deploy]]\nname = "deep"\nsource = "deep.lane"\ncontract = "Deep"\nsender = "alice"\nargs = ["other"]\n')
    txs = [("u_" + kind, [0, [0, 0, 0, 0]]) for kind in U256_NESTINGS]
    txs += [("b_" + kind, [True]) for kind in BOOL_NESTINGS]
    txs += [("blocks", [100]), ("ladder", [MAX_BLOCK_DEPTH - 2]), ("loops", []), ("types", [7])]
    (tmp_path / "block.jsonl").write_text(
        "".join(json.dumps({"from": "alice", "to": "deep", "fn": fn, "args": args}) + "\n"
                for fn, args in txs * repeat))


def test_the_maximal_program_runs_on_lanes(tmp_path):
    """Forced onto two lanes, whose code logs every access (a read keyed by 60 nested reads included):
    the lanes run it, no worker fails, and the result is the sequential executor's."""
    maximal_world(tmp_path, repeat=3)
    a, b, info = both_ways(tmp_path / "world.toml", read_block(tmp_path / "block.jsonl"))
    assert b.receipts_json == a.receipts_json and b.state_root == a.state_root
    assert info["mode"] == "parallel" and info["on_lanes"] > 0 and not info["failed_lanes"], info


def test_the_maximal_program_checks_compiles_and_runs(tmp_path):
    maximal_world(tmp_path)

    code, _, err = lane("check", tmp_path / "deep.lane")
    assert code == 0, err
    code, python, err = lane("compile", tmp_path / "deep.lane", "-f", "python")
    assert code == 0, err
    compile(python, "deep.py", "exec")  # what `lane run` does, here on the printed text
    # The lanes' code logs every access: a read keyed by 60 nested reads must still compile.
    compile(generate(CompilerData(tmp_path / "deep.lane").require_checked(), log=True), "deep-lanes.py", "exec")
    for executor in (["--executor", "sequential", "--check-accesses"], ["--verify"]):
        code, out, err = lane("run", tmp_path / "world.toml", tmp_path / "block.jsonl", "--json", *executor)
        assert code == 0, err
        got = [(r["status"], r["reason"], r["return"]) for r in json.loads(out)["receipts"]]
        odd = (MAX_EXPR_DEPTH - 1) % 2 == 1  # `!` taken MAX_EXPR_DEPTH - 1 times
        assert got == ([("ok", None, "0")] * len(U256_NESTINGS)
                       + [("ok", None, not odd)] + [("ok", None, True)] * 3
                       + [("ok", None, None)] * 3 + [("ok", None, "7")])


# ================================================= one past each nesting limit


def one_error(tmp_path: Path, text: str) -> tuple[str, str, int, int, str]:
    errors = check(tmp_path, text)
    assert len(errors) == 1, errors
    return errors[0]


EXPR_LIMIT = f"expression nested too deeply: more than {MAX_EXPR_DEPTH} levels"

# Expressions of depth n, the statement that holds them, and where in one of depth n the first
# node too deep is (parentheses alone are no level: `a + (a + (a))` is three levels deep).
SHAPES = {
    "left-sum": (lambda n: " + ".join(["a"] * n), "s = {};", lambda n: 0),
    "right-sum": (lambda n: "a + (" * (n - 1) + "a" + ")" * (n - 1), "s = {};", lambda n: 5 * (n - 2)),
    "conversions": (lambda n: "u256(" * (n - 1) + "a" + ")" * (n - 1), "s = {};", lambda n: 5 * (n - 1)),
    "min": (lambda n: "min(" * (n - 1) + "a" + ", 1)" * (n - 1), "s = {};", lambda n: 4 * (n - 1)),
    "not": (lambda n: "!" * (n - 1) + "true", "require({});", lambda n: n - 1),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_expression_at_the_limit_passes_and_one_level_more_is_refused(tmp_path, shape):
    build, statement, deepest = SHAPES[shape]
    assert check(tmp_path, contract("        " + statement.format(build(MAX_EXPR_DEPTH)))) == []
    n = MAX_EXPR_DEPTH + 1
    text = contract("        " + statement.format(build(n)))
    column = len("        " + statement.split("{")[0]) + deepest(n) + 1
    assert one_error(tmp_path, text) == ("limit", "error", 4, column, EXPR_LIMIT)


def test_parentheses_alone_are_no_level(tmp_path):
    deep = "(" * 5_000 + "a" + ")" * 5_000
    assert check(tmp_path, contract(f"        s = {deep};")) == []


def test_blocks_one_level_too_deep(tmp_path):
    # The function's body is the first level: MAX_BLOCK_DEPTH - 1 nested ifs fit.
    n = MAX_BLOCK_DEPTH
    body = "".join(f"        if a > {i} {{\n" for i in range(n)) + "        s = 1;\n" + "        }\n" * n
    text = contract(body)
    line, _ = where(text, f"if a > {n - 1} {{")
    column = text.split("\n")[line - 1].index("{") + 1
    assert one_error(tmp_path, text) == (
        "limit", "error", line, column,
        f"blocks nested too deeply: more than {MAX_BLOCK_DEPTH} levels (each 'else if' counts as one more)")
    fits = "".join(f"        if a > {i} {{\n" for i in range(n - 1)) + "        s = 1;\n" + "        }\n" * (n - 1)
    assert check(tmp_path, contract(fits)) == []


def test_an_else_if_ladder_one_step_too_long(tmp_path):
    def ladder(else_ifs: int) -> str:
        return contract("        if a == 0 { s = 0; }\n" + "".join(
            f"        else if a == {i} {{ s = {i}; }}\n" for i in range(1, else_ifs + 1)) + "        else { s = 1; }")

    assert check(tmp_path, ladder(MAX_BLOCK_DEPTH - 2)) == []
    text = ladder(MAX_BLOCK_DEPTH - 1)
    line, column = where(text, f"a == {MAX_BLOCK_DEPTH - 1} {{")
    assert one_error(tmp_path, text)[2:4] == (line, column + len(f"a == {MAX_BLOCK_DEPTH - 1} "))


def test_loops_one_too_many(tmp_path):
    n = MAX_LOOP_DEPTH + 1
    text = contract("".join(f"        for i{k} in 0..2 {{\n" for k in range(n)) + "        s += 1;\n" + "        }\n" * n)
    line, column = where(text, f"for i{n - 1} ")
    assert one_error(tmp_path, text) == (
        "limit", "error", line, column,
        f"loops nested too deeply: more than {MAX_LOOP_DEPTH} 'for' loops inside one another")
    fits = "".join(f"        for i{k} in 0..2 {{\n" for k in range(n - 1)) + "        s += 1;\n" + "        }\n" * (n - 1)
    assert check(tmp_path, contract(fits)) == []


def test_a_type_one_level_too_deep(tmp_path):
    def nested(maps: int) -> str:
        ty = "u256"
        for _ in range(maps):
            ty = f"map<address, {ty}>"
        return ty

    assert check(tmp_path, contract("", f"    storage deep: {nested(MAX_TYPE_DEPTH - 1)};\n")) == []
    text = contract("", f"    storage deep: {nested(MAX_TYPE_DEPTH)};\n")
    line, column = where(text, "address", MAX_TYPE_DEPTH)  # the innermost map's key
    assert one_error(tmp_path, text) == ("limit", "error", line, column,
                                         f"type nested too deeply: more than {MAX_TYPE_DEPTH} levels")


def test_far_past_a_limit_is_one_error_and_quick(tmp_path):
    text = contract(f"        s = {' + '.join(['a'] * 20_000)};\n"
                    + "".join("        if a > 0 {\n" for _ in range(5_000)) + "        }\n" * 5_000)
    assert [e[4] for e in check(tmp_path, text)] == [
        EXPR_LIMIT, f"blocks nested too deeply: more than {MAX_BLOCK_DEPTH} levels (each 'else if' counts as one more)"]


# ============================================================== integer literals

TOO_LARGE = "exceeds 2^256-1"


@pytest.mark.parametrize("literal, value", [
    (str(2**256 - 1), 2**256 - 1),
    ("0x" + "f" * 64, 2**256 - 1),
    ("0" * 5_000 + "7", 7),                 # leading zeros are not digits that count
    ("0x" + "0" * 5_000 + "ff", 255),
    ("1" + "_0" * 77, 10**77),
])
def test_integer_literals_up_to_the_limit(literal, value):
    module, diags = parse(f"contract C {{ const K: u256 = {literal}; }}", "t.lane")
    assert diags == []
    assert module.contracts[0].consts[0].value.value == value


@pytest.mark.parametrize("literal, shown", [
    (str(2**256), f"'{2**256}'"),
    ("0x1" + "0" * 64, "'0x1" + "0" * 64 + "'"),
    ("9" * 4_301, "'" + "9" * 20 + "...' (4,301 characters)"),    # past CPython's own conversion limit
    ("9" * 1_000_000, "'" + "9" * 20 + "...' (1,000,000 characters)"),
    ("0x" + "f" * 100_000, "'0x" + "f" * 18 + "...' (100,002 characters)"),
])
def test_integer_literals_past_the_limit(literal, shown):
    text = f"contract C {{ const K: u256 = {literal}; }}"
    _, diags = parse(text, "t.lane")
    assert [(d.code, d.location.line, d.location.column, d.message) for d in diags] == [
        ("literal-too-large", 1, 30, f"integer literal {shown} {TOO_LARGE}")]


def test_a_long_malformed_literal_is_quoted_short():
    _, diags = parse(f"contract C {{ const K: u256 = 1{'x' * 10_000}; }}", "t.lane")
    assert [d.message for d in diags] == [f"invalid integer literal '1{'x' * 19}...' (10,001 characters)"]


# ================================================================ string escapes


def test_known_escapes_are_read():
    module, diags = parse(r'contract C { fn f() { require(false, "say \"hi\"\\ \n\tend"); } }', "t.lane")
    assert diags == []
    assert module.contracts[0].functions[0].body.stmts[0].message == 'say "hi"\\ \n\tend'


@pytest.mark.parametrize("string, escape, shown", [
    (r'"a\qb"', r"\q", r"'\q'"),
    (r'"\0"', r"\0", r"'\0'"),
    (r'"ok \\ then \x41"', r"\x", r"'\x'"),
    ('"a\\\rb"', "\\\r", "'\\' before U+000D"),
])
def test_an_unknown_escape_is_an_error_at_its_backslash(tmp_path, string, escape, shown):
    text = f"contract C {{\n    pub fn f() {{\n        require(false, {string});\n    }}\n}}\n"
    line, column = where(text, escape)
    _, diags = parse(text, "t.lane")
    assert [(d.code, d.location.line, d.location.column, d.location.end_column, d.message) for d in diags] == [
        ("bad-escape", line, column, column + 2, f"unknown escape {shown} in a string")]
    assert diags[0].hint == r'the escapes are \", \\, \n and \t; write a backslash as \\'


def test_an_unknown_escape_in_an_import_is_an_error_too():
    _, diags = parse(r'import "dir\drive.lane";', "t.lane")
    assert [(d.code, d.location.column, d.message) for d in diags] == [
        ("bad-escape", 12, r"unknown escape '\d' in a string")]


def test_an_unknown_escape_makes_check_fail(tmp_path):
    (tmp_path / "e.lane").write_text('contract C {\n    pub fn f() { revert("a\\qb"); }\n}\n')
    code, _, err = lane("check", tmp_path / "e.lane")
    assert code == 1
    assert err.startswith(f"{tmp_path / 'e.lane'}:2:27: error: unknown escape '\\q' in a string\n")


@pytest.mark.parametrize("text, message", [
    ('contract C { fn f() { require(true, "' + "a" * 1_000_000, "unterminated string"),
    ('contract C { fn f() { require(true, "' + "\\q" * 500_000, "unterminated string"),
    ("contract C { /* " + "a * / b\n" * 150_000, "unterminated comment: '/*' without a closing '*/'"),
])
def test_a_long_string_or_comment_that_never_ends_costs_no_memory_per_character(text, message):
    tracemalloc.start()
    try:
        _, diags = parse(text, "t.lane")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.message for d in diags] == [message]
    assert peak < 10 * len(text), peak  # the text and its copies, not a state per character


# ================================================================== file sizes


def padded(text: str, size: int) -> str:
    """``text`` and a comment line that make ``size`` bytes of UTF-8 in all."""
    pad = size - len(text.encode()) - 3
    return text + "//" + "x" * pad + "\n"


def test_a_contract_file_at_the_size_limit_checks_and_one_byte_more_is_refused(tmp_path):
    head = "contract C { pub fn f() -> u256 { return 1; } }\n"
    (tmp_path / "max.lane").write_text(padded(head, MAX_SOURCE_BYTES))
    (tmp_path / "over.lane").write_text(padded(head, MAX_SOURCE_BYTES + 1))
    assert (tmp_path / "max.lane").stat().st_size == MAX_SOURCE_BYTES
    assert lane("check", tmp_path / "max.lane")[0] == 0
    code, out, err = lane("check", tmp_path / "over.lane")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (f"error: cannot read '{tmp_path / 'over.lane'}': "
                                   "larger than 4 MiB, the limit of a contract file")


def test_an_import_past_the_size_limit_is_refused_at_the_import(tmp_path):
    (tmp_path / "big.lane").write_text(padded("", MAX_SOURCE_BYTES + 1))
    text = 'import "big.lane";\ncontract C {}\n'
    message = f'cannot import "big.lane": larger than 4 MiB, the limit of a contract file ({tmp_path / "big.lane"})'
    assert check(tmp_path, text) == [("limit", "error", 1, 1, message)]


def test_a_buffer_past_the_size_limit_is_refused_by_the_parser():
    # An editor's buffer reaches parse() without the capped reader.
    module, diags = parse("//" + "é" * (MAX_SOURCE_BYTES // 2), "buffer.lane")
    assert module is None
    assert [(d.code, d.location.line, d.location.column, d.message) for d in diags] == [
        ("limit", 1, 1, "contract file is larger than 4 MiB (the limit)")]


@pytest.fixture
def endless(tmp_path):
    """Makes named pipes that a thread fills with ``chunk`` for as long as anyone reads them."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    stop = threading.Event()
    made: list[tuple[Path, threading.Thread]] = []

    def make(name: str, chunk: bytes) -> Path:
        path = tmp_path / name
        os.mkfifo(path)

        def feed() -> None:
            while not stop.is_set():
                try:
                    with open(path, "wb") as f:  # waits for a reader
                        while not stop.is_set():
                            f.write(chunk)
                except OSError:  # the reader is gone: wait for the next one
                    continue

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        made.append((path, thread))
        return path

    yield make
    stop.set()
    for path, thread in made:
        try:  # a writer waiting in open() for a reader is let through, and sees `stop`
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        thread.join(timeout=5)


@pytest.mark.parametrize("command", [["check"], ["analyze"], ["compile", "-f", "python"]])
def test_an_endless_contract_is_refused_after_its_limit(endless, command):
    path = endless("endless.lane", b"contract C {} " * 1000)
    code, _, err = lane(*command, path)
    assert code == 1
    assert err.splitlines()[0] == f"error: cannot read '{path}': larger than 4 MiB, the limit of a contract file"


def test_an_endless_import_is_refused_at_the_import(tmp_path, endless):
    endless("zeros.lane", b"\0" * 65536)
    assert check(tmp_path, 'import "zeros.lane";\n') == [
        ("limit", "error", 1, 1,
         f'cannot import "zeros.lane": larger than 4 MiB, the limit of a contract file ({tmp_path / "zeros.lane"})')]


@pytest.fixture
def world(tmp_path):
    (tmp_path / "t.lane").write_text("contract T { pub fn f() {} }\n")
    path = tmp_path / "world.toml"
    path.write_text('[[deploy]]\nname = "t"\nsource = "t.lane"\ncontract = "T"\nsender = "alice"\n')
    return path


def test_endless_world_and_block_files_stop_at_their_first_nul(tmp_path, world, endless):
    zeros = endless("zeros", b"\0" * 65536)
    block = tmp_path / "block.jsonl"
    block.write_text('{"from": "alice", "to": "t", "fn": "f", "args": []}\n')
    code, _, err = lane("run", zeros, block)
    assert (code, err.splitlines()[0]) == (1, f"{zeros}:1:1: error: world file holds a NUL byte: it is not a text file")
    zeros = endless("zeros2", b"\0" * 65536)
    code, _, err = lane("run", world, zeros)
    assert (code, err.splitlines()[0]) == (1, f"{zeros}:1:1: error: block file holds a NUL byte: it is not a text file")


def test_endless_random_bytes_stop_at_the_first_bad_utf8(world, endless):
    noise = endless("noise", bytes(range(128, 256)) * 512)  # no NUL, and never UTF-8
    code, _, err = lane("run", world, noise)
    assert (code, err.splitlines()[0]) == (1, f"error: cannot read block file {noise}: not valid UTF-8 text")


def test_a_nul_byte_in_a_block_file_is_refused_where_it_is(tmp_path, world):
    block = tmp_path / "block.jsonl"
    block.write_bytes(b'{"from": "alice", "to": "t", "fn": "f", "args": []}\r\n{"from": \0}\n')
    code, _, err = lane("run", world, block)
    assert (code, err.splitlines()[0]) == (1, f"{block}:2:10: error: block file holds a NUL byte: it is not a text file")


@pytest.mark.parametrize("kind, limit, text", [
    ("world", MAX_WORLD_BYTES, "16 MiB"),
    ("block", MAX_BLOCK_BYTES, "1 GiB"),
])
def test_world_and_block_files_past_their_limit_are_refused_unread(tmp_path, world, kind, limit, text):
    big = tmp_path / f"big.{kind}"
    with open(big, "wb") as f:
        f.truncate(limit + 1)  # sparse: nothing is written, and nothing must be read
    block = tmp_path / "block.jsonl"
    block.write_text("")
    args = (big, block) if kind == "world" else (world, big)
    code, _, err = lane("run", *args)
    assert (code, err.splitlines()[0]) == (1, f"error: {kind} file {big} is larger than {text} (the limit)")


# ---- the capped reader itself, with small limits and chunks (every boundary of the real ones)


@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_the_capped_reader_reads_up_to_its_limit_exactly(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(limits, "_CHUNK", chunk)
    data = "añ€😀\r\nz\rend".encode()  # characters of 1 to 4 bytes, split across chunks
    path = tmp_path / "f"
    path.write_bytes(data)
    assert read_text_capped(path, len(data)) == "añ€😀\nz\nend"  # newlines as open() reads them
    with pytest.raises(TooLarge):
        read_text_capped(path, len(data) - 1)
    with pytest.raises(UnicodeDecodeError):
        path.write_bytes(data[:3] + b"\xff" + data[3:])
        read_text_capped(path, 100)
    path.write_bytes("a€\r\nb😀\0".encode())
    with pytest.raises(NulByte) as err:
        read_text_capped(path, 100, refuse_nul=True)
    assert (err.value.line, err.value.column) == (2, 3)
    assert read_text_capped(path, 100) == "a€\nb😀\0"


def test_a_block_file_is_read_into_memory_of_its_size_not_of_the_limit(tmp_path, monkeypatch):
    # (Memory asked for is memory the process faults in afresh for each block when it is large.)
    from compiler.diagnostics import LaneError
    from compiler.runtime import files

    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"from": "a", "to": "pot", "fn": "poke", "args": [1]}\n' * 2000)
    tracemalloc.start()
    try:
        _, data = files.read_block_bytes(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == path.read_bytes() and peak < 4 * len(data), peak
    monkeypatch.setattr(files, "SIZE_LIMITS", {**files.SIZE_LIMITS, "block": len(data) - 1})
    with pytest.raises(LaneError, match="larger than"):
        files.read_block_bytes(path)


def test_the_capped_reader_reads_a_pipe_up_to_its_limit(endless):
    with pytest.raises(TooLarge):
        read_text_capped(endless("text", b"abc\n" * 1000), 10_000)


def test_the_documented_limits_are_the_enforced_ones():
    doc = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    for row in (f"| {MAX_EXPR_DEPTH} levels |", f"| {MAX_BLOCK_DEPTH} levels |", f"| {MAX_LOOP_DEPTH} loops |",
                f"| {MAX_TYPE_DEPTH} levels |", "| 4 MiB |", "| 16 MiB |", "| 1 GiB |"):
        assert row in doc, row
    assert (MAX_SOURCE_BYTES, MAX_WORLD_BYTES, MAX_BLOCK_BYTES) == (4 << 20, 16 << 20, 1 << 30)


# ===================================================== what a hostile tester found


def test_a_sum_of_480_terms_is_a_limit_error_not_a_crash(tmp_path):
    path = tmp_path / "sum.lane"
    path.write_text(contract(f"        s = {' + '.join(['a'] * 480)};"))
    for command in (["check"], ["compile", "-f", "python"]):
        code, out, err = lane(*command, path)
        assert (code, out) == (1, "")
        assert err.startswith(f"{path}:4:13: error: {EXPR_LIMIT}\n")


def test_a_sum_that_checks_also_compiles(tmp_path):
    # 150 terms passed `lane check` and failed in CPython's compiler; now the check refuses it,
    # and what the check accepts (the limit) compiles.
    path = tmp_path / "sum.lane"
    path.write_text(contract(f"        s = {' + '.join(['a'] * 150)};"))
    assert lane("check", path)[0] == 1
    path.write_text(contract(f"        s = {' + '.join(['a'] * MAX_EXPR_DEPTH)};"))
    assert lane("check", path)[0] == 0
    code, python, _ = lane("compile", path, "-f", "python")
    assert code == 0
    compile(python, "sum.py", "exec")


def test_250_nested_ifs_are_a_limit_error(tmp_path):
    text = contract("".join("        if a > 0 {\n" for _ in range(250)) + "        }\n" * 250)
    assert [e[0] for e in check(tmp_path, text)] == ["limit"]


def test_a_chain_of_constants_of_any_length_is_evaluated(tmp_path):
    n = 3_000
    consts = "".join(f"    const K{i}: u256 = K{i + 1} + 1;\n" for i in range(n)) + f"    const K{n}: u256 = 1;\n"
    path = tmp_path / "chain.lane"
    path.write_text(f"contract C {{\n{consts}    pub fn f() -> u256 {{ return K0; }}\n}}\n")
    code, python, _ = lane("compile", path, "-f", "python")
    assert code == 0
    assert f"return {n + 1}" in python


def test_a_long_cycle_of_constants_is_one_error(tmp_path):
    n = 3_000
    consts = "".join(f"    const K{i}: u256 = K{i + 1} + 1;\n" for i in range(n)) + f"    const K{n}: u256 = K0;\n"
    assert check(tmp_path, f"contract C {{\n{consts}}}\n") == [
        ("const-cycle", "error", 2, 11, "constant 'K0' is defined in terms of itself")]


def test_a_long_chain_of_imports_loads(tmp_path):
    n = 400
    for i in range(n):
        (tmp_path / f"m{i}.lane").write_text(f'import "m{i + 1}.lane";\ncontract M{i} {{}}\n')
    (tmp_path / f"m{n}.lane").write_text(f"contract M{n} {{}}\n")
    data = CompilerData(tmp_path / "m0.lane")
    assert [d for d in data.diagnostics() if d.is_error] == []
    assert [m.contracts[0].name for m in data.loaded.modules] == [f"M{i}" for i in range(n, -1, -1)]


def test_an_expression_far_too_deep_in_a_constant_is_refused_too(tmp_path):
    text = f"contract C {{\n    const K: u256 = {'(' * 5}{' + '.join(['1'] * 1000)}{')' * 5};\n}}\n"
    assert check(tmp_path, text) == [("limit", "error", 2, 26, EXPR_LIMIT)]
