"""The journal and lease a journal location names: SQLite + flock, or PostgreSQL + TTL lease.

This is the one place that chooses a backend; the engine sees a
:class:`~qkd_macsec.engine.journal_model.JournalBackend` and a
:class:`~qkd_macsec.engine.lease.Lease`.
"""

from __future__ import annotations

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


def acquire_lease(location: JournalLocation, command: str, *, wait: float = 0.0) -> Lease:
    """The journal's lease (:class:`~qkd_macsec.engine.lease.LeaseHeldError` if held)."""
    if isinstance(location, PostgresLocation):
        from qkd_macsec.engine.lease_pg import PostgresLeaseBackend

        return PostgresLeaseBackend(location).acquire(command, wait=wait)
    return acquire_journal(location, command, wait=wait)


def lease_holder(location: JournalLocation) -> LeaseHolder | None:
    """Who holds the journal's lease now (None: free, expired or unknown)."""
    if isinstance(location, PostgresLocation):
        from qkd_macsec.engine.lease_pg import PostgresLeaseBackend

        return PostgresLeaseBackend(location).current_holder()
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


__all__ = ["acquire_lease", "lease_holder", "open_journal"]
