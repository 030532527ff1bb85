"""Property tests: the front end never crashes, whatever the text, and points only inside the file.

Two sources of text: the grammar itself (``hypothesis.extra.lark``), and the
example contracts with random spans deleted, inserted, replaced or duplicated.
Both go through :func:`compiler.syntax.parser.parse` and through the whole
pipeline (:class:`compiler.pipeline.CompilerData`) on a real file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from compiler.diagnostics import Diagnostic
from compiler.pipeline import CompilerData
from compiler.syntax import ast
from compiler.syntax.grammar import lark_parser
from compiler.syntax.parser import parse

from conftest import EXAMPLES
from fuzzing import examples

SETTINGS = settings(max_examples=examples(150), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be written to a file
        return False
    return True


def assert_inside(diag: Diagnostic, sources: dict[str, str]) -> None:
    """The diagnostic has a location, in a file of the program, that starts on a character of it
    (or just after the end of a line) and does not end before it starts."""
    loc = diag.location
    assert loc is not None, diag
    assert loc.file in sources, (diag, list(sources))
    lines = sources[loc.file].split("\n")  # the lexer counts lines at '\n' only
    assert 1 <= loc.line <= len(lines), diag
    assert 1 <= loc.column <= len(lines[loc.line - 1]) + 1, diag
    assert (loc.end_line, loc.end_column) >= (loc.line, loc.column), diag
    assert loc.end_line <= len(lines), diag
    assert diag.message and diag.code


def run_front_end(directory: Path, text: str, name: str = "fuzz.lane") -> None:
    module, diags = parse(text, name)
    assert module is not None or any(d.is_error for d in diags)
    if module is not None:
        assert isinstance(module, ast.Module)
        for node in ast.walk(module):
            assert node.loc.file == name
    for d in diags:
        assert_inside(d, {name: text})

    path = directory / name
    path.write_text(text, encoding="utf-8")
    data = CompilerData(path)
    all_diags = data.diagnostics()
    for d in all_diags:
        assert_inside(d, data.sources)
    assert data.ok == (not any(d.is_error for d in all_diags))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory holding copies of the examples, so that their imports resolve."""
    directory = tmp_path_factory.mktemp("fuzz")
    for example in EXAMPLES:
        (directory / example.name).write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    return directory


# ------------------------------------------------------- text from the grammar

_PARSER = lark_parser(cache=False)  # with its grammar: programs are generated from it
_KEYWORDS = {t.name: t.pattern.value for t in _PARSER.terminals
             if re.fullmatch(r"[a-z]+", str(getattr(t.pattern, "value", "")))}
_NAMES = ["x", "y", "C", "D", "Token", "f", "g", "m", "a", "b", "i", "K", "E", "u256", "bool", "address",
          "msg", "sender", "block", "number", "timestamp", "self", "len", "min", "max", "transfer"]
_INTS = ["0", "1", "2", "10", "0xff", "1_000", "0xdead", str(2**256 - 1), str(2**256), "0x" + "f" * 41,
         str(2**160), "1_", "0x", "12ab"]
_STRINGS = ['""', '"message"', r'"esc \" aped"']

# Tokens padded with spaces: the grammar's text then lexes as generated, which reaches the checker.
SPACED = {name: st.just(f" {word} ") for name, word in _KEYWORDS.items()}
SPACED["NAME"] = st.sampled_from(_NAMES).map(lambda s: f" {s} ")
SPACED["INT"] = st.sampled_from(_INTS).map(lambda s: f" {s} ")
SPACED["STRING"] = st.sampled_from(_STRINGS)


def test_keywords_are_found_in_the_grammar():
    # Guards the strategy above against a renamed terminal: these must all be padded.
    assert {"contract", "fn", "let", "if", "for", "return", "storage", "import"} <= set(_KEYWORDS.values())


@SETTINGS
@given(text=from_lark(_PARSER))
def test_text_from_the_grammar_never_crashes(workdir, text):
    if encodable(text):
        run_front_end(workdir, text)


@SETTINGS
@given(text=from_lark(_PARSER, explicit=SPACED))
def test_spaced_programs_from_the_grammar_never_crash(workdir, text):
    run_front_end(workdir, text)


@settings(max_examples=examples(60), deadline=None)
@given(text=from_lark(_PARSER, explicit=SPACED))
def test_programs_that_parse_keep_their_text_in_locations(text):
    module, diags = parse(text, "g.lane")
    if module is None:
        return
    lines = text.split("\n")
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and node.loc.line == node.loc.end_line:
            line = lines[node.loc.line - 1]
            assert line[node.loc.column - 1:node.loc.end_column - 1] == node.id


# ---------------------------------------------------------- mutated examples

_EXAMPLE_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in EXAMPLES}
_TOKENS = ["{", "}", "(", ")", "[", "]", ";", ",", ".", ":", "..", "->", "=", "+=", "==", "!=", "&&", "||", "!",
           "/", "*", "/*", "*/", "//", '"', "\n", "\t", " ", "contract", "fn", "pub", "view", "let", "if", "else",
           "for", "in", "return", "emit", "require", "revert", "storage", "const", "event", "init", "map<", "array<",
           "msg.sender", "self", "block.number", "min(", "len(", "address(", "u256(", "0x", "1_", "0xffff",
           str(2**256), 'import "token.lane";', 'import "nowhere.lane";', 'import "fuzz.lane";', "é", "\u2028",
           "\x0c", "\r\n", "\x00", "@", "'", "Token", "x"]

_MUTATION = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "duplicate"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),   # where, as a fraction of the text
    st.integers(min_value=0, max_value=40),                 # how long a span
    st.one_of(st.sampled_from(_TOKENS), st.text(max_size=4).filter(encodable)),
)


def mutate(text: str, mutations) -> str:
    for op, where, length, token in mutations:
        i = int(where * len(text))
        j = min(len(text), i + length)
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + token + text[i:]
        elif op == "replace":
            text = text[:i] + token + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(SETTINGS, max_examples=examples(400))
@given(name=st.sampled_from(sorted(_EXAMPLE_TEXTS)), mutations=st.lists(_MUTATION, min_size=1, max_size=5))
def test_mutated_examples_never_crash(workdir, name, mutations):
    run_front_end(workdir, mutate(_EXAMPLE_TEXTS[name], mutations))


@settings(max_examples=examples(100), deadline=None)
@given(name=st.sampled_from(sorted(_EXAMPLE_TEXTS)), cut=st.floats(min_value=0, max_value=1, allow_nan=False))
def test_truncated_examples_report_an_error_inside_the_file(workdir, name, cut):
    text = _EXAMPLE_TEXTS[name]
    text = text[: int(cut * len(text))]
    module, diags = parse(text, "cut.lane")
    for d in diags:
        assert_inside(d, {"cut.lane": text})
    # A cut inside a contract leaves an unclosed '{': always a syntax error.
    code = re.sub(r'/\*.*?\*/|//[^\n]*|"[^"\n]*"', "", text, flags=re.S)
    if code.count("{") > code.count("}"):
        assert module is None
        assert [d.code for d in diags] == ["syntax"]
