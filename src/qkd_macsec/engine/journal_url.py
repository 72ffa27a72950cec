"""Where the journal is: a SQLite file (a plain path or ``sqlite:///path``) or a PostgreSQL
database (``postgresql://user@host:port/dbname?sslmode=verify-full``).

A PostgreSQL password is never part of the URL — URLs end up in argv, unit files and logs. It
is given by reference: ``password_file=/path`` (the file's first line) or ``password_env=NAME``
in the URL's query, or libpq's own ``PGPASSWORD``/``PGPASSFILE``/``passfile``. Every other query
parameter is libpq's (https://www.postgresql.org/docs/current/libpq-connect.html).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qkd_macsec.secret import Secret

#: The CLI's and the systemd unit's way of naming a journal other than the inventory's.
JOURNAL_ENV = "QKD_MACSEC_JOURNAL"

_PG_SCHEMES = ("postgresql", "postgres")
_OURS = ("password_file", "password_env")


class JournalUrlError(ValueError):
    """A journal location that cannot be used (the message names what is wrong, no secret)."""


@dataclass(frozen=True)
class PostgresLocation:
    """A PostgreSQL journal: libpq connection URL (without password) and where the password is."""

    conninfo: str
    display: str
    password_file: Path | None = None
    password_env: str | None = None

    def password(self) -> Secret | None:
        """Read the referenced password (each connection reads it anew: it may be rotated)."""
        if self.password_file is not None:
            try:
                text = self.password_file.read_text().splitlines()
            except OSError as exc:
                raise JournalUrlError(
                    f"journal {self.display}: password_file {self.password_file}: "
                    f"{exc.strerror or exc}"
                ) from None
            return Secret((text[0] if text else "").encode())
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise JournalUrlError(
                    f"journal {self.display}: password_env {self.password_env} is not set"
                )
            return Secret(value.encode())
        return None

    def __str__(self) -> str:
        return self.display


JournalLocation = Path | PostgresLocation


def parse_journal_location(value: str | Path) -> JournalLocation:
    """A path (SQLite) or a :class:`PostgresLocation`; :class:`JournalUrlError` if unusable."""
    if isinstance(value, Path):
        return value
    text = value.strip()
    if not text:
        raise JournalUrlError("journal: empty location")
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "sqlite":
        path = text[len("sqlite://") :]
        if not path.startswith("/"):
            raise JournalUrlError(f"journal {text}: sqlite URLs name an absolute path: sqlite:///…")
        return Path(path)
    if scheme in _PG_SCHEMES:
        return _postgres(text)
    if scheme:
        raise JournalUrlError(
            f"journal: unknown scheme {scheme}:// (use a path, sqlite:///path or postgresql://)"
        )
    return Path(text)


def _postgres(text: str) -> PostgresLocation:
    parts = urlsplit(text)
    host = parts.hostname or ""
    display = f"postgresql://{parts.username + '@' if parts.username else ''}{host}"
    display += f":{parts.port}" if parts.port else ""
    display += parts.path or ""
    if parts.password is not None:
        raise JournalUrlError(
            f"journal {display}: the URL must not carry a password (it would show in argv and "
            "logs): use password_file=PATH or password_env=NAME in its query, or PGPASSFILE"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _OURS}
    rest = [(k, v) for k, v in query if k not in _OURS]
    if "password" in {k for k, _ in rest}:
        raise JournalUrlError(
            f"journal {display}: no password= in the URL: use password_file= or password_env="
        )
    if len(ours) > 1:
        raise JournalUrlError(f"journal {display}: give password_file or password_env, not both")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(conninfo)
    except ProgrammingError as exc:
        raise JournalUrlError(f"journal {display}: {exc}") from None
    password_file = ours.get("password_file")
    return PostgresLocation(
        conninfo=conninfo,
        display=display,
        password_file=Path(password_file) if password_file else None,
        password_env=ours.get("password_env") or None,
    )


__all__ = [
    "JOURNAL_ENV",
    "JournalLocation",
    "JournalUrlError",
    "PostgresLocation",
    "parse_journal_location",
]
