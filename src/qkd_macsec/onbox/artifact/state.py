"""The runtime's local state: key IDs, slots and start-times per link (never key material).

Written atomically with mode 0600 (``core.private_files.write_atomic``), so a crash leaves
either the old or the new file, never a torn one. One run at a
time: :class:`StateLock` (``flock`` on a sidecar file, since the state file itself is replaced by
rename and a lock on it would not be seen by the next opener).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from qkd_macsec.core.private_files import write_atomic

STATE_VERSION = 1


class StateError(ValueError):
    """A state file that cannot be read (names the file and what is wrong)."""


@dataclass
class KeyRecord:
    """One key on a link: its ETSI key ID, key-chain slot and start-time (epoch seconds)."""

    key_id: str
    slot: int
    start: float


@dataclass
class PendingRotation:
    """A rotation between "staged locally" and "every peer acknowledged" (master only)."""

    key_id: str
    slot: int
    start: float
    keep: list[int]
    peers: list[str]
    acked: list[str] = field(default_factory=list)
    #: Peers known NOT to hold the entry (offer never delivered, refused, or withdraw confirmed).
    absent: list[str] = field(default_factory=list)
    #: SCP transport: the confirmation tag the slaves' ack files must carry (an HMAC of the key ID
    #: under the CAK, as sent in every push ack: reveals nothing about the CAK).
    confirm: str = ""
    transport: str = "push"
    #: A withdraw was not delivered and the master kept its entry (see ``Runtime._resolve``).
    kept: bool = False


@dataclass
class LinkState:
    current: KeyRecord | None = None
    previous: list[KeyRecord] = field(default_factory=list)
    pending: PendingRotation | None = None
    failures: int = 0
    last_failure: float | None = None
    #: The last attempt may have left the ends on different keys: re-key within 5 s.
    diverged: bool = False

    def kept_slots(self, keep_previous: int = 1) -> list[int]:
        records = ([self.current] if self.current else []) + self.previous[:keep_previous]
        return [r.slot for r in records]

    def adopt(self, record: KeyRecord, keep_previous: int = 1) -> None:
        """Make ``record`` current; the old current becomes the newest previous."""
        if self.current is not None and self.current.key_id != record.key_id:
            self.previous = ([self.current, *self.previous])[:keep_previous]
        self.current = record
        self.failures = 0
        self.last_failure = None
        self.diverged = False


def _record(data: Any) -> KeyRecord | None:
    if data is None:
        return None
    return KeyRecord(str(data["key_id"]), int(data["slot"]), float(data["start"]))


def _link_state(data: dict[str, Any]) -> LinkState:
    pending = data.get("pending")
    return LinkState(
        current=_record(data.get("current")),
        previous=[r for r in (_record(p) for p in data.get("previous", [])) if r is not None],
        pending=None
        if pending is None
        else PendingRotation(
            key_id=str(pending["key_id"]),
            slot=int(pending["slot"]),
            start=float(pending["start"]),
            keep=[int(s) for s in pending.get("keep", [])],
            peers=[str(p) for p in pending.get("peers", [])],
            acked=[str(p) for p in pending.get("acked", [])],
            absent=[str(p) for p in pending.get("absent", [])],
            confirm=str(pending.get("confirm", "")),
            transport=str(pending.get("transport", "push")),
            kept=bool(pending.get("kept", False)),
        ),
        failures=int(data.get("failures", 0)),
        last_failure=None if data.get("last_failure") is None else float(data["last_failure"]),
        diverged=bool(data.get("diverged", False)),
    )


def load_state(path: str) -> dict[str, LinkState]:
    """Link states from ``path``; an absent file is an empty state."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: unreadable state ({type(exc).__name__})") from None
    try:
        if data.get("version") != STATE_VERSION:
            raise StateError(f"{path}: unknown state version {data.get('version')!r}")
        return {str(name): _link_state(link) for name, link in data["links"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, StateError):
            raise
        raise StateError(f"{path}: malformed state ({type(exc).__name__}: {exc})") from None


def save_state(path: str, links: dict[str, LinkState]) -> None:
    body = {"version": STATE_VERSION, "links": {name: asdict(s) for name, s in links.items()}}
    write_atomic(path, json.dumps(body, indent=1, sort_keys=True).encode())


class LockHeld(Exception):
    """Another run of the script holds the state lock."""


class StateLock:
    """An exclusive ``flock`` on ``<state>.lock``, held for a whole run.

    Event scripts overlap when a run outlasts the timer interval, and a peer's op-script run can
    arrive while this router's own timer run is busy: two runs reading and writing one state file
    would lose each other's updates. ``wait_s`` 0 (timer runs) gives up at once; op-script runs
    wait a little, then refuse (the master treats a refusal as "not staged" and retries later).
    The lock goes with the process, so a crashed run never leaves it held.
    """

    def __init__(self, state_path: str, wait_s: float = 0.0) -> None:
        self.path = f"{state_path}.lock"
        self.wait_s = wait_s
        self._fd: int | None = None

    def acquire(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockHeld(f"another run holds {self.path}") from None
                time.sleep(0.1)
                continue
            self._fd = fd
            return

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
