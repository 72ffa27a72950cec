"""Device steps the engine runs: stage a wave on one device, remove entries, read, verify.

Each step runs on the device's pooled session (:mod:`qkd_macsec.engine.session_pool`: one
session per router, opened for staging and reused by the wave's later steps and the next wave),
awaiting an :class:`~qkd_macsec.devices.async_base.AsyncDriver` (asyncio-native, or a synchronous
driver run in a thread pool). They return plain results and raise only
:class:`~qkd_macsec.devices.base.DeviceError` (already redacted by the driver).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qkd_macsec.devices.async_base import AsyncDriver
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceCommitError,
    DeviceConnectError,
    DeviceDeadlineError,
    DeviceError,
    DeviceLoadError,
    DeviceLockError,
    Driver,
    KeyChainEntry,
    MacsecBinding,
    MkaSessionState,
    StaticKey,
)
from qkd_macsec.engine.session_pool import SessionPool

DriverFor = Callable[[str], Driver]
"""A new, unopened driver for the named device."""


class StageTooLateError(DeviceError):
    """The session reached the device too close to the activation instant to stage safely."""

    keeps_session = True  # refused before the lock: the session is as good as before


class BootstrapRefused(DeviceError):
    """A first key was planned but the chain already holds entries: the initial configuration
    is never applied over keys in force (another journal's, or a lost journal's)."""

    keeps_session = True


class StageFailed(DeviceError):
    """Staging on one device failed. ``maybe_committed``: the failure came while the commit was
    in flight (timeout, dropped session, malformed reply), so the entry may be on the device and
    must be removed like a staged one; otherwise the device certainly did not take it."""

    def __init__(
        self,
        device: str,
        message: str,
        *,
        maybe_committed: bool,
        unreachable: bool = False,
        seconds: float = 0.0,
        commit_offset: float | None = None,
    ) -> None:
        super().__init__(device, message)
        self.maybe_committed = maybe_committed
        self.unreachable = unreachable  # no session could be opened
        self.seconds = seconds  # how long the session ran before it failed
        self.commit_offset = commit_offset  # seconds into the session the commit began


#: Failures after which Junos certainly did not commit: the candidate was refused or discarded,
#: or the commit RPC was never sent (the session's deadline had passed).
_NOT_COMMITTED = (
    DeviceLockError,
    DeviceLoadError,
    DeviceCommitError,
    StageTooLateError,
    BootstrapRefused,
    DeviceDeadlineError,
)


def _describe(exc: BaseException) -> str:
    """The failure without the device name (StageFailed adds it once)."""
    detail = exc.message if isinstance(exc, DeviceError) else str(exc)
    return f"{type(exc).__name__}: {detail}"


@dataclass(frozen=True)
class StageItem:
    """One link's share of a device's wave commit."""

    rotation_id: int
    link: str
    entry: KeyChainEntry | None  # key-chain mode: start_time is the REAL UTC instant here
    static: StaticKey | None  # pre-shared-key mode
    chain: str | None
    keep_slots: frozenset[int]
    bindings: tuple[MacsecBinding, ...]  # initial config, on bootstrap


@dataclass
class StageOutcome:
    device: str
    commit: CommitResult | None = None
    clock_offset: float = 0.0  # device clock minus controller clock, seconds
    utc_offset: timedelta = timedelta(0)  # the device's system time-zone offset when staged
    pruned: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    returned_at: float = 0.0  # controller epoch seconds the commit's reply arrived
    commit_offset: float = 0.0  # seconds into the session the commit RPC was sent


@dataclass(frozen=True)
class SessionClock:
    """A device clock as measured in one session: its skew against the controller, the offset
    of its ``system time-zone`` now, and the zone's rules when known (for DST)."""

    skew_s: float = 0.0  # device clock minus controller clock, seconds
    utc_offset: timedelta = timedelta(0)
    zone: tzinfo | None = None  # None: use utc_offset for every instant


class StageAmbiguousTimeError(StageTooLateError):
    """The activation instant is wall-clock time that occurs twice in the device's zone (the
    hour repeated when DST ends): a Junos start-time carries no offset, so it cannot say which."""


def _zone(name: str | None, now: datetime, measured: timedelta) -> tzinfo | None:
    """The device's zone rules, trusted only if they agree with the offset it reports now."""
    if name is None:
        return UTC if measured == timedelta(0) else None  # Junos' default zone is UTC
    if name.upper() in ("UTC", "GMT"):
        zone: tzinfo = UTC
    else:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return zone if now.astimezone(zone).utcoffset() == measured else None


async def _measure_offset(driver: AsyncDriver) -> SessionClock:
    """Skew against the controller's midpoint of the RPC, and the device's zone (offset now and
    rules), all read in this session (``Driver.device_time``)."""
    before = time.time()
    reading: DeviceClock = await driver.device_time()
    after = time.time()
    # A clock reported in whole units (Junos: whole seconds, ``junos:seconds``) reads the floor
    # of the true value: during the RPC it read somewhere in [s, s + r), s + r/2 on average.
    # Without this every skew estimate is biased low by r/2, and two ends on the same clock
    # round one start-time to different whole seconds half of the time.
    device_seconds = reading.now.timestamp() + reading.resolution_s / 2
    skew = device_seconds - (before + after) / 2
    return SessionClock(
        skew, reading.utc_offset, _zone(reading.zone, reading.now, reading.utc_offset)
    )


