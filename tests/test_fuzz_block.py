"""Fuzzing the block reader: whatever a block file holds, reading it gives a LaneError (naming the
file and line) or transactions, and each transaction is ready to run or invalid with a reason
that any output can print; never another exception (SPEC §3).

Inputs: random JSON values, transactions with random fields and arguments, valid lines mutated
character by character, lines split by every Unicode line break, duplicate fields, huge numbers,
deep nesting, lone surrogates and random bytes.  The world is loaded once.  A long run::

    LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_fuzz_block.py
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.diagnostics import LaneError, render_all
from compiler.runtime.block import parse_block_text, prepare, read_block
from compiler.runtime.world import load_world
from fuzzing import fuzz_settings
from runtime_helpers import ALICE, TOKEN, make_world

PROBE = """
contract Probe {
    storage seen: u256;
    pub fn take(n: u256, on: bool, who: address, xs: array<u256, 3>, t: Token) -> u256 {
        seen = n;
        return len(xs);
    }
    pub view fn peek() -> u256 { return seen; }
    fn hidden() { }
}
"""

VALID_LINES = [
    '{"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", 25]}',
    '{"from": "0x00000000000000000000000000000000000a11ce", "to": "token", "fn": "transfer", "args": ["bob", "1_000"]}',
    '{"from": "bob", "to": "probe", "fn": "take", "args": ["0xff", true, "carol", [1, "2", 3], "token"]}',
    '{"from": "bob", "to": "probe", "fn": "peek"}',
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-block")
    return load_world(make_world(root, {"token.lane": TOKEN, "probe.lane": "import \"token.lane\";\n" + PROBE}, [
        {"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice", "args": ["1000"]},
        {"name": "probe", "source": "probe.lane", "contract": "Probe"},
    ], accounts={"alice": ALICE}))


def read(world, text: str) -> None:
    """Read and prepare ``text`` as a block: a LaneError of the file, or transactions each ready
    to run or invalid with a printable reason."""
    try:
        raw = parse_block_text(text, "b.jsonl")
    except LaneError as err:
        render_all(err.diagnostics, err.sources).encode("utf-8", "backslashreplace")
        assert err.diagnostics[0].location is not None  # it names the line
        return
    check(world, raw)


def check(world, raw) -> None:
    for tx in prepare(world, raw):
        if tx.invalid is None:
            assert tx.fn is not None and tx.instance is not None
        else:
            assert tx.invalid.isprintable(), tx.invalid  # no control character, no lone surrogate
            tx.invalid.encode("utf-8")


def test_the_valid_lines_are_valid(world):
    assert [t.invalid for t in prepare(world, parse_block_text("\n".join(VALID_LINES), "b.jsonl"))] == [None] * 4


# ---------------------------------------------------------------- values

# Every kind of character a JSON string can carry, lone surrogates included.
characters = st.characters(codec=None, exclude_categories=()) | st.characters(min_codepoint=0xD800,
                                                                                 max_codepoint=0xDFFF)
texts = st.text(characters, max_size=10) | st.sampled_from([
    "alice", "token", "probe", "transfer", "take", "hidden", "init", "0x01", "0x" + "f" * 41, "1000", "\u0665",
    " 5 ", "1__0", "0x_1", "true", "TRUE", " true", "", "9" * 5000, "0x" + "f" * 5000, "-1", "1e3"])
numbers = st.integers(min_value=-(2**300), max_value=2**300) | st.floats() | st.sampled_from(
    [2**256 - 1, 2**256, 2**160 - 1, 2**160, -1])
scalars = st.none() | st.booleans() | numbers | texts
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(texts, inner, max_size=2), max_leaves=5)
fields = st.sampled_from(["from", "to", "fn", "args"]) | texts
transactions = st.dictionaries(fields, values, max_size=4) | st.fixed_dictionaries(
    {"from": texts, "to": st.sampled_from(["token", "probe"]) | texts,
     "fn": st.sampled_from(["transfer", "take", "peek", "hidden"]) | texts},
    optional={"args": st.lists(values, max_size=5) | values})


def dumps(value) -> str:
    # ensure_ascii (the default) writes lone surrogates as \\u escapes, which JSON allows
    return json.dumps(value, allow_nan=True)


@fuzz_settings(150)
@given(lines=st.lists(transactions.map(dumps) | values.map(dumps), min_size=1, max_size=3))
def test_random_transactions(world, lines):
    read(world, "\n".join(lines) + "\n")


# ---------------------------------------------------------------- lines, mutated

_PIECES = list('{}[]":,\\ -+.eE0x9tfn_') + ['"from"', '"to"', '"fn"', '"args"', "\\ud800", "\\udfff", "\\u0000",
                                             "\u2028", "\u2029", "\x85", "\x0c", "\x1c", "\r", "\n", "\x00",
                                             "9" * 5000, "[" * 100, "[" * 100_000, "\u0665", "\ud800"]


@fuzz_settings(200)
@given(line=st.sampled_from(VALID_LINES),
       edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3), st.sampled_from(_PIECES)),
                      min_size=1, max_size=4))
def test_mutated_lines(world, line, edits):
    for at, drop, piece in edits:
        at = min(at, len(line))
        line = line[:at] + piece + line[at + drop:]
    read(world, line + "\n" + VALID_LINES[0] + "\n")


@fuzz_settings(100)
@given(fields=st.lists(st.sampled_from(["from", "to", "fn", "args", "x"]), min_size=1, max_size=7),
       value=values.map(dumps))
def test_duplicate_fields(world, fields, value):
    line = "{" + ", ".join(f'"{f}": {value}' for f in fields) + "}"
    read(world, line)
    if len(set(fields)) < len(fields):  # the first field named twice is the reason
        first = next(f for i, f in enumerate(fields) if f in fields[:i])
        assert [t.invalid for t in prepare(world, parse_block_text(line, "b.jsonl"))] == [f"duplicate field '{first}'"]


@fuzz_settings(100)
@given(separators=st.lists(st.sampled_from(["\n", "\r\n", "\n\n", "\n \t\r\n"]), min_size=3, max_size=3),
       inside=st.sampled_from(["\u2028", "\u2029", "\x85", "\u000b", "\u000c", "\u001c", "\u001d", "\u001e"]))
def test_lines_break_at_newlines_only(world, separators, inside):
    """A line break other than '\\n' is part of its line: the transactions and their lines stay put."""
    lines = [VALID_LINES[0].replace('"bob"', f'"b{inside}ob"'), *VALID_LINES[1:]]
    text = lines[0] + "".join(sep + line for sep, line in zip(separators, lines[1:]))
    try:
        raw = parse_block_text(text, "b.jsonl")
    except LaneError as err:  # a raw control character is not JSON: an error of line 1
        assert inside < "\x20" and err.diagnostics[0].location.line == 1
        return
    assert len(raw) == 4 and raw[0][1]["args"][0] == f"b{inside}ob"
    assert [no for no, _ in raw] == [1 + sum(s.count("\n") for s in separators[:i]) for i in range(4)]


# ---------------------------------------------------------------- depth, size, bytes

@fuzz_settings(50)
@given(depth=st.integers(0, 3000) | st.just(200_000), objects=st.booleans(), closed=st.booleans(), in_args=st.booleans())
def test_deep_nesting(world, depth, objects, closed, in_args):
    if objects:
        value = '{"a": ' * depth + "1" + ("}" * depth if closed else "")
    else:
        value = "[" * depth + "1" + ("]" * depth if closed else "")
    read(world, VALID_LINES[0].replace('"bob"', value) if in_args else value)


@fuzz_settings(50)
@given(digits=st.integers(70, 20_000), sign=st.sampled_from(["", "-"]), quoted=st.booleans(),
       hexadecimal=st.booleans())
def test_huge_numbers(world, digits, sign, quoted, hexadecimal):
    number = sign + ("0x" + "f" * digits if hexadecimal else "9" * digits)
    if quoted or hexadecimal:
        number = f'"{number}"'
    read(world, VALID_LINES[0].replace("25", number))


@fuzz_settings(100)
@given(data=st.binary(max_size=300))
def test_random_bytes(world, tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-bytes.jsonl"
    path.write_bytes(data)
    try:
        raw = read_block(path)
    except LaneError:
        return
    check(world, raw)
