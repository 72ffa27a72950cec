"""The deadline arithmetic of a staging wave (pure: no clock, no I/O)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from qkd_macsec.engine.deadlines import (
    CALIBRATED,
    HEADROOM,
    HISTORY,
    SAFETY,
    SPREAD,
    DeviceTiming,
    LatencyHistory,
    device_timing,
    estimate,
    percentile,
    plan_deadlines,
)

NOW = 1_800_000_000.25  # a controller epoch instant, a quarter past a whole second


def timing(session: float, commit: float, timeout: float = 30.0) -> DeviceTiming:
    return DeviceTiming(session=session, commit=commit, undo=session, timeout=timeout)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([]) is None
    assert percentile([4.0]) == 4.0
    samples = [float(i) for i in range(1, 21)]  # 1..20
    assert percentile(samples, 0.95) == 19.0
    assert percentile(samples, 0.5) == 10.0
    assert percentile(list(reversed(samples)), 1.0) == 20.0


def test_history_keeps_the_newest_samples_and_survives_the_journal() -> None:
    history = LatencyHistory()
    for i in range(HISTORY + 5):
        history = history.with_sample(float(i), float(i) / 2)
    assert len(history.session) == HISTORY
    assert history.session[0] == 5.0
    assert LatencyHistory.from_json(history.to_json()) == history
    # a cut-short session has no commit sample; junk from a damaged journal is ignored
    assert history.with_sample(3.0, None).commit == history.commit
    assert LatencyHistory.from_json({"session": [1, "x", -2, 2.5], "commit": None}) == (
        LatencyHistory(session=(1.0, 2.5))
    )
    assert LatencyHistory.from_json("garbage") == LatencyHistory()


def test_an_unmeasured_device_plans_with_the_initial_estimate() -> None:
    t = device_timing(LatencyHistory(), timeout=30.0, initial=3.0)
    assert t.session == 3.0
    assert t.commit == 1.5  # the commit guard leaves the session's first half its share
    assert t.undo == t.session


def test_a_slow_device_widens_its_own_estimate() -> None:
    fast = device_timing(LatencyHistory((0.4,) * 10, (0.1,) * 10), timeout=60.0, initial=3.0)
    slow = device_timing(LatencyHistory((45.3,) * 10, (45.0,) * 10), timeout=120.0, initial=3.0)
    steady = 1.0 + HEADROOM  # ten equal samples: no spread, the headroom alone
    assert fast.commit == pytest.approx(steady * 0.1)
    assert fast.session == pytest.approx(steady * 0.4)
    assert slow.commit == pytest.approx(steady * 45.0)
    assert slow.session == pytest.approx(steady * 45.3)
    # one outlier among twenty samples is above the 95th percentile (and moves no spread);
    # two are not
    one = device_timing(LatencyHistory((0.4,) * 19 + (9.0,), (0.1,) * 20), 60.0, 3.0)
    two = device_timing(LatencyHistory((0.4,) * 18 + (9.0,) * 2, (0.1,) * 20), 60.0, 3.0)
    assert one.session == pytest.approx(steady * 0.4)
    assert two.session == pytest.approx(steady * 9.0)


def test_a_short_history_keeps_the_safety_factor() -> None:
    """Until its spread is measured, a device is planned at SAFETY times its slowest sample."""
    few = (0.4, 0.5, 0.45, 0.6)
    assert len(few) < CALIBRATED
    t = device_timing(LatencyHistory(few, (0.1,) * len(few)), timeout=60.0, initial=3.0)
    assert t.session == pytest.approx(SAFETY * 0.6)
    assert t.commit == pytest.approx(SAFETY * 0.1)
    assert estimate(()) is None


def test_a_calibrated_margin_follows_the_measured_spread() -> None:
    """Same 95th percentile, different spread: the jittery router gets the wider margin, and
    every estimate stays above the percentile it was taken at."""
    steady = [1.0] * 10 + [1.2] * 10
    jittery = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 0.3, 0.5, 0.7, 0.9] * 2
    assert percentile(steady) == percentile(jittery) == 1.2
    calm, wild = estimate(steady), estimate(jittery)
    assert calm is not None
    assert wild is not None
    assert 1.2 < calm < SAFETY * 1.2  # tighter than the old flat factor ...
    assert wild > calm  # ... and wider where the latency varies
    mad = statistics.median(abs(x - statistics.median(jittery)) for x in jittery)
    assert wild == pytest.approx(1.2 * (1 + HEADROOM) + SPREAD * 1.4826 * mad)


def test_estimates_stop_at_the_rpc_timeout() -> None:
    hung = device_timing(LatencyHistory((200.0,), (199.0,)), timeout=60.0, initial=3.0)
    assert hung.commit == 60.0  # a longer commit fails on its own timeout anyway
    assert hung.session == pytest.approx(60.0 + SAFETY * 1.0)


def test_activation_leaves_room_to_stage_and_then_to_undo() -> None:
    timings = {"a": timing(0.6, 0.2), "b": timing(2.0, 1.5)}
    plan = plan_deadlines(timings, now=NOW, max_workers=32, min_delay=1.0, clock_tolerance=1.0)
    undo_budget = 2.0 + 1.0  # slowest undo, plus the clock tolerance
    assert plan.activation == datetime.fromtimestamp(NOW + 5.75, UTC)  # 2.0 + 3.0, rounded up
    assert plan.activation.microsecond == 0
    assert plan.decide_at == plan.activation_epoch - undo_budget
    assert plan.undo_by == plan.activation_epoch - 1.0
    # each device's commit must start early enough to answer by D
    assert plan.not_after == {"a": plan.decide_at - 0.2, "b": plan.decide_at - 1.5}
    assert plan.not_after["b"] - NOW >= 2.0 - 1.5  # the part before b's commit fits
    assert plan.delay == pytest.approx(plan.activation_epoch - NOW)


def test_the_minimum_delay_only_adds_staging_time() -> None:
    timings = {"a": timing(0.6, 0.2)}
    plan = plan_deadlines(timings, now=NOW, max_workers=32, min_delay=10.0, clock_tolerance=5.0)
    assert plan.activation_epoch == pytest.approx(NOW + 10.75)
    assert plan.activation_epoch - plan.decide_at == pytest.approx(0.6 + 5.0)  # undo budget


def test_devices_beyond_the_thread_pool_stage_in_rounds() -> None:
    timings = {f"r{i}": timing(1.0, 0.5) for i in range(10)}
    one = plan_deadlines(timings, now=NOW, max_workers=10, min_delay=0.0, clock_tolerance=0.0)
    three = plan_deadlines(timings, now=NOW, max_workers=4, min_delay=0.0, clock_tolerance=0.0)
    assert one.decide_at - NOW >= 1.0
    assert three.decide_at - NOW >= 3.0  # ceil(10 / 4) rounds of the slowest session
    assert three.activation_epoch - three.decide_at == pytest.approx(1.0)


def test_a_device_known_to_be_slow_moves_t_not_the_decision() -> None:
    """The issue's numbers: an mx10008 whose commits took 45 s, timeout 60 s, next to MX304s."""
    fast = device_timing(LatencyHistory((0.5,) * 5, (0.2,) * 5), timeout=30.0, initial=3.0)
    slow = device_timing(LatencyHistory((45.5,) * 5, (45.0,) * 5), timeout=60.0, initial=3.0)
    plan = plan_deadlines(
        {"mx304-11": fast, "mx10008-23": slow},
        now=NOW,
        max_workers=32,
        min_delay=10.0,
        clock_tolerance=5.0,
    )
    # the slow router's 45 s commit (its calibrated estimate, under its 60 s timeout) starts
    # in time and answers before D ...
    assert 45.0 < slow.commit <= 60.0
    assert plan.not_after["mx10008-23"] - NOW >= slow.session - slow.commit
    assert plan.decide_at - plan.not_after["mx10008-23"] == pytest.approx(slow.commit)
    # ... and after D there is still a whole slow undo plus the clock tolerance before T
    assert plan.activation_epoch - plan.decide_at == pytest.approx(slow.undo + 5.0)
    assert slow.undo > 45.5
    assert plan.not_after["mx304-11"] == plan.decide_at - fast.commit


def test_a_commit_with_unknown_warnings_counts_as_maybe_committed() -> None:
    """Junos commits despite warnings: such an end must be undone, never left alone."""
    from qkd_macsec.devices.base import DeviceCommitError, DeviceCommitUncertainError
    from qkd_macsec.engine.sessions import _NOT_COMMITTED

    assert not issubclass(DeviceCommitUncertainError, _NOT_COMMITTED)
    assert issubclass(DeviceCommitError, _NOT_COMMITTED)
