"""The rotation journal: SQLite in WAL mode, one row per rotation with every phase and timestamp.

It holds key IDs, CKNs, slots, start-times and key check values — never a key or a CAK — so that
after a crash at any line the next run can find every open rotation and finish or undo it.

Phases and their legal moves: :mod:`qkd_macsec.core.phases`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qkd_macsec.core.phases import Phase as Phase  # re-exported: the journal stores these


@dataclass(frozen=True)
class EndRecord:
    """One end of a rotation: where its key-chain entry goes and whether it is there."""

    device: str
    interface: str
    staged: bool
    removed: bool


@dataclass(frozen=True)
class RotationRecord:
    id: int
    link: str
    wave: str
    phase: Phase
    key_id: str | None
    ckn: str | None
    kcv: str | None
    slot: int | None
    start_time: datetime | None  # real (controller) UTC instant the new key takes over
    created: datetime
    updated: datetime
    error: str | None
    ends: tuple[EndRecord, ...]
    reason: str


@dataclass(frozen=True)
class ActiveKey:
    """The key a link runs on (or ran on), as far as the journal knows."""

    link: str
    key_id: str
    ckn: str
    slot: int | None
    activated: datetime
    rotation_id: int


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


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _now() -> datetime:
    return datetime.now(UTC)


class Journal:
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

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------
    def begin(
        self,
        link: str,
        wave: str,
        ends: Sequence[tuple[str, str]],
        *,
        reason: str = "",
        now: datetime | None = None,
    ) -> int:
        """Open a rotation for ``link`` with its (device, interface) ends; returns its id."""
        stamp = _ts(now or _now())
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO rotations (link, wave, reason, phase, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (link, wave, reason, Phase.PLANNED.value, stamp, stamp),
            )
            rid = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO rotation_ends (rotation_id, device, interface) VALUES (?, ?, ?)",
                [(rid, device, interface) for device, interface in ends],
            )
            self._event(db, rid, "PLANNED", {"reason": reason}, stamp)
        return rid

    def record_keys(
        self, rid: int, *, key_id: str, ckn: str, kcv: str, now: datetime | None = None
    ) -> None:
        stamp = _ts(now or _now())
        with self._tx() as db:
            db.execute(
                "UPDATE rotations SET phase=?, key_id=?, ckn=?, kcv=?, updated=? WHERE id=?",
                (Phase.KEYS.value, key_id, ckn, kcv, stamp, rid),
            )
            self._event(db, rid, "KEYS", {"key_id": key_id, "kcv": kcv}, stamp)

    def record_staging(
        self,
        rid: int,
        *,
        slot: int | None,
        start_time: datetime | None,
        now: datetime | None = None,
    ) -> None:
        """Written BEFORE any device is touched: recovery must know what may be on the devices."""
        stamp = _ts(now or _now())
        start = None if start_time is None else _ts(start_time)
        with self._tx() as db:
            db.execute(
                "UPDATE rotations SET phase=?, slot=?, start_time=?, updated=? WHERE id=?",
                (Phase.STAGING.value, slot, start, stamp, rid),
            )
            self._event(db, rid, "STAGING", {"slot": slot, "start_time": start}, stamp)

    def mark_end(
        self,
        rid: int,
        device: str,
        *,
        staged: bool | None = None,
        removed: bool | None = None,
        now: datetime | None = None,
    ) -> None:
        stamp = _ts(now or _now())
        with self._tx() as db:
            if staged is not None:
                db.execute(
                    "UPDATE rotation_ends SET staged=? WHERE rotation_id=? AND device=?",
                    (int(staged), rid, device),
                )
            if removed is not None:
                db.execute(
                    "UPDATE rotation_ends SET removed=? WHERE rotation_id=? AND device=?",
                    (int(removed), rid, device),
                )
            db.execute("UPDATE rotations SET updated=? WHERE id=?", (stamp, rid))
            self._event(
                db, rid, "END", {"device": device, "staged": staged, "removed": removed}, stamp
            )

    def set_phase(
        self, rid: int, phase: Phase, *, error: str | None = None, now: datetime | None = None
    ) -> None:
        stamp = _ts(now or _now())
        with self._tx() as db:
            db.execute(
                "UPDATE rotations SET phase=?, error=COALESCE(?, error), updated=? WHERE id=?",
                (phase.value, error, stamp, rid),
            )
            self._event(db, rid, phase.value, {"error": error} if error else {}, stamp)

    def set_meta(self, key: str, value: object) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )

    def get_meta(self, key: str, default: object = None) -> object:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @staticmethod
    def _event(
        db: sqlite3.Connection, rid: int | None, kind: str, detail: dict[str, object], stamp: str
    ) -> None:
        db.execute(
            "INSERT INTO events (rotation_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
            (rid, stamp, kind, json.dumps(detail, sort_keys=True)),
        )

    # -- reading -------------------------------------------------------------------------
    def get(self, rid: int) -> RotationRecord:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE id=?", (rid,)).fetchone()
            if row is None:
                raise KeyError(rid)
            return self._record(row)

    def open_rotations(self) -> list[RotationRecord]:
        """Rotations a crash may have left half-done, oldest first."""
        open_phases = [p.value for p in Phase if p.is_open]
        marks = ",".join("?" * len(open_phases))
        with self._lock:
            rows = self._db.execute(
                _SELECT + f" WHERE phase IN ({marks}) ORDER BY id", open_phases
            ).fetchall()
            return [self._record(row) for row in rows]

    def rotations(self, link: str | None = None, limit: int = 100) -> list[RotationRecord]:
        """Most recent first."""
        with self._lock:
            if link is None:
                rows = self._db.execute(_SELECT + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self._db.execute(
                    _SELECT + " WHERE link=? ORDER BY id DESC LIMIT ?", (link, limit)
                ).fetchall()
            return [self._record(row) for row in rows]

    def active_keys(self, link: str, limit: int = 4) -> list[ActiveKey]:
        """The link's most recent ACTIVE keys, newest first (current, previous, ...)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key_id, ckn, slot, start_time, updated FROM rotations"
                " WHERE link=? AND phase=? ORDER BY id DESC LIMIT ?",
                (link, Phase.ACTIVE.value, limit),
            ).fetchall()
        keys = []
        for rid, key_id, ckn, slot, start, updated in rows:
            activated = _parse_ts(start) or _parse_ts(updated)
            assert activated is not None
            keys.append(ActiveKey(link, key_id, ckn, slot, activated, rid))
        return keys

    def last_attempt(self, link: str) -> RotationRecord | None:
        rows = self.rotations(link, limit=1)
        return rows[0] if rows else None

    def consecutive_failures(self, link: str) -> int:
        count = 0
        for record in self.rotations(link, limit=50):
            if record.phase is Phase.ACTIVE:
                break
            if record.phase in (Phase.ABORTED, Phase.FAILED):
                count += 1
        return count

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT phase, COUNT(*) FROM rotations GROUP BY phase"
            ).fetchall()
        return {phase: int(n) for phase, n in rows}

    def events(self, rid: int | None = None) -> list[tuple[datetime, str, dict[str, object]]]:
        with self._lock:
            if rid is None:
                rows = self._db.execute(
                    "SELECT ts, kind, detail FROM events ORDER BY id"
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT ts, kind, detail FROM events WHERE rotation_id=? ORDER BY id", (rid,)
                ).fetchall()
        return [(datetime.fromisoformat(ts), kind, json.loads(detail)) for ts, kind, detail in rows]

    def _record(self, row: tuple[object, ...]) -> RotationRecord:
        (rid, link, wave, reason, phase, key_id, ckn, kcv, slot, start, created, updated, error) = (
            row
        )
        ends = self._db.execute(
            "SELECT device, interface, staged, removed FROM rotation_ends WHERE rotation_id=?"
            " ORDER BY rowid",
            (rid,),
        ).fetchall()
        return RotationRecord(
            id=int(str(rid)),
            link=str(link),
            wave=str(wave),
            phase=Phase(str(phase)),
            key_id=None if key_id is None else str(key_id),
            ckn=None if ckn is None else str(ckn),
            kcv=None if kcv is None else str(kcv),
            slot=None if slot is None else int(str(slot)),
            start_time=_parse_ts(None if start is None else str(start)),
            created=datetime.fromisoformat(str(created)),
            updated=datetime.fromisoformat(str(updated)),
            error=None if error is None else str(error),
            ends=tuple(EndRecord(str(d), str(i), bool(s), bool(r)) for d, i, s, r in ends),
            reason=str(reason),
        )

    # -- reconciliation with the devices (engine/reconcile.py) -----------------------------
    def known_ckns(self, link: str) -> set[str]:
        """Every CKN the journal has a row for on ``link``, lowercased (any phase)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT ckn FROM rotations WHERE link=? AND ckn IS NOT NULL", (link,)
            ).fetchall()
        return {str(ckn).lower() for (ckn,) in rows if ckn}

    def record_adopted(
        self,
        link: str,
        ends: Sequence[tuple[str, str]],
        *,
        key_id: str,
        ckn: str,
        slot: int | None,
        start_time: datetime | None,
        detail: str,
        now: datetime | None = None,
    ) -> int:
        """The key every end runs on but the journal did not know as current, as an ACTIVE row
        (reason "adopted", no key check value: the key itself was never seen)."""
        stamp = _ts(now or _now())
        start = _ts(start_time) if start_time is not None else stamp
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO rotations (link, wave, reason, phase, key_id, ckn, slot, start_time,"
                " created, updated) VALUES (?, 'adopt', 'adopted', ?, ?, ?, ?, ?, ?, ?)",
                (link, Phase.ACTIVE.value, key_id, ckn, slot, start, stamp, stamp),
            )
            rid = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO rotation_ends (rotation_id, device, interface, staged)"
                " VALUES (?, ?, ?, 1)",
                [(rid, device, interface) for device, interface in ends],
            )
            self._event(db, rid, "ADOPTED", {"ckn": ckn, "slot": slot, "detail": detail}, stamp)
        return rid

    # -- deadlines (staging waves) ---------------------------------------------------------
    def note(
        self, rid: int, kind: str, detail: dict[str, object], *, now: datetime | None = None
    ) -> None:
        """An event on a rotation that changes no column (how a late commit was resolved)."""
        stamp = _ts(now or _now())
        with self._tx() as db:
            db.execute("UPDATE rotations SET updated=? WHERE id=?", (stamp, rid))
            self._event(db, rid, kind, detail, stamp)

    def get_meta_many(self, keys: Sequence[str]) -> dict[str, object]:
        """The stored values of those ``keys`` that exist (one read for a whole wave)."""
        out: dict[str, object] = {}
        with self._lock:
            for key in keys:
                row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
                if row is not None:
                    out[key] = json.loads(row[0])
        return out

    def set_meta_many(self, items: dict[str, object]) -> None:
        """Several meta values in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [(key, json.dumps(value)) for key, value in items.items()],
            )


_SELECT = (
    "SELECT id, link, wave, reason, phase, key_id, ckn, kcv, slot, start_time, created, updated,"
    " error FROM rotations"
)
