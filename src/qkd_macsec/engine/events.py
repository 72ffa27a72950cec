"""The executor's one event stream: each transition of a wave, emitted once, to every observer.

Like Nornir's processors: the executor says what happened; observers do the rest — the journal
(:class:`~qkd_macsec.engine.observers.JournalRecorder`), the result tree, metrics, a progress
display, a test's crash points. Events are frozen and carry no secret (key IDs, CKNs and check
values only, as the journal does).

An observer subscribed as *critical* (the journal: it is the safety record that recovery reads)
stops the wave when it raises. Any other observer that raises an ``Exception`` is logged and
left out of that event only: a broken display or metrics never changes a rotation.
``BaseException`` (a test's crash, ``KeyboardInterrupt``) always propagates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeAlias

from qkd_macsec.core.phases import Phase
from qkd_macsec.obs.logging import get_logger

if TYPE_CHECKING:
    from qkd_macsec.engine.results import WaveResult
    from qkd_macsec.etsi014.client import RequestRecord

log = get_logger("engine.events")


@dataclass(frozen=True)
class WaveBegun:
    """A wave with rotations starts; ``result`` is the tree its results go into."""

    result: WaveResult


@dataclass(frozen=True)
class RotationBegun:
    """The journal opened ``rotation_id`` for ``link`` (PLANNED)."""

    link: str
    rotation_id: int
    reason: str


@dataclass(frozen=True)
class WaveStep:
    """Every rotation of the wave has passed ``step``: "planned", "keys", "staging" (journalled
    before any device is touched) or "staged" (every stage session and undo is over)."""

    wave: str
    step: str


@dataclass(frozen=True)
class KeysFetched:
    """The link's key pair came from the KMEs (KEYS)."""

    link: str
    rotation_id: int
    key_id: str
    ckn: str
    kcv: str
    enc_seconds: float
    dec_seconds: float


@dataclass(frozen=True)
class StagingBegun:
    """Written before any device is touched (STAGING): where the key goes and when it starts."""

    link: str
    rotation_id: int
    slot: int | None
    start_time: datetime | None


@dataclass(frozen=True)
class DeviceStaged:
    """One device's stage session committed (emitted after its ends are marked staged)."""

    device: str
    session_seconds: float
    clock_offset: float
    pruned: int
    commit_seconds: float | None  # None: nothing to commit
    changed: bool
    late: str | None = None  # the commit returned after the decision instant: why it failed


@dataclass(frozen=True)
class DeviceStageFailed:
    """One device did not stage (an error, or no answer by the decision instant)."""

    device: str
    error: str
    unreachable: bool = False


@dataclass(frozen=True)
class DeviceUndone:
    """A removal of the wave's entries from ``device`` is over."""

    device: str
    removed: bool
    changed: bool


@dataclass(frozen=True)
class EndMarked:
    """What one end of a rotation holds: ``staged`` (the entry is there), ``removed``."""

    link: str
    rotation_id: int
    device: str
    staged: bool | None = None
    removed: bool | None = None


@dataclass(frozen=True)
class PhaseChanged:
    """The rotation moved to ``phase``. ``error``: why (None: keep any earlier one);
    ``unreachable``: whether the failure is a KME or router out of reach (None: unchanged)."""

    link: str
    rotation_id: int
    phase: Phase
    error: str | None = None
    unreachable: bool | None = None


@dataclass(frozen=True)
class Noted:
    """Something the engine did on a rotation that changes no phase (``kind`` "LATE": how a
    late or after-T removal went)."""

    link: str
    rotation_id: int
    kind: str
    detail: Mapping[str, object]


@dataclass(frozen=True)
class Restaged:
    """A late end's commit landed and its peers got the entry back: the rotation goes on
    (a STAGED :class:`PhaseChanged` follows). ``notes``: what happened on each end."""

    link: str
    rotation_id: int
    outcome: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verified:
    """The link is ACTIVE: every end holds the key past its start-time. ``live``: MKA runs on
    the new CKN at every end; if not, ``error`` says what verification saw instead."""

    link: str
    rotation_id: int
    live: bool
    error: str | None = None


@dataclass(frozen=True)
class LatenciesMeasured:
    """Session and commit seconds per device from this wave (None: not measured): the next
    wave plans its deadlines with them."""

    samples: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgressStep:
    """``done`` of ``total`` have passed ``step`` ("keys": links, "staged": devices,
    "verified": links): for progress displays."""

    step: str
    done: int
    total: int


@dataclass(frozen=True)
class WaveDone:
    """The wave is over; ``result`` is complete."""

    result: WaveResult


@dataclass(frozen=True)
class KmeRequestDone:
    """One HTTP attempt to a KME finished (the KME client's request record)."""

    record: RequestRecord


Event: TypeAlias = (
    WaveBegun
    | RotationBegun
    | WaveStep
    | KeysFetched
    | StagingBegun
    | DeviceStaged
    | DeviceStageFailed
    | DeviceUndone
    | EndMarked
    | PhaseChanged
    | Noted
    | Restaged
    | Verified
    | LatenciesMeasured
    | ProgressStep
    | WaveDone
    | KmeRequestDone
)


class Observer(Protocol):
    """Anything that wants to know what a wave does."""

    def on_event(self, event: Event) -> None: ...


class EventStream:
    """Hands each event to every subscribed observer, in the order they subscribed."""

    def __init__(self) -> None:
        self._observers: list[tuple[Observer, bool]] = []

    def subscribe(self, observer: Observer, *, critical: bool = False) -> None:
        """Add ``observer``; ``critical``: its errors stop the emitter (see the module doc)."""
        self._observers.append((observer, critical))

    def unsubscribe(self, observer: Observer) -> None:
        self._observers = [(o, c) for o, c in self._observers if o is not observer]

    @contextlib.contextmanager
    def observing(self, observer: Observer, *, critical: bool = False) -> Iterator[Observer]:
        """Subscribe ``observer`` for the duration of a ``with`` block."""
        self.subscribe(observer, critical=critical)
        try:
            yield observer
        finally:
            self.unsubscribe(observer)

    def emit(self, event: Event) -> None:
        for observer, critical in list(self._observers):
            if critical:
                observer.on_event(event)
                continue
            try:
                observer.on_event(event)
            except Exception:  # a display or metrics bug must not change a rotation
                log.warning(
                    "observer %s failed on %s; ignoring",
                    type(observer).__name__,
                    type(event).__name__,
                    exc_info=True,
                )


__all__ = [
    "DeviceStageFailed",
    "DeviceStaged",
    "DeviceUndone",
    "EndMarked",
    "Event",
    "EventStream",
    "KeysFetched",
    "KmeRequestDone",
    "LatenciesMeasured",
    "Noted",
    "Observer",
    "PhaseChanged",
    "ProgressStep",
    "Restaged",
    "RotationBegun",
    "StagingBegun",
    "Verified",
    "WaveBegun",
    "WaveDone",
    "WaveStep",
]
