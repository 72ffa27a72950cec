"""The vendor-neutral device contract: typed data, the :class:`Driver` protocol, errors, registry.

The rotation engine speaks only this module's language; ``devices/junos.py`` maps it onto PyEZ,
and a second vendor is one more driver registered with its platform rules
(:mod:`qkd_macsec.devices.platform`). Vendor extras ride along opaquely in ``options``.

Errors raised by drivers (vendor exceptions are translated at the driver boundary, with texts
redacted so that no CAK or password ever shows in a message)::

    DeviceError                      .device names the device
     ├── DeviceConnectError          the session could not be opened (or dropped)
     │    ├── DeviceAuthError        credentials refused
     │    ├── DeviceHostKeyError     host key unknown or changed (known_hosts)
     │    └── DeviceUnreachableError refused, timed out, unknown host
     ├── DeviceTimeoutError          an RPC got no answer in time
     │    └── DeviceDeadlineError    the session's deadline had passed: the RPC was NOT sent
     ├── DeviceLockError             the configuration is locked by someone else
     ├── DeviceLoadError             the device refused the configuration lines
     ├── DeviceCommitError           the commit (or its checks) failed
     ├── DeviceCommitUncertainError  the commit answered unknown warnings only (it landed)
     ├── DevicePermissionError       the login lacks a permission (e.g. to commit)
     └── DeviceReplyError            a malformed or unexpected reply

Bad *input* (an unsafe name, a CAK of the wrong length) is refused before any I/O with
:class:`~qkd_macsec.devices.names.ConfigRenderError` (a :class:`ValueError`).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.posture import HopPosture, PqPolicy
from qkd_macsec.secret import Secret

#: How a platform's devices are managed: NETCONF over SSH, or a JSON-RPC API over HTTPS.
ManagementTransport = Literal["ssh", "https"]

__all__ = [
    "CaConfigState",
    "ChainEntryState",
    "ChangeSet",
    "CommitResult",
    "DeviceAuthError",
    "DeviceClock",
    "DeviceCommitError",
    "DeviceCommitUncertainError",
    "DeviceConnectError",
    "DeviceDeadlineError",
    "DeviceError",
    "DeviceFacts",
    "DeviceHostKeyError",
    "DeviceLoadError",
    "DeviceLockError",
    "DevicePermissionError",
    "DeviceReplyError",
    "DeviceTarget",
    "DeviceTimeoutError",
    "DeviceUnreachableError",
    "Driver",
    "DriverFactory",
    "DriverRegistry",
    "InterfaceState",
    "InvalidTargetError",
    "KeyChainEntry",
    "MacsecBinding",
    "MacsecConfigState",
    "ManagementTransport",
    "MkaSessionState",
    "NtpState",
    "StaticKey",
    "UnknownPlatformError",
]


# --------------------------------------------------------------------------------------- errors
class DeviceError(Exception):
    """A device operation failed. ``str()`` is safe to log: it never holds key material."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
        self.message = message

    def __reduce__(self) -> tuple[type[DeviceError], tuple[str, str]]:
        return (type(self), (self.device, self.message))


class DeviceConnectError(DeviceError):
    """The management session could not be opened, or it dropped."""


class DeviceAuthError(DeviceConnectError):
    """The device refused our credentials."""


class DeviceTransportPolicyError(DeviceConnectError):
    """The management session was classically key-exchanged under ``pq-required``
    (``policy.transport.ssh`` for SSH, ``policy.transport.tls`` for HTTPS): it was closed
    before any RPC (so before any key) was sent."""


class DeviceHostKeyError(DeviceConnectError):
    """The device's SSH host key is not the one in known_hosts (or is missing from it)."""


class DeviceUnreachableError(DeviceConnectError):
    """Connection refused, timed out, or the host name does not resolve."""


class DeviceTimeoutError(DeviceError):
    """An RPC got no answer within the target's timeout."""


class DeviceDeadlineError(DeviceTimeoutError):
    """The deadline set with :meth:`Driver.set_deadline` had passed before the RPC was sent, so
    the device never saw it (a commit refused this way certainly did not land)."""


class DeviceLockError(DeviceError):
    """The configuration database is locked by another session."""


class DeviceLoadError(DeviceError):
    """The device refused the configuration lines (syntax, unknown statement...)."""


class DeviceCommitError(DeviceError):
    """The commit failed (commit checks, a commit script, ...); nothing was committed."""


