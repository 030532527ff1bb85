"""A state file is never misused: Lane's own files only, of a schema it reads, writable before a
block runs, and present for a command that only reads (SPEC §3, §4)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from compiler.cli import app
from compiler.diagnostics import LaneError
from compiler.runtime import statefile as store_module
from compiler.runtime.chain import Chain
from compiler.runtime.store import APPLICATION_ID, SCHEMA_VERSION, SQLITE_MAGIC, StateStore
from fuzzing import fuzz_settings
from runtime_helpers import token_world, tx, write_block

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def files(tmp_path):
    """A token world and a one-transfer block."""
    world = token_world(tmp_path)
    block = write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 7)])
    return world, block


def lane(*args) -> tuple[int, str, str]:
    """``lane ARGS`` in process: (exit status, stdout, stderr); never a traceback."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def fails(*args) -> str:
    """A command that must fail with a user error: exit 1, nothing on stdout; its one-line message."""
    code, out, err = lane(*args)
    assert (code, out) == (1, ""), (code, out, err)
    return err


def fingerprint(path: Path) -> tuple:
    """The file's bytes and its folder's names: what 'left untouched' means."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(os.listdir(path.parent))


def header(path: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]


def altered_state(files, tmp_path, *statements: str) -> Path:
    """A state file holding the block of ``files``, then changed outside Lane by ``statements``."""
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    with contextlib.closing(sqlite3.connect(state)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    return state


def foreign_db(path: Path, application_id: int = 0) -> None:
    """Another application's SQLite file, with a table named like one of Lane's."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE storage (name TEXT, price REAL)")
        db.execute("INSERT INTO storage VALUES ('apples', 1.5)")
        if application_id:
            db.execute(f"PRAGMA application_id = {application_id}")
        db.commit()


# --------------------------------------------------------------------- what a state file is

def test_a_new_state_file_carries_lanes_application_id_and_schema_version(files, tmp_path):
    world, block = files
    state = tmp_path / "s.sqlite"
    code, _, err = lane("run", world, block, "--state", state)
    assert code == 0, err
    assert header(state) == (APPLICATION_ID, SCHEMA_VERSION) == (0x4C616E65, 4)
    # ... and it is used again as it is.
    assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")


def test_an_empty_file_becomes_a_state_file(files, tmp_path):
    world, block = files
    state = tmp_path / "s.sqlite"
    state.write_bytes(b"")
    assert lane("run", world, block, "--state", state)[0] == 0
    assert header(state) == (APPLICATION_ID, SCHEMA_VERSION)


@pytest.mark.parametrize("application_id", [0, 0x0F00BA12])
def test_another_applications_sqlite_file_is_refused_and_left_untouched(files, tmp_path, application_id):
    world, block = files
    state = tmp_path / "shop.sqlite"
    foreign_db(state, application_id)
    before = fingerprint(state)
    message = (f"error: cannot use state file {state}: it is another application's SQLite database, not a "
               f"Lane state file (its application id is {application_id:#x}, Lane's is 0x4c616e65); "
               "nothing was changed: use a new --state file\n")
    assert fails("run", world, block, "--state", state) == message
    assert fails("call", world, "token", "balance_of", "bob", "--state", state) == message
    assert fails("schedule", world, block, "--state", state) == message
    assert fingerprint(state) == before
    with contextlib.closing(sqlite3.connect(state)) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("storage",)]


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(files, tmp_path):
    world, block = files
    state = tmp_path / "notes.txt"
    state.write_text("shopping: apples, pears\n")
    before = fingerprint(state)
    message = (f"error: cannot use state file {state}: it is not a SQLite database; nothing was changed: "
               "use a new --state file\n")
    assert fails("run", world, block, "--state", state) == message
    assert fails("call", world, "token", "balance_of", "bob", "--state", state) == message
    assert fingerprint(state) == before


