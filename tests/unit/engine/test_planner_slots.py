"""The key-chain slot range is the link's (from its ends' platforms), not a constant."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.engine.journal import ActiveKey
from qkd_macsec.engine.planner import LinkHistory, LinkView, next_slot, plan_wave

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@given(
    slots=st.integers(1, 70),
    data=st.data(),
)
def test_next_slot_stays_in_the_given_range(slots: int, data: st.DataObject) -> None:
    used = data.draw(st.sets(st.integers(0, slots - 1), max_size=slots - 1))
    after = data.draw(st.none() | st.integers(0, slots - 1))
    slot = next_slot(used, after, slots)
    assert 0 <= slot < slots
    assert slot not in used


def test_a_small_chain_wraps_and_fills() -> None:
    assert next_slot({0}, 15, 16) == 1  # after the last slot comes slot 0, taken, then 1
    with pytest.raises(ValueError, match="every key-chain slot"):
        next_slot(range(16), None, 16)


def test_the_planner_uses_the_link_slot_count() -> None:
    link = LinkView("l1", 600, slots=16)
    current = ActiveKey("l1", "kid", "ab" * 32, 15, NOW - timedelta(seconds=700), 1)
    (rotation,) = plan_wave([link], {"l1": LinkHistory(active=(current,))}, NOW).rotations
    assert rotation.slot == 0  # with Junos' 64 slots this would be 16
