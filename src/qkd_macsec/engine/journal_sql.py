"""The journal's SQL, shared by the SQLite and PostgreSQL backends.

Both store the same tables and columns (timestamps as ISO-8601 text, flags as 0/1), so the two
backends answer every query alike and one test suite holds both to it. A backend supplies the
connection (:meth:`SqlJournal._tx` for writes, :meth:`SqlJournal._read` for reads) and the
order of a rotation's ends; statements use ``?`` placeholders, which a backend may translate.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from qkd_macsec.core.phases import Phase
from qkd_macsec.engine.journal_model import ActiveKey, EndRecord, RotationRecord


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """One connection inside a transaction (writes) or a read."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


def ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def now_utc() -> datetime:
    return datetime.now(UTC)


SELECT = (
    "SELECT id, link, wave, reason, phase, key_id, ckn, kcv, slot, start_time, created, updated,"
    " error FROM rotations"
)

_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value=excluded.value"
)


class SqlJournal:
    """Every journal operation, over the connection a subclass provides."""

    #: How a rotation's ends are ordered (the order they were written in).
    ENDS_ORDER = "rowid"

    @property
    def location(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[Db]:
        """One write transaction (fenced, where the backend fences)."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    #: The transaction a :meth:`batch` holds open, and the thread that holds it.
    _batch_db: Db | None = None
    _batch_thread: int | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write this thread makes inside the block goes into one transaction.

        A wave writes one row per link at the same step (open, keys, start-times, ends marked):
        grouped, that is one sync to disk (and one fence check) per step instead of one per
        link. All of the group is durable, or none of it: the block must not await a device
        action, so what it records is still before the action it announces. Nested batches
        join the outer one; other threads' writes wait for the block to end, as they wait for
        any transaction.
        """
        if self._batch_db is not None and self._batch_thread == threading.get_ident():
            yield
            return
        with self._tx() as db:
            self._batch_db, self._batch_thread = db, threading.get_ident()
            try:
                yield
            finally:
                self._batch_db = self._batch_thread = None

    @contextmanager
    def _write(self) -> Iterator[Db]:
        """The open batch of this thread, or a transaction of its own."""
        if self._batch_db is not None and self._batch_thread == threading.get_ident():
            yield self._batch_db
            return
        with self._tx() as db:
            yield db

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
        stamp = ts(now or now_utc())
        with self._write() as db:
            row = db.execute(
                "INSERT INTO rotations (link, wave, reason, phase, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (link, wave, reason, Phase.PLANNED.value, stamp, stamp),
            ).fetchone()
            rid = int(row[0])
            db.executemany(
                "INSERT INTO rotation_ends (rotation_id, device, interface) VALUES (?, ?, ?)",
                [(rid, device, interface) for device, interface in ends],
            )
            _event(db, rid, "PLANNED", {"reason": reason}, stamp)
        return rid

    def record_keys(
        self, rid: int, *, key_id: str, ckn: str, kcv: str, now: datetime | None = None
    ) -> None:
        stamp = ts(now or now_utc())
        with self._write() as db:
            db.execute(
                "UPDATE rotations SET phase=?, key_id=?, ckn=?, kcv=?, updated=? WHERE id=?",
                (Phase.KEYS.value, key_id, ckn, kcv, stamp, rid),
            )
            _event(db, rid, "KEYS", {"key_id": key_id, "kcv": kcv}, stamp)

    def record_staging(
        self,
        rid: int,
        *,
        slot: int | None,
        start_time: datetime | None,
        now: datetime | None = None,
    ) -> None:
        """Written BEFORE any device is touched: recovery must know what may be on the devices."""
        stamp = ts(now or now_utc())
        start = None if start_time is None else ts(start_time)
        with self._write() as db:
            db.execute(
                "UPDATE rotations SET phase=?, slot=?, start_time=?, updated=? WHERE id=?",
                (Phase.STAGING.value, slot, start, stamp, rid),
            )
            _event(db, rid, "STAGING", {"slot": slot, "start_time": start}, stamp)

    def mark_end(
        self,
        rid: int,
        device: str,
        *,
        staged: bool | None = None,
        removed: bool | None = None,
        now: datetime | None = None,
    ) -> None:
        stamp = ts(now or now_utc())
        with self._write() as db:
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
            _event(db, rid, "END", {"device": device, "staged": staged, "removed": removed}, stamp)

    def set_phase(
        self, rid: int, phase: Phase, *, error: str | None = None, now: datetime | None = None
    ) -> None:
        stamp = ts(now or now_utc())
        with self._write() as db:
            db.execute(
                "UPDATE rotations SET phase=?, error=COALESCE(?, error), updated=? WHERE id=?",
                (phase.value, error, stamp, rid),
            )
            _event(db, rid, phase.value, {"error": error} if error else {}, stamp)

    def set_meta(self, key: str, value: object) -> None:
        with self._write() as db:
            db.execute(_UPSERT_META, (key, json.dumps(value)))

    def set_meta_many(self, items: dict[str, object]) -> None:
        """Several meta values in one transaction."""
        with self._write() as db:
            db.executemany(_UPSERT_META, [(key, json.dumps(value)) for key, value in items.items()])

    def get_meta(self, key: str, default: object = None) -> object:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def get_meta_many(self, keys: Sequence[str]) -> dict[str, object]:
        """The stored values of those ``keys`` that exist (one read for a whole wave)."""
        out: dict[str, object] = {}
        with self._read() as db:
            for key in keys:
                row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
                if row is not None:
                    out[key] = json.loads(row[0])
        return out

    def note(
        self, rid: int, kind: str, detail: dict[str, object], *, now: datetime | None = None
    ) -> None:
        """An event on a rotation that changes no column (how a late commit was resolved)."""
        stamp = ts(now or now_utc())
        with self._write() as db:
            db.execute("UPDATE rotations SET updated=? WHERE id=?", (stamp, rid))
            _event(db, rid, kind, detail, stamp)

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
        stamp = ts(now or now_utc())
        start = ts(start_time) if start_time is not None else stamp
        with self._write() as db:
            row = db.execute(
                "INSERT INTO rotations (link, wave, reason, phase, key_id, ckn, slot, start_time,"
                " created, updated) VALUES (?, 'adopt', 'adopted', ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (link, Phase.ACTIVE.value, key_id, ckn, slot, start, stamp, stamp),
            ).fetchone()
            rid = int(row[0])
            db.executemany(
                "INSERT INTO rotation_ends (rotation_id, device, interface, staged)"
                " VALUES (?, ?, ?, 1)",
                [(rid, device, interface) for device, interface in ends],
            )
            _event(db, rid, "ADOPTED", {"ckn": ckn, "slot": slot, "detail": detail}, stamp)
        return rid

    # -- reading -------------------------------------------------------------------------
    def get(self, rid: int) -> RotationRecord:
        with self._read() as db:
            row = db.execute(SELECT + " WHERE id=?", (rid,)).fetchone()
            if row is None:
                raise KeyError(rid)
            return self._record(db, row)

    def open_rotations(self) -> list[RotationRecord]:
        """Rotations a crash may have left half-done, oldest first."""
        open_phases = [p.value for p in Phase if p.is_open]
        marks = ",".join("?" * len(open_phases))
        with self._read() as db:
            rows = db.execute(
                SELECT + f" WHERE phase IN ({marks}) ORDER BY id", open_phases
            ).fetchall()
            return [self._record(db, row) for row in rows]

    def rotations(self, link: str | None = None, limit: int = 100) -> list[RotationRecord]:
        """Most recent first."""
        with self._read() as db:
            if link is None:
                rows = db.execute(SELECT + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = db.execute(
                    SELECT + " WHERE link=? ORDER BY id DESC LIMIT ?", (link, limit)
                ).fetchall()
            return [self._record(db, row) for row in rows]

    def active_keys(self, link: str, limit: int = 4) -> list[ActiveKey]:
        """The link's most recent ACTIVE keys, newest first (current, previous, ...)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT id, key_id, ckn, slot, start_time, updated FROM rotations"
                " WHERE link=? AND phase=? ORDER BY id DESC LIMIT ?",
                (link, Phase.ACTIVE.value, limit),
            ).fetchall()
        keys = []
        for rid, key_id, ckn, slot, start, updated in rows:
            activated = parse_ts(start) or parse_ts(updated)
            assert activated is not None
            keys.append(ActiveKey(link, key_id, ckn, slot, activated, int(rid)))
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
        with self._read() as db:
            rows = db.execute("SELECT phase, COUNT(*) FROM rotations GROUP BY phase").fetchall()
        return {str(phase): int(n) for phase, n in rows}

    def events(self, rid: int | None = None) -> list[tuple[datetime, str, dict[str, object]]]:
        with self._read() as db:
            if rid is None:
                rows = db.execute("SELECT ts, kind, detail FROM events ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT ts, kind, detail FROM events WHERE rotation_id=? ORDER BY id", (rid,)
                ).fetchall()
        return [(datetime.fromisoformat(t), kind, json.loads(detail)) for t, kind, detail in rows]

    def known_ckns(self, link: str) -> set[str]:
        """Every CKN the journal has a row for on ``link``, lowercased (any phase)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT DISTINCT ckn FROM rotations WHERE link=? AND ckn IS NOT NULL", (link,)
            ).fetchall()
        return {str(ckn).lower() for (ckn,) in rows if ckn}

    def _record(self, db: Db, row: Sequence[object]) -> RotationRecord:
        (rid, link, wave, reason, phase, key_id, ckn, kcv, slot, start, created, updated, error) = (
            row
        )
        ends = db.execute(
            "SELECT device, interface, staged, removed FROM rotation_ends WHERE rotation_id=?"  # noqa: S608 - ENDS_ORDER is a class constant
            f" ORDER BY {self.ENDS_ORDER}",
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
            start_time=parse_ts(None if start is None else str(start)),
            created=datetime.fromisoformat(str(created)),
            updated=datetime.fromisoformat(str(updated)),
            error=None if error is None else str(error),
            ends=tuple(EndRecord(str(d), str(i), bool(s), bool(r)) for d, i, s, r in ends),
            reason=str(reason),
        )


def _event(db: Db, rid: int | None, kind: str, detail: dict[str, object], stamp: str) -> None:
    db.execute(
        "INSERT INTO events (rotation_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
        (rid, stamp, kind, json.dumps(detail, sort_keys=True)),
    )


def iter_statements(script: str) -> Iterator[str]:
    """The statements of a schema script (no semicolons inside statements)."""
    for statement in script.split(";"):
        if statement.strip():
            yield statement.strip()


__all__ = ["SELECT", "Db", "Rows", "SqlJournal", "iter_statements", "now_utc", "parse_ts", "ts"]