def to_device_time(instant: datetime, clock: SessionClock) -> datetime:
    """A real instant as the device's naive local wall-clock time (its skew and zone applied),
    rounded to whole seconds (what a start-time holds).

    A key-chain ``start-time`` is written in the zone the driver's ``device_time`` reports (on
    Junos its ``system time-zone``, field evidence §1; a platform that takes UTC reports offset
    0). With the zone's rules the offset is the one in force AT ``instant`` (a DST change
    between staging and activation is honoured); without them, the offset measured now.
    """
    whole = device_instant(instant, clock)
    if clock.zone is not None:
        return whole.astimezone(clock.zone).replace(tzinfo=None)
    return (whole + clock.utc_offset).replace(tzinfo=None)


def is_ambiguous(wall: datetime, clock: SessionClock) -> bool:
    """True when ``wall`` happens twice in the device's zone (DST ending)."""
    if clock.zone is None:
        return False
    first = wall.replace(tzinfo=clock.zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=clock.zone, fold=1).utcoffset()
    return first != second


@contextmanager
def device_session(
    factory: DriverFor, device: str, *, deadline: float | None = None
) -> Iterator[Driver]:
    """One NETCONF session on one device, closed however the block ends. ``deadline`` (epoch
    seconds) caps every RPC of the session (see :meth:`Driver.set_deadline`)."""
    driver = factory(device)
    if deadline is not None:
        driver.set_deadline(deadline)
    driver.open()
    try:
        yield driver
    finally:
        driver.close()


async def stage_device(
    sessions: SessionPool,
    device: str,
    items: Sequence[StageItem],
    *,
    comment: str,
    not_after: float | None,
    deadline: float | None = None,
) -> StageOutcome:
    """One commit that adds every link's new entry on this device and prunes old ones.

    Start-times are converted to the device's own clock (measured in the same session).
    ``not_after`` (controller epoch seconds): refuse to commit past it, so a slow wave never
    activates a key on one end after the other end's chance to be staged has passed.
    ``deadline`` (epoch seconds): every RPC of the session is answered by then or given up on
    (the driver caps its timeouts), so the session never outlives the engine's decision instant.
    Any failure is raised as :class:`StageFailed`, saying whether the commit may have landed.
    """
    started = time.monotonic()
    outcome = StageOutcome(device)
    in_commit = False
    commit_offset: float | None = None
    try:
        async with sessions.session(device, deadline=deadline) as driver:
            changes = await _prepare(driver, device, items, outcome)
            if not_after is not None and time.time() > not_after:
                raise StageTooLateError(
                    device, "reached too close to the activation time; not staged"
                )
            in_commit = True
            commit_offset = outcome.commit_offset = time.monotonic() - started
            outcome.commit = await driver.apply(changes, comment=comment)
            outcome.returned_at = time.time()
            outcome.pruned = list(changes.remove_entries)
    except Exception as exc:
        maybe = in_commit and not isinstance(exc, _NOT_COMMITTED)
        unreachable = isinstance(exc, DeviceConnectError) and not in_commit
        raise StageFailed(
            device,
            _describe(exc),
            maybe_committed=maybe,
            unreachable=unreachable,
            seconds=time.monotonic() - started,
            commit_offset=commit_offset,
        ) from None
    outcome.seconds = time.monotonic() - started
    return outcome


async def _prepare(
    driver: AsyncDriver, device: str, items: Sequence[StageItem], outcome: StageOutcome
) -> ChangeSet:
    """The wave's change set for one device: bindings, new entries in device time, pruning."""
    clock = await _measure_offset(driver)
    outcome.clock_offset = clock.skew_s
    outcome.utc_offset = clock.utc_offset
    changes = ChangeSet(bindings=[], add_entries=[], remove_entries=[], static_keys=[])
    for item in items:
        changes.bindings.extend(item.bindings)
        if item.static is not None:
            changes.static_keys.append(item.static)
        if item.entry is None or item.chain is None:
            continue
        local_start = to_device_time(item.entry.start_time, clock)
        if is_ambiguous(local_start, clock):
            raise StageAmbiguousTimeError(
                device,
                f"activation falls in the repeated hour of the device's DST change "
                f"({local_start:%Y-%m-%d %H:%M:%S} local); not staged",
            )
        entry = KeyChainEntry(
            chain=item.entry.chain,
            slot=item.entry.slot,
            ckn=item.entry.ckn,
            cak=item.entry.cak,
            start_time=local_start,
            suite=item.entry.suite,
        )
        changes.add_entries.append(entry)
        states = await driver.key_chain(item.chain)
        if item.bindings:  # bootstrap: nothing of ours to prune, and nothing else may be there
            if states:
                raise BootstrapRefused(
                    device,
                    f"{item.chain} already holds {len(states)} entry(ies); not bootstrapping",
                )
            continue
        # Compare instants on the device's clock, not wall times (which repeat across DST):
        # read-back start-times carry the zone offset (field evidence §1) and parse aware.
        device_now = device_instant(datetime.now(UTC), clock)
        device_start = device_instant(item.entry.start_time, clock)
        if any(_aware(state.start_time) >= device_start for state in states):
            raise StageTooLateError(
                device, f"{item.chain} already has an entry starting at or after the new one"
            )
        keep = set(item.keep_slots) | {entry.slot}
        in_force = active_entry(states, device_now)
        if in_force is not None:
            keep.add(in_force.slot)  # never prune what the device runs on now
        # ... nor an entry still to come (another controller's pending rotation)
        keep.update(state.slot for state in states if _aware(state.start_time) > device_now)
        changes.remove_entries.extend(
            (item.chain, state.slot) for state in states if state.slot not in keep
        )
    return changes


