"""Results shaped like Nornir's: per link, per device, aggregated per wave, failures listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from qkd_macsec.engine.journal import Phase


@dataclass
class RotationResult:
    link: str
    rotation_id: int
    reason: str
    phase: Phase = Phase.PLANNED
    key_id: str | None = None
    ckn: str | None = None
    kcv: str | None = None
    slot: int | None = None
    activation: datetime | None = None
    verified: bool = False
    error: str | None = None
    unreachable: bool = False  # failed because a KME or router could not be reached
    enc_seconds: float = 0.0
    dec_seconds: float = 0.0
    stage_seconds: float = 0.0  # from ENC start until every end committed
    notes: list[str] = field(default_factory=list)  # what the engine did besides the plan

    @property
    def ok(self) -> bool:
        return self.phase is Phase.ACTIVE and self.error is None


@dataclass
class DeviceResult:
    device: str
    ok: bool = True
    changed: bool = False
    commit_seconds: float = 0.0
    session_seconds: float = 0.0
    clock_offset: float = 0.0
    pruned: int = 0
    commits: int = 0
    error: str | None = None
    unreachable: bool = False


class WaveFailed(Exception):
    """Raised by :meth:`WaveResult.raise_on_error` when any link failed."""


@dataclass
class WaveResult:
    wave: str
    started: datetime
    finished: datetime | None = None
    activation: datetime | None = None
    rotations: dict[str, RotationResult] = field(default_factory=dict)
    devices: dict[str, DeviceResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: Links left alone because their devices disagree with the journal (engine/reconcile.py).
    conflicts: dict[str, str] = field(default_factory=dict)
    staged_seconds: float = 0.0  # wave start until every staged link is on both ends
    undo_budget_s: float | None = None  # T minus the decision instant (undo + clock tolerance)
    predicted_staging_s: float | None = None  # the planned staging time of this wave

    @property
    def failed_links(self) -> list[str]:
        return [name for name, r in self.rotations.items() if not r.ok]

    @property
    def failed_devices(self) -> list[str]:
        return [name for name, r in self.devices.items() if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed_links

    @property
    def only_unreachable(self) -> bool:
        """Every failure is a KME or router that could not be reached (exit code 3)."""
        failed = [self.rotations[name] for name in self.failed_links]
        return bool(failed) and all(r.unreachable for r in failed)

    def raise_on_error(self) -> None:
        if not self.ok:
            details = "; ".join(
                f"{name}: {self.rotations[name].error or self.rotations[name].phase}"
                for name in self.failed_links
            )
            raise WaveFailed(f"{len(self.failed_links)} link(s) failed: {details}")
