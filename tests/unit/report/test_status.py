"""`status` rows: journal view per link, MKA state per end, the outage column, the Rich table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from qkd_macsec.devices.base import DeviceError, MkaSessionState
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.report.status import (
    end_states,
    link_status,
    read_mka_live,
    status_json,
    status_table,
)

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
NEW, OLD = "aa" * 32, "bb" * 32
LINKS = {
    "p2p": [("r1", "et-0/0/0"), ("r2", "et-0/0/0")],
    "never": [("r1", "et-0/0/5"), ("r3", "et-0/0/5")],
}


def session(interface: str, ckn: str, live: bool = True) -> MkaSessionState:
    return MkaSessionState(interface, ckn.upper(), "primary", live, "live" if live else "init")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    rid = j.begin("p2p", "w1", LINKS["p2p"], now=T0)
    j.record_keys(rid, key_id="key-1", ckn=NEW, kcv="0001", now=T0)
    j.record_staging(rid, slot=1, start_time=T0 + timedelta(seconds=10), now=T0)
    j.set_phase(rid, Phase.ACTIVE, now=T0 + timedelta(seconds=11))
    failed = j.begin("never", "w1", LINKS["never"], now=T0)
    j.set_phase(failed, Phase.ABORTED, error="key fetch: KmeUnreachable", now=T0)
    yield j
    j.close()


def test_end_states_newest_old_down_unreachable() -> None:
    readings = {
        "r1": [session("et-0/0/0", NEW), session("et-0/0/1", OLD), session("et-0/0/2", NEW, False)],
        "r2": "DeviceError: connection refused",
    }
    ends = [("r1", "et-0/0/0"), ("r1", "et-0/0/1"), ("r1", "et-0/0/2"), ("r2", "et-0/0/0")]
    states = [e.state for e in end_states(ends, NEW, readings)]
    assert states == ["newest", "old", "down", "unreachable"]
    assert [e.state for e in end_states([("r9", "x")], NEW, readings)] == ["unreachable"]


def test_rows_from_the_journal_without_live_read(journal: Journal) -> None:
    rows = {r.link: r for r in link_status(LINKS, journal, T0 + timedelta(minutes=2))}
    p2p = rows["p2p"]
    assert p2p.key_id == "key-1"
    assert p2p.key_age_s == pytest.approx(110.0)
    assert p2p.last_phase == "ACTIVE"
    assert (p2p.failures, p2p.open, p2p.needs_attention) == (0, False, False)
    assert (p2p.mka, p2p.outage) == ("-", "-")
    never = rows["never"]
    assert never.key_id is None
    assert never.failures == 1
    assert never.last_error == "key fetch: KmeUnreachable"


def test_rows_with_live_mka_show_state_and_outage(journal: Journal) -> None:
    readings = {"r1": [session("et-0/0/0", NEW)], "r2": [session("et-0/0/0", NEW)]}
    rows = {r.link: r for r in link_status(LINKS, journal, T0, readings)}
    assert rows["p2p"].mka == "live on newest 2/2"
    assert rows["p2p"].outage == "none now"
    assert rows["never"].mka == "down 1/2, unreachable 1/2"
    assert rows["never"].outage == "now: 1 end(s) down"
    readings["r2"] = [session("et-0/0/0", OLD)]
    rows = {r.link: r for r in link_status(LINKS, journal, T0, readings)}
    assert rows["p2p"].mka == "newest 1/2, old 1/2"
    assert rows["p2p"].outage == "none now"


def test_table_and_json_show_every_column(journal: Journal) -> None:
    readings = {"r1": [session("et-0/0/0", NEW)], "r2": [session("et-0/0/0", NEW)]}
    now = T0 + timedelta(minutes=3)
    rows = link_status(LINKS, journal, now, readings)
    console = Console(record=True, width=200)
    console.print(status_table(rows, now))
    text = console.export_text()
    for expected in ("key-1", "ACTIVE", "live 2/2", "none now", "KmeUnreachable"):
        assert expected in text
    p2p_line = next(line for line in text.splitlines() if "key-1" in line)
    assert " 3m │" in p2p_line  # the key age (170 s), in a readable unit
    assert "ACTIVE 3m" in p2p_line
    data = {row["link"]: row for row in status_json(rows)}
    assert data["p2p"]["ends"] == [
        {"device": "r1", "interface": "et-0/0/0", "state": "newest"},
        {"device": "r2", "interface": "et-0/0/0", "state": "newest"},
    ]
    assert data["never"]["failures"] == 1


class FakeDriver:
    def __init__(self, name: str) -> None:
        self.name = name
        self.opened = self.closed = False

    def open(self) -> None:
        if self.name == "r3":
            raise DeviceError(self.name, "connection refused")
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def mka_sessions(self, interfaces: list[str]) -> list[MkaSessionState]:
        return [session(i, NEW) for i in interfaces]


def test_read_mka_live_reads_each_device_once_and_reports_failures() -> None:
    drivers: dict[str, FakeDriver] = {}

    def factory(name: str) -> FakeDriver:
        drivers[name] = FakeDriver(name)
        return drivers[name]

    readings = read_mka_live(LINKS, factory)  # type: ignore[arg-type]
    assert sorted(readings) == ["r1", "r2", "r3"]
    r1 = readings["r1"]
    assert not isinstance(r1, str)
    assert sorted(s.interface for s in r1) == ["et-0/0/0", "et-0/0/5"]
    assert isinstance(readings["r3"], str)
    assert "connection refused" in readings["r3"]
    assert drivers["r1"].closed


def test_a_mixed_link_shows_its_platforms_in_table_and_json(journal: Journal) -> None:
    readings = {"r1": [session("et-0/0/0", NEW)], "r2": [session("Hu0/0/0/1", OLD)]}
    links = {"p2p": [("r1", "et-0/0/0"), ("r2", "Hu0/0/0/1")]}
    platforms = {"r1": "junos", "r2": "iosxr"}
    now = T0 + timedelta(minutes=3)
    (row,) = link_status(links, journal, now, readings, platforms)
    assert row.platforms == ("junos", "iosxr")
    assert [(e.device, e.platform, e.state) for e in row.ends or ()] == [
        ("r1", "junos", "newest"),
        ("r2", "iosxr", "old"),
    ]
    console = Console(record=True, width=200)
    console.print(status_table([row], now))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "key ID" in line)
    assert "platform" in header
    p2p_line = next(line for line in text.splitlines() if "key-1" in line)
    assert "junos/iosxr" in p2p_line
    (data,) = status_json([row])
    assert data["platforms"] == ["junos", "iosxr"]
    assert data["ends"] == [
        {"device": "r1", "interface": "et-0/0/0", "platform": "junos", "state": "newest"},
        {"device": "r2", "interface": "Hu0/0/0/1", "platform": "iosxr", "state": "old"},
    ]


def test_a_single_platform_link_names_its_one_platform(journal: Journal) -> None:
    rows = link_status(LINKS, journal, T0, None, {"r1": "junos", "r2": "junos", "r3": "junos"})
    assert {r.link: r.platform_pair for r in rows} == {"p2p": "junos", "never": "junos"}


def test_a_single_vendor_fleet_keeps_its_table_without_a_platform_column(
    journal: Journal,
) -> None:
    rows = link_status(LINKS, journal, T0, None, {"r1": "junos", "r2": "junos", "r3": "junos"})
    console = Console(record=True, width=200)
    console.print(status_table(rows, T0))
    header = next(line for line in console.export_text().splitlines() if "key ID" in line)
    assert "platform" not in header
    assert [row["platforms"] for row in status_json(rows)] == [["junos"], ["junos"]]
