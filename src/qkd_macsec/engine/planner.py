"""The planner: a pure function from (links, journal history, clock) to the next wave's plan.

No I/O and no clock of its own, so every decision — is a link due, which key-chain slot, which
entries to prune, how long to back off after a failure — is tested exhaustively in unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from qkd_macsec.core.key_modes import KeyMode as KeyMode  # re-exported for the engine
from qkd_macsec.core.schedule import Backoff
from qkd_macsec.core.schedule import retry_delay as backoff_delay
from qkd_macsec.core.slots import next_free_slot
from qkd_macsec.engine.journal import ActiveKey, RotationRecord

#: Key-chain slots when the caller does not say (a link's own count comes from its ends'
#: platforms, ``LinkView.slots``).
SLOTS = 64


class Reason(StrEnum):
    BOOTSTRAP = "bootstrap"  # no key yet: initial config + first key
    DUE = "due"  # rotation interval elapsed
    RETRY = "retry"  # the last attempt failed and its back-off has passed
    FORCED = "forced"  # operator asked (rotate --force / demo)


@dataclass(frozen=True)
class LinkView:
    """What the planner needs to know about one link (built from the inventory)."""

    name: str
    rotation_interval: float  # seconds
    mode: KeyMode = KeyMode.KEY_CHAIN
    slots: int = SLOTS  # key-chain slots 0..slots-1 (the ends' platforms agree on these)


@dataclass(frozen=True)
class LinkHistory:
    """What the journal says about one link."""

    active: tuple[ActiveKey, ...] = ()  # newest first
    open_rotation: RotationRecord | None = None
    last_failure: datetime | None = None
    consecutive_failures: int = 0
    #: The last attempt changed some ends only (pre-shared-key mode cannot undo): the ends hold
    #: different CAKs and the link goes down when MKA drops the preceding key, so re-key soon.
    diverged: bool = False


@dataclass(frozen=True)
class PlanPolicy:
    keep_previous: int = 1
    retry_base: float = 30.0  # seconds; doubles per consecutive failure, capped at the interval
    retry_max: float = 3600.0
    diverged_retry: float = 5.0  # seconds; back-off cap while the ends hold different keys


@dataclass(frozen=True)
class PlannedRotation:
    link: str
    reason: Reason
    slot: int | None  # key-chain slot for the new key (None in pre-shared-key mode)
    keep_slots: frozenset[int]  # slots that must stay on the devices (current + previous)
    bootstrap: bool


@dataclass
class WavePlan:
    rotations: list[PlannedRotation] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # link -> why not now
    next_due: datetime | None = None  # earliest instant some skipped link becomes due

    @property
    def links(self) -> list[str]:
        return [r.link for r in self.rotations]


def next_slot(used: Iterable[int], after: int | None, slots: int = SLOTS) -> int:
    """The first slot of ``0 .. slots - 1`` after ``after`` (cyclically) that is not in use
    (the core rule)."""
    return next_free_slot(used, after, slots)


def _backoff(policy: PlanPolicy) -> Backoff:
    return Backoff(policy.retry_base, policy.retry_max, policy.diverged_retry)


def retry_delay(failures: int, interval: float, policy: PlanPolicy) -> float:
    """Back-off after ``failures`` consecutive failures (the core rule, without the cap)."""
    return backoff_delay(failures, interval, False, _backoff(policy))


def plan_link(
    link: LinkView,
    history: LinkHistory,
    now: datetime,
    policy: PlanPolicy,
    *,
    force: bool = False,
) -> tuple[PlannedRotation | None, str | None, datetime | None]:
    """Decide for one link: (rotation or None, why skipped, when due if skipped)."""
    if history.open_rotation is not None:
        return None, f"rotation {history.open_rotation.id} still open", None
    current = history.active[0] if history.active else None
    kept = [k for k in history.active[: policy.keep_previous + 1] if k.slot is not None]
    keep_slots = frozenset(k.slot for k in kept if k.slot is not None)

    reason: Reason | None = None
    due_at: datetime | None = None
    if force:
        reason = Reason.FORCED
    elif current is None:
        reason = Reason.BOOTSTRAP
    else:
        due_at = current.activated + timedelta(seconds=link.rotation_interval)
        if now >= due_at:
            reason = Reason.DUE
    if history.consecutive_failures and history.last_failure is not None and not force:
        delay = backoff_delay(
            history.consecutive_failures,
            link.rotation_interval,
            history.diverged,
            _backoff(policy),
        )
        retry_at = history.last_failure + timedelta(seconds=delay)
        if now < retry_at:
            return None, f"backing off after {history.consecutive_failures} failure(s)", retry_at
        if reason is None or reason is Reason.DUE:
            reason = Reason.RETRY if reason is None else reason
    if reason is None:
        return None, "not due", due_at

    strategy = link.mode.strategy
    slot: int | None = None
    if strategy.uses_key_chain:
        slot = next_slot(keep_slots, current.slot if current else None, link.slots)
    return (
        PlannedRotation(
            link=link.name,
            reason=reason,
            slot=slot,
            keep_slots=strategy.kept_slots(keep_slots),
            bootstrap=current is None,
        ),
        None,
        None,
    )


def plan_wave(
    links: Iterable[LinkView],
    histories: Mapping[str, LinkHistory],
    now: datetime,
    policy: PlanPolicy | None = None,
    *,
    force: Iterable[str] = (),
    blocked: Mapping[str, str] | None = None,
) -> WavePlan:
    """Every link that needs a new key now, and why the others do not.

    ``blocked``: links not to touch at all (their devices disagree with the journal), even if
    forced — reconciliation (engine/reconcile.py) says why.
    """
    policy = policy or PlanPolicy()
    forced = set(force)
    plan = WavePlan()
    for link in links:
        if blocked and link.name in blocked:
            plan.skipped[link.name] = blocked[link.name]
            continue
        rotation, why, due = plan_link(
            link, histories.get(link.name, LinkHistory()), now, policy, force=link.name in forced
        )
        if rotation is not None:
            plan.rotations.append(rotation)
            continue
        plan.skipped[link.name] = why or "not due"
        if due is not None and (plan.next_due is None or due < plan.next_due):
            plan.next_due = due
    return plan
