"""The real PostgreSQL server of the HA tests (``testkit/postgres.py``: Debian's server, a
throwaway cluster), as fixtures. A missing server fails the tests with the install command;
they never skip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.postgres import PostgresServer, PostgresUnavailable, start_postgres

__all__ = ["PostgresServer", "pg_url", "postgres_server"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test worker that needs one."""
    try:
        server = start_postgres()
        running = server.__enter__()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A journal URL of a new, empty database (dropped afterwards)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
