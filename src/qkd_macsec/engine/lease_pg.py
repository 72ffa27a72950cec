"""The journal's lease in PostgreSQL: one row with a TTL, a fencing token and a renewer.

    qkd_lease(name, token, holder, expires_at, acquired_at)

- **Acquire**: one conditional upsert takes the row when it is free or expired *on the database's
  clock* (``clock_timestamp()``), and adds 1 to ``token`` — every acquisition gets a larger token
  than any before it. Controllers' own clocks never decide who holds it.
- **Renew**: a background thread moves ``expires_at`` forward every ``renew_every`` seconds,
  only while the row still carries our token and has not expired.
- **Check** (before every device commit and every journal write): the lease is ours only while
  the last successful renewal was sent less than ``ttl - commit_margin`` seconds ago (local
  :func:`lease_clock`, which keeps counting while the process is stopped or the host
  suspended). Renewals are measured from when they were *sent*, so the local view always ends
  before the database's expiry; the
  margin is the time a commit that has passed the check may still take (the fenced driver caps
  its RPCs to it, :mod:`qkd_macsec.engine.fencing`). Once failed, a check fails forever: the
  controller steps down (exits) and a supervisor restarts it as a standby.
- **Fencing in the database**: every journal write's transaction first locks the lease row
  ``FOR SHARE`` and requires our token and a future expiry (:mod:`qkd_macsec.engine.journal_pg`),
  so a deposed controller's write is refused even if its local check passed — e.g. after being
  stopped (SIGSTOP, a VM pause) between check and write. The share lock orders the write against
  a concurrent takeover: a standby's upsert waits for it, and sees the row it leaves.
- **Release** expires the row at once, so a standby takes over without waiting out the TTL.

PostgreSQL row locking and ``clock_timestamp()``: https://www.postgresql.org/docs/current/
explicit-locking.html#LOCKING-ROWS and functions-datetime.html#FUNCTIONS-DATETIME-CURRENT.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from qkd_macsec.engine.journal_url import PostgresLocation
from qkd_macsec.engine.lease import LeaseHeldError, LeaseHolder, LeaseLostError
from qkd_macsec.engine.pg import connect
from qkd_macsec.obs.logging import get_logger

log = get_logger("engine.lease")

LEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS qkd_lease (
    name TEXT PRIMARY KEY,
    token BIGINT NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL
)
"""

#: Serialises schema creation across controllers starting together (CREATE ... IF NOT EXISTS
#: is not safe against a concurrent twin). Any fixed 64-bit number; this one spells "qkdm".
SCHEMA_LOCK = 0x716B646D
#: Serialises acquisitions, so that "no live lease overlaps mine" and taking mine are one step
#: (two rows are involved: row locks alone cannot order them). Spells "qkdl".
ACQUIRE_LOCK = 0x716B646C


@dataclass(frozen=True)
class LeaseTiming:
    """TTL and its parts, in seconds. Failover after a holder dies takes at most ``ttl`` plus
    one ``poll``; a holder that cannot renew stops committing ``commit_margin`` before expiry."""

    ttl: float = 8.0
    renew_every: float = 1.0
    commit_margin: float = 4.0
    poll: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.ttl - self.commit_margin:
            raise ValueError(
                f"lease timing: renew_every ({self.renew_every:g}s) must be positive and below "
                f"ttl - commit_margin ({self.ttl - self.commit_margin:g}s)"
            )
        if self.commit_margin <= 0 or self.poll <= 0:
            raise ValueError("lease timing: commit_margin and poll must be positive")


def ensure_schema(conn: psycopg.Connection, script: str) -> None:
    """Create the tables of ``script`` once, whoever starts first."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)


_ACQUIRE = """
INSERT INTO qkd_lease AS l (name, token, holder, expires_at, acquired_at)
VALUES (%(name)s, 1, %(holder)s, clock_timestamp() + make_interval(secs => %(ttl)s),
        clock_timestamp())
ON CONFLICT (name) DO UPDATE
    SET token = l.token + 1, holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
        acquired_at = EXCLUDED.acquired_at
    WHERE l.expires_at <= clock_timestamp()
