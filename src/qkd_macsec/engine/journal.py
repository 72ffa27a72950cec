"""The rotation journal: SQLite in WAL mode, one row per rotation with every phase and timestamp.

It holds key IDs, CKNs, slots, start-times and key check values — never a key or a CAK — so that
after a crash at any line the next run can find every open rotation and finish or undo it.

SQLite is the embedded default (zero setup, one controller host). Controllers on several hosts
share a PostgreSQL journal instead (:mod:`qkd_macsec.engine.journal_pg`, docs/ha.md); both
implement :class:`JournalBackend` with the SQL of :mod:`qkd_macsec.engine.journal_sql`.

Phases and their legal moves: :mod:`qkd_macsec.core.phases`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qkd_macsec.core.phases import Phase as Phase  # re-exported: the journal stores these
from qkd_macsec.engine.journal_model import ActiveKey as ActiveKey
from qkd_macsec.engine.journal_model import EndRecord as EndRecord
from qkd_macsec.engine.journal_model import JournalBackend as JournalBackend
from qkd_macsec.engine.journal_model import RotationRecord as RotationRecord
from qkd_macsec.engine.journal_sql import Db, Rows, SqlJournal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link TEXT NOT NULL,
    wave TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    phase TEXT NOT NULL,
    key_id TEXT,
    ckn TEXT,
    kcv TEXT,
    slot INTEGER,
    start_time TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS rotations_link ON rotations(link, id);
CREATE INDEX IF NOT EXISTS rotations_phase ON rotations(phase);
CREATE TABLE IF NOT EXISTS rotation_ends (
    rotation_id INTEGER NOT NULL REFERENCES rotations(id),
    device TEXT NOT NULL,
    interface TEXT NOT NULL,
    staged INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rotation_id, device, interface)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rotation_id INTEGER,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class _SqliteDb:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        return self._db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, [tuple(r) for r in rows])


class Journal(SqlJournal):
    """Thread-safe journal over one SQLite file (WAL). The file is created 0600."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._adapter = _SqliteDb(self._db)

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[Db]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._adapter
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[Db]:
        with self._lock:
            yield self._adapter


__all__ = ["ActiveKey", "EndRecord", "Journal", "JournalBackend", "Phase", "RotationRecord"]
