"""One controller per journal: an exclusive lease held for as long as the controller runs.

Two controllers on one journal break links: the second one's recovery takes the first one's
in-flight rotation for a crashed one and undoes it on one end while the first finishes the other.
So every command that changes routers holds the journal's lease, and a second one stops at once
(or queues with ``--wait``).

The contract is small so that another journal backend can implement it::

    LeaseBackend.acquire(command, wait) ─► Lease (token, holder, check(), commit_deadline(),
                                                  release())
                 └─ raises LeaseHeldError(holder) when another controller has it

``token`` is a fencing token: it grows with every acquisition, so a backend whose leases can
expire (PostgreSQL with a TTL, :mod:`qkd_macsec.engine.lease_pg`) can refuse writes from a
holder that lost its lease.

:class:`FileLeaseBackend` (SQLite) uses ``flock`` on a sidecar file next to the journal. The
kernel releases it when the holder dies, however it dies (SIGKILL, OOM, power loss of a
process), so a dead holder never blocks the next controller and no stale-lease heuristics
(pid alive? how old?) are needed. The file's content (pid, host, command, start, token) only
serves the message; the lock decides. The file is never deleted: deleting it while held would let
a second controller lock a new file of the same name, which :meth:`Lease.check` detects.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

#: How often a waiting controller retries the lock (flock has no timed wait).
RETRY_INTERVAL = 0.1


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a journal (no secrets: for messages and status)."""

    pid: int
    host: str
    command: str
    started: datetime
    token: int

    def describe(self) -> str:
        started = self.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host} ({self.command}, since {started})"

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "host": self.host,
            "command": self.command,
            "started": self.started.isoformat(),
            "token": self.token,
        }

    @classmethod
    def from_json(cls, data: object) -> LeaseHolder | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                command=str(data["command"]),
                started=datetime.fromisoformat(str(data["started"])),
                token=int(data["token"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class LeaseError(Exception):
    """Base of lease failures."""


class LeaseHeldError(LeaseError):
    """Another controller holds the journal."""

    def __init__(self, journal: str, holder: LeaseHolder | None, waited: float = 0.0) -> None:
        who = holder.describe() if holder is not None else "holder unknown"
        after = f" after waiting {waited:.0f}s" if waited > 0 else ""
        super().__init__(f"another controller holds the journal {journal}: {who}{after}")
        self.journal = journal
        self.holder = holder


class LeaseLostError(LeaseError):
    """The lease is no longer ours (its lock file was replaced): stop changing routers."""


class Lease(Protocol):
    """A held lease. Release is idempotent."""

    @property
    def token(self) -> int: ...

    @property
    def holder(self) -> LeaseHolder: ...

    def check(self) -> None:
        """Raise :class:`LeaseLostError` if the lease is no longer held (before each wave,
        each device commit and each journal write)."""

    def commit_deadline(self) -> float | None:
        """Epoch seconds by which an RPC started now must be answered so that it lands while
        the lease is surely held; None for a lease that cannot expire while its holder lives."""

    def release(self) -> None: ...


class LeaseBackend(Protocol):
    def acquire(self, command: str, *, wait: float = 0.0) -> Lease:
        """Take the lease, waiting up to ``wait`` seconds (``math.inf``: until it is free)."""

    def current_holder(self) -> LeaseHolder | None:
        """Who holds it now, as far as can be told without taking it (None: free or unknown)."""


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class _FileLease:
    def __init__(self, fd: int, path: Path, holder: LeaseHolder) -> None:
        self._fd: int | None = fd
        self._path = path
        self._holder = holder
        self._inode = os.fstat(fd).st_ino

    @property
    def token(self) -> int:
        return self._holder.token

    @property
    def holder(self) -> LeaseHolder:
        return self._holder

    def check(self) -> None:
        if self._fd is None:
            raise LeaseLostError(f"lease on {self._path} was released")
        try:
            inode = os.stat(self._path).st_ino
        except FileNotFoundError:
            inode = None
        if inode != self._inode:
            raise LeaseLostError(
                f"{self._path} was deleted or replaced while held: another controller may run"
            )

    def commit_deadline(self) -> float | None:
        return None  # flock: held until the holder dies

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __repr__(self) -> str:
        return f"<lease {self._path} token={self.token} held={self._fd is not None}>"


class FileLeaseBackend:
    """``flock`` on ``<journal>.lock`` (mode 0600). Local file systems only: NFS locks are not
    released reliably when a client dies."""

    def __init__(self, journal: Path | str) -> None:
        self.journal = Path(journal)
        # Resolved: a journal reached through a symlink or another relative path is one journal.
        self.path = lock_path(self.journal.resolve())

    def _read(self, fd: int) -> LeaseHolder | None:
        try:
            raw = os.pread(fd, 4096, 0)
            return LeaseHolder.from_json(json.loads(raw.decode() or "null"))
        except (OSError, ValueError):
            return None

    def current_holder(self) -> LeaseHolder | None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self._read(fd)  # locked: the content names the holder
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None  # nobody holds it (the content is a previous holder's)
        finally:
            os.close(fd)

    def _try(self, command: str) -> _FileLease | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # The file may have been deleted or replaced between open and flock: lock the one
            # that is at the path now, or two controllers could each hold "the" lock.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return None
            previous = self._read(fd)
            holder = LeaseHolder(
                pid=os.getpid(),
                host=socket.gethostname(),
                command=command,
                started=datetime.now(UTC),
                token=(previous.token if previous else 0) + 1,
            )
            data = json.dumps(holder.to_json()).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
            return _FileLease(fd, self.path, holder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def acquire(self, command: str, *, wait: float = 0.0) -> Lease:
        started = time.monotonic()
        deadline = started + wait if math.isfinite(wait) else math.inf
        while True:
            lease = self._try(command)
            if lease is not None:
                return lease
            now = time.monotonic()
            if now >= deadline:
                raise LeaseHeldError(str(self.journal), self.current_holder(), now - started)
            time.sleep(min(RETRY_INTERVAL, max(deadline - now, 0.0)))


class NoLease:
    """For an in-memory journal: nothing else can open it."""

    def __init__(self, command: str) -> None:
        self._holder = LeaseHolder(os.getpid(), socket.gethostname(), command, datetime.now(UTC), 0)

    @property
    def token(self) -> int:
        return 0

    @property
    def holder(self) -> LeaseHolder:
        return self._holder

    def check(self) -> None:
        return None

    def commit_deadline(self) -> float | None:
        return None

    def release(self) -> None:
        return None


def acquire_journal(journal: Path | str, command: str, *, wait: float = 0.0) -> Lease:
    """The lease of a journal file (the SQLite backend's)."""
    if str(journal) == ":memory:":
        return NoLease(command)
    return FileLeaseBackend(journal).acquire(command, wait=wait)


__all__ = [
    "FileLeaseBackend",
    "Lease",
    "LeaseBackend",
    "LeaseError",
    "LeaseHeldError",
    "LeaseHolder",
    "LeaseLostError",
    "NoLease",
    "acquire_journal",
    "lock_path",
]
