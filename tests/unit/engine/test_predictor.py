"""The activation delay comes from the predicted completion of this wave (pure arithmetic)."""

from __future__ import annotations

import pytest

from qkd_macsec.engine.deadlines import DeviceTiming, plan_deadlines, predict_staging

NOW = 1_800_000_000.0


def timing(session: float, commit: float | None = None) -> DeviceTiming:
    commit = session / 2 if commit is None else commit
    return DeviceTiming(session=session, commit=commit, undo=session, timeout=30.0)


def test_nothing_to_stage_takes_no_time() -> None:
    assert predict_staging([], 64) == 0.0


def test_with_room_for_every_session_the_slowest_decides() -> None:
    assert predict_staging([0.5, 2.0, 1.0], 64) == 2.0
    # 500 routers committing in parallel at 2 s each: one commit time, not rounds of them
    assert predict_staging([2.3] * 500, 1024) == pytest.approx(2.3)


def test_fewer_sessions_than_devices_queue_in_start_order() -> None:
    assert predict_staging([1.0] * 10, 4) == pytest.approx(3.0)  # 4 + 4 + 2
    assert predict_staging([1.0] * 8, 4) == pytest.approx(2.0)


def test_one_slow_router_does_not_multiply_the_whole_wave() -> None:
    """Rounds x worst would plan 3 x 40 s; the slow one runs once while the others pass by."""
    durations = [40.0] + [1.0] * 9
    assert predict_staging(durations, 4) == pytest.approx(40.0)
    # ... but a slow one started last does end last
    assert predict_staging([1.0] * 9 + [40.0], 4) == pytest.approx(42.0)


def test_negative_durations_count_as_zero() -> None:
    assert predict_staging([-1.0, 0.5], 1) == pytest.approx(0.5)


def test_delay_is_the_prediction_plus_undo_budget_above_the_floor() -> None:
    timings = {f"r{i}": timing(0.4, 0.2) for i in range(500)}
    plan = plan_deadlines(timings, now=NOW, max_workers=1024, min_delay=0.0, clock_tolerance=1.0)
    assert plan.staging == pytest.approx(0.4)
    undo_budget = 0.4 + 1.0
    assert plan.delay >= 0.4 + undo_budget
    assert plan.delay < 0.4 + undo_budget + 1.0  # T only rounds up to the next whole second
    assert plan.activation_epoch - plan.decide_at == pytest.approx(undo_budget)
    floor = plan_deadlines(timings, now=NOW, max_workers=1024, min_delay=10.0, clock_tolerance=1.0)
    assert floor.delay == pytest.approx(10.0)


def test_a_device_without_a_live_session_adds_its_connection() -> None:
    timings = {"r1": timing(0.3), "r2": timing(0.3)}
    kept = plan_deadlines(timings, now=NOW, max_workers=64, min_delay=0.0, clock_tolerance=0.0)
    reconnect = plan_deadlines(
        timings,
        now=NOW,
        max_workers=64,
        min_delay=0.0,
        clock_tolerance=0.0,
        connect={"r2": 1.2},
    )
    assert kept.staging == pytest.approx(0.3)
    assert reconnect.staging == pytest.approx(1.5)
    # the guards: each commit starts by D minus its own commit estimate
    assert reconnect.not_after["r2"] == pytest.approx(reconnect.decide_at - 0.15)


def test_concurrency_limits_the_prediction_as_they_limit_the_wave() -> None:
    timings = {f"r{i:03}": timing(1.0) for i in range(100)}
    wide = plan_deadlines(timings, now=NOW, max_workers=100, min_delay=0.0, clock_tolerance=0.0)
    narrow = plan_deadlines(timings, now=NOW, max_workers=25, min_delay=0.0, clock_tolerance=0.0)
    assert wide.staging == pytest.approx(1.0)
    assert narrow.staging == pytest.approx(4.0)


def test_time_before_the_first_session_moves_t_not_the_undo_budget() -> None:
    timings = {"r1": timing(1.0)}
    plan = plan_deadlines(
        timings, now=NOW, max_workers=8, min_delay=0.0, clock_tolerance=1.0, lead=0.5
    )
    wanted = 0.5 + 1.0 + 2.0  # lead + staging + (undo + tolerance)
    assert wanted <= plan.delay < wanted + 1.0  # T rounds up to a whole second
    assert plan.activation_epoch - plan.decide_at == pytest.approx(2.0)
