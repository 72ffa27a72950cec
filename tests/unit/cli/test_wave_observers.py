"""The CLI's observers of a wave: the progress display and the crash points from the env."""

from __future__ import annotations

import pytest

from qkd_macsec.cli.common import CRASH_ENV, crash_points_from_env
from qkd_macsec.cli.render import wave_progress
from qkd_macsec.engine.events import DeviceStaged, ProgressStep, WaveStep
from qkd_macsec.engine.observers import CrashPoints


def test_progress_display_follows_progress_steps_only() -> None:
    with wave_progress(False) as off:
        assert off is None
    with wave_progress(True) as display:
        assert display is not None
        for done in (1, 2):
            display.on_event(ProgressStep("keys", done, 2))
        display.on_event(WaveStep("w", "keys"))  # not a progress step: ignored


def test_crash_points_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CRASH_ENV, raising=False)
    assert crash_points_from_env() == []
    monkeypatch.setenv(CRASH_ENV, "stage:r1")
    (points,) = crash_points_from_env()
    assert isinstance(points, CrashPoints)
    assert points.point == "stage:r1"


def test_crash_points_fire_at_their_point_only() -> None:
    fired: list[str] = []
    points = CrashPoints("stage:r2", fired.append)
    points.on_event(WaveStep("w", "staging"))
    points.on_event(DeviceStaged("r1", 0.1, 0.0, 0, 0.1, True))
    assert fired == []
    points.on_event(DeviceStaged("r2", 0.1, 0.0, 0, 0.1, True))
    assert fired == ["stage:r2"]
    assert CrashPoints.point_of(WaveStep("w", "planned")) == "planned"
