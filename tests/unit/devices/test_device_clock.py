"""The device clock and its zone offset from ``get-system-uptime-information``, and start-times
written in the device's own wall-clock time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from qkd_macsec.devices.async_base import ThreadedDriver
from qkd_macsec.devices.base import ChainEntryState, ChangeSet, DeviceClock, KeyChainEntry
from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    parse_device_clock,
    parse_start_time,
    parse_time_zone,
)
from qkd_macsec.engine.session_pool import SessionPool
from qkd_macsec.engine.sessions import (
    SessionClock,
    StageFailed,
    StageItem,
    _zone,
    active_entry,
    is_ambiguous,
    stage_device,
    to_device_time,
)
from qkd_macsec.secret import Secret

NS = "http://xml.juniper.net/junos/23.4R1/junos"


def uptime(text: str, seconds: int | None) -> etree._Element:
    attr = f' junos:seconds="{seconds}"' if seconds is not None else ""
    return etree.fromstring(
        f'<system-uptime-information xmlns:junos="{NS}"><current-time>'
        f"<date-time{attr}>{text}</date-time></current-time></system-uptime-information>"
    )


EPOCH = int(datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2026-12-01 08:30:58 CET", timedelta(hours=1)),  # the form the brief quotes
        ("2026-12-01 07:30:58 UTC", timedelta(0)),
        ("2026-12-01 02:30:58 EST", timedelta(hours=-5)),
        ("2026-12-01 13:00:58 IST", timedelta(hours=5, minutes=30)),
        ("2026-12-01 08:30:59 CET", timedelta(hours=1)),  # the second ticked between the two
    ],
)
def test_offset_is_local_text_minus_epoch(text: str, offset: timedelta) -> None:
    clock = parse_device_clock(uptime(text, EPOCH))
    assert clock.now == datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC)
    assert clock.utc_offset == offset


def test_without_seconds_only_utc_text_is_trusted() -> None:
    assert parse_device_clock(uptime("2026-12-01 07:30:58 UTC", None)) == DeviceClock(
        datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC), resolution_s=1.0
    )
    with pytest.raises(MalformedReplyError, match="zone 'CET'"):
        parse_device_clock(uptime("2026-12-01 08:30:58 CET", None))
    with pytest.raises(MalformedReplyError, match="unparsable"):
        parse_device_clock(uptime("yesterday", EPOCH))
    with pytest.raises(MalformedReplyError, match="disagrees"):
        parse_device_clock(uptime("2026-12-09 08:30:58 CET", EPOCH))


def test_device_clock_refuses_naive_now_and_absurd_offsets() -> None:
    with pytest.raises(ValueError, match="aware"):
        DeviceClock(datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="offset"):
        DeviceClock(datetime(2026, 12, 1, tzinfo=UTC), timedelta(hours=25))


def test_start_time_written_in_the_device_zone_with_its_skew() -> None:
    instant = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    assert to_device_time(instant, SessionClock()) == datetime(2026, 12, 1, 9, 0, 0)
    berlin = SessionClock(skew_s=0.4, utc_offset=timedelta(hours=1))
    assert to_device_time(instant, berlin) == datetime(2026, 12, 1, 10, 0, 0)
    new_york = SessionClock(skew_s=-2.6, utc_offset=timedelta(hours=-5))
    assert to_device_time(instant, new_york) == datetime(2026, 12, 1, 3, 59, 57)


def test_zone_rules_give_the_offset_at_the_activation_instant() -> None:
    """Measured at 01:59:58 CET, just before Berlin springs forward (2027-03-28 01:00 UTC):
    the activation 5 s later is 03:00:03 CEST, not 02:00:03 (a time that does not exist)."""
    instant = datetime(2027, 3, 28, 1, 0, 3, tzinfo=UTC)
    measured_only = SessionClock(0.0, timedelta(hours=1))
    with_rules = SessionClock(0.0, timedelta(hours=1), ZoneInfo("Europe/Berlin"))
    assert to_device_time(instant, measured_only) == datetime(2027, 3, 28, 2, 0, 3)
    assert to_device_time(instant, with_rules) == datetime(2027, 3, 28, 3, 0, 3)


def test_repeated_hour_when_dst_ends_is_detected() -> None:
    berlin = SessionClock(0.0, timedelta(hours=2), ZoneInfo("Europe/Berlin"))
    # 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET, so 02:00..03:00 happens twice.
    wall = to_device_time(datetime(2026, 10, 25, 1, 0, 5, tzinfo=UTC), berlin)
    assert wall == datetime(2026, 10, 25, 2, 0, 5)
    assert is_ambiguous(wall, berlin)
    assert not is_ambiguous(datetime(2026, 10, 25, 3, 0, 5), berlin)
    assert not is_ambiguous(wall, SessionClock(0.0, timedelta(hours=2)))  # no rules: no claim


def test_zone_rules_are_trusted_only_when_they_match_the_measured_offset() -> None:
    now = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert _zone("Europe/Berlin", now, timedelta(hours=1)) == ZoneInfo("Europe/Berlin")
    assert _zone("Europe/Berlin", now, timedelta(hours=2)) is None  # device disagrees
    assert _zone("Atlantis/Capital", now, timedelta(0)) is None
    assert _zone(None, now, timedelta(0)) is UTC  # Junos' default
    assert _zone(None, now, timedelta(hours=1)) is None


def test_read_back_start_times_compare_as_instants() -> None:
    # Junos reads back "2026-12-1.10:00:00 +0100": parsed aware (09:00 UTC).
    states = [
        ChainEntryState("KC", 1, "aa", parse_start_time('"2026-12-1.10:00:00 +0100"')),
        ChainEntryState("KC", 2, "bb", parse_start_time('"2026-12-1.11:00:00 +0100"')),
    ]
    assert active_entry(states, datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == states[0]
    assert active_entry(states, datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == states[1]
    assert active_entry(states, datetime(2026, 12, 1, 8, 59, 59, tzinfo=UTC)) is None
    assert active_entry(states, datetime(2026, 12, 1, 10, 0)) == states[1]  # naive = UTC


def test_time_zone_from_configuration() -> None:
    reply = etree.fromstring(
        "<configuration><system><time-zone>Europe/Berlin</time-zone></system></configuration>"
    )
    assert parse_time_zone(reply) == "Europe/Berlin"
    assert parse_time_zone(etree.fromstring("<configuration/>")) is None


class AutumnRouter:
    """A router in Europe/Berlin whose clock reads 10 s before DST ends (2026-10-25 01:00 UTC,
    03:00 CEST → 02:00 CET): an activation 15 s away is 02:00:05, a time that happens twice."""

    name = "mx-autumn"

    def __init__(self) -> None:
        self.applied: list[ChangeSet] = []

    def set_deadline(self, deadline: float | None) -> None: ...

    def is_alive(self) -> bool:
        return True

    def open(self) -> None: ...

    def close(self) -> None: ...

    def device_time(self) -> DeviceClock:
        return DeviceClock(
            datetime(2026, 10, 25, 0, 59, 50, tzinfo=UTC), timedelta(hours=2), "Europe/Berlin"
        )

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        return []

    def apply(self, changes: ChangeSet, *, comment: str) -> None:
        self.applied.append(changes)


async def test_staging_into_the_repeated_hour_is_refused_before_any_commit() -> None:
    router = AutumnRouter()
    entry = KeyChainEntry(
        "KC", 3, "ab" * 32, Secret(bytes(32)), datetime.now(UTC) + timedelta(seconds=15)
    )
    item = StageItem(1, "l1", entry, None, "KC", frozenset(), ())
    with ThreadPoolExecutor(1) as threads:
        pool = SessionPool(lambda _: ThreadedDriver(router, threads))  # type: ignore[arg-type]
        with pytest.raises(StageFailed, match="repeated hour") as excinfo:
            await stage_device(pool, router.name, [item], comment="t", not_after=None)
    assert excinfo.value.maybe_committed is False
    assert router.applied == []