@given(st.binary(min_size=1, max_size=4096).filter(lambda b: not b.startswith(SQLITE_MAGIC)))
@fuzz_settings(25)
def test_no_file_but_a_sqlite_one_is_ever_opened_or_changed(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("junk")
    path = folder / "s.sqlite"
    path.write_bytes(content)
    for writable in (True, False):
        with pytest.raises(LaneError) as err:
            StateStore(path, writable=writable)
        assert str(err.value) == (f"cannot use state file {path}: it is not a SQLite database; "
                                  "nothing was changed: use a new --state file")
    assert path.read_bytes() == content and os.listdir(folder) == ["s.sqlite"]


@pytest.mark.parametrize("version, why", [
    (SCHEMA_VERSION + 1, (f"its schema version {SCHEMA_VERSION + 1} is newer than this Lane's ({SCHEMA_VERSION}); "
                          "use a newer Lane, or a new --state file")),
    (0, "its schema version 0 is not one this Lane reads (2, 3, 4); use a new --state file"),
])
def test_a_state_file_of_another_schema_version_is_refused(files, tmp_path, version, why):
    world, block = files
    state = altered_state(files, tmp_path, f"PRAGMA user_version = {version}")
    before = fingerprint(state)
    message = f"error: cannot use state file {state}: {why}\n"
    assert fails("run", world, block, "--state", state) == message
    assert fails("call", world, "token", "balance_of", "bob", "--state", state) == message
    assert fingerprint(state) == before


def test_a_directory_is_not_a_state_file(files, tmp_path):
    world, block = files
    assert fails("run", world, block, "--state", tmp_path) == f"error: state file {tmp_path} is a directory\n"


def test_a_state_file_in_a_missing_folder_is_refused(files, tmp_path):
    world, block = files
    state = tmp_path / "nowhere" / "s.sqlite"
    assert fails("run", world, block, "--state", state) == (
        f"error: cannot create state file {state}: folder {state.parent} does not exist\n")
    assert not state.parent.exists()


def test_a_state_file_another_program_holds_locked_is_named_not_a_crash(files, tmp_path):
    """Another program holding the file in an exclusive transaction: the command says the file is in
    use (after SQLite's wait of a few seconds), where its first read was an internal error."""
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    before = fingerprint(state)
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert fails("run", world, block, "--state", state) == (
            f"error: state file {state} is in use by another process (database is locked); try again when it "
            "has finished\n")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert fingerprint(state) == before


@pytest.mark.parametrize("table", ["blocks", "receipts"])
def test_a_state_file_missing_a_table_is_named_damaged_not_a_crash(files, tmp_path, table):
    """A table dropped outside Lane: each command that reads it says the file is damaged."""
    world, block = files
    state = altered_state(files, tmp_path, f"DROP TABLE {table}")
    commands = [["state", "receipts", world], ["run", world, block]] + [["state", "show"]] * (table == "blocks")
    for args in commands:  # (a commit's own refusal names the file; a read's says it was changed outside Lane)
        err = fails(*args, "--state", state)
        assert err in (f"error: the state file is damaged (no such table: {table}): it was changed outside Lane; "
                       "use a new --state file\n",
                       f"error: cannot use state file {state} (no such table: {table}); nothing was written\n"), args


# --------------------------------------------------------------------- a command that only reads

def test_a_command_that_only_reads_starts_a_missing_state_file_at_the_genesis(files, tmp_path):
    # SPEC §3: "With --state PATH the genesis is written to a new SQLite file on first use".
    world, block = files
    for command, args in (("call", ("token", "balance_of", "alice")), ("schedule", (block,))):
        state = tmp_path / f"{command}.sqlite"
        assert lane(command, world, *args, "--state", state)[0] == 0
        store = StateStore(state, writable=False)
        try:
            assert store.last_block == (0, 0)  # (the genesis, and nothing more)
        finally:
            store.close()
    assert lane("call", world, "token", "balance_of", "alice", "--state", tmp_path / "call.sqlite") == \
        lane("call", world, "token", "balance_of", "alice")
    # lane run commits on top of it; then both read it.
    state = tmp_path / "call.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")
    assert lane("schedule", world, block, "--state", state)[0] == 0
    # a folder that does not exist is still an error, and nothing is made
    missing = tmp_path / "nowhere" / "s.sqlite"
    assert fails("call", world, "token", "balance_of", "alice", "--state", missing) == (
        f"error: cannot create state file {missing}: folder {missing.parent} does not exist\n")


def test_a_command_that_only_reads_writes_nothing(files, tmp_path):
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    before = fingerprint(state)
    assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")
    assert lane("schedule", world, block, "--state", state)[0] == 0
    assert fingerprint(state) == before
    # An empty file holds no state yet: refused, and left empty.
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert fails("call", world, "token", "balance_of", "alice", "--state", empty) == (
        f"error: state file {empty} holds no state yet (run a block on it first)\n")
    assert empty.read_bytes() == b""


