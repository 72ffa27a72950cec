"""Fixtures every test directory may use: a real PostgreSQL server (``postgres_server``,
``pg_url``) for the journal backends and the HA controllers."""

pytest_plugins = ["support.postgres"]
