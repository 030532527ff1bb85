"""Fuzzing the state file: whatever one of its cells holds after a change made outside Lane, the
commands that read it (``lane state show``, ``verify``, ``receipts``, ``lane run``) answer, or say
the file is damaged or not a state file, with exit code 1, never an internal error.

Inputs: a small state file of two blocks, one cell of it (any table, any column, any row) set to
a value of another type or size.  A long run::

    LANE_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q tests/test_fuzz_state.py
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from compiler.cli import app
from fuzzing import fuzz_settings
from runtime_helpers import token_world, tx, write_block

COMMANDS = (["state", "show"], ["state", "verify", "world.toml"], ["state", "receipts", "world.toml"],
            ["run", "world.toml", "b2.jsonl"])
VALUES = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=8),
                   st.binary(max_size=80), st.sampled_from(["0", "{}", "[]", "null", "0x" + "0" * 64]))


def lane(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "100", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A state file of two blocks of the token world (and the blocks' files beside it)."""
    folder = tmp_path_factory.mktemp("state")
    token_world(folder)
    write_block(folder, [tx("alice", "token", "transfer", "bob", 5)], "b1.jsonl")
    write_block(folder, [tx("alice", "token", "transfer", "carol", 7), tx("bob", "token", "transfer", "carol", 3)],
                "b2.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name in ("b1.jsonl", "b2.jsonl"):
            assert lane("run", "world.toml", name, "--state", "base.sqlite").exit_code == 0
    db = sqlite3.connect(folder / "base.sqlite")
    cells = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        rows = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        cells += [(table, column, columns[0], rows) for column in columns if rows]
    db.close()
    return folder, cells


@fuzz_settings(60)
@given(data=st.data())
def test_a_damaged_cell_is_never_an_internal_error(base, monkeypatch, data):
    folder, cells = base
    table, column, first, rows = data.draw(st.sampled_from(cells), label="cell")
    row = data.draw(st.integers(0, rows - 1), label="row")
    value = data.draw(VALUES, label="value")
    shutil.copy(folder / "base.sqlite", folder / "d.sqlite")
    db = sqlite3.connect(folder / "d.sqlite")
    try:
        with db:  # (by its first column: tables without rowid have one)
            db.execute(f"UPDATE {table} SET {column} = ? WHERE {first} = (SELECT {first} FROM {table} LIMIT 1 "
                       "OFFSET ?)", (value, row))
    except sqlite3.Error:  # (a constraint of the file's own: not a change it can hold)
        return
    finally:
        db.close()
    monkeypatch.chdir(folder)
    for command in COMMANDS:
        result = lane(*command, "--state", "d.sqlite")
        assert result.exit_code in (0, 1) and "internal error" not in result.output, (command, result.output)
