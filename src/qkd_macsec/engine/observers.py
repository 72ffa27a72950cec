"""The observers every executor has — the journal and the result tree — and small adapters.

The journal recorder turns events into journal writes, one write per event, in the order the
executor emits them: a phase is journalled before the device action it announces, so a crash
at any line leaves a record recovery can finish or undo. The result tree keeps the wave's
:class:`~qkd_macsec.engine.results.WaveResult` in step with the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qkd_macsec.core.phases import Phase
from qkd_macsec.engine.deadlines import LATENCY_META, LatencyHistory
from qkd_macsec.engine.events import (
    DeviceStaged,
    DeviceStageFailed,
    DeviceUndone,
    EndMarked,
    Event,
    KeysFetched,
    LatenciesMeasured,
    Noted,
    Observer,
    PhaseChanged,
    Restaged,
    RotationBegun,
    StagingBegun,
    Verified,
    WaveBegun,
    WaveDone,
    WaveStep,
)
from qkd_macsec.engine.journal import JournalBackend
from qkd_macsec.engine.results import DeviceResult, RotationResult, WaveResult

E = TypeVar("E")


class JournalRecorder:
    """Every journal write of a wave (opening a rotation excepted: the journal hands out its
    id, so the executor calls :meth:`Journal.begin` itself)."""

    def __init__(self, journal: JournalBackend) -> None:
        self.journal = journal

    def on_event(self, event: Event) -> None:
        j = self.journal
        if isinstance(event, KeysFetched):
            j.record_keys(event.rotation_id, key_id=event.key_id, ckn=event.ckn, kcv=event.kcv)
        elif isinstance(event, StagingBegun):
            j.record_staging(event.rotation_id, slot=event.slot, start_time=event.start_time)
        elif isinstance(event, EndMarked):
            j.mark_end(event.rotation_id, event.device, staged=event.staged, removed=event.removed)
        elif isinstance(event, PhaseChanged):
            j.set_phase(event.rotation_id, event.phase, error=event.error)
        elif isinstance(event, Noted):
            j.note(event.rotation_id, event.kind, dict(event.detail))
        elif isinstance(event, Restaged):
            j.note(event.rotation_id, "RESTAGED", {"outcome": event.outcome})
        elif isinstance(event, Verified):
            j.set_phase(event.rotation_id, Phase.ACTIVE, error=event.error)
        elif isinstance(event, LatenciesMeasured) and event.samples:
            keys = [LATENCY_META + d for d in event.samples]
            stored = j.get_meta_many(keys)
            j.set_meta_many(
                {
                    LATENCY_META + d: LatencyHistory.from_json(stored.get(LATENCY_META + d))
                    .with_sample(session, commit)
                    .to_json()
                    for d, (session, commit) in event.samples.items()
                }
            )


class ResultTree:
    """Keeps the current wave's result (per link, per device) in step with its events."""

    def __init__(self) -> None:
        self.result: WaveResult | None = None

    def track(self, result: WaveResult) -> None:
        """Follow ``result`` from now on (a wave's, from :class:`WaveBegun`; recovery's)."""
        self.result = result

    def _rotation(self, link: str, rotation_id: int) -> RotationResult | None:
        """The result of that rotation, if it is one the tracked result holds (recovery's
        journal writes on other rotations pass by)."""
        rr = self.result.rotations.get(link) if self.result is not None else None
        return rr if rr is not None and rr.rotation_id == rotation_id else None

    def _device(self, device: str) -> DeviceResult:
        assert self.result is not None, "a device event before WaveBegun"
        return self.result.devices.setdefault(device, DeviceResult(device))

    def on_event(self, event: Event) -> None:
        if isinstance(event, WaveBegun):
            self.track(event.result)
        elif isinstance(event, WaveDone):
            self.result = None  # final: what happens later (recovery) is not this wave's
        elif isinstance(event, RotationBegun):
            assert self.result is not None, "RotationBegun before WaveBegun"
            self.result.rotations[event.link] = RotationResult(
                event.link, event.rotation_id, event.reason
            )
        elif isinstance(event, KeysFetched):
            if (rr := self._rotation(event.link, event.rotation_id)) is None:
                return
            rr.phase, rr.key_id, rr.ckn, rr.kcv = Phase.KEYS, event.key_id, event.ckn, event.kcv
            rr.enc_seconds, rr.dec_seconds = event.enc_seconds, event.dec_seconds
        elif isinstance(event, StagingBegun):
            if (rr := self._rotation(event.link, event.rotation_id)) is None:
                return
            rr.phase, rr.slot, rr.activation = Phase.STAGING, event.slot, event.start_time
        elif isinstance(event, DeviceStaged):
            dr = self._device(event.device)
            dr.session_seconds = event.session_seconds
            dr.clock_offset = event.clock_offset
            dr.pruned = event.pruned
            if event.commit_seconds is not None:
                dr.changed = event.changed
                dr.commit_seconds = event.commit_seconds
                dr.commits += int(event.changed)
            if event.late is not None:
                dr.ok, dr.error = False, event.late
        elif isinstance(event, DeviceStageFailed):
            dr = self._device(event.device)
            dr.ok, dr.error, dr.unreachable = False, event.error, event.unreachable
        elif isinstance(event, DeviceUndone):
            if event.removed and event.changed:
                self._device(event.device).commits += 1
        elif isinstance(event, PhaseChanged):
            if (rr := self._rotation(event.link, event.rotation_id)) is None:
                return
            rr.phase = event.phase
            if event.error is not None:
                rr.error = event.error
            if event.unreachable is not None:
                rr.unreachable = event.unreachable
        elif isinstance(event, Restaged):
            if (rr := self._rotation(event.link, event.rotation_id)) is None:
                return
            rr.notes.extend(event.notes)
            rr.notes.append(event.outcome)
            rr.error = None
        elif isinstance(event, Verified):
            if (rr := self._rotation(event.link, event.rotation_id)) is None:
                return
            rr.phase, rr.verified = Phase.ACTIVE, event.live
            if event.error is not None:
                rr.error = event.error


class CrashPoints:
    """Crashes the process at a named point of a wave: "planned", "keys", "staging",
    "staged" (:class:`WaveStep`) or "stage:DEVICE" (that device committed)."""

    def __init__(self, point: str, crash: Callable[[str], None]) -> None:
        self.point = point
        self._crash = crash

    @staticmethod
    def point_of(event: Event) -> str | None:
        if isinstance(event, WaveStep):
            return event.step
        if isinstance(event, DeviceStaged):
            return f"stage:{event.device}"
        return None

    def on_event(self, event: Event) -> None:
        if self.point_of(event) == self.point:
            self._crash(self.point)


class _On:
    def __init__(self, kind: type[object], fn: Callable[[object], object]) -> None:
        self._kind, self._fn = kind, fn

    def on_event(self, event: Event) -> None:
        if isinstance(event, self._kind):
            self._fn(event)


def on(kind: type[E], fn: Callable[[E], object]) -> Observer:
    """An observer that calls ``fn`` with each event of type ``kind`` (and ignores the rest)."""
    return _On(kind, fn)  # type: ignore[arg-type]


__all__ = ["CrashPoints", "JournalRecorder", "ResultTree", "on"]
