"""State in SQLite (``--state PATH``, SPEC §3, §4).

The genesis is written on first use; each block, with its receipts and number,
is committed in one database transaction, so a process killed at any moment
leaves the file at the previous block.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from typing import Iterable

from ..diagnostics import LaneError
from .values import format_address
from .world import World

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS storage (
    address TEXT NOT NULL, var TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (address, var, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, transactions INTEGER NOT NULL,
    state_root TEXT NOT NULL, receipts_root TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (
    block INTEGER NOT NULL, idx INTEGER NOT NULL, receipt TEXT NOT NULL,
    PRIMARY KEY (block, idx)) WITHOUT ROWID;
"""


def _enc(v) -> object:
    return v if isinstance(v, bool) else str(v)


def _dec(v):
    return v if isinstance(v, bool) else int(v)


def encode_key(key, arity: int) -> str:
    items = () if arity == 0 else (key,) if arity == 1 else key
    return json.dumps([_enc(k) for k in items], separators=(",", ":"))


def decode_key(text: str, arity: int):
    items = tuple(_dec(k) for k in json.loads(text))
    return () if arity == 0 else items[0] if arity == 1 else items


class StateStore:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise LaneError(f"cannot use state file {self.path}: {err}", code="state") from None

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def initialised(self) -> bool:
        return self.meta("world") is not None

    @property
    def last_block(self) -> tuple[int, int]:
        """(number, timestamp) of the last committed block; (0, 0) at genesis."""
        row = self.db.execute("SELECT number, timestamp FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
        return (row[0], int(row[1])) if row else (0, 0)

    def check_world(self, world: World) -> None:
        if self.meta("world") != world.fingerprint():
            raise LaneError(
                f"state file {self.path} was created from another world (or its contracts have changed); "
                "use a new --state file", code="state")

    def _rows(self, world: World, storage: dict[int, list[dict]], dirty=None) -> Iterable[tuple]:
        for address, variables in storage.items():
            layout = world.layout_of(address)
            addr = format_address(address)
            for name, index in layout.index.items():
                arity = layout.key_arity[name]
                store = variables[index]
                keys = store.keys() if dirty is None else dirty.get(id(store), ())
                for key in keys:
                    yield addr, name, encode_key(key, arity), store.get(key)

    def write_genesis(self, world: World, storage: dict[int, list[dict]], state_root: str) -> None:
        with self._transaction():
            if self.initialised:  # another process wrote it since we looked
                raise LaneError(f"state file {self.path} was initialised by another process meanwhile; "
                                "nothing was written: run the command again", code="state")
            self.db.execute("DELETE FROM storage")
            self.db.executemany(
                "INSERT INTO storage VALUES (?, ?, ?, ?)",
                ((a, v, k, json.dumps(_enc(x))) for a, v, k, x in self._rows(world, storage) if x))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('genesis_state_root', ?)", (state_root,))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('world', ?)", (world.fingerprint(),))

    def load(self, world: World) -> dict[int, list[dict]]:
        storage = world.new_storage()
        for addr, var, key, value in self.db.execute("SELECT address, var, key, value FROM storage"):
            address = int(addr, 16)
            layout = world.layout_of(address)
            store = storage[address][layout.index[var]]
            store[decode_key(key, layout.key_arity[var])] = _dec(json.loads(value))
        return storage

    def commit_block(self, world: World, storage: dict[int, list[dict]], journal, number: int,
                     timestamp: int, state_root: str, receipts_root: str, receipts_json: list[dict],
                     parent: int | None = None) -> None:
        """Commit a block's writes; ``parent`` is the last block the state was loaded at, and the
        commit is refused if another process committed a block since (the writes would be lost)."""
        dirty: dict[int, set] = {}
        for store, key, _old in journal:
            dirty.setdefault(id(store), set()).add(key)
        with self._transaction():
            if parent is not None and self.last_block[0] != parent:
                raise LaneError(f"state file {self.path} changed while block {number} ran (its last block is now "
                                f"{self.last_block[0]}, not {parent}); nothing was written", code="state")
            for addr, var, key, value in self._rows(world, storage, dirty):
                if value:
                    self.db.execute("INSERT OR REPLACE INTO storage VALUES (?, ?, ?, ?)",
                                    (addr, var, key, json.dumps(_enc(value))))
                else:
                    self.db.execute("DELETE FROM storage WHERE address = ? AND var = ? AND key = ?",
                                    (addr, var, key))
            self.db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
                            (number, str(timestamp), len(receipts_json), state_root, receipts_root))
            self.db.executemany("INSERT INTO receipts VALUES (?, ?, ?)",
                                ((number, r["index"], json.dumps(r, separators=(",", ":")))
                                 for r in receipts_json))

    def reading(self):
        """A read transaction: what is read inside it is one consistent state."""
        return self._transaction("DEFERRED")

    @contextlib.contextmanager
    def _transaction(self, mode: str = "IMMEDIATE"):
        try:
            self.db.execute(f"BEGIN {mode}")
        except sqlite3.OperationalError as err:  # "database is locked": another lane has it
            raise LaneError(f"state file {self.path} is in use by another process ({err}); try again "
                            "when it has finished", code="state") from None
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
