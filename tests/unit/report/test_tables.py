"""Every operator table is readable at 80 and 120 columns: headers whole, no cell cut.

The tables are rendered as a pipe or cron would see them (no terminal, fixed width); the check
is on the plain text: no line wider than the console, no ellipsis (Rich's mark of a cut cell),
every header printed whole, every non-wrapping cell printed whole on one line, and every word of
a wrapping cell present.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from qkd_macsec.cli.demo import links_table
from qkd_macsec.cli.render import print_wave
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.results import DeviceResult, RotationResult, WaveResult
from qkd_macsec.report.status import EndState, LinkStatus, status_table
from qkd_macsec.report.tables import Column, FitTable, short_id
from qkd_macsec.testbed.demo import DemoReport, LinkReport

WIDTHS = (80, 120)
KEY_ID = "569d1f1a-a79c-4262-b3c3-90f334d01d07"
LONG_ERROR = (
    "stage failed on mx10008-23 (DeviceLockError: configuration lock refused [Errno 1]: "
    "configuration database locked by user netconf session 4711)"
)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def render(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def assert_readable(
    text: str, width: int, headers: Sequence[str], cells: Sequence[str], wrapping: Sequence[str]
) -> None:
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), text
    assert "…" not in text, text
    for header in headers:
        assert any(header in line for line in lines), f"header {header!r} not whole:\n{text}"
    for cell in cells:
        for part in cell.splitlines():
            assert any(part in line for line in lines), f"cell {part!r} cut:\n{text}"
    words = text.split()
    for cell in wrapping:
        for word in cell.split():
            assert word in words or any(word in w for w in words), f"word {word!r} lost:\n{text}"


def status_rows(live: bool) -> list[LinkStatus]:
    ends = (EndState("mx304-11", "et-0/0/9", "newest"), EndState("mx304-12", "et-0/0/9", "down"))
    return [
        LinkStatus(
            link=f"dc{i}-dc{i + 1}-primary",
            key_id=KEY_ID,
            key_age_s=170.0 * i,
            last_rotation=NOW - timedelta(minutes=i),
            last_phase=Phase.ABORTED.value if i == 2 else Phase.ACTIVE.value,
            last_error=LONG_ERROR if i == 2 else None,
            open=False,
            failures=2 if i == 2 else 0,
            ends=ends if live else None,
        )
        for i in range(1, 4)
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("live", [False, True])
def test_status_table_fits(width: int, live: bool) -> None:
    text = render(status_table(status_rows(live), NOW), width)
    headers = ["link", "key ID", "age", "last", "fails", "note"]
    headers += ["MKA", "outage"] if live else []
    cells = ["dc1-dc2-primary", "dc3-dc4-primary", short_id(KEY_ID), "ABORTED 2m", "8m"]
    assert_readable(text, width, headers, cells, [LONG_ERROR])
    assert KEY_ID not in text  # shortened to a stable prefix...
    assert KEY_ID in render(status_table(status_rows(live), NOW, wide=True), 300)  # ...or not


def test_status_table_without_notes_is_a_grid_at_80_columns() -> None:
    rows = [r for r in status_rows(live=False) if r.last_error is None]
    table = status_table(rows, NOW)
    assert table.layout(80) == "grid"
    assert "note" not in render(table, 80)  # an empty optional column is left out


def wave() -> WaveResult:
    result = WaveResult(wave="3f2a9c1b7d4e", started=NOW, finished=NOW + timedelta(seconds=18))
    for i, (phase, error) in enumerate([(Phase.ACTIVE, None), (Phase.ABORTED, LONG_ERROR)]):
        rr = RotationResult(f"dc{i}-dc{i + 1}-primary", i + 1, "due")
        rr.phase, rr.key_id, rr.kcv, rr.slot, rr.error = phase, KEY_ID, "9e8939ac", 7, error
        rr.verified = phase is Phase.ACTIVE
        result.rotations[rr.link] = rr
    result.devices["mx304-11"] = DeviceResult("mx304-11")
    return result


@pytest.mark.parametrize("width", WIDTHS)
def test_wave_table_fits(width: int) -> None:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    print_wave(console, wave())
    text = console.export_text()
    headers = ["link", "why", "result", "key ID", "kcv", "slot", "note"]
    cells = ["dc0-dc1-primary", "due", "ok", "aborted", short_id(KEY_ID), "9e8939ac"]
    assert_readable(text, width, headers, cells, [LONG_ERROR])


@pytest.mark.parametrize("width", WIDTHS)
def test_demo_table_fits(width: int, tmp_path: Path) -> None:
    links = [
        LinkReport("ca-basic", KEY_ID, "9e8939ac", 0.8, 3, 3, 0.0, 3),
        LinkReport("p2p-11-12", KEY_ID, "978607e1", 0.8, 1, 1, 0.0, 3),
    ]
    report = DemoReport(waves=[], links=links, seconds=18.2, directory=tmp_path)
    text = render(links_table(report), width)
    headers = ["link", "key ID", "kcv", "age", "live", "outage", "keys"]
    cells = ["ca-basic", "p2p-11-12", short_id(KEY_ID), "9e8939ac", "3/3", "0s"]
    assert_readable(text, width, headers, cells, [])
    assert links_table(report).layout(80) == "grid"


def test_vertical_layout_when_nothing_fits() -> None:
    table = FitTable("x", [Column("name"), Column("value"), Column("other")])
    table.add_row("a" * 50, "b" * 40, Text("c" * 10, style="red"))
    assert table.layout(80) == "vertical"
    text = render(table, 80)
    assert_readable(text, 80, ["name", "value", "other"], ["a" * 50, "b" * 40, "c" * 10], [])


def test_cells_are_never_parsed_as_markup() -> None:
    table = FitTable("x", [Column("note")])
    table.add_row("[bold]refused[/bold] [errno 1]")
    assert "[bold]refused[/bold] [errno 1]" in render(table, 80)


def test_short_id_is_a_stable_prefix() -> None:
    assert short_id(KEY_ID) == KEY_ID[:8]
    assert short_id(KEY_ID, wide=True) == KEY_ID
    assert short_id("key-1") == "key-1"
    assert short_id(None) == "-"


def test_row_length_must_match() -> None:
    table = FitTable("x", [Column("a"), Column("b")])
    with pytest.raises(ValueError, match="2 columns"):
        table.add_row("only one")


def test_status_from_a_real_journal_fits(tmp_path: Path) -> None:
    from qkd_macsec.report.status import link_status

    journal = Journal(tmp_path / "journal.sqlite")
    try:
        rid = journal.begin("dc1-dc2", "w1", [("a", "et-0/0/9"), ("b", "et-0/0/9")], now=NOW)
        journal.record_keys(rid, key_id=KEY_ID, ckn="ab" * 32, kcv="0001", now=NOW)
        journal.record_staging(rid, slot=1, start_time=NOW, now=NOW)
        journal.set_phase(rid, Phase.ACTIVE, now=NOW)
        rows = link_status({"dc1-dc2": [("a", "et-0/0/9"), ("b", "et-0/0/9")]}, journal, NOW)
    finally:
        journal.close()
    assert status_table(rows, NOW).layout(80) == "grid"


@pytest.mark.parametrize("width", WIDTHS)
def test_preflight_table_fits(width: int) -> None:
    from qkd_macsec.cli.preflight import report_table
    from qkd_macsec.preflight import Finding, PreflightReport, Severity
    from qkd_macsec.preflight.model import Subject

    ntp = "NTP is not synchronised (sync_unspec, stratum 16): start-times would drift apart"
    findings = (
        Finding(Subject.ROUTER, "mx10008-23", "ntp", Severity.BLOCKER, ntp),
        Finding(Subject.ROUTER, "mx10008-23", "commit", Severity.OK, "commit check passed"),
        Finding(Subject.ROUTER, "mx304-11", "reachable", Severity.UNREACHABLE, LONG_ERROR),
        Finding(Subject.KME, "mx304-11->mx304-12", "kme-status", Severity.OK, "ok"),
    )
    text = render(report_table(PreflightReport(findings), show_all=False), width)
    headers = ["subject", "check", "result", "detail"]
    assert_readable(text, width, headers, ["mx10008-23", "BLOCK", "unreach"], [ntp, LONG_ERROR])
