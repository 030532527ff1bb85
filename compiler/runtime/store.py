"""State in SQLite (``--state PATH``, SPEC §3, §4): I/O that follows the block, not the state.

Tables (schema version 4; a file of version 2, without the log, or 3, without ``returns``, is read
as it is and gains what it lacks when first written):

- ``meta(key, value)``: the world's fingerprint and the identity it hashes
  (:mod:`compiler.runtime.world_identity`), the genesis state root, and
  ``storage_rows``, the rows of ``storage`` at the genesis or the last fold
  (:meth:`StateStore.fold_at`);
- ``variables(id, instance, name)``: a number for each storage variable of each
  deployed instance, in deployment and declaration order;
- ``storage(var, key, value)``: one row per non-zero location, as of the last
  fold of the log.  ``key`` is the location's keys as 32-byte big-endian words
  (booleans 0 and 1; a scalar's is empty), ``value`` the value's shortest
  big-endian bytes (true is ``01``);
- ``recent(var, key, value)``: the log, the rows blocks changed since the last
  fold, in commit order (an empty value: the location is zero); the view
  ``state`` is the log's newest rows over ``storage``'s (:meth:`StateStore._fold`
  says why a log);
- ``blocks(number, timestamp, transactions, cost, state_root, receipts_root,
  accumulator)``, the genesis as block 0: ``accumulator`` is the state root's
  multiset hash after the block (:mod:`compiler.runtime.roots`), so the next
  block moves it without reading the state;
- ``receipts(block, data)``: the block's receipts in their canonical encoding,
  packed as one value (:func:`compiler.runtime.encoding.pack`);
- ``returns(block, kinds)``: how each of them shows its return value (an address
  is a number in a receipt: :func:`compiler.runtime.receipts.return_kinds`),
  for the blocks committed since the file had this table (version 4).

Nothing is loaded when a file is opened: each variable of the state in memory
is a :class:`~compiler.vm.variables.LazyVar` that reads a location the
first time something uses it, and a block first loads in bulk what its calls
name by plain keys (:mod:`compiler.schedule.locations`, :meth:`StateStore.prefetch`,
a few hundred keys per query, or one pass over a variable's rows when a block
names most of them); anything else is read as it is touched.  A block's
commit appends the locations whose value it changed to the log, with its row
in ``blocks`` and its receipts, in one database transaction, so a process killed
at any moment leaves the file at the previous block.  While a command that
commits has the file open, SQLite keeps its own write-ahead log (WAL: a commit appends
its pages); it is folded into the file when the command ends.

:mod:`compiler.runtime.statefile` keeps files from being misused (another
application's database, another schema version, a read-only file, a missing
file for a command that only reads).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from itertools import compress, filterfalse, groupby, repeat
from operator import is_, itemgetter, not_
from typing import Any, Iterator

import numpy as np

from ..semantics.types import zero_value
from .statefile import (APPLICATION_ID, SQLITE_MAGIC, check_identity, check_writable, connect, refusal,
                        state_error, transaction)
from .changes import Changes, key_bytes
from .encoding import pack, stored
from . import world_identity
from ..vm.variables import LazyVar
from .world import World

__all__ = ["StateStore", "APPLICATION_ID", "SQLITE_MAGIC", "SCHEMA_VERSION"]

SCHEMA_VERSION = 4
READS = (2, 3, 4)  # the schema versions this Lane opens (an older file gains what it lacks when first written)
COMPACT_AT = 32768  # rows in the log past which a commit folds it into ``storage`` ...
FOLD_SHARE = 16     # ... or past this share of ``storage``'s rows, if more (``StateStore.fold_at``)
_SCAN_FROM = 1024  # keys of one variable a block reads from which its rows may be read in one pass,
_SCAN_SHARE = 3  # if they are at least a third of them
_BATCH = 500  # keys per query when a block's locations are read in bulk (SQLite allows 32,766 parameters)
PREFETCH_MIN = 64  # transactions: fewer read their locations as they touch them, cheaper than finding them first
_FIRST = itemgetter(0)
_KEY_VALUE = itemgetter(1, 2)
_is_bytes = bytes.__instancecheck__
_NOTHING: dict = {}
_LOG = (
    "CREATE TABLE recent (var INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL)",
    # The state as rows, the log's newest values over storage's (what a SQL user wants to query).
    "CREATE VIEW state (var, key, value) AS "
    "SELECT s.var, s.key, s.value FROM storage AS s LEFT JOIN recent AS r ON r.var = s.var AND r.key = s.key "
    "WHERE r.var IS NULL "
    "UNION ALL SELECT var, key, value FROM (SELECT var, key, value, max(rowid) FROM recent GROUP BY var, key) "
    "WHERE value != x''",
)
_RETURNS = "CREATE TABLE returns (block INTEGER PRIMARY KEY, kinds BLOB NOT NULL)"
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE variables (id INTEGER PRIMARY KEY, instance TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE storage (var INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY (var, key)) WITHOUT ROWID",
    "CREATE TABLE blocks (number INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, transactions INTEGER NOT NULL, "
    "cost INTEGER NOT NULL, state_root TEXT NOT NULL, receipts_root TEXT NOT NULL, accumulator BLOB NOT NULL)",
    "CREATE TABLE receipts (block INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    *_LOG,
    _RETURNS,
)


class Codec:
    """How the locations of one variable of one instance are written in the file."""

    __slots__ = ("var", "arity", "zero", "is_bool", "address", "index", "name", "instance")

    def __init__(self, var: int, address: int, index: int, name: str, arity: int, zero: Any,
                 instance: str = "") -> None:
        self.var, self.address, self.index, self.name = var, address, index, name
        self.arity, self.zero, self.instance = arity, zero, instance
        self.is_bool = zero is False

    def key(self, key: Any) -> bytes:
        """One location's key as the file writes it (:func:`compiler.runtime.changes.key_bytes`)."""
        return next(iter(key_bytes(self.arity, [key])))

    def key_of(self, blob: bytes) -> Any:
        if self.arity == 0:
            return ()
        if self.arity == 1:
            return int.from_bytes(blob, "big")
        return tuple(int.from_bytes(blob[i:i + 32], "big") for i in range(0, len(blob), 32))

    def value_of(self, blob: bytes) -> Any:
        value = int.from_bytes(blob, "big")
        return bool(value) if self.is_bool else value

    def fits(self, key: Any, value: Any) -> bool:
        """Whether a row of this variable is as Lane writes it: a key of 32 bytes a word of the
        variable's keys (``changes.key_bytes``), a value of at most 32 (``_values_bytes``)."""
        return type(key) is bytes and type(value) is bytes and len(key) == 32 * self.arity and len(value) <= 32

    def damaged(self, path: str, key: Any, value: Any) -> Exception:
        """The error for a row of this variable that does not fit (:meth:`fits`)."""
        width = 32 * self.arity
        if type(key) is not bytes:
            what = f"a key that is not bytes ({type(key).__name__})"
        elif len(key) != width:
            what = f"a key of {len(key)} bytes (its keys have {width})"
        elif type(value) is not bytes:
            what = f"a value that is not bytes ({type(value).__name__})"
        else:
            what = f"a value of {len(value)} bytes (at most 32)"
        return state_error(f"state file {path} is damaged: {self.instance}.{self.name} holds {what}; it was changed "
                           "outside Lane")


