"""One simulated Junos router: configuration databases, the lock, commits, rollback, faults.

The device is protocol-free: the NETCONF layer (``sim.netconf``) calls it and renders what it
returns or raises. State changes run on the simulator's event loop; the few things tests poke
from other threads (faults, clock offset, reading the committed config) are guarded by a lock.

Junos behaviour modelled here (as PyEZ drives it): ONE shared candidate per device, locked by at
most one session (``lock-configuration``); a lock is released, and its uncommitted changes
discarded, when its session drops or it unlocks — except while a commit is in flight: like
mgd, the device finishes that commit (holding the lock until it is done) even if the client gave
up and left; 50 rollback entries (0 = active); ``commit confirmed N`` rolls back automatically
unless a later commit (or ``commit check``) confirms it in time.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from lxml import etree

from qkd_macsec.obs.logging import get_logger, notice
from qkd_macsec.secret import Secret
from qkd_macsec.sim.config import CommitCheckError, Configuration
from qkd_macsec.sim.config.checks import CommitWarning, commit_warnings
from qkd_macsec.sim.config.zone import zone_abbreviation, zone_of

if TYPE_CHECKING:
    from qkd_macsec.sim.fabric import Fabric

log = get_logger("sim.device")

ROLLBACK_DEPTH = 50
DEFAULT_MODEL = "MX304"
DEFAULT_VERSION = "23.4R2-S3.9"


class DeviceOperationError(Exception):
    """An operation the device refuses, with the message Junos would give."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class LockDenied(DeviceOperationError):
    """The candidate is locked by someone else."""

    def __init__(self, holder: str, holder_session: int | None) -> None:
        self.holder = holder
        self.holder_session = holder_session
        super().__init__(f"configuration database locked by:\n  {holder}\n  exclusive [edit]")


class CommitFailed(DeviceOperationError):
    """Commit refused; ``problems`` are (error-path, message) pairs, Junos style."""

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


class PermissionDenied(DeviceOperationError):
    """The login's class lacks the permission for this operation."""


class RollbackUnavailable(DeviceOperationError):
    def __init__(self, index: int) -> None:
        super().__init__(f"rollback {index} does not exist")


@dataclass
class Faults:
    """Misbehaviour to inject. Settable at any time, from any thread."""

    commit_latency_s: float = 0.0
    failing_commits: int = 0  # the next N commits fail with commit_error_message
    commit_error_message: str = "simulated commit failure (injected)"
    foreign_lock_user: str | None = None  # the candidate is held by this user (another session)
    drop_session_on: str | None = None  # drop the SSH session on the next RPC of this name; "*" any
    hang_rpcs: set[str] = field(default_factory=set)  # never answer these RPCs
    refuse_connections: bool = False  # stop listening
    reject_auth: bool = False  # listen, but refuse every login
    # Preflight faults (the checks `qkd-macsec preflight` must catch):
    commit_denied: bool = False  # the login's class lacks configure: commit (check) refused
    ntp_unsynchronised: bool = False  # ntpd has no sync source (stratum 16, sync_unspec)
    absent_interfaces: set[str] = field(default_factory=set)  # "device X not found"
    unsupported_rpcs: set[str] = field(default_factory=set)  # answered as unknown RPCs


@dataclass
class UserAccount:
    """A login: password and/or OpenSSH public key lines."""

    name: str
    password: Secret | None = None
    authorized_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeviceProfile:
    """What kind of box this is and how it talks (not state)."""

    model: str = DEFAULT_MODEL
    version: str = DEFAULT_VERSION
    base11: bool = False  # advertise NETCONF base:1.1 (chunked framing)
    minute_s: float = 60.0  # length of a commit-confirmed "minute" (tests shrink it)
    pq_kex: bool = True  # offer the PQ hybrid SSH key exchanges (False: classical only)


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    user: str
    peer: str
    started: datetime


@dataclass(frozen=True)
class CommitRecord:
    config: Configuration
    at: float  # wall time (time.time scale) the commit took effect
    user: str
    comment: str | None
    client: str = "netconf"

    def when(self) -> datetime:
        return datetime.fromtimestamp(self.at, tz=UTC)


@dataclass
class _PendingConfirm:
    restore: Configuration
    handle: asyncio.TimerHandle
    deadline: float


