"""A throwaway PostgreSQL server for the HA tests and the chaos run: Debian's ``postgresql``
binaries, a new cluster in a temporary directory, TCP on a free loopback port with password
(SCRAM) auth.

Why Debian's server rather than a pip-installed one (docs/ha.md, "Testing"): it is the server
operators run, the machine's package manager installs it (``make postgres`` /
``.ci/install-postgresql``), and it needs no binary download at test time. PostgreSQL refuses to
run as root, so as root the cluster belongs to the ``postgres`` account the package creates and
its processes run as that user (``subprocess`` ``user=``); as anyone else they run as that user.

A missing server raises :class:`PostgresUnavailable`, whose message says how to install it (the
tests' fixture turns it into a failure, never a skip).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, postgres) not found: run `make postgres` "
    "(.ci/install-postgresql: apt-get install postgresql) — the HA tests need a real server"
)
SUPERUSER = "qkd_test"


class PostgresUnavailable(RuntimeError):
    """No server could be started (the message says why and how to install one)."""


START_TIMEOUT = 90.0


def server_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (PATH first, then Debian's layout)."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    root: Path
    port: int
    password_file: Path  # readable by the tests' user only
    process: subprocess.Popen[bytes]

    def url(self, dbname: str = "postgres") -> str:
        """A journal URL for ``dbname``: no password in it, the password by reference."""
        return (
            f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"
            f"?password_file={self.password_file}"
        )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            password=self.password_file.read_text().strip(),
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self) -> str:
        name = "t_" + secrets.token_hex(6)
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_as(user: str | None, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, user=user, capture_output=True, text=True, check=False, timeout=120)


@contextlib.contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    bindir = server_bindir()
    if bindir is None:
        raise PostgresUnavailable(INSTALL_HINT)
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and no `postgres` account to run the server as: " + INSTALL_HINT
            ) from None
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="qkd-pg-"))
    password = secrets.token_urlsafe(24)
    password_file = root / "password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    server_dir = root / "server"
    server_dir.mkdir(mode=0o700)
    pwfile = server_dir / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        # the server user passes through; the password file stays 0600
        os.chmod(root, 0o711)  # noqa: S103
        for path in (server_dir, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    data = server_dir / "data"
    init = _run_as(
        run_as,
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()}")
    pwfile.unlink()
    process: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(5):  # another process may take the free port before the server binds it
            port = _free_port()
            log = (server_dir / "server.log").open("ab")
            process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(server_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",  # a throwaway cluster: durability across power loss is moot
                    "-c",
                    "max_connections=200",
                ],
                user=run_as,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            server = PostgresServer(root, port, password_file, process)
            if _wait_ready(server):
                break
            process.terminate()
            process.wait(30)
            process = None
        if process is None:
            tail = (server_dir / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"PostgreSQL did not start: {tail}")
        yield server
    finally:
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: smart shutdown; the tests' connections are closed
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: PostgresServer) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with server.connect():
                return True
        except psycopg.OperationalError:
            time.sleep(0.1)
    return False


__all__ = [
    "INSTALL_HINT",
    "PostgresServer",
    "PostgresUnavailable",
    "server_bindir",
    "start_postgres",
]
