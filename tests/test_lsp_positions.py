"""Lane locations (1-based lines, columns in characters) and LSP positions (0-based, UTF-16 units)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from compiler.diagnostics import Location
from compiler.lsp.documents import path_of_uri
from compiler.lsp.positions import UTF8, UTF16, UTF32, LineIndex, code_units

TEXT = "contract C {\r\n    /* \U0001F600 é */ storage x: u256;\n}"


@pytest.mark.parametrize("encoding, units", [(UTF16, 2), (UTF8, 4), (UTF32, 1)])
def test_code_units_of_a_character_outside_the_basic_plane(encoding, units):
    assert code_units("\U0001F600", encoding) == units
    assert code_units("é", encoding) == (2 if encoding == UTF8 else 1)


def test_a_lane_location_as_an_lsp_range():
    index = LineIndex(TEXT)
    # `x` is column 23 of line 2 in characters; the emoji counts twice in UTF-16.
    assert TEXT.split("\n")[1][22] == "x"
    rng = index.range(Location("t.lane", 2, 23, 2, 24))
    assert rng == types.Range(start=types.Position(line=1, character=23), end=types.Position(line=1, character=24))
    assert LineIndex(TEXT, UTF32).range(Location("t.lane", 2, 23, 2, 24)).start.character == 22
    assert LineIndex(TEXT, UTF8).range(Location("t.lane", 2, 23, 2, 24)).start.character == 26  # 4 + 2 bytes


def test_the_carriage_return_of_crlf_is_not_part_of_the_line():
    index = LineIndex(TEXT)
    assert index.position(1, 13) == types.Position(line=0, character=12)  # just after `{`
    assert index.lane_position(types.Position(line=0, character=99)) == (1, 13)


def test_positions_past_the_end_of_a_line_or_the_text():
    index = LineIndex("let x = 1\n")
    assert index.position(1, 11) == types.Position(line=0, character=10)  # a missing ';': just after the line
    assert index.position(9, 1) == types.Position(line=1, character=0)     # past the last line: the end
    assert index.position(0, 0) == types.Position(line=0, character=0)
    assert index.lane_position(types.Position(line=50, character=3)) == (2, 1)


@given(st.text(alphabet=st.sampled_from("ab é\U0001F600\t\r\n"), max_size=30), st.data())
def test_every_character_position_survives_the_round_trip(text, data):
    index = LineIndex(text)
    line = data.draw(st.integers(1, len(index.lines)))
    column = data.draw(st.integers(1, len(index.lines[line - 1]) + 1))
    assert index.lane_position(index.position(line, column)) == (line, column)


def test_uris_name_files_and_unsaved_buffers_get_an_absolute_name():
    assert path_of_uri("file:///tmp/a%20b/token.lane") == "/tmp/a b/token.lane"
    assert path_of_uri("untitled:Untitled-1").endswith("Untitled-1")
