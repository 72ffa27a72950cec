"""Device sessions the engine runs: stage a wave on one device, remove entries, read, verify.

Each function is one NETCONF session on one device (open … close), synchronous because PyEZ is;
the executor runs many of them in a bounded thread pool. They return plain results and raise only
:class:`~qkd_macsec.devices.base.DeviceError` (already redacted by the driver).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
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

DriverFor = Callable[[str], Driver]
"""A new, unopened driver for the named device."""


class StageTooLateError(DeviceError):
    """The session reached the device too close to the activation instant to stage safely."""


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
    pruned: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    returned_at: float = 0.0  # controller epoch seconds the commit's reply arrived


def _measure_offset(driver: Driver) -> float:
    before = time.time()
    device_now = driver.device_time()
    after = time.time()
    midpoint = datetime.fromtimestamp((before + after) / 2, UTC)
    if device_now.tzinfo is None:
        device_now = device_now.replace(tzinfo=UTC)
    return (device_now - midpoint).total_seconds()


def to_device_time(instant: datetime, clock_offset: float) -> datetime:
    """A real instant as the device's naive local (UTC) time, rounded to Junos' whole seconds."""
    local = instant + timedelta(seconds=clock_offset)
    return datetime.fromtimestamp(round(local.timestamp()), UTC).replace(tzinfo=None)


def stage_device(
    factory: DriverFor,
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
        driver = factory(device)
        driver.set_deadline(deadline)
        driver.open()
        try:
            changes = _prepare(driver, device, items, outcome)
            if not_after is not None and time.time() > not_after:
                raise StageTooLateError(
                    device, "reached too close to the activation time; not staged"
                )
            in_commit = True
            commit_offset = time.monotonic() - started
            outcome.commit = driver.apply(changes, comment=comment)
            outcome.returned_at = time.time()
            outcome.pruned = list(changes.remove_entries)
        finally:
            driver.close()
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


def _prepare(
    driver: Driver, device: str, items: Sequence[StageItem], outcome: StageOutcome
) -> ChangeSet:
    """The wave's change set for one device: bindings, new entries in device time, pruning."""
    outcome.clock_offset = _measure_offset(driver)
    changes = ChangeSet(bindings=[], add_entries=[], remove_entries=[], static_keys=[])
    for item in items:
        changes.bindings.extend(item.bindings)
        if item.static is not None:
            changes.static_keys.append(item.static)
        if item.entry is None or item.chain is None:
            continue
        local_start = to_device_time(item.entry.start_time, outcome.clock_offset)
        entry = KeyChainEntry(
            chain=item.entry.chain,
            slot=item.entry.slot,
            ckn=item.entry.ckn,
            cak=item.entry.cak,
            start_time=local_start,
            suite=item.entry.suite,
        )
        changes.add_entries.append(entry)
        if item.bindings:
            continue  # bootstrap: nothing of ours to prune yet
        device_now = datetime.now(UTC) + timedelta(seconds=outcome.clock_offset)
        states = driver.key_chain(item.chain)
        if any(state.start_time.replace(tzinfo=None) >= local_start for state in states):
            raise StageTooLateError(
                device, f"{item.chain} already has an entry starting at or after the new one"
            )
        keep = set(item.keep_slots) | {entry.slot}
        in_force = active_entry(states, device_now.replace(tzinfo=None))
        if in_force is not None:
            keep.add(in_force.slot)  # never prune what the device runs on now
        changes.remove_entries.extend(
            (item.chain, state.slot) for state in states if state.slot not in keep
        )
    return changes


def active_entry(states: Sequence[ChainEntryState], device_now: datetime) -> ChainEntryState | None:
    """The entry a key chain runs on at ``device_now``: the latest start-time already passed."""
    passed = [s for s in states if s.start_time.replace(tzinfo=None) <= device_now]
    return max(passed, key=lambda s: s.start_time.replace(tzinfo=None), default=None)


def remove_entries(
    factory: DriverFor,
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
    driver = factory(device)
    driver.set_deadline(deadline)
    driver.open()
    try:
        changes = ChangeSet(
            bindings=[], add_entries=[], remove_entries=list(entries), static_keys=[]
        )
        return driver.apply(changes, comment=comment)
    finally:
        driver.close()


def entries_present(
    factory: DriverFor,
    device: str,
    entries: Sequence[tuple[str, int]],
    *,
    deadline: float | None = None,
) -> int:
    """How many of ``entries`` the device has, asked under its configuration lock: a final
    answer (a commit still running holds the lock, and this raises DeviceLockError)."""
    driver = factory(device)
    driver.set_deadline(deadline)
    driver.open()
    try:
        changes = ChangeSet(
            bindings=[], add_entries=[], remove_entries=list(entries), static_keys=[]
        )
        return driver.preview(changes)
    finally:
        driver.close()


def restore_entries(
    factory: DriverFor,
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
    driver = factory(device)
    driver.set_deadline(deadline)
    driver.open()
    try:
        offset = _measure_offset(driver)
        local = [
            KeyChainEntry(
                chain=e.chain,
                slot=e.slot,
                ckn=e.ckn,
                cak=e.cak,
                start_time=to_device_time(e.start_time, offset),
                suite=e.suite,
            )
            for e in entries
        ]
        changes = ChangeSet(bindings=[], add_entries=local, remove_entries=[], static_keys=[])
        return driver.apply(changes, comment=comment)
    finally:
        driver.close()


def read_chains(
    factory: DriverFor, device: str, chains: Sequence[str], *, deadline: float | None = None
) -> dict[str, list[ChainEntryState]]:
    """The committed entries of each named key chain (no secrets)."""
    driver = factory(device)
    driver.set_deadline(deadline)
    driver.open()
    try:
        return {chain: driver.key_chain(chain) for chain in chains}
    finally:
        driver.close()


def read_mka(factory: DriverFor, device: str, interfaces: Sequence[str]) -> list[MkaSessionState]:
    driver = factory(device)
    driver.open()
    try:
        return driver.mka_sessions(list(interfaces))
    finally:
        driver.close()


def live_ckn(sessions: Sequence[MkaSessionState], interface: str) -> set[str]:
    """Lowercased CKNs of the live sessions on an interface (Junos shows CKNs upper-case)."""
    return {s.cak_name.lower() for s in sessions if s.interface == interface and s.live}
