"""Connections to the PostgreSQL journal database (psycopg 3), password by reference.

Every connection has a connect timeout, TCP keepalives (an idle connection whose peer vanished)
and a TCP user timeout (a request sent into a cut network: without it the kernel retransmits for
about 15 minutes), so a controller cut off from the database notices within seconds; the
lease's own clock (:mod:`qkd_macsec.engine.lease_pg`) decides when it must stop either way.
libpq parameters: https://www.postgresql.org/docs/current/libpq-connect.html
"""

from __future__ import annotations

import psycopg

from qkd_macsec.engine.journal_url import PostgresLocation
from qkd_macsec.obs.logging import SECRETS

#: Seconds to wait for a connection (libpq ``connect_timeout``).
CONNECT_TIMEOUT = 5
#: Milliseconds sent data may stay unacknowledged before the connection is dropped.
TCP_USER_TIMEOUT_MS = 5000


def connect(location: PostgresLocation, *, autocommit: bool, purpose: str) -> psycopg.Connection:
    """A new connection; ``purpose`` shows in ``pg_stat_activity.application_name``."""
    password = location.password()
    kwargs: dict[str, object] = {
        "autocommit": autocommit,
        "connect_timeout": CONNECT_TIMEOUT,
        "application_name": f"qkd-macsec {purpose}",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    if password is not None:
        SECRETS.add(password.reveal_text())
        kwargs["password"] = password.reveal_text()
    return psycopg.connect(location.conninfo, **kwargs)  # type: ignore[arg-type]


__all__ = ["CONNECT_TIMEOUT", "connect"]
