"""What a state file must be before Lane reads or writes it (``--state PATH``).

A state file says what it is: Lane's SQLite application id and the version of
its schema, in the database header.  Before anything is read or written, the
file is checked (:func:`connect`, :func:`check_identity`, :func:`check_writable`):
a file that is not SQLite, another application's database, a newer schema, a
missing file for a command that only reads, or a file that cannot be written
for one that writes is refused with a message, and left as it was.  Each check
is its own function, independent of the tables (:mod:`compiler.runtime.store`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse

from ..diagnostics import LaneError

APPLICATION_ID = 0x4C616E65   # "Lane" in ASCII: PRAGMA application_id of every state file
SQLITE_MAGIC = b"SQLite format 3\x00"   # the first 16 bytes of every SQLite database


def state_error(message: str) -> LaneError:
    """A user error about a state file."""
    return LaneError(message, code="state")


def connect(path: str, create: bool) -> sqlite3.Connection:
    """Open ``path`` for reading and writing (read-only if the system allows no more); with
    ``create`` a missing file is created, without it a missing file is refused."""
    if os.path.isdir(path):
        raise state_error(f"state file {path} is a directory")
    if not os.path.exists(path):
        if not create:
            raise state_error(f"state file not found: {path}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise state_error(f"cannot create state file {path}: folder {folder} does not exist")
    else:
        check_sqlite(path)
    # A URI, so that "rw" never creates a file (a mistyped path must not become a new state).
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode={'rwc' if create else 'rw'}"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as err:
        verb = "create" if create and not os.path.exists(path) else "open"
        raise state_error(f"cannot {verb} state file {path}: {err}") from None


def check_sqlite(path: str) -> None:
    """Refuse a file that is not a SQLite database (an empty file is a new database)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise state_error(f"cannot read state file {path}: {err.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise state_error(f"cannot use state file {path}: it is not a SQLite database; "
                          "nothing was changed: use a new --state file")


def check_identity(db: sqlite3.Connection, path: str, schema_version: int, reads: tuple[int, ...] = ()) -> bool:
    """Whether ``db`` is a new, empty database (True) or a Lane state file of ``schema_version``, or
    of an older version in ``reads`` (False); anything else (another application's database,
    another schema version) is refused."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and version == 0 and tables == 0:
        return True
    if app_id != APPLICATION_ID:
        raise state_error(f"cannot use state file {path}: it is another application's SQLite database, "
                          f"not a Lane state file (its application id is {app_id:#x}, Lane's is "
                          f"{APPLICATION_ID:#x}); nothing was changed: use a new --state file")
    if version > schema_version:
        raise state_error(f"cannot use state file {path}: its schema version {version} is newer than this "
                          f"Lane's ({schema_version}); use a newer Lane, or a new --state file")
    if version != schema_version and version not in reads:
        known = ", ".join(map(str, sorted({*reads, schema_version})))
        raise state_error(f"cannot use state file {path}: its schema version {version} is not one this Lane "
                          f"reads ({known}); use a new --state file")
    return False


def check_writable(db: sqlite3.Connection, path: str) -> None:
    """Refuse, before any work, a state file that cannot be written: a read-only folder (where
    SQLite makes its journal at each commit), or a file SQLite opened read-only (write-protected, or
    on a read-only mount).  The latter is found by a write that changes nothing (the schema version,
    set to its own value), rolled back, with a rollback journal kept in memory meanwhile: the probe
    leaves no file behind (a WAL database writes nothing to its log before a commit)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(folder, os.W_OK):
        raise state_error(f"cannot write state file {path}: its folder {folder} is not writable (SQLite "
                          "keeps its journal there); nothing was run")
    try:
        journal = db.execute("PRAGMA journal_mode").fetchone()[0].lower()
        rollback_journal = journal in ("delete", "truncate", "persist")
        if rollback_journal:  # a connection's own setting: the file keeps its mode
            db.execute("PRAGMA journal_mode = MEMORY")
        try:
            db.execute("BEGIN IMMEDIATE")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            db.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if rollback_journal:
                db.execute(f"PRAGMA journal_mode = {journal}")
    except sqlite3.Error as err:
        raise refusal(err, path, "nothing was run") from None


def in_use(err: sqlite3.Error, file: str) -> str | None:
    """``file`` (how a message names the state file) in use by another process, in words, if that is
    what SQLite said (busy or locked); else None."""
    if (getattr(err, "sqlite_errorname", "") or "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"{file} is in use by another process ({err}); try again when it has finished"
    return None


def refusal(err: sqlite3.Error, path: str, outcome: str = "nothing was written") -> LaneError:
    """What SQLite refused of a state file, in words: in use by another process, not writable, or else."""
    busy = in_use(err, f"state file {path}")
    if busy is not None:
        return state_error(busy)
    name = getattr(err, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return state_error(f"cannot write state file {path} ({err}): the file and its folder (where "
                           f"SQLite keeps its journal) must be writable; {outcome}")
    return state_error(f"cannot use state file {path} ({err}); {outcome}")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, path: str, mode: str = "IMMEDIATE"):
    """A database transaction: committed at the end, rolled back on any exception; what SQLite
    refuses (locked, read-only, a full disk) becomes a user error naming the file."""
    try:
        db.execute(f"BEGIN {mode}")
    except sqlite3.Error as err:
        raise refusal(err, path) from None
    try:
        yield
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:  # SQLite ends some failed transactions itself (a full disk)
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise refusal(exc, path) from None
        raise