def _values_bytes(values: list) -> list[bytes]:
    """Each value as the file writes it, its shortest big-endian bytes (booleans 0 and 1), zero as
    no bytes (the log's mark of a location now zero), by C code (numpy for the lengths)."""
    bits = np.fromiter(map(int.bit_length, map(int, values)), np.int64, len(values))
    lengths = ((bits + 7) // 8).tolist()
    return list(map(int.to_bytes, map(int, values), lengths, repeat("big")))


def _write(db: sqlite3.Connection, verb: str, var: int, keys: list[bytes], values: list[bytes]) -> None:
    """``verb`` (``INSERT INTO recent``, ``INSERT OR REPLACE INTO storage``) the rows of variable
    ``var``, in the order given, in one statement: the keys and the values are bound as two blobs,
    each concatenated, and SQL cuts them apart (a key's width is the variable's; each value's start
    and length are one JSON integer, ``start * 64 + length``).  Binding a row at a time
    (``executemany``) costs about 2 us a row in Python's driver, more than SQLite's own work; it
    is what an SQLite built without JSON functions gets."""
    if not _JSON:
        db.executemany(f"{verb} VALUES (?, ?, ?)", zip(repeat(var), keys, values))
        return
    lengths = np.fromiter(map(len, values), np.int64, len(values))
    spec = ((np.cumsum(lengths) - lengths) << 6) | lengths
    db.execute(f"{verb} SELECT ?1, ifnull(substr(?2, j.key * ?3 + 1, ?3), x''), "
               "ifnull(substr(?4, (j.value >> 6) + 1, j.value & 63), x'') FROM json_each(?5) AS j",
               (var, b"".join(keys), len(keys[0]) if keys else 0, b"".join(values), str(spec.tolist())))


def _has_json() -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38, and in most builds before)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            return db.execute("SELECT count(*) FROM json_each('[1, 2]')").fetchone()[0] == 2
    except sqlite3.Error:
        return False