class DeviceCommitUncertainError(DeviceError):
    """The commit answered with warnings only, none of them a known harmless one: Junos
    committed it (a warning does not stop a commit), yet the driver cannot vouch for the
    outcome. Never "nothing was committed": the engine undoes such an end like one whose commit
    may have landed."""


class DeviceReplyError(DeviceError):
    """The device answered something malformed or unexpected."""


class DevicePermissionError(DeviceError):
    """The login may connect but lacks a permission the tool needs (configure, commit)."""


class InvalidTargetError(ValueError):
    """A :class:`DeviceTarget` is incomplete or inconsistent."""


class UnknownPlatformError(LookupError):
    """No driver is registered under a platform name."""


# ----------------------------------------------------------------------------------------- data
@dataclass(frozen=True, kw_only=True)
class DeviceTarget:
    """How to reach one device's management session: SSH (NETCONF) or HTTPS (NX-API), as the
    platform declares (``management``).

    SSH host keys are verified against ``known_hosts``; skipping that needs the explicit
    ``insecure_host_keys=True`` (drivers log a WARNING when they open such a target). Neither
    applies to an HTTPS target, whose certificate is always verified (``tls_ca``).
    ``port`` None: the platform's default port. ``options``: the platform's own extras (its
    driver reads them; the engine passes them through unread).
    """

    name: str
    host: str
    port: int | None = None
    user: str
    password: Secret | None = None
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    insecure_host_keys: bool = False
    timeout: float = 30.0
    options: object | None = None
    #: The CA bundle an HTTPS-managed device's certificate must chain to (NX-API); None: the
    #: system's trust store. TLS is always verified: there is no switch to turn it off.
    tls_ca: Path | None = None
    #: ``policy.transport.ssh``: a classical SSH key exchange is refused under pq-required.
    ssh_policy: PqPolicy = PqPolicy.PREFERRED
    #: ``policy.transport.tls``: a classical TLS group is refused under pq-required (HTTPS).
    tls_policy: PqPolicy = PqPolicy.PREFERRED
    #: The management transport (``Platform.management``): SSH settings apply to ``ssh`` only.
    management: ManagementTransport = "ssh"
    #: Told each session's measured posture (before the policy decides on it).
    on_posture: Callable[[HopPosture], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidTargetError("device target needs a name")
        if not self.host:
            raise InvalidTargetError(f"{self.name}: host is empty")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InvalidTargetError(f"{self.name}: port {self.port} is outside 1..65535")
        if not self.user:
            raise InvalidTargetError(f"{self.name}: user is empty")
        if self.password is None and self.ssh_key is None:
            raise InvalidTargetError(f"{self.name}: needs a password or an ssh_key")
        if self.management not in ("ssh", "https"):
            raise InvalidTargetError(f"{self.name}: unknown management {self.management!r}")
        if self.management == "ssh" and self.known_hosts is None and not self.insecure_host_keys:
            raise InvalidTargetError(
                f"{self.name}: known_hosts is required (or set insecure_host_keys=True)"
            )
        if not self.timeout > 0:
            raise InvalidTargetError(f"{self.name}: timeout must be positive")


@dataclass(frozen=True)
class DeviceClock:
    """A device's clock as read in one session: the instant it reports and its zone offset.

    ``now`` is aware UTC (the device's idea of the instant, skew included); ``utc_offset`` is the
    offset of its configured ``system time-zone`` at ``now``. Junos reads a key-chain
    ``start-time`` as wall-clock time in that zone (field evidence §1), so start-times must be
    written in it. ``zone``: the configured zone's name when the driver read it (``None``: not
    read, or not configured); it lets the engine use the offset in force at a FUTURE instant,
    which differs from ``utc_offset`` across a DST change.
    """

    now: datetime
    utc_offset: timedelta = timedelta(0)
    zone: str | None = None
    #: The clock's granularity in seconds (0: exact). A clock reported in whole seconds reads
    #: the floor of the true instant; the engine corrects by half of it and writes start-times
    #: rounded to it, so that two ends on one clock agree on the second.
    resolution_s: float = 0.0

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("DeviceClock.now must be timezone-aware")
        if not 0.0 <= self.resolution_s <= 60.0:
            raise ValueError(f"clock resolution {self.resolution_s} s is not 0..60")
        if abs(self.utc_offset) >= timedelta(hours=24):
            raise ValueError(f"UTC offset {self.utc_offset} is not a time-zone offset")
        object.__setattr__(self, "now", self.now.astimezone(UTC))

    def local(self, instant: datetime) -> datetime:
        """``instant`` (aware) as naive wall-clock time in the device zone, at this offset."""
        return (instant.astimezone(UTC) + self.utc_offset).replace(tzinfo=None)


@dataclass(frozen=True)
class KeyChainEntry:
    """One key of an authentication key chain: the hitless-rollover unit.

    ``cak`` holds the raw CAK bytes (16 or 32). ``start_time``: naive = the device's local
    wall-clock time, written as is (the engine converts with ``to_device_time``); an aware one is
    converted to UTC, which is right only for a device on UTC.
    ``suite``, when given, pins the CAK length; otherwise the chain's binding in the same
    :class:`ChangeSet` (if any) does, else 16 or 32 bytes are accepted.
    """

    chain: str
    slot: int
    ckn: str
    cak: Secret
    start_time: datetime
    suite: CipherSuite | None = None


@dataclass(frozen=True)
class StaticKey:
    """A CA's ``pre-shared-key`` (seed-compatible mode). ``cak``: raw CAK bytes."""

    ca: str
    ckn: str
    cak: Secret
    suite: CipherSuite | None = None


@dataclass(frozen=True)
class MacsecBinding:
    """The initial MACsec configuration of one interface (the seed's initial config).

    ``key_chain`` None means pre-shared-key mode. Settings are only ever added, never deleted:
    turning ``should_secure`` off again on a device is a manual change. ``options``: the
    platform's extras for this interface (see ``Platform.binding_options``), passed through.
    """

    interface: str
    ca: str
    cipher_suite: CipherSuite
    key_chain: str | None
    should_secure: bool = False
    exclude_protocols: tuple[str, ...] = ()
    key_server_priority: int | None = None
    transmit_interval_ms: int | None = None
    chain_tolerance_s: int | None = None
    options: object | None = None


@dataclass
class ChangeSet:
    """Everything one commit on one device does (all links rotating in one wave)."""

    bindings: list[MacsecBinding] = field(default_factory=list)
    add_entries: list[KeyChainEntry] = field(default_factory=list)
    remove_entries: list[tuple[str, int]] = field(default_factory=list)
    static_keys: list[StaticKey] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.bindings or self.add_entries or self.remove_entries or self.static_keys)

    def secrets(self) -> list[Secret]:
        """Every CAK this change set carries (to scrub from any text a device echoes back)."""
        return [e.cak for e in self.add_entries] + [k.cak for k in self.static_keys]


