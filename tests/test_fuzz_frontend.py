"""Fuzzing the front end: whatever the text, parse + check + code generation give diagnostics or
a program whose Python compiles, never an exception.

One test draws its inputs from five sources: random derivations of the grammar (cheap, of any
size), the grammar through ``hypothesis.extra.lark`` (the strategies of test_properties),
the example contracts mutated (their imports resolve), programs nested around the limits of
docs/limits.md (typed, so that those within the limits check and their Python is compiled:
they must, and those past a limit must give only ``limit`` errors), and random bytes read
as a contract file.

Brief in CI; ``LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_fuzz_frontend.py``
runs 100,000 inputs, about 20 ms each on two idle cores (the costly sources are the rarer ones).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO
from fuzzing import fuzz_settings
from hypothesis import example, given, note
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark.lexer import PatternStr
from test_properties import (
    _EXAMPLE_TEXTS,
    _INTS,
    _MUTATION,
    _NAMES,
    _PARSER,
    _STRINGS,
    SPACED,
    assert_inside,
    encodable,
    mutate,
)

from compiler.codegen.compiled import compile_program
from compiler.limits import MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH, MAX_LOOP_DEPTH
from compiler.pipeline import CompilerData
from compiler.semantics.loader import SourceCache


@dataclass(frozen=True)
class Case:
    """One input: a text (an editor's buffer beside the examples) or the bytes of a file."""

    text: str | None = None
    data: bytes | None = None
    within_limits: bool | None = None  # for a program nested around the limits: whether it is within them


# ------------------------------------------------- random derivations of the grammar

_EXPANSIONS: dict[str, list[list]] = {}
for _rule in _PARSER.rules:
    _EXPANSIONS.setdefault(_rule.origin.name, []).append(_rule.expansion)
_WORDS = {t.name: [t.pattern.value] for t in _PARSER.terminals if isinstance(t.pattern, PatternStr)}
_WORDS.update(NAME=_NAMES, INT=_INTS, STRING=_STRINGS, COMPOUND_ASSIGN=["+=", "-=", "*=", "/="])


def _cheapest() -> dict[str, list]:
    """For each rule, the expansion that ends soonest (a fixpoint over the symbols each needs)."""
    cost = dict.fromkeys(_EXPANSIONS, math.inf)
    changed = True
    while changed:
        changed = False
        for name, expansions in _EXPANSIONS.items():
            best = min(1 + sum(cost[s.name] for s in e if not s.is_term) for e in expansions)
            if best < cost[name]:
                cost[name], changed = best, True
    return {name: min(exps, key=lambda e: sum(cost[s.name] for s in e if not s.is_term))
            for name, exps in _EXPANSIONS.items()}


_CHEAPEST = _cheapest()


def derive(seed: int) -> str:
    """A random program of the grammar, tokens apart: free choices while the budget lasts, then
    the shortest way to finish.  Far cheaper per input than hypothesis.extra.lark."""
    rng = random.Random(seed)
    budget = rng.choice([8, 30, 120, 500])
    out: list[str] = []
    stack = [_PARSER.rules[0].origin]
    while stack:
        symbol = stack.pop()
        if symbol.is_term:
            out.append(rng.choice(_WORDS[symbol.name]))
            continue
        budget -= 1
        expansion = rng.choice(_EXPANSIONS[symbol.name]) if budget > 0 else _CHEAPEST[symbol.name]
        stack.extend(reversed(expansion))
    return " ".join(out)


# ---------------------------------------- programs nested around the limits

# Ways to wrap an expression of one type into one of another, and the levels each adds (an
# operand of a looser operator is parenthesised, so that the levels are the ones written).
U256 = [("{} + a", 1), ("a * ({})", 1), ("({}) / 3", 1), ("({}) % 7", 1), ("id({})", 1),
        ("m[{}]", 1), ("pairs[{}, a]", 1), ("arr[{}]", 1), ("u256(address({}))", 2), ("min({}, 1)", 1),
        ("max(a, {})", 1), ("other.echo({})", 1)]
TO_BOOL = [("{} == a", 1), ("({}) < 5", 1), ("{} != s", 1)]  # the other operand no deeper than a leaf
BOOL = [("!({})", 1), ("({}) && true", 1), ("({}) || false", 1), ("flags[{}]", 1)]
# Ways to put a statement inside blocks: (text, blocks it adds, loops it adds).
BLOCKS = [("if a > {k} {{ {} }}", 1, 0), ("if a > {k} {{ }} else {{ {} }}", 1, 0),
          ("if a > {k} {{ }} else if a == {k} {{ {} }}", 2, 0), ("for i{k} in 0..2 {{ {} }}", 1, 1)]

NESTED_CONTRACT = """contract Other {{
    pub fn echo(x: u256) -> u256 {{ return x; }}
}}

contract C {{
    storage s: u256;
    storage m: map<u256, u256>;
    storage pairs: map<(u256, u256), u256>;
    storage flags: map<bool, bool>;
    storage other: Other;
    event E(v: u256);

    fn id(x: u256) -> u256 {{ return x; }}

    pub fn f(a: u256, arr: array<u256, 4>) {{
        {}
    }}
}}
"""


# Statements that hold the expression: (text, levels the statement adds above it, blocks it adds).
STATEMENTS = {
    "u256": [("s = {};", 0, 0), ("s += {};", 0, 0), ("emit E({});", 0, 0), ("let x = {};", 0, 0),
             ("m[{}] = a;", 1, 0)],   # an assignment's target is an expression too
    "bool": [("require({});", 0, 0), ("require({}, \"no\");", 0, 0), ("if {} {{ s = 1; }}", 0, 1)],
}


def around(limit: int):
    """Half the time just around a limit, else anywhere up to twice it."""
    return st.one_of(st.integers(limit - 2, limit + 2), st.integers(1, 2 * limit))


@st.composite
def nested_programs(draw):
    """A program of one statement nested in blocks, holding one deep expression.

    The choices of wrappers come from one draw of bytes: a draw per wrapper made hypothesis
    cost more than the front end."""
    target, target_blocks = draw(around(MAX_EXPR_DEPTH)), draw(around(MAX_BLOCK_DEPTH))
    n = 2 * target + 1 + target_blocks  # a byte for the leaf and the statement, two a wrapper, one a block
    choices = iter(draw(st.binary(min_size=n, max_size=n)))

    def pick(options):
        return options[next(choices) % len(options)]

    def parenthesised(text: str) -> str:  # parentheses add no level: half the time, some
        return f"({text})" if next(choices) & 0x80 else text

    expr, depth, ty = pick([("a", 1, "u256"), ("7", 1, "u256"), ("true", 1, "bool"), ("u256(msg.sender)", 3, "u256")])
    while depth < target:
        wrap, levels = pick(U256 + TO_BOOL if ty == "u256" else BOOL)
        expr, depth = parenthesised(wrap.format(expr)), depth + levels
        if (wrap, levels) in TO_BOOL:
            ty = "bool"
    template, more_levels, inner_blocks = pick(STATEMENTS[ty])
    statement, depth = template.format(expr), depth + more_levels
    blocks, loops, k = 1, 0, 0  # the function's body is the first level
    while blocks < target_blocks:
        wrap, more_blocks, more_loops = pick(BLOCKS)
        statement = wrap.format(statement, k=k)
        blocks, loops, k = blocks + more_blocks, loops + more_loops, k + 1
    blocks += inner_blocks
    within = depth <= MAX_EXPR_DEPTH and blocks <= MAX_BLOCK_DEPTH and loops <= MAX_LOOP_DEPTH
    return Case(text=NESTED_CONTRACT.format(statement), within_limits=within)


# ------------------------------------------------------------------ the test

_EXAMPLE_BYTES = [t.encode() for t in _EXAMPLE_TEXTS.values()]


def derived():
    return st.integers(0, 2**64).map(lambda seed: Case(text=derive(seed)))


def mutated():
    return st.builds(lambda name, mutations: Case(text=mutate(_EXAMPLE_TEXTS[name], mutations)),
                     st.sampled_from(sorted(_EXAMPLE_TEXTS)), st.lists(_MUTATION, min_size=1, max_size=6))


def noise():
    return st.one_of(
        st.binary(max_size=400),
        st.builds(lambda data, at, junk: data[:at] + junk + data[at:],
                  st.sampled_from(_EXAMPLE_BYTES), st.integers(0, 4000), st.binary(min_size=1, max_size=20)),
    ).map(lambda data: Case(data=data))


# Hypothesis picks a branch evenly: the cheap sources come three and two times, the costly ones once.
CASES = st.one_of(derived(), derived(), derived(), mutated(), mutated(),
                  from_lark(_PARSER, explicit=SPACED).map(lambda text: Case(text=text)), nested_programs(), noise())

# Buffers live beside the examples, so that their imports resolve; each example is parsed once.
_OVERLAYS: dict[Path, str] = {}
_CACHE = SourceCache(overlays=_OVERLAYS)
_BUFFER = (REPO / "examples" / "fuzz.lane").resolve()


@pytest.fixture(scope="module")
def file_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzz.lane"


# Inputs the fuzzer found, kept as examples.
UNREACHABLE = "contract C {\n    pub fn f(a: u256) -> u256 {\n        let p = a;\n        return p; return p; return p;\n    }\n}\n"


@fuzz_settings(300)
@given(case=CASES)
@example(case=Case(text=UNREACHABLE))  # the third `return p` was never checked, so `p` had no binding
def test_the_front_end_gives_diagnostics_or_a_program_that_compiles(file_path, case):
    if case.data is not None:
        file_path.write_bytes(case.data)
        data = CompilerData(file_path)
    else:
        if not encodable(case.text):
            return
        note(case.text)
        _OVERLAYS[_BUFFER] = case.text
        data = CompilerData(_BUFFER, _CACHE)
    checked = data.checked  # parse, imports, check: diagnostics, whatever the input
    errors = data.diags.errors
    for d in data.diags:
        if d.location is not None:  # a file that cannot be read (not UTF-8) has no line to name
            assert_inside(d, data.sources)
    if case.within_limits is not None:
        # Nested within the limits, the program checks; past one, the only errors are `limit` ones.
        assert (errors == []) == case.within_limits, [d.message for d in errors]
        assert all(d.code == "limit" for d in errors), [d.message for d in errors]
    if checked is not None and not errors:
        compile_program(checked, "fuzz.lane")
        if case.within_limits:  # where the generated code nests deepest, the traced variant too
            compile_program(checked, "fuzz.lane", trace=True)