def _aware(when: datetime) -> datetime:
    """A read-back start-time as an aware instant (a naive one is taken as UTC)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def device_instant(instant: datetime, clock: SessionClock) -> datetime:
    """A real instant on the device's clock (skew applied), whole seconds, aware UTC (a naive
    instant is taken as UTC)."""
    shifted = _aware(instant).astimezone(UTC) + timedelta(seconds=clock.skew_s)
    return datetime.fromtimestamp(round(shifted.timestamp()), UTC)


def active_entry(states: Sequence[ChainEntryState], device_now: datetime) -> ChainEntryState | None:
    """The entry a key chain runs on at ``device_now`` (the device clock; naive = UTC): the
    latest start-time already passed. Instants, not wall times, so any zone compares right."""
    now = _aware(device_now)
    passed = [s for s in states if _aware(s.start_time) <= now]
    return max(passed, key=lambda s: _aware(s.start_time), default=None)


async def remove_entries(
    sessions: SessionPool,
    device: str,
    entries: Sequence[tuple[str, int]],
    *,
    comment: str,
    deadline: float | None = None,
) -> CommitResult:
    """Undo: delete staged key-chain entries (one commit). ``changed`` False: none was there.

    Holding the configuration lock while finding none proves that no commit of ours is still
    in flight on the device (Junos keeps the lock until a commit ends, even a commit whose
    session has gone), so a late-landing entry cannot appear afterwards.
    """
    async with sessions.session(device, deadline=deadline) as driver:
        return await driver.apply(ChangeSet(remove_entries=list(entries)), comment=comment)


async def entries_present(
    sessions: SessionPool,
    device: str,
    entries: Sequence[tuple[str, int]],
    *,
    deadline: float | None = None,
) -> int:
    """How many of ``entries`` the device has, asked under its configuration lock: a final
    answer (a commit still running holds the lock, and this raises DeviceLockError)."""
    async with sessions.session(device, deadline=deadline) as driver:
        return await driver.preview(ChangeSet(remove_entries=list(entries)))


async def restore_entries(
    sessions: SessionPool,
    device: str,
    entries: Sequence[KeyChainEntry],
    *,
    comment: str,
    deadline: float | None = None,
) -> CommitResult:
    """Put entries back (their start-times are REAL UTC instants, converted to the device clock
    measured in this session): a late end's commit landed, so its peers take the same key
    again instead of the late end being undone. Nothing is pruned; an entry already there is
    no change."""
    async with sessions.session(device, deadline=deadline) as driver:
        clock = await _measure_offset(driver)
        local = [
            KeyChainEntry(
                chain=e.chain,
                slot=e.slot,
                ckn=e.ckn,
                cak=e.cak,
                start_time=to_device_time(e.start_time, clock),
                suite=e.suite,
            )
            for e in entries
        ]
        return await driver.apply(ChangeSet(add_entries=local), comment=comment)


async def read_chains(
    sessions: SessionPool, device: str, chains: Sequence[str], *, deadline: float | None = None
) -> dict[str, list[ChainEntryState]]:
    """The committed entries of each named key chain (no secrets)."""
    async with sessions.session(device, deadline=deadline) as driver:
        return {chain: await driver.key_chain(chain) for chain in chains}


async def read_live_mka(
    sessions: SessionPool, device: str, interfaces: Sequence[str]
) -> list[MkaSessionState]:
    """MKA sessions of ``interfaces`` on the device's pooled session (verification polls)."""
    async with sessions.session(device) as driver:
        return await driver.mka_sessions(list(interfaces))


def read_mka(factory: DriverFor, device: str, interfaces: Sequence[str]) -> list[MkaSessionState]:
    """One synchronous session (``status`` reads outside the engine)."""
    with device_session(factory, device) as driver:
        return driver.mka_sessions(list(interfaces))


def live_ckn(sessions: Sequence[MkaSessionState], interface: str) -> set[str]:
    """Lowercased CKNs of the live sessions on an interface (Junos shows CKNs upper-case)."""
    return {s.cak_name.lower() for s in sessions if s.interface == interface and s.live}