@dataclass(frozen=True)
class ChainEntryState:
    """A committed key-chain key as read back (never with its secret). ``start_time`` is UTC."""

    chain: str
    slot: int
    ckn: str
    start_time: datetime


@dataclass(frozen=True)
class MkaSessionState:
    """One MKA session row (``show security mka sessions``)."""

    interface: str
    cak_name: str
    cak_type: str
    live: bool
    raw_state: str
    member_id: str = ""
    key_server: bool | None = None
    interface_state: str = ""


@dataclass(frozen=True)
class CommitResult:
    device: str
    changed: bool
    diff_lines: int
    seconds: float


@dataclass(frozen=True)
class DeviceFacts:
    """What the device says it is (``show version``)."""

    hostname: str
    model: str
    version: str


@dataclass(frozen=True)
class InterfaceState:
    """A physical interface as ``show interfaces NAME`` reports it; ``exists`` False when the
    device says there is no such interface."""

    name: str
    exists: bool
    admin_up: bool | None = None
    oper_up: bool | None = None


@dataclass(frozen=True)
class NtpState:
    """``show ntp status``: ``synchronised`` only when the daemon reports a sync source and a
    stratum below 16; ``raw_status`` is the device's status line, for the operator."""

    synchronised: bool
    leap: str | None
    sync_source: str | None
    stratum: int | None
    offset_ms: float | None
    raw_status: str


@dataclass(frozen=True)
class CaConfigState:
    """A committed ``security macsec connectivity-association`` (never with a CAK)."""

    name: str
    cipher_suite: str | None
    pre_shared_key_ckn: str | None
    pre_shared_key_chain: str | None


