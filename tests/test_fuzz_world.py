"""Fuzzing the world loader: whatever a world file holds, loading it and running its genesis give
a world or a LaneError (naming the file), never another exception (SPEC §3).

Inputs: random TOML structures shaped like worlds, valid worlds mutated character by character,
random bytes, huge integers and deep nesting.  The contracts are compiled once for every input
(``programs``), so each input costs a TOML parse and at most one genesis.  A long run::

    LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_fuzz_world.py
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.diagnostics import LaneError, render_all
from compiler.runtime.world import genesis, load_world
from compiler.semantics.loader import SourceCache
from fuzzing import fuzz_settings
from runtime_helpers import TOKEN

VALID = """\
[accounts]
alice = "0x00000000000000000000000000000000000a11ce"

[chain]
cost_limit = 1_000_000

[[deploy]]
name = "usdc"
source = "token.lane"
contract = "Token"
sender = "alice"
args = [1_000_000]

[[deploy]]
name = "dai"
source = "token.lane"
contract = "Token"
args = ["0x10"]
"""


class Loader:
    """A folder with token.lane, and the world file each input is written to."""

    def __init__(self, root) -> None:
        (root / "token.lane").write_text(TOKEN, encoding="utf-8")
        self.path = root / "world.toml"
        self.cache, self.programs = SourceCache(), {}

    def load(self, data: str | bytes) -> str:
        """Load ``data`` as a world: "ok", or the LaneError's rendering (which must not fail either)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self.path.write_bytes(data)
        try:
            genesis(load_world(self.path, self.cache, self.programs))
        except LaneError as err:
            text = render_all(err.diagnostics, err.sources)
            text.encode("utf-8")  # printable on any UTF-8 terminal
            return text
        return "ok"


@pytest.fixture(scope="module")
def loader(tmp_path_factory):
    return Loader(tmp_path_factory.mktemp("fuzz-world"))


def test_the_valid_world_loads(loader):
    assert loader.load(VALID) == "ok"


# ---------------------------------------------------------------- TOML written from random structures

def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)  # a TOML basic string, or an error of the file


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, str)):
        return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"


def toml(doc: dict, tables: bool) -> str:
    """``doc`` as TOML: its sections as [tables] and [[arrays of tables]] or, else, inline."""
    out = []
    for key, value in doc.items():
        if tables and isinstance(value, dict) and all(not isinstance(v, dict) for v in value.values()):
            out.append(f"[{_key(key)}]")
            out += [f"{_key(k)} = {_value(v)}" for k, v in value.items()]
        elif tables and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                out.append(f"[[{_key(key)}]]")
                out += [f"{_key(k)} = {_value(v)}" for k, v in entry.items()]
        else:
            out.insert(0, f"{_key(key)} = {_value(value)}")  # before any table, or it would belong to it
    return "\n".join(out) + "\n"


huge = st.integers(min_value=1, max_value=12_000).map(lambda n: int("9" * n) if n < 4300 else "9" * n)
scalars = st.one_of(
    st.integers(min_value=-(2**300), max_value=2**300), st.booleans(), st.floats(),
    st.text(max_size=12),
    st.sampled_from(["alice", "usdc", "0x01", "0x" + "f" * 41, "1000", "٥", " 5 ", "1__0", "true", "", "a b"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
names = st.sampled_from(["alice", "bob", "usdc", "deployer", "0xab", "a b", "", "é", "x.y-z"]) | st.text(max_size=6)
entries = st.fixed_dictionaries({}, optional={
    "name": names | values,
    "source": st.sampled_from(["token.lane", "missing.lane", "", ".", "..", "token.lane\0"]) | values,
    "contract": st.sampled_from(["Token", "Nope"]) | values,
    "sender": names | values,
    "args": st.lists(scalars | huge.map(str), max_size=2) | values,
    "extra": values,
})
worlds = st.fixed_dictionaries({}, optional={
    "accounts": st.dictionaries(names, st.sampled_from(["0x01", "0x" + "0" * 40, "0xZZ", "alice"]) | values,
                                max_size=4) | values,
    "chain": st.fixed_dictionaries({}, optional={"cost_limit": values, "other": values}) | values,
    "deploy": st.lists(entries | values, max_size=3) | values,
    "other": values,
})


@fuzz_settings(150)
@given(doc=worlds, tables=st.booleans())
def test_random_worlds(loader, doc, tables):
    loader.load(toml(doc, tables))


# ---------------------------------------------------------------- valid worlds, mutated

_PIECES = list('[]{}"\'=#,.\n\t _0x9') + ["\\u0000", "\\ud800", "\r", "\u2028", "é", "9" * 5000, "[" * 2000,
                                            "[[deploy]]", "\n[accounts]\n", "\\"]


@fuzz_settings(200)
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 3), st.sampled_from(_PIECES)),
                      min_size=1, max_size=4))
def test_mutated_worlds(loader, edits):
    text = VALID
    for at, drop, piece in edits:
        at = min(at, len(text))
        text = text[:at] + piece + text[at + drop:]
    loader.load(text)


# ---------------------------------------------------------------- bytes, depth and size

@fuzz_settings(100)
@given(data=st.binary(max_size=200))
def test_random_bytes(loader, data):
    loader.load(data)


@fuzz_settings(50)
@given(depth=st.integers(0, 3000) | st.just(200_000), table=st.booleans(), closed=st.booleans(),
       where=st.sampled_from(["args", "account", "key"]))
def test_deep_nesting(loader, depth, table, closed, where):
    if table:
        value = "{a = " * depth + "1" + ("}" * depth if closed else "")
    else:
        value = "[" * depth + "1" + ("]" * depth if closed else "")
    if where == "args":
        text = VALID.replace("[1_000_000]", value)
    elif where == "account":
        text = VALID.replace('"0x00000000000000000000000000000000000a11ce"', value)
    else:
        text = f"x = {value}\n{VALID}"
    loader.load(text)


@fuzz_settings(50)
@given(digits=st.integers(4000, 20_000), sign=st.sampled_from(["", "-", "+"]), quoted=st.booleans(),
       underscores=st.booleans())
def test_huge_integers(loader, digits, sign, quoted, underscores):
    number = sign + ("9_" * (digits // 2) + "9" if underscores else "9" * digits)
    assert loader.load(VALID.replace("1_000_000]", (f'"{number}"' if quoted else number) + "]")) != "ok"