_JSON = _has_json()


def _delete(db: sqlite3.Connection, var: int, keys: list[bytes]) -> None:
    """Delete the rows of variable ``var`` at ``keys`` from ``storage``, in one statement (as
    :func:`_write`)."""
    db.execute("WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?4) "
               "DELETE FROM storage WHERE var = ?1 AND key IN "
               "(SELECT ifnull(substr(?2, n * ?3 + 1, ?3), x'') FROM i)",
               (var, b"".join(keys), len(keys[0]), len(keys)))


def _most_of(db: sqlite3.Connection, var: int, asked: int) -> bool:
    """Whether ``asked`` keys of variable ``var`` are many and at least a third of its stored rows:
    then reading all its rows in one pass over the B-tree (about 0.2 us a row) is cheaper than
    looking each key up (about 2 us), as a query planner would choose.  The count stops at
    :data:`_SCAN_SHARE` times ``asked``: a small block on a large state pays little for it."""
    if asked < _SCAN_FROM:
        return False
    limit = _SCAN_SHARE * asked
    counted = db.execute("SELECT count(*) FROM (SELECT 1 FROM storage WHERE var = ? LIMIT ?)",
                         (var, limit + 1)).fetchone()[0]
    return counted <= limit


Rows = dict[int, dict[bytes, bytes]]
"""Rows of a state file a block changed, by variable: {var: {key: value}}, as the file writes them
(an empty value: the location is now zero).  Marshal carries them between processes as they are."""


def change_rows(codecs: dict[int, "Codec"], changes: Changes) -> Rows:
    """The rows of a state file for changed locations (:class:`compiler.runtime.changes.Changes`;
    ``codecs`` by the dicts' ids), by C code over each variable's columns."""
    rows = {}
    for store, keys, _olds, news in changes.groups:
        codec = codecs[id(store)]
        rows[codec.var] = dict(zip(key_bytes(codec.arity, keys), _values_bytes(news)))
    return rows


def merge_rows(into: Rows, rows: Rows) -> Rows:
    """``into`` updated by ``rows`` (the newer): a variable at a time."""
    for var, changed in rows.items():
        mine = into.get(var)
        if mine is None:
            into[var] = dict(changed)
        else:
            mine.update(changed)
    return into


def codecs_of(world: World) -> list[Codec]:
    """Every variable of every deployed instance, numbered in deployment and declaration order."""
    out = []
    for inst in world.instances.values():
        layout = inst.program.layouts[inst.contract.name]
        for name, index in layout.index.items():
            out.append(Codec(len(out), inst.address, index, name, layout.key_arity[name],
                             zero_value(layout.value_type[name]), inst.name))
    return out