@dataclass(frozen=True)
class MacsecConfigState:
    """The committed MACsec settings preflight compares with the inventory."""

    cas: dict[str, CaConfigState]
    bindings: dict[str, str]  # interface -> connectivity-association


# ------------------------------------------------------------------------------------- contract
@runtime_checkable
class Driver(Protocol):
    """What the engine needs from a device. Synchronous: the engine runs drivers in a bounded
    thread pool, one thread per driver at a time (drivers are not thread-safe)."""

    def open(self) -> None:
        """Open the session, verifying the host key unless the target says otherwise."""

    def close(self) -> None:
        """Close the session; never raises."""

    def is_alive(self) -> bool: ...

    def set_deadline(self, deadline: float | None) -> None:
        """Every later RPC (and ``open``) must be answered by ``deadline`` (epoch seconds):
        its timeout is the target's timeout or the time left, whichever is shorter, and an RPC
        due after the deadline is not sent (:class:`DeviceDeadlineError`). None: no deadline.
        The engine derives deadlines from the activation instant, so that no device session
        outlives the moment the engine must decide what to undo."""

    def device_time(self) -> DeviceClock:
        """The device clock and its zone offset, read in one RPC (start-time scheduling: a
        start-time is written in the device's own zone, skew included)."""

    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        """Lock, load, diff, commit (only if the diff is not empty), unlock — always unlocking,
        and discarding the candidate on any failure."""

    def render(self, changes: ChangeSet) -> str:
        """The configuration text ``apply`` would load for ``changes``, every CAK masked (for
        display: ``config show``). Pure: needs no session."""

    def preview(self, changes: ChangeSet) -> int:
        """Lock, load, diff, discard, unlock: the changed lines ``apply`` would commit now.
        Holding the lock makes the answer final: no commit is still running on the device."""

    def confirm_commit(self, *, comment: str) -> None:
        """Confirm an earlier ``apply(..., confirm_minutes=N)`` before the device rolls it back."""

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        """The committed keys of one chain, sorted by slot; secrets are never returned."""

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]: ...

    def macsec_bindings(self) -> dict[str, str]:
        """Committed ``security macsec interfaces``: interface -> connectivity-association."""

    # Read-only verbs used by ``preflight`` (none of them changes the device).
    def facts(self) -> DeviceFacts:
        """Host name, model and software version."""

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        """The state of each named physical interface (``exists`` False when absent)."""

    def ntp_status(self) -> NtpState: ...

    def macsec_capable(self) -> bool:
        """True when the device answers its MACsec operational command (the feature exists)."""

    def macsec_config(self) -> MacsecConfigState:
        """Committed connectivity associations and interface bindings (no secrets)."""

    def commit_check(self) -> bool:
        """Lock, ``commit check`` the unchanged candidate, unlock: proves the login may commit
        without changing anything. Raises :class:`DevicePermissionError` when it may not.

        Returns False, having checked nothing, when a ``commit confirmed`` is pending: on Junos
        ``commit check`` confirms it (stops its rollback), which would change the device."""


DriverFactory = Callable[[DeviceTarget], Driver]


class DriverRegistry:
    """Drivers by platform name. Built-ins are registered lazily by import path so that the
    vendor libraries load only when a device of that platform is used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factories: dict[str, DriverFactory] = {}
        self._lazy: dict[str, str] = {}

    def register(self, platform: str, factory: DriverFactory) -> None:
        with self._lock:
            self._factories[platform] = factory
            self._lazy.pop(platform, None)

    def register_lazy(self, platform: str, target: str) -> None:
        """Register ``"package.module:ClassName"`` to be imported on first use."""
        with self._lock:
            self._lazy[platform] = target

    def platforms(self) -> list[str]:
        with self._lock:
            return sorted(set(self._factories) | set(self._lazy))

    def get(self, platform: str) -> DriverFactory:
        with self._lock:
            factory = self._factories.get(platform)
            lazy = self._lazy.get(platform)
        if factory is not None:
            return factory
        if lazy is None:
            known = ", ".join(self.platforms()) or "none"
            raise UnknownPlatformError(f"no driver for platform {platform!r} (known: {known})")
        module_name, _, attr = lazy.partition(":")
        loaded: DriverFactory = getattr(importlib.import_module(module_name), attr)
        self.register(platform, loaded)
        return loaded

    def create(self, target: DeviceTarget, platform: str) -> Driver:
        return self.get(platform)(target)
