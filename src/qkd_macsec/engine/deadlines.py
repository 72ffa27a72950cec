"""Deadline arithmetic for one staging wave: pure functions of measured latencies and the clock.

A wave stages a new key-chain entry with start-time T on every end of its links. Whatever a
device does, every link must end on a key both ends share, so the wave runs on fixed instants::

    now ──── staging ────► D (decision) ──── undo budget ────► T (activation)
              │                    │                             │
              │ each commit starts │ every stage RPC is answered │ every undo has landed
              │ by not_after(dev)  │ or given up on by D         │ (minus clock tolerance)

At D the engine stops waiting: an end not confirmed committed is treated as failed (maybe
committed), and the ends that have the entry are undone while there is still time before T.

T comes from the predicted completion of *this* wave (:func:`predict_staging`): each device's
planned session (plus a connection when its kept session is gone) scheduled on the sessions
the controller may run at once, as the executor starts them — not rounds times the slowest.

Estimates come from each device's own history (a high percentile of its observed session and
commit latency, kept in the journal), capped by its configured RPC timeout: a router known to be
slow widens the margin instead of breaking it.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "DeviceTiming",
    "LatencyHistory",
    "WaveDeadlines",
    "device_timing",
    "estimate",
    "percentile",
    "plan_deadlines",
    "predict_staging",
]

#: Samples kept per device and kind (the journal stores them; older ones drop off).
#: Journal meta key prefix of a device's latency history.
LATENCY_META = "latency:"
HISTORY = 20
#: The percentile an estimate is taken at.
QUANTILE = 0.95
#: With fewer samples than ``CALIBRATED`` a device's spread is not measured yet: its estimate
#: is ``SAFETY`` times the percentile (with one to four samples, the slowest one seen).
CALIBRATED = 5
SAFETY = 1.5
#: With ``CALIBRATED`` samples or more, the margin comes from the device's own spread: the
#: percentile, plus ``HEADROOM`` of it (the controller's own timing jitter), plus ``SPREAD``
#: robust standard deviations (1.4826 times the median absolute deviation; one wild sample does
#: not move it, a router whose latency varies a lot gets a wide margin). A steady router is
#: planned ~10 % over its 95th percentile instead of 50 %: the activation delay follows what
#: was measured, and D still lies past the percentile.
HEADROOM = 0.1
SPREAD = 2.0
_MAD_TO_SIGMA = 1.4826  # consistent with the standard deviation of a normal distribution


def percentile(samples: Sequence[float], q: float = QUANTILE) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LatencyHistory:
    """A device's recent observations, seconds. A session that was cut short by a deadline is
    recorded with the time it had used: a lower bound, which still widens the next margin."""

    session: tuple[float, ...] = ()  # open … commit returned (or given up)
    commit: tuple[float, ...] = ()  # the commit RPC alone

    def with_sample(self, session: float | None, commit: float | None) -> LatencyHistory:
        return LatencyHistory(
            session=_keep(self.session, session),
            commit=_keep(self.commit, commit),
        )

    def to_json(self) -> dict[str, list[float]]:
        return {"session": list(self.session), "commit": list(self.commit)}

    @classmethod
    def from_json(cls, value: object) -> LatencyHistory:
        if not isinstance(value, Mapping):
            return cls()
        return cls(session=_floats(value.get("session")), commit=_floats(value.get("commit")))


def _keep(samples: tuple[float, ...], new: float | None) -> tuple[float, ...]:
    if new is None or not math.isfinite(new) or new < 0:
        return samples
    return (*samples, round(new, 3))[-HISTORY:]


def _floats(value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(float(v) for v in value if isinstance(v, int | float) and v >= 0)[-HISTORY:]


def estimate(samples: Sequence[float]) -> float | None:
    """A latency to plan on from ``samples`` (seconds): calibrated by their spread once there
    are ``CALIBRATED`` of them, ``SAFETY`` times the percentile before; None without any."""
    p = percentile(samples)
    if p is None:
        return None
    if len(samples) < CALIBRATED:
        return SAFETY * p
    median = statistics.median(samples)
    mad = statistics.median(abs(s - median) for s in samples)
    return p * (1.0 + HEADROOM) + SPREAD * _MAD_TO_SIGMA * mad


@dataclass(frozen=True)
class DeviceTiming:
    """What the wave plans for one device, seconds."""

    session: float  # a whole stage session (open, read, commit)
    commit: float  # the commit RPC alone
    undo: float  # an undo session (open, commit)
    timeout: float  # configured RPC timeout: no estimate exceeds it


def device_timing(history: LatencyHistory, timeout: float, initial: float) -> DeviceTiming:
    """A device's planned latencies: :func:`estimate` of its session and commit history.

    A session is the part before the commit (open, clock, reads) plus the commit; the commit is
    capped by the RPC timeout (a longer one fails on its own timeout anyway). Before anything is
    measured, a session takes ``initial``, half of it committing. The commit guard is D minus
    the commit estimate, so the part before it always keeps its own share of the session.
    """
    session_e = estimate(history.session)
    commit_e = estimate(history.commit)
    if session_e is None:
        before, commit = initial / 2, initial / 2
    elif commit_e is None:
        before, commit = session_e / 2, session_e / 2
    else:
        before, commit = max(session_e - commit_e, 0.0), commit_e
    if before <= 0:
        before = initial / 2
    commit = min(timeout, commit)
    before = min(timeout, before)
    session = before + commit
    # an undo session opens and commits: no longer than a stage session
    return DeviceTiming(session=session, commit=commit, undo=session, timeout=timeout)


@dataclass(frozen=True)
class WaveDeadlines:
    """The instants one wave runs on (controller epoch seconds, except ``activation``)."""

    activation: datetime  # T, what the entries' start-time says
    decide_at: float  # D: every stage session is answered (or given up on) by now
    undo_by: float  # undo commits must land before this (T minus the clock tolerance)
    not_after: Mapping[str, float]  # per device: last instant its commit may start
    delay: float  # T - now when planned
    staging: float = 0.0  # the predicted completion of staging, seconds after now

    @property
    def activation_epoch(self) -> float:
        return self.activation.timestamp()


def predict_staging(durations: Sequence[float], concurrency: int) -> float:
    """When the last of ``durations`` ends, started in order on ``concurrency`` sessions at a
    time (each waits for the first one to free up: how a semaphore or a thread pool runs
    them). With room for all it is the slowest; with fewer it is the greedy schedule's
    makespan — never more than rounds times the slowest, often much less when one device
    is slow and the rest are fast."""
    if not durations:
        return 0.0
    lanes = [0.0] * max(1, min(concurrency, len(durations)))
    for duration in durations:
        start = heapq.heappop(lanes)
        heapq.heappush(lanes, start + max(duration, 0.0))
    return max(lanes)


def plan_deadlines(
    timings: Mapping[str, DeviceTiming],
    *,
    now: float,
    max_workers: int,
    min_delay: float,
    clock_tolerance: float,
    connect: Mapping[str, float] | None = None,
    lead: float = 0.0,
    reaction: float = 0.0,
) -> WaveDeadlines:
    """T, D and the commit guards for staging ``timings``' devices, starting at ``now``.

    Staging takes the predicted completion of the wave (:func:`predict_staging` over
    ``max_workers`` sessions at once; ``connect``: per device, a connection's time to add when
    it has no live session to reuse), starting ``lead`` seconds after ``now`` (the wave's
    start-times are journaled first); the undo budget is the engine's ``reaction`` at D (to
    notice it, journal the decision and send the undos), the slowest undo, plus the clock
    tolerance (a device clock ahead by the tolerance reaches T that much sooner). T is rounded
    up to a whole second (Junos start-times have whole seconds), which only adds staging
    time: D is taken back from T. ``min_delay`` is the floor.
    """
    extra = connect or {}
    staging = predict_staging(
        [t.session + extra.get(d, 0.0) for d, t in timings.items()], max_workers
    )
    slowest_undo = max((t.undo for t in timings.values()), default=0.0)
    undo_budget = reaction + slowest_undo + clock_tolerance
    delay = max(min_delay, lead + staging + undo_budget)
    activation = datetime.fromtimestamp(math.ceil(now + delay), UTC)
    if activation.timestamp() - now < delay:  # float rounding of the ceiling
        activation += timedelta(seconds=1)
    decide_at = activation.timestamp() - undo_budget
    not_after = {device: decide_at - t.commit for device, t in timings.items()}
    return WaveDeadlines(
        activation=activation,
        decide_at=decide_at,
        undo_by=activation.timestamp() - clock_tolerance,
        not_after=not_after,
        delay=activation.timestamp() - now,
        staging=staging,
    )
