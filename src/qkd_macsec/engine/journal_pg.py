"""The rotation journal in PostgreSQL, for controllers on several hosts (docs/ha.md).

Same tables, columns and statements as the SQLite journal (:mod:`qkd_macsec.engine.journal_sql`);
ids come from identity columns. Every write is **fenced**: the controller's lease is checked
locally, then the transaction locks the lease row ``FOR SHARE`` and proceeds only if it still
carries this controller's token and has not expired on the database's clock — in the same
transaction as the write, so a deposed controller's write is refused, never half-applied
(:mod:`qkd_macsec.engine.lease_pg`). A journal opened without a lease (``status``, reports)
reads only.

A lost connection (the server restarted, a failover of the database, an idle connection cut)
is replaced: a write whose fencing check — the transaction's first statement, before anything
is written — fails on a dead connection is retried once on a new one. A failure after that
point is raised, not retried (the transaction may or may not have committed; recovery reads the
devices); a failed read leaves the connection to be replaced at the next call.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from qkd_macsec.engine.journal_sql import Db, Rows, SqlJournal
from qkd_macsec.engine.journal_url import PostgresLocation
from qkd_macsec.engine.lease import LeaseLostError
from qkd_macsec.engine.lease_pg import LEASE_SCHEMA, PostgresLease, ensure_schema
from qkd_macsec.engine.pg import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS rotations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    rotation_id BIGINT NOT NULL REFERENCES rotations(id),
    device TEXT NOT NULL,
    interface TEXT NOT NULL,
    staged INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rotation_id, device, interface)
);
CREATE TABLE IF NOT EXISTS events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rotation_id BIGINT,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""

_FENCE = (
    "SELECT token FROM qkd_lease WHERE name = %s AND token = %s"
    " AND expires_at > clock_timestamp() FOR SHARE"
)


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")  # no statement of the journal has a literal "?"


class _PgDb:
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        return self._conn.execute(_pg(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(_pg(sql), [tuple(r) for r in rows])


class PostgresJournal(SqlJournal):
    """Thread-safe journal in a PostgreSQL database; writes fenced by ``lease`` (if any)."""

    ENDS_ORDER = "seq"

    def __init__(self, location: PostgresLocation, lease: PostgresLease | None = None) -> None:
        self._location = location
        self._lease = lease
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        with self._lock:
            conn = self._connection()
            ensure_schema(conn, LEASE_SCHEMA + ";" + SCHEMA)

    @property
    def location(self) -> str:
        return str(self._location)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._location, autocommit=True, purpose="journal")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _fenced(self, lease: PostgresLease) -> tuple[psycopg.Connection, contextlib.ExitStack]:
        """An open transaction that holds the lease row (FOR SHARE) with our token, on a live
        connection (one retry on a new connection if the first turns out dead); the returned
        stack ends the transaction."""
        for attempt in (1, 2):
            conn = self._connection()
            stack = contextlib.ExitStack()
            try:
                stack.enter_context(conn.transaction())  # BEGIN: the first to see a dead link
                row = conn.execute(_FENCE, (lease.name, lease.token)).fetchone()
            except psycopg.OperationalError as exc:
                with contextlib.suppress(psycopg.Error):
                    stack.__exit__(type(exc), exc, exc.__traceback__)
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if row is None:
                stack.close()
                raise LeaseLostError(
                    f"journal {self._location}: write refused: the lease (token "
                    f"{lease.token}) is no longer this controller's"
                )
            return conn, stack
        raise AssertionError("unreachable")

    @contextmanager
    def _tx(self) -> Iterator[Db]:
        with self._lock:
            if self._lease is None:
                raise LeaseLostError(f"journal {self._location} was opened read-only (no lease)")
            self._lease.check()
            conn, transaction = self._fenced(self._lease)
            with transaction:  # commits, or rolls back on any exception from the body
                yield _PgDb(conn)

    @contextmanager
    def _read(self) -> Iterator[Db]:
        with self._lock:
            try:
                yield _PgDb(self._connection())
            except psycopg.OperationalError:
                self._conn = None  # replaced at the next call
                raise


__all__ = ["SCHEMA", "PostgresJournal"]
