"""The planner decides due links, slots, pruning and back-off — exhaustively, without I/O."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.engine.journal import ActiveKey
from qkd_macsec.engine.planner import (
    SLOTS,
    KeyMode,
    LinkHistory,
    LinkView,
    PlanPolicy,
    Reason,
    next_slot,
    plan_wave,
    retry_delay,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LINK = LinkView("l1", rotation_interval=600)


def key(slot: int | None, age: float, rid: int = 1) -> ActiveKey:
    return ActiveKey("l1", f"kid-{rid}", "ab" * 32, slot, NOW - timedelta(seconds=age), rid)


def test_bootstrap_when_no_key() -> None:
    plan = plan_wave([LINK], {}, NOW)
    (rotation,) = plan.rotations
    assert rotation.reason is Reason.BOOTSTRAP
    assert rotation.bootstrap
    assert rotation.slot == 0


def test_not_due_reports_next_due() -> None:
    plan = plan_wave([LINK], {"l1": LinkHistory(active=(key(0, 100),))}, NOW)
    assert plan.rotations == []
    assert plan.skipped == {"l1": "not due"}
    assert plan.next_due == NOW + timedelta(seconds=500)


def test_due_takes_next_free_slot_and_keeps_previous() -> None:
    history = LinkHistory(active=(key(5, 700, 3), key(4, 1300, 2), key(3, 1900, 1)))
    (rotation,) = plan_wave([LINK], {"l1": history}, NOW).rotations
    assert rotation.reason is Reason.DUE
    assert rotation.slot == 6
    assert rotation.keep_slots == {5, 4}


def test_slot_wraps_after_63() -> None:
    history = LinkHistory(active=(key(63, 700, 2), key(62, 1300, 1)))
    (rotation,) = plan_wave([LINK], {"l1": history}, NOW).rotations
    assert rotation.slot == 0


def test_open_rotation_blocks_planning() -> None:
    from qkd_macsec.engine.journal import Phase, RotationRecord

    record = RotationRecord(
        7, "l1", "w", Phase.STAGING, "k", "ab", "00", 1, NOW, NOW, NOW, None, (), "due"
    )
    plan = plan_wave([LINK], {"l1": LinkHistory(open_rotation=record)}, NOW)
    assert plan.rotations == []
    assert "still open" in plan.skipped["l1"]


def test_backoff_after_failures_then_retry() -> None:
    history = LinkHistory(
        active=(key(0, 100),), last_failure=NOW - timedelta(seconds=50), consecutive_failures=2
    )
    plan = plan_wave([LINK], {"l1": history}, NOW)
    assert plan.rotations == []
    assert plan.next_due == NOW + timedelta(seconds=10)  # 30 s * 2 = 60 s after the failure
    later = plan_wave([LINK], {"l1": history}, NOW + timedelta(seconds=11))
    assert [r.reason for r in later.rotations] == [Reason.RETRY]


def test_force_overrides_backoff_and_due() -> None:
    history = LinkHistory(active=(key(0, 1),), last_failure=NOW, consecutive_failures=5)
    (rotation,) = plan_wave([LINK], {"l1": history}, NOW, force=["l1"]).rotations
    assert rotation.reason is Reason.FORCED


def test_pre_shared_key_mode_has_no_slot() -> None:
    link = LinkView("l1", 600, KeyMode.PRE_SHARED_KEY)
    (rotation,) = plan_wave([link], {}, NOW).rotations
    assert rotation.slot is None
    assert rotation.keep_slots == frozenset()


def test_retry_delay_is_capped() -> None:
    policy = PlanPolicy(retry_base=30, retry_max=3600)
    assert retry_delay(0, 600, policy) == 0
    assert retry_delay(1, 600, policy) == 30
    assert retry_delay(10, 600, policy) == 600


@given(
    st.sets(st.integers(0, SLOTS - 1), max_size=SLOTS - 1), st.none() | st.integers(0, SLOTS - 1)
)
def test_next_slot_is_free_and_in_range(used: set[int], after: int | None) -> None:
    slot = next_slot(used, after)
    assert 0 <= slot < SLOTS
    assert slot not in used


def test_next_slot_full_chain_refused() -> None:
    with pytest.raises(ValueError, match="every key-chain slot"):
        next_slot(range(SLOTS), None)


def test_blocked_links_are_skipped_even_when_forced() -> None:
    from datetime import UTC, datetime

    from qkd_macsec.engine.planner import LinkView, plan_wave

    links = [LinkView("a", 600.0), LinkView("b", 600.0)]
    plan = plan_wave(
        links, {}, datetime.now(UTC), force=["a", "b"], blocked={"a": "conflict: ends disagree"}
    )
    assert plan.links == ["b"]
    assert plan.skipped == {"a": "conflict: ends disagree"}