class SimDevice:
    """State of one simulated router (see module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        config: Configuration | None = None,
        users: list[UserAccount] | None = None,
        fabric: Fabric | None = None,
        profile: DeviceProfile | None = None,
        clock_offset_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.profile = profile or DeviceProfile()
        self.serial_number = "SIM" + hashlib.sha256(name.encode()).hexdigest()[:9].upper()
        self.faults = Faults()
        self.users: dict[str, UserAccount] = {u.name: u for u in users or []}
        self.booted_at = clock()
        self._clock = clock
        self._fabric = fabric
        self._clock_offset_s = clock_offset_s
        self._state = threading.RLock()
        initial = config.copy() if config is not None else Configuration.empty()
        self._history: deque[CommitRecord] = deque(maxlen=ROLLBACK_DEPTH)
        self._history.appendleft(CommitRecord(initial, self.booted_at, "root", "initial", "cli"))
        self._candidate = initial.copy()
        self._lock_holder: SessionInfo | None = None
        self._sessions: dict[int, tuple[SessionInfo, Callable[[], None]]] = {}
        self.logins: list[float] = []  # epoch instant of every NETCONF session opened
        self._session_ids = itertools.count(1000 + (int(self.serial_number[3:9], 16) % 9000))
        self._pending_confirm: _PendingConfirm | None = None
        self._committing: SessionInfo | None = None  # a commit in flight (holds the lock)
        self._orphaned = False  # ... whose session has gone: release the lock when it lands
        self._fault_listeners: list[Callable[[], None]] = []
        if fabric is not None:
            fabric.on_commit(name, initial.copy(), self.booted_at)

    # ---- identity and clock -------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.profile.model

    @property
    def version(self) -> str:
        return self.profile.version

    @property
    def base11(self) -> bool:
        return self.profile.base11

    @property
    def hostname(self) -> str:
        """``system host-name`` from the committed config, else the device name."""
        found = self.committed.filtered(_host_name_filter()).to_xml().findtext(".//host-name")
        return str(found) if found else self.name

    @property
    def clock_offset_s(self) -> float:
        return self._clock_offset_s

    def set_clock_offset(self, offset_s: float) -> None:
        with self._state:
            self._clock_offset_s = offset_s
            if self._fabric is not None:
                self._fabric.set_clock_offset(self.name, offset_s)

    def now(self) -> float:
        """Real (wall) time, on the simulator's clock."""
        return self._clock()

    def device_time(self) -> datetime:
        """The device's own clock: real time plus its offset (UTC)."""
        return datetime.fromtimestamp(self._clock() + self._clock_offset_s, tz=UTC)

    @property
    def time_zone(self) -> tzinfo:
        """The committed ``system time-zone`` (UTC when unset, Junos' default)."""
        with self._state:
            return zone_of(self._history[0].config.effective_root())

    def local_time_text(self, real: float) -> str:
        """The device clock at real time ``real`` as Junos prints it: local wall-clock time in
        its zone with the zone abbreviation (``2026-12-01 08:30:58 CET``)."""
        moment = datetime.fromtimestamp(real + self._clock_offset_s, tz=UTC)
        zone = self.time_zone
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone_abbreviation(moment, zone)}"

    # ---- faults -------------------------------------------------------------------------
    def set_faults(self, **changes: object) -> None:
        """Change fault fields by name (thread-safe); listeners (the SSH listener) are told."""
        with self._state:
            for key, value in changes.items():
                if not hasattr(self.faults, key):
                    raise AttributeError(f"unknown fault {key!r}")
                setattr(self.faults, key, value)
        for listener in list(self._fault_listeners):
            listener()

    def add_fault_listener(self, listener: Callable[[], None]) -> None:
        self._fault_listeners.append(listener)

    def take_drop_fault(self, rpc_name: str) -> bool:
        """True (once) when the session must be dropped instead of answering this RPC."""
        with self._state:
            target = self.faults.drop_session_on
            if target is not None and target in ("*", rpc_name):
                self.faults.drop_session_on = None
                return True
            return False

    def hangs(self, rpc_name: str) -> bool:
        return rpc_name in self.faults.hang_rpcs

    # ---- users --------------------------------------------------------------------------
    def check_password(self, user: str, password: str) -> bool:
        account = self.users.get(user)
        if account is None or account.password is None or self.faults.reject_auth:
            return False
        return account.password == Secret.from_text(password)

    def authorized_keys(self, user: str) -> list[str]:
        account = self.users.get(user)
        if account is None or self.faults.reject_auth:
            return []
        return list(account.authorized_keys)

    # ---- sessions -----------------------------------------------------------------------
    def open_session(self, user: str, peer: str, closer: Callable[[], None]) -> SessionInfo:
        with self._state:
            info = SessionInfo(next(self._session_ids), user, peer, datetime.now(UTC))
            self.logins.append(info.started.timestamp())
            self._sessions[info.session_id] = (info, closer)
            return info

    def close_session(self, session: SessionInfo) -> None:
        """The session ended (any way): release its lock, discarding uncommitted changes."""
        with self._state:
            self._sessions.pop(session.session_id, None)
            if self._committing == session:
                self._orphaned = True  # the commit runs on; it releases the lock when done
                log.info("%s: session %d dropped during its commit", self.name, session.session_id)
                return
            if self._lock_holder == session:
                self._lock_holder = None
                self._candidate = self._history[0].config.copy()
                log.info("%s: session %d dropped holding the lock", self.name, session.session_id)

    def kill_session(self, session_id: int, by: SessionInfo) -> None:
        with self._state:
            entry = self._sessions.get(session_id)
        if entry is None:
            raise DeviceOperationError(f"session {session_id} does not exist")
        if session_id == by.session_id:
            raise DeviceOperationError("cannot kill own session")
        info, closer = entry
        self.close_session(info)
        closer()

    def drop_sessions(self) -> int:
        """Abort every open session, as a network loss does (call on the lab's loop)."""
        with self._state:
            entries = list(self._sessions.values())
        for info, closer in entries:
            self.close_session(info)
            closer()
        return len(entries)

    def sessions(self) -> list[SessionInfo]:
        with self._state:
            return [info for info, _ in self._sessions.values()]

    # ---- lock ---------------------------------------------------------------------------
    def lock(self, session: SessionInfo) -> None:
        with self._state:
            self._check_foreign_lock()
            if self._lock_holder is not None and self._lock_holder != session:
                raise self._denied()
            if self._lock_holder is None and self._candidate != self._history[0].config:
                raise DeviceOperationError(
                    "configuration database modified", path="[edit]"
                )  # Junos refuses a lock over someone's uncommitted changes
            self._lock_holder = session

    def unlock(self, session: SessionInfo) -> None:
        with self._state:
            if self._lock_holder != session:
                raise DeviceOperationError("configuration database is not locked by this session")
            self._lock_holder = None
            # "If the NETCONF session ends or the application emits <unlock-configuration/>
            # before the candidate configuration is committed, all changes made to the candidate
            # are discarded" (Juniper, <lock-configuration/> tag summary, Junos XML protocol).
            self._candidate = self._history[0].config.copy()

    @property
    def lock_holder(self) -> SessionInfo | None:
        return self._lock_holder

    def _check_foreign_lock(self) -> None:
        user = self.faults.foreign_lock_user
        if user is not None:
            raise LockDenied(
                f"{user} terminal p0 (pid 4242) on since {_since(self.booted_at)}", None
            )

    def _denied(self) -> LockDenied:
        holder = self._lock_holder
        assert holder is not None
        return LockDenied(
            f"{holder.user} netconf session {holder.session_id} from {holder.peer}"
            f" on since {holder.started:%Y-%m-%d %H:%M:%S} UTC",
            holder.session_id,
        )

    def _require_edit(self, session: SessionInfo) -> None:
        self._check_foreign_lock()
        if self._lock_holder is not None and self._lock_holder != session:
            raise self._denied()

    # ---- candidate ----------------------------------------------------------------------
    def candidate(self) -> Configuration:
        with self._state:
            return self._candidate.copy()

    @contextmanager
    def editing(self, session: SessionInfo) -> Iterator[Configuration]:
        """Edit a copy of the candidate; it replaces the candidate only if the block succeeds."""
        with self._state:
            self._require_edit(session)
            work = self._candidate.copy()
            yield work
            self._candidate = work

    def replace_candidate(self, session: SessionInfo, config: Configuration) -> None:
        """Make the candidate a copy of ``config`` (``rollback N``, ``discard-changes``)."""
        with self._state:
            self._require_edit(session)
            self._candidate = config.copy()

    def discard_changes(self, session: SessionInfo) -> None:
        self.replace_candidate(session, self.committed)

    def rollback_config(self, index: int) -> Configuration:
        with self._state:
            if not 0 <= index < len(self._history):
                raise RollbackUnavailable(index)
            return self._history[index].config.copy()

    # ---- committed ----------------------------------------------------------------------
    @property
    def committed(self) -> Configuration:
        with self._state:
            return self._history[0].config.copy()

    @property
    def history(self) -> list[CommitRecord]:
        with self._state:
            return list(self._history)

    @property
    def confirm_pending(self) -> bool:
        return self._pending_confirm is not None

    async def commit(
        self,
        session: SessionInfo,
        *,
        check_only: bool = False,
        confirm_minutes: float | None = None,
        comment: str | None = None,
    ) -> list[CommitWarning]:
        """Check and (unless ``check_only``) activate the candidate; returns the warnings the
        commit answers with (it succeeded all the same).

        With a commit latency, the commit runs as its own task: a client that times out and
        drops the session does not stop it (the lock stays taken until it lands), as on Junos.
        """
        with self._state:
            if self.faults.commit_denied:
                raise PermissionDenied("permission denied")
            self._require_edit(session)
        latency = self.faults.commit_latency_s
        if latency > 0 and not check_only:
            with self._state:
                if self._lock_holder is None:
                    self._lock_holder = session  # an unlocked commit still excludes others
                    implicit = True
                else:
                    implicit = False
                self._committing, self._orphaned = session, False
            task = asyncio.get_running_loop().create_task(
                self._commit_after(session, latency, confirm_minutes, comment, implicit)
            )
            task.add_done_callback(_retrieve)
            return await asyncio.shield(task)
        return self._commit_now(
            session, check_only=check_only, confirm_minutes=confirm_minutes, comment=comment
        )

    async def _commit_after(
        self,
        session: SessionInfo,
        latency: float,
        confirm_minutes: float | None,
        comment: str | None,
        implicit_lock: bool,
    ) -> list[CommitWarning]:
        try:
            await asyncio.sleep(latency)
            return self._commit_now(
                session, check_only=False, confirm_minutes=confirm_minutes, comment=comment
            )
        finally:
            with self._state:
                self._committing = None
                if self._orphaned or implicit_lock:
                    if self._lock_holder == session:
                        self._lock_holder = None
                    if self._orphaned:
                        self._candidate = self._history[0].config.copy()
                self._orphaned = False

    def _commit_now(
        self,
        session: SessionInfo,
        *,
        check_only: bool,
        confirm_minutes: float | None,
        comment: str | None,
    ) -> list[CommitWarning]:
        with self._state:
            self._require_edit(session)
            candidate = self._candidate.copy()
            if not check_only and self.faults.failing_commits > 0:
                self.faults.failing_commits -= 1
                raise CommitFailed([(None, self.faults.commit_error_message)])
            problems: list[CommitCheckError] = candidate.check()
            if problems:
                raise CommitFailed([(p.path, str(p)) for p in problems])
            warnings = commit_warnings(candidate.effective_root())
            if check_only:
                # `commit check` also confirms a pending `commit confirmed`.
                self._cancel_confirm()
                return warnings
            restore = self._history[0].config
            self._activate(candidate, session.user, comment)
            if confirm_minutes is not None:
                self._arm_confirm(restore, confirm_minutes)
            else:
                self._cancel_confirm()
            return warnings

    def _activate(self, config: Configuration, user: str, comment: str | None) -> None:
        at = self._clock()
        self._history.appendleft(CommitRecord(config.copy(), at, user, comment))
        if self._fabric is not None:
            self._fabric.on_commit(self.name, config.copy(), at)
        notice(log, "%s: commit by %s (%s)", self.name, user, comment or "no comment")

    def _arm_confirm(self, restore: Configuration, minutes: float) -> None:
        loop = asyncio.get_running_loop()
        delay = minutes * self.profile.minute_s
        if self._pending_confirm is not None:
            # A second `commit confirmed` extends the window; the rollback target stays the
            # configuration from before the first one.
            restore = self._pending_confirm.restore
            self._pending_confirm.handle.cancel()
        handle = loop.call_later(delay, self._confirm_expired)
        self._pending_confirm = _PendingConfirm(restore, handle, self._clock() + delay)

    def _cancel_confirm(self) -> None:
        if self._pending_confirm is not None:
            self._pending_confirm.handle.cancel()
            self._pending_confirm = None

    def _confirm_expired(self) -> None:
        with self._state:
            pending = self._pending_confirm
            if pending is None:
                return
            self._pending_confirm = None
            edited = self._candidate != self._history[0].config
            self._activate(pending.restore, "root", "commit confirmed rollback complete")
            if not edited:
                self._candidate = pending.restore.copy()
        notice(log, "%s: commit confirmed not confirmed in time, rolled back", self.name)

    def shutdown(self) -> None:
        """Stop timers (the loop is going away)."""
        with self._state:
            self._cancel_confirm()


def _retrieve(task: asyncio.Task[list[CommitWarning]]) -> None:
    """Mark a commit task's failure retrieved (its session, if still there, got it too)."""
    if not task.cancelled() and task.exception() is not None:
        log.info("commit task failed: %s", task.exception())


def _since(at: float) -> str:
    return f"{datetime.fromtimestamp(at, tz=UTC):%Y-%m-%d %H:%M:%S} UTC"


def _host_name_filter() -> Any:
    root = etree.Element("configuration")
    etree.SubElement(etree.SubElement(root, "system"), "host-name")
    return root