RETURNING token, acquired_at
"""

_RENEW = """
UPDATE qkd_lease SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
WHERE name = %(name)s AND token = %(token)s AND expires_at > clock_timestamp()
RETURNING token
"""

_RELEASE = (
    "UPDATE qkd_lease SET expires_at = clock_timestamp()"
    " WHERE name = %(name)s AND token = %(token)s"
)

_HOLDER = (
    "SELECT holder, token FROM qkd_lease WHERE name = %(name)s AND expires_at > clock_timestamp()"
)

_LIVE_OTHERS = (
    "SELECT name, holder, token FROM qkd_lease"
    " WHERE name <> %(name)s AND expires_at > clock_timestamp() ORDER BY name"
)


def _holder(holder: str, token: int) -> LeaseHolder | None:
    data = json.loads(holder)
    if isinstance(data, dict):
        data["token"] = token
    return LeaseHolder.from_json(data)


def lease_clock() -> float:
    """Seconds on a clock that never goes back and keeps counting while the process is stopped
    and while the machine is suspended (Linux CLOCK_BOOTTIME; elsewhere the monotonic clock)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresLease:
    """A held lease; renewed in the background until released or lost."""

    def __init__(
        self,
        location: PostgresLocation,
        name: str,
        holder: LeaseHolder,
        timing: LeaseTiming,
        sent: float,
    ) -> None:
        self._location = location
        self._name = name
        self._holder = holder
        self._timing = timing
        self._valid_until = sent + timing.ttl  # lease_clock: ends before the database's expiry
        self._lost: str | None = None
        self._released = False
        self._stop = threading.Event()
        self._state = threading.Lock()
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._thread.start()

    @property
    def token(self) -> int:
        return self._holder.token

    @property
    def holder(self) -> LeaseHolder:
        return self._holder

    @property
    def name(self) -> str:
        return self._name

    def _left(self) -> float:
        """Seconds until the lease may have expired (local view)."""
        with self._state:
            return self._valid_until - lease_clock()

    def check(self) -> None:
        with self._state:
            if self._released:
                raise LeaseLostError(f"lease on {self._location} was released")
            if self._lost is None:
                left = self._valid_until - lease_clock()
                if left < self._timing.commit_margin:
                    self._lost = (
                        f"lease on {self._location} not renewed for "
                        f"{self._timing.ttl - left:.1f}s (token {self.token}): stepping down "
                        "before it can expire"
                    )
            if self._lost is not None:
                raise LeaseLostError(self._lost)

    def commit_deadline(self) -> float | None:
        """Epoch seconds by which an RPC started now must be answered (the lease's margin)."""
        return time.time() + self._left() - self._timing.commit_margin / 2

    def _renew_loop(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self._stop.wait(self._timing.renew_every):
                sent = lease_clock()
                try:
                    if conn is None or conn.closed:
                        conn = connect(self._location, autocommit=True, purpose="lease renewer")
                    row = conn.execute(
                        _RENEW,
                        {"ttl": self._timing.ttl, "name": self._name, "token": self.token},
                    ).fetchone()
                except psycopg.Error as exc:
                    log.warning("lease renewal failed: %s", _first_line(exc))
                    if conn is not None:
                        with contextlib.suppress(psycopg.Error):
                            conn.close()
                    conn = None
                    continue  # check() turns a run of failures into a lost lease by the clock
                with self._state:
                    if row is None:
                        self._lost = self._lost or (
                            f"lease on {self._location} was taken over or expired "
                            f"(token {self.token})"
                        )
                        return
                    self._valid_until = max(self._valid_until, sent + self._timing.ttl)
        finally:
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()

    def release(self) -> None:
        with self._state:
            if self._released:
                return
            self._released = True
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            with connect(self._location, autocommit=True, purpose="lease release") as conn:
                conn.execute(_RELEASE, {"name": self._name, "token": self.token})
        except psycopg.Error as exc:  # it expires by itself within the TTL
            log.warning("lease release failed (it expires by itself): %s", _first_line(exc))

    def __repr__(self) -> str:
        return f"<lease {self._location} {self._name} token={self.token}>"


class PostgresLeaseBackend:
    """Leases named ``name`` in the journal's database: ``journal`` (one controller for every
    router) or one per shard (``shard:NAME``, covering ``devices``: a partition of the routers).

    Two live leases may coexist only when both name their devices and the sets are disjoint; a
    lease without devices covers every router. So one controller per router, always: shards
    never touch each other's routers or links, and an unsharded controller excludes them all.
    """

    def __init__(
        self,
        location: PostgresLocation,
        *,
        name: str = "journal",
        timing: LeaseTiming | None = None,
        devices: Sequence[str] = (),
    ) -> None:
        self.location = location
        self.name = name
        self.timing = timing or LeaseTiming()
        self.devices = sorted(set(devices))

    def _overlapping(self, conn: psycopg.Connection) -> tuple[str, LeaseHolder | None] | None:
        """A live lease of another name whose routers overlap ours (name, holder)."""
        for name, holder, token in conn.execute(_LIVE_OTHERS, {"name": self.name}).fetchall():
            theirs = set(json.loads(holder).get("devices") or [])
            if not self.devices or not theirs or theirs & set(self.devices):
                return str(name), _holder(holder, int(token))
        return None

    def _try(
        self, conn: psycopg.Connection, holder_json: dict[str, object]
    ) -> tuple[int | None, tuple[str, LeaseHolder | None] | None]:
        """(token, None) when taken; (None, overlapping lease) or (None, None) when held."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ACQUIRE_LOCK,))
            overlap = self._overlapping(conn)
            if overlap is not None:
                return None, overlap
            row = conn.execute(
                _ACQUIRE,
                {"name": self.name, "holder": json.dumps(holder_json), "ttl": self.timing.ttl},
            ).fetchone()
        return (int(row[0]) if row is not None else None), None

    def current_holder(self) -> LeaseHolder | None:
        try:
            with connect(self.location, autocommit=True, purpose="lease holder") as conn:
                ensure_schema(conn, LEASE_SCHEMA)
                row = conn.execute(_HOLDER, {"name": self.name}).fetchone()
        except psycopg.Error:
            return None
        if row is None:
            return None
        return _holder(row[0], int(row[1]))

    def acquire(self, command: str, *, wait: float = 0.0) -> PostgresLease:
        started = time.monotonic()
        deadline = started + wait if math.isfinite(wait) else math.inf
        holder_json = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started": datetime.now(UTC).isoformat(),
            "lease": self.name,
            "devices": self.devices,
        }
        conn: psycopg.Connection | None = None
        reached = False
        try:
            while True:
                try:
                    if conn is None:
                        conn = connect(self.location, autocommit=True, purpose="lease")
                        ensure_schema(conn, LEASE_SCHEMA)
                        reached = True
                    sent = lease_clock()
                    token, overlap = self._try(conn, holder_json)
                except psycopg.OperationalError as exc:
                    # Never reached (bad address, password, database): fail now, loudly. Lost
                    # while waiting (the database restarts, fails over): keep waiting.
                    if not reached or time.monotonic() >= deadline:
                        raise
                    log.warning("lease: database unreachable, retrying: %s", _first_line(exc))
                    if conn is not None:
                        with contextlib.suppress(psycopg.Error):
                            conn.close()
                    conn = None
                    time.sleep(self.timing.poll * 4)
                    continue
                if token is not None:
                    holder = LeaseHolder(
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        command=command,
                        started=datetime.now(UTC),
                        token=token,
                    )
                    return PostgresLease(self.location, self.name, holder, self.timing, sent)
                now = time.monotonic()
                if now >= deadline:
                    if overlap is not None:
                        raise LeaseHeldError(
                            f"{self.location} (its lease {overlap[0]} covers routers of "
                            f"{self.name})",
                            overlap[1],
                            now - started,
                        )
                    raise LeaseHeldError(str(self.location), self.current_holder(), now - started)
                time.sleep(min(self.timing.poll, max(deadline - now, 0.0)))
        finally:
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()


__all__ = ["LEASE_SCHEMA", "LeaseTiming", "PostgresLease", "PostgresLeaseBackend", "ensure_schema"]
