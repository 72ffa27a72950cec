"""The journal and lease a journal location names: SQLite + flock, or PostgreSQL + TTL lease.

This is the one place that chooses a backend; the engine sees a
:class:`~qkd_macsec.engine.journal_model.JournalBackend` and a
:class:`~qkd_macsec.engine.lease.Lease`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.journal_model import JournalBackend
from qkd_macsec.engine.journal_url import JournalLocation, PostgresLocation
from qkd_macsec.engine.lease import (
    FileLeaseBackend,
    Lease,
    LeaseHolder,
    LeaseLostError,
    acquire_journal,
)

SHARD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ShardError(ValueError):
    """A shard that cannot be used (a SQLite journal, a bad name)."""


def lease_name(shard: str | None) -> str:
    """The lease row of a shard (``shard:NAME``), or the whole journal's (``journal``)."""
    if shard is None:
        return "journal"
    if not SHARD_NAME.fullmatch(shard):
        raise ShardError(f"shard {shard!r}: 1-64 letters, digits, '.', '_' or '-'")
    return f"shard:{shard}"


def acquire_lease(
    location: JournalLocation,
    command: str,
    *,
    wait: float = 0.0,
    shard: str | None = None,
    devices: Sequence[str] = (),
) -> Lease:
    """The journal's lease (:class:`~qkd_macsec.engine.lease.LeaseHeldError` if held), or a
    shard's: the lease of the routers ``devices`` only, next to other shards of other routers
    (PostgreSQL only; :class:`~qkd_macsec.engine.lease_pg.PostgresLeaseBackend`)."""
    name = lease_name(shard)
    if isinstance(location, PostgresLocation):
        from qkd_macsec.engine.lease_pg import PostgresLeaseBackend

        backend = PostgresLeaseBackend(
            location, name=name, devices=devices if shard is not None else ()
        )
        return backend.acquire(command, wait=wait)
    if shard is not None:
        raise ShardError(f"shard {shard}: shards need a PostgreSQL journal (--journal)")
    return acquire_journal(location, command, wait=wait)


def lease_holder(location: JournalLocation, shard: str | None = None) -> LeaseHolder | None:
    """Who holds the journal's (or a shard's) lease now (None: free, expired or unknown)."""
    if isinstance(location, PostgresLocation):
        from qkd_macsec.engine.lease_pg import PostgresLeaseBackend

        return PostgresLeaseBackend(location, name=lease_name(shard)).current_holder()
    return FileLeaseBackend(location).current_holder()


def open_journal(location: JournalLocation, lease: Lease | None = None) -> JournalBackend:
    """The journal at ``location``; a PostgreSQL one fences its writes with ``lease`` (which
    must then be that database's lease) and reads only without one."""
    if isinstance(location, PostgresLocation):
        from qkd_macsec.engine.journal_pg import PostgresJournal
        from qkd_macsec.engine.lease_pg import PostgresLease

        if lease is not None and not isinstance(lease, PostgresLease):
            raise LeaseLostError(f"journal {location}: needs its database's lease, not {lease!r}")
        return PostgresJournal(location, lease)
    return Journal(Path(location))


__all__ = ["ShardError", "acquire_lease", "lease_holder", "lease_name", "open_journal"]