# --------------------------------------------------------------------- a read-only state file

def read_only_message(state: Path) -> str:
    return (f"error: cannot write state file {state} (attempt to write a readonly database): the file and "
            "its folder (where SQLite keeps its journal) must be writable; nothing was run\n")


@pytest.fixture
def blocks_run(monkeypatch):
    """The numbers of the blocks run from now on (a refused state file must refuse before any)."""
    ran: list = []
    real = Chain.run_block

    def spy(self, *args, **kwargs):
        ran.append(self.number + 1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Chain, "run_block", spy)
    return ran


def test_a_state_file_opened_read_only_is_refused_before_the_block_runs(files, tmp_path, monkeypatch, blocks_run):
    # The system's own refusal, whoever runs the tests (root writes to a chmod 444 file):
    # SQLite is made to open every state file read-only, as it does a write-protected one.
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    real = sqlite3.connect

    def read_only(database, *args, **kwargs):
        if kwargs.get("uri"):  # a state file: Lane opens those (and only those) through a URI
            database = database.replace("mode=rwc", "mode=ro").replace("mode=rw", "mode=ro")
        return real(database, *args, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)
    before = fingerprint(state)
    del blocks_run[:]
    assert fails("run", world, block, "--state", state) == read_only_message(state)
    assert blocks_run == []
    assert fingerprint(state) == before
    # Reading needs no more.
    assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")


@functools.cache
def unprivileged() -> list[str] | None:
    """For root: a command prefix that runs a command in a user namespace without root's right to
    write what is write-protected (``unshare --user``), or None where the system allows none."""
    tool = shutil.which("unshare")
    if tool is None:
        return None
    try:
        probe = subprocess.run([tool, "--user", "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return [tool, "--user"] if probe.returncode == 0 else None


def fails_unprivileged(*args, cwd: Path) -> str:
    """:func:`fails`, as a user whom write protection stops: in process, or for root in a
    subprocess through :func:`unprivileged` (the test is skipped where there is none)."""
    if not AS_ROOT:
        return fails(*args)
    prefix = unprivileged()
    if prefix is None:
        pytest.skip("root writes to write-protected files, and no user namespace is available")
    env = {k: v for k, v in os.environ.items() if k != "LANE_DEBUG"}
    proc = subprocess.run([*prefix, sys.executable, "-m", "compiler", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert (proc.returncode, proc.stdout) == (1, ""), (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_a_write_protected_state_file_is_refused_before_the_block_runs(files, tmp_path, blocks_run):
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    state.chmod(0o444)
    try:
        before = fingerprint(state)
        del blocks_run[:]
        assert fails_unprivileged("run", world, block, "--state", state, cwd=tmp_path) == read_only_message(state)
        assert blocks_run == [] and fingerprint(state) == before
        assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")
    finally:
        state.chmod(0o644)


def test_a_state_file_in_a_write_protected_folder_is_refused_before_the_block_runs(files, tmp_path, blocks_run):
    world, block = files
    folder = tmp_path / "ro"
    folder.mkdir()
    state = folder / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    folder.chmod(0o555)
    try:
        before = fingerprint(state)
        del blocks_run[:]
        err = fails_unprivileged("run", world, block, "--state", state, cwd=tmp_path)
        assert err == (f"error: cannot write state file {state}: its folder {folder} is not writable (SQLite "
                       "keeps its journal there); nothing was run\n")
        assert blocks_run == [] and fingerprint(state) == before
    finally:
        folder.chmod(0o755)


def test_a_failed_commit_is_a_user_error_and_keeps_the_previous_block(files, tmp_path, monkeypatch):
    # A write SQLite refuses after the block ran (the file made read-only meanwhile, a full disk)
    # is reported, not a crash, and the file keeps its previous block.
    world, block = files
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state)[0] == 0
    chain = Chain.open(world, state)
    try:
        chain.store.db.execute("PRAGMA query_only = ON")  # every write refused from now on
        with pytest.raises(LaneError) as err:
            chain.run_block([(1, tx("alice", "token", "transfer", "bob", 1))])
    finally:
        chain.close()
    assert str(err.value) == (f"cannot write state file {state} (attempt to write a readonly database): the "
                              "file and its folder (where SQLite keeps its journal) must be writable; "
                              "nothing was written")
    assert lane("call", world, "token", "balance_of", "bob", "--state", state) == (0, "7\n", "")