class StateStore:
    """A state file.  ``writable``: for a command that commits blocks, which creates the file if
    it is missing and is refused now, before any work, if it cannot write it.  Otherwise for a
    command that only reads: a missing file is refused and nothing is ever written."""

    def __init__(self, path: str | os.PathLike, writable: bool = True) -> None:
        self.path = os.fspath(path)
        self.writable = writable
        self.db = connect(self.path, create=writable)
        try:
            self.new = check_identity(self.db, self.path, SCHEMA_VERSION, READS)
            if writable and not self.new:
                check_writable(self.db, self.path)
            if writable:
                self._settings()
                if not self.new:
                    self._upgrade()
        except sqlite3.Error as err:  # (another process holds it locked, say: in words, naming it)
            self.db.close()
            raise refusal(err, self.path, "nothing was run") from None
        except BaseException:
            self.db.close()
            raise
        self.by_var: list[Codec] = []
        self.codecs: dict[int, Codec] = {}    # id(a variable's dict in memory) -> its codec
        self._pid = os.getpid()
        self._child: tuple[int, sqlite3.Connection] | None = None
        self._recent: Rows | None = None  # the log, newest value per location
        self._logged = 0   # its rows (known once it is loaded)
        self._stored: int | None = None  # rows in ``storage`` (``meta``'s ``storage_rows``, once read)
        self.loads = 0     # locations read one by one as touched (not in bulk): a count that only grows

    def _upgrade(self) -> None:
        """A version 2 file gains the log (version 3), and a version 3 one the table of return kinds
        (version 4, its blocks before without them); nothing else changed."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            with transaction(self.db, self.path):
                for statement in (*_LOG, _RETURNS) if version == 2 else (_RETURNS,):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _settings(self) -> None:
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        # A block's commit appends to the log; folding it into the file (a checkpoint, with its
        # sync) waits until the file closes, or the log passes 64 MiB over many blocks.
        self.db.execute("PRAGMA wal_autocheckpoint = 16384")
        # The pages a block's prefetch reads stay in SQLite's cache for its commit (up to 256 MiB, as
        # they are used).  No memory map: through one, the kernel's read-ahead read the whole file
        # from disk for a block of one transfer (15 MB of a 200,000-account state, cold), where reads
        # a page at a time read what the block names (SPEC §4: I/O follows the block); on a warm
        # cache a map saved 2-3 ms of a 1,000-transfer block, and nothing on 100,000.
        self.db.execute("PRAGMA cache_size = -262144")
        self.db.execute("PRAGMA mmap_size = 0")

    @contextlib.contextmanager
    def detached(self):
        """The file closed while processes are forked, and opened again after: SQLite keeps, per
        process, what it knows of the files it has open, and a child forked while the parent has
        this one open would open it in its own turn on the parent's stale knowledge (its locks)."""
        self.db.close()
        self._child = None
        try:
            yield
        finally:
            self.db = connect(self.path, create=False)
            if self.writable:
                self._settings()

    def close(self) -> None:
        if self.writable and not self.new:
            # Back to a rollback journal at rest: the write-ahead log is folded in and removed, so a
            # later reader (lane call, or a run refused before it starts) leaves no file behind.
            try:
                self.db.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error:
                pass  # in use by another process: it folds the log in when it closes
        self.db.close()

    def __enter__(self) -> "StateStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def initialised(self) -> bool:
        return not self.new

    # ------------------------------------------------------------ what the file holds
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def fold_at(self) -> int:
        """Rows in the log past which a commit folds it into ``storage``: :data:`COMPACT_AT`, or a
        :data:`FOLD_SHARE`-th of ``storage``'s rows when that is more (``meta``'s ``storage_rows``,
        counted at each fold; a file without it, or with a value that is not a count, folds at
        COMPACT_AT).  A fold rewrites about every page of ``storage`` (its rows are spread over the
        keys), so its cost grows with the state: folding after a share of it keeps the cost per row
        logged the same on a state of any size."""
        if self._stored is None:
            text = self.meta("storage_rows")
            self._stored = int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else 0
        return max(COMPACT_AT, self._stored // FOLD_SHARE)

    @property
    def head(self) -> tuple[int, int, int]:
        """(number, timestamp, accumulator) of the last committed block (the genesis is block 0)."""
        row = self.db.execute("SELECT number, timestamp, accumulator FROM blocks ORDER BY number DESC LIMIT 1"
                              ).fetchone()
        if row is None:
            raise state_error(f"state file {self.path} holds no genesis: it was not made by this Lane")
        self._check_block(row[:2], accumulator=row[2])
        return row[0], int(row[1]), int.from_bytes(row[2], "big")

    @property
    def last_block(self) -> tuple[int, int]:
        number, timestamp, _ = self.head
        return number, timestamp

    def blocks(self) -> list[tuple]:
        """Every committed block: (number, timestamp, transactions, cost, state root, receipts root)."""
        rows = self.db.execute("SELECT number, timestamp, transactions, cost, state_root, receipts_root "
                               "FROM blocks ORDER BY number").fetchall()
        for row in rows:
            self._check_block(row)
        return rows

    def _check_block(self, row: tuple, accumulator: Any = None) -> None:
        """Refuse a block's row that Lane would not write (``commit_block``): a file changed outside it.
        ``row`` is (number, timestamp) and its counts and roots as far as read; ``accumulator``, if read."""
        number, timestamp, *rest = row
        counts, roots = rest[:2], rest[2:]
        if type(number) is int and number >= 0 and type(timestamp) is str and timestamp.isdigit() \
                and all(type(c) is int and c >= 0 for c in counts) and all(type(r) is str for r in roots) \
                and (accumulator is None or type(accumulator) is bytes):
            return
        shown = row if accumulator is None else (*row, accumulator)
        raise state_error(f"state file {self.path} is damaged: its row of block {number!r} is not as Lane writes it "
                          f"({', '.join(map(repr, shown))[:200]}); it was changed outside Lane")

    def receipts(self, number: int) -> bytes | None:
        row = self.db.execute("SELECT data FROM receipts WHERE block = ?", (number,)).fetchone()
        return row[0] if row else None

    def returns(self, number: int) -> bytes | None:
        """How block ``number``'s receipts show their returns (:func:`compiler.runtime.receipts.return_kinds`),
        or None: a block committed by a Lane that did not keep them (a file of version 3 or before)."""
        if not self.db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'returns'").fetchone()[0]:
            return None
        row = self.db.execute("SELECT kinds FROM returns WHERE block = ?", (number,)).fetchone()
        return row[0] if row else None

    def check_world(self, world: World) -> None:
        """Refuse a world other than the file's, saying what changed (:mod:`.world_identity`)."""
        world_identity.check(self.path, self.meta("world"), self.meta("world_identity"), world)

    # ------------------------------------------------------------ the state in memory
    def bind(self, world: World, storage: dict[int, list[dict]] | None = None) -> dict[int, list[dict]]:
        """The state of ``world`` in memory: ``storage`` (a genesis just written, wholly in memory)
        or, without it, lazy variables reading this file; either way registered for commits."""
        self.by_var = codecs_of(world)
        if storage is None:
            storage = {}
            for codec in self.by_var:
                storage.setdefault(codec.address, []).append(LazyVar(codec.zero, self._loader(codec)))
        self.codecs = {id(storage[c.address][c.index]): c for c in self.by_var}
        return storage

    def _loader(self, codec: Codec):
        reader, var, recent = self.reader, codec.var, self.recent

        def load(key: Any) -> Any:
            self.loads += 1
            blob = codec.key(key)
            value = recent().get(var, _NOTHING).get(blob)
            if value is None:
                row = reader().execute("SELECT value FROM storage WHERE var = ? AND key = ?", (var, blob)).fetchone()
                value = row[0] if row else b""
            if not codec.fits(blob, value):
                raise codec.damaged(self.path, blob, value)
            return codec.value_of(value) if value else codec.zero

        return load

    def recent(self) -> Rows:
        """The log of the blocks committed since it was last folded into ``storage``: the newest
        value of each location it holds, by variable (an empty value: the location is zero).
        Read once, the first time a location is read."""
        if self._recent is None:
            rows = self.reader().execute("SELECT var, key, value FROM recent ORDER BY var, rowid").fetchall() \
                if self._has_log() else []
            self._recent = {var: dict(map(_KEY_VALUE, group)) for var, group in groupby(rows, _FIRST)}
            self._logged = len(rows)
        return self._recent

    def reader(self) -> sqlite3.Connection:
        """The connection to read with in this process: a worker forked from the process that opened
        the file reads through a connection of its own (one must not cross a fork), read-only: what it
        reads is the state before the block, which the parent commits only when the block is over."""
        if self._pid == os.getpid():
            return self.db
        if self._child is None or self._child[0] != os.getpid():
            uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=rw"  # (WAL: readers write its index)
            self._child = (os.getpid(), sqlite3.connect(uri, uri=True, check_same_thread=False))
        return self._child[1]

    def prefetch(self, storage: dict[int, list[dict]], wanted: dict[tuple[int, int], set]) -> int:
        """Load in bulk what is not in memory yet of the locations ``wanted`` names: for each
        variable (address, index), a set of keys; how many were read.  (Reads only: a file opened
        for reading is enough.)"""
        db = self.reader()
        recent = self.recent()
        loaded = 0
        for (address, index), keys in wanted.items():
            var = storage[address][index]
            missing = list(filterfalse(var.__contains__, keys))  # (not ``keys - var.keys()``: a pass over var)
            if not missing:
                continue
            codec = self.codecs[id(var)]
            blobs = list(key_bytes(codec.arity, missing))
            found: dict[bytes, bytes] = {}
            asked = blobs
            log = recent.get(codec.var)
            if log:  # what the log holds is not read from ``storage``
                logged = list(map(log.get, blobs))
                unlogged = list(map(is_, logged, repeat(None)))
                if not all(unlogged):
                    found.update(zip(compress(blobs, map(not_, unlogged)), filter(_is_bytes, logged)))
                    asked = list(compress(blobs, unlogged))
            if _most_of(db, codec.var, len(asked)):  # one pass over the variable's rows, in key order
                rows = dict(db.execute("SELECT key, value FROM storage WHERE var = ?", (codec.var,)))
                got = list(map(rows.get, asked))
                found.update(compress(zip(asked, got), got))
            else:
                for start in range(0, len(asked), _BATCH):
                    batch = asked[start:start + _BATCH]
                    found.update(db.execute(f"SELECT key, value FROM storage WHERE var = ? AND key IN "
                                            f"({','.join('?' * len(batch))})", (codec.var, *batch)))
            var.update(zip(missing, repeat(codec.zero)))
            if found:
                blobs_found = found.values()
                if set(map(type, blobs_found)) != {bytes} or max(map(len, blobs_found)) > 32:  # (by C code)
                    key, value = next(kv for kv in found.items() if not codec.fits(*kv))  # (a damaged file)
                    raise codec.damaged(self.path, key, value)
                key_of = dict(zip(blobs, missing)).__getitem__
                values = map(int.from_bytes, blobs_found, repeat("big"))
                var.update(zip(map(key_of, found), map(bool, values) if codec.is_bool else values))
            loaded += len(missing)
        return loaded

    # ------------------------------------------------------------ writing
    def write_genesis(self, world: World, storage: dict[int, list[dict]], accumulator: int, root: str) -> None:
        """Make a new file a state file holding ``world``'s genesis (``storage``, wholly in memory)."""
        self.bind(world, storage)
        identity = world.identity()
        db = self.db
        with transaction(db, self.path):
            if not check_identity(db, self.path, SCHEMA_VERSION):
                raise state_error(f"state file {self.path} was initialised by another process meanwhile; "
                                  "nothing was written: run the command again")
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.executemany("INSERT INTO variables VALUES (?, ?, ?)",
                           [(c.var, world.by_address[c.address].name, c.name) for c in self.by_var])
            rows_stored = 0
            for c in self.by_var:
                var = storage[c.address][c.index]
                keys, values = list(key_bytes(c.arity, list(var))), _values_bytes(list(var.values()))
                if not all(values):  # a zero is no row
                    keys, values = list(compress(keys, values)), list(compress(values, values))
                if keys:
                    _write(db, "INSERT INTO storage", c.var, keys, values)
                    rows_stored += len(keys)
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [("world", world_identity.fingerprint(identity)),
                            ("world_identity", world_identity.encode(identity)), ("genesis_state_root", root),
                            ("storage_rows", str(rows_stored))])
            db.execute("INSERT INTO blocks VALUES (0, '0', 0, 0, ?, '', ?)", (root, accumulator.to_bytes(64, "big")))
            db.execute("INSERT INTO receipts VALUES (0, ?)", (pack([]),))
        self.new = False
        self._recent, self._logged, self._stored = {}, 0, rows_stored

    def commit_block(self, changes: Changes | None, number: int, timestamp: int, transactions: int, cost: int,
                     state_root: str, receipts_root: str, accumulator: int, receipts: bytes,
                     parent: int, rows: Rows | None = None, returns: bytes = b"") -> None:
        """Commit a block: the locations it changed (``changes``, :mod:`compiler.runtime.changes`; or
        ``rows``, made by the parallel executor's lanes), its row, its receipts and how their returns
        show (``returns``: :func:`compiler.runtime.receipts.return_kinds`); refused if another process
        committed a block since ``parent``."""
        receipts_stored = stored(receipts)  # (compressed meanwhile, when big)
        if changes is not None:
            rows = change_rows(self.codecs, changes)
        rows = rows or {}
        added = sum(map(len, rows.values()))
        recent = self.recent()
        fold = self._logged + added > self.fold_at()
        db = self.db
        with transaction(db, self.path):
            last = db.execute("SELECT max(number) FROM blocks").fetchone()[0]
            if last != parent:
                raise state_error(f"state file {self.path} changed while block {number} ran (its last block "
                                  f"is now {last}, not {parent}); nothing was written")
            if fold:
                self._fold(merge_rows(merge_rows({}, recent), rows) if recent else rows)
            else:
                for var, changed in rows.items():
                    _write(db, "INSERT INTO recent", var, list(changed), list(changed.values()))
            db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (number, str(timestamp), transactions, cost, state_root, receipts_root,
                        accumulator.to_bytes(64, "big")))
            db.execute("INSERT INTO receipts VALUES (?, ?)", (number, receipts_stored()))
            if returns:
                db.execute("INSERT INTO returns VALUES (?, ?)", (number, returns))
        if fold:
            recent.clear()
            self._logged = 0
        else:
            merge_rows(recent, rows)
            self._logged += added

    def _fold(self, rows: Rows) -> None:
        """Fold the log (``rows``: the newest value of each location it holds, the block's included)
        into ``storage`` and empty it (inside the commit's transaction).

        A block's commit appends its rows to the log (``recent``), whose pages are new ones at its
        end: a thousand transfers write a few dozen pages however large the state, where updating
        ``storage`` in place rewrites every page holding one of their rows (on 200,000 accounts
        about 1,400 of them, 5.5 MB).  Once the log passes :meth:`fold_at` rows it is folded in
        at once (and ``storage``'s rows counted again), and each page of ``storage`` is written
        once for all of them (SQLite keeps the pages a transaction changes in its cache until it
        commits: sorting the rows first, tried, cost more than it saved)."""
        db = self.db
        for var, changed in rows.items():
            keys, values = list(changed), list(changed.values())
            live = list(map(bool, values))
            if any(live):
                _write(db, "INSERT OR REPLACE INTO storage", var, list(compress(keys, live)),
                       list(compress(values, live)))
            if not all(live):
                _delete(db, var, list(compress(keys, map(not_, live))))
        db.execute("DELETE FROM recent")
        self._stored = db.execute("SELECT count(*) FROM storage").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta VALUES ('storage_rows', ?)", (str(self._stored),))

    # ------------------------------------------------------------ verification
    def locations(self) -> Iterator[tuple[int, str, tuple, Any]]:
        """Every stored location as (address, variable name, key tuple, value): the whole state, read
        from the file (a full recomputation of the state root reads it)."""
        by_var = self.by_var
        for var, key, value in self.rows():
            codec = by_var[var] if type(var) is int and 0 <= var < len(by_var) else None
            if codec is None:
                raise state_error(f"state file {self.path} is damaged: it holds a location of variable {var!r}, "
                                  "which its world does not have; it was changed outside Lane")
            if not codec.fits(key, value):
                raise codec.damaged(self.path, key, value)
            if not value or value[0] == 0:  # (as Lane writes it: a zero is no row, a value its shortest bytes)
                raise state_error(f"state file {self.path} is damaged: {codec.instance}.{codec.name} holds a row "
                                  f"whose value is {'empty' if not value else '0x' + value.hex()}, which Lane does "
                                  "not write (a zero is no row; a value has no leading zero byte); it was changed "
                                  "outside Lane")
            k = codec.key_of(key)
            yield codec.address, codec.name, (k if codec.arity > 1 else () if codec.arity == 0 else (k,)), \
                codec.value_of(value)

    def rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        """Every non-zero location's row (var, key, value): the view ``state``, the log's newest
        values over ``storage``'s (a version 2 file read without being written has no log)."""
        return self.reader().execute(f"SELECT var, key, value FROM {'state' if self._has_log() else 'storage'}")

    def _has_log(self) -> bool:
        """Whether the file has the log (``recent`` and the view ``state``): a version 2 file read
        without being written has neither."""
        return self.reader().execute("SELECT count(*) FROM sqlite_master WHERE name = 'recent'").fetchone()[0] > 0
