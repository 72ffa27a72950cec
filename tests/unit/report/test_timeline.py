"""The journal timeline report: outcomes, spans, and a PNG/HTML that are well-formed."""

from __future__ import annotations

import itertools
import json
import re
import statistics
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.report.timeline import (
    HTML_NAME,
    OUTAGE_NOT_MEASURED,
    PNG_NAME,
    in_force_spans,
    link_order,
    summarize,
    time_ticks,
    timeline_entries,
    write_report,
)
from support.report_journal import T0 as MIXED_T0
from support.report_journal import Written, fill

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def rotate(
    journal: Journal,
    link: str,
    at: datetime,
    *,
    end: Phase = Phase.ACTIVE,
    error: str | None = None,
    key_id: str = "k",
) -> int:
    rid = journal.begin(link, "wave", [("r1", "et-0/0/0"), ("r2", "et-0/0/0")], now=at)
    journal.record_keys(rid, key_id=key_id, ckn="ab" * 32, kcv="1234", now=at)
    start = at + timedelta(seconds=10)
    journal.record_staging(rid, slot=1, start_time=start, now=at + timedelta(seconds=1))
    journal.set_phase(rid, end, error=error, now=at + timedelta(seconds=11))
    return rid


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    rotate(j, "p2p-a", T0, key_id="key-a1")
    rotate(j, "p2p-a", T0 + timedelta(minutes=5), key_id="key-a2")
    rotate(j, "p2p-b", T0, end=Phase.ACTIVE, error="verify: r2 et-0/0/0: not live on the new CKN")
    rotate(j, "group<x>", T0, end=Phase.ABORTED, error="stage failed on r9 (<refused>)")
    rid = j.begin("p2p-c", "wave", [("r1", "et-0/0/1")], now=T0)
    j.set_phase(rid, Phase.STAGING, now=T0 + timedelta(seconds=1))
    yield j
    j.close()


def test_entries_classify_outcomes_and_take_over_at_the_start_time(journal: Journal) -> None:
    entries = {(e.link, e.key_id): e for e in timeline_entries(journal.rotations(limit=100))}
    ok = entries[("p2p-a", "key-a1")]
    assert ok.outcome == "ok"
    assert ok.mka == "live on new CKN"
    assert ok.took_over == T0 + timedelta(seconds=10)
    assert entries[("p2p-b", "k")].outcome == "unverified"
    assert entries[("p2p-b", "k")].mka == "not confirmed"
    assert entries[("group<x>", "k")].outcome == "aborted"
    assert entries[("group<x>", "k")].took_over is None
    assert entries[("p2p-c", None)].outcome == "open"


def test_in_force_spans_run_until_the_next_key_or_now(journal: Journal) -> None:
    entries = timeline_entries(journal.rotations(limit=100))
    now = T0 + timedelta(minutes=20)
    spans = in_force_spans(entries, now)
    assert spans["p2p-a"] == [
        (T0 + timedelta(seconds=10), T0 + timedelta(minutes=5, seconds=10)),
        (T0 + timedelta(minutes=5, seconds=10), now),
    ]
    assert "group<x>" not in spans


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    ihdr = data[16 : 16 + length]
    crc = struct.unpack(">I", data[16 + length : 20 + length])[0]
    assert zlib.crc32(kind + ihdr) == crc, "IHDR checksum"
    width, height = struct.unpack(">II", ihdr[:8])
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"), "IEND chunk"
    return width, height


def test_report_writes_a_well_formed_png_and_html(journal: Journal, tmp_path: Path) -> None:
    out = tmp_path / "report"
    files = write_report(journal, out, now=T0 + timedelta(minutes=20))
    assert (files.png, files.html) == (out / PNG_NAME, out / HTML_NAME)
    assert (files.links, files.rotations) == (4, 5)
    data = files.png.read_bytes()
    width, height = png_size(data)
    assert width > 0
    assert height > 0
    assert len(data) > 5_000  # bars, labels and a legend, not a blank canvas
    page = files.html.read_text()
    assert page.startswith("<!doctype html>")
    assert "data:image/png;base64," in page
    for text in ("p2p-a", "key-a2", "unverified", "aborted", "not confirmed"):
        assert text in page
    assert "group&lt;x&gt;" in page
    assert "group<x>" not in page
    assert "(&lt;refused&gt;)" in page


def test_report_can_be_limited_to_some_links(journal: Journal, tmp_path: Path) -> None:
    files = write_report(journal, tmp_path / "only-a", links=["p2p-a"])
    assert (files.links, files.rotations) == (1, 2)
    assert "p2p-b" not in files.html.read_text()


def test_empty_journal_still_gives_a_valid_image(tmp_path: Path) -> None:
    empty = Journal(tmp_path / "empty.sqlite")
    files = write_report(empty, tmp_path / "out")
    empty.close()
    width, height = png_size(files.png.read_bytes())
    assert width > 0
    assert height > 0
    assert "0 rotation(s) on 0 link(s)" in files.html.read_text()


# -- a journal with a few dozen rotations of mixed results -----------------------------------
EXPECTED_COLOURS = {  # what the page promises: green ok, amber unverified, orange, red, grey
    "ok": "#2e7d32",
    "unverified": "#f9a825",
    "aborted": "#ef6c00",
    "failed": "#c62828",
    "open": "#757575",
}
MIXED_NOW = MIXED_T0 + timedelta(hours=8, minutes=10)


@pytest.fixture
def mixed(tmp_path: Path) -> Iterator[tuple[Journal, Written]]:
    j = Journal(tmp_path / "mixed.sqlite")
    written = fill(j)
    yield j, written
    j.close()


def test_the_mixed_journal_has_every_result(mixed: tuple[Journal, Written]) -> None:
    _, written = mixed
    results = Counter(result for _, _, result, _, _ in written.rotations)
    assert 30 <= len(written.rotations) <= 80
    assert set(results) == {"ok", "unverified", "aborted", "failed", "open"}


def embedded_rotations(page: str) -> list[dict[str, object]]:
    found = re.findall(r'<script type="application/json" id="rotations">(.*?)</script>', page, re.S)
    assert len(found) == 1
    data: list[dict[str, object]] = json.loads(found[0])
    return data


def test_html_has_one_mark_per_rotation_with_its_result_colour_and_kcv(
    mixed: tuple[Journal, Written], tmp_path: Path
) -> None:
    journal, written = mixed
    files = write_report(journal, tmp_path / "out", now=MIXED_NOW)
    page = files.html.read_text()
    expected = {rid: (link, result, kcv) for rid, link, result, kcv, _ in written.rotations}

    data = embedded_rotations(page)
    assert len(data) == len(expected)
    for row in data:
        link, result, kcv = expected[int(str(row["rotation"]))]
        assert (row["link"], row["result"], row["kcv"]) == (link, result, kcv)
        assert row["colour"] == EXPECTED_COLOURS[result]
        assert str(row["started"]).endswith("Z")  # wall-clock UTC, not an offset in seconds

    svg = re.search(
        r'<svg xmlns="http://www.w3.org/2000/svg" class="timeline".*?</svg>', page, re.S
    )
    assert svg is not None
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(svg.group().encode(), parser)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    marks = [c for c in root.iter(f"{ns}circle") if "mark" in c.get("class", "").split()]
    assert len(marks) == len(expected)
    assert sorted(int(m.get("data-rotation", "0")) for m in marks) == sorted(expected)
    for mark in marks:
        link, result, kcv = expected[int(mark.get("data-rotation", "0"))]
        assert mark.get("class") == f"mark {result}"
        assert mark.get("fill") == EXPECTED_COLOURS[result]
        title = mark.find(f"{ns}title")
        assert title is not None
        assert title.text is not None
        assert title.text.startswith(f"{link}: {result}")
        assert "duration " in title.text
        if kcv is not None:
            assert f"KCV {kcv}" in title.text
    ticks = [t.text or "" for t in root.iter(f"{ns}text") if t.get("class") == "tick"]
    assert ticks[0].startswith("2026-11-26 ")  # the first tick carries the UTC date
    assert all(re.fullmatch(r"(2026-11-26 )?\d\d:\d\d", tick) for tick in ticks), ticks


def test_html_holds_no_key_material_and_fetches_nothing(
    mixed: tuple[Journal, Written], tmp_path: Path
) -> None:
    journal, written = mixed
    page = write_report(journal, tmp_path / "out", now=MIXED_NOW).html.read_text()
    for _, _, _, _, ckn in written.rotations:
        if ckn is not None:
            assert ckn not in page
            assert ckn.upper() not in page
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"]
    assert "<script src" not in page
    assert "<link" not in page
    assert "@import" not in page


def test_summary_above_the_timeline_with_per_link_results_and_enc_to_active(
    mixed: tuple[Journal, Written], tmp_path: Path
) -> None:
    journal, written = mixed
    page = write_report(journal, tmp_path / "out", now=MIXED_NOW).html.read_text()
    assert page.index('class="summary"') < page.index('class="links"') < page.index("<svg")
    assert "measured outage" in page
    assert page.count(OUTAGE_NOT_MEASURED) >= 1 + len({w[1] for w in written.rotations})

    # ENC→active from the journal's own events: PLANNED instant to the staged start-time.
    seconds = []
    for rid, _, result, _, _ in written.rotations:
        if result not in ("ok", "unverified"):
            continue
        events = {kind: (ts, detail) for ts, kind, detail in journal.events(rid)}
        start_time = datetime.fromisoformat(str(events["STAGING"][1]["start_time"]))
        seconds.append((start_time - events["PLANNED"][0]).total_seconds())
    summary = summarize(timeline_entries(journal.rotations(limit=1000)))
    assert summary.enc_to_active_median == pytest.approx(statistics.median(seconds))
    assert summary.worst is not None
    assert summary.worst.enc_to_active == pytest.approx(max(seconds))
    assert max(seconds) > 30  # the slow commit on p2p-fra-par is the worst
    assert summary.worst.link == "p2p-fra-par"
    assert f"{max(seconds):.1f} s (p2p-fra-par, " in page

    per_link = {s.link: s for s in summary.per_link}
    for link in {w[1] for w in written.rotations}:
        mine = [w for w in written.rotations if w[1] == link]
        assert per_link[link].counts == {
            name: sum(1 for w in mine if w[2] == name) for name in EXPECTED_COLOURS
        }
        last = [w for w in mine if w[2] in ("ok", "unverified")][-1]
        assert per_link[link].last_kcv == last[3]
        assert per_link[link].mka.startswith("yes" if last[2] == "ok" else "no")


def test_mixed_png_is_well_formed_and_sized_for_its_links(
    mixed: tuple[Journal, Written], tmp_path: Path
) -> None:
    journal, _ = mixed
    files = write_report(journal, tmp_path / "out", now=MIXED_NOW)
    data = files.png.read_bytes()
    width, height = png_size(data)
    assert width == 1200
    assert 300 <= height <= 1200
    assert 20_000 < len(data) < 400_000


def test_time_ticks_are_round_utc_instants() -> None:
    start = datetime(2026, 11, 26, 5, 47, 12, tzinfo=UTC)
    ticks = time_ticks(start, start + timedelta(hours=8, minutes=30))
    assert ticks[0] == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(ticks))
    assert len(ticks) <= 10
    short = time_ticks(start, start + timedelta(seconds=40))
    assert short[0] == datetime(2026, 11, 26, 5, 47, 15, tzinfo=UTC)


def test_links_sort_with_numbers_in_order() -> None:
    links = ["l10", "l2", "p2p-11-12", "l1", "p2p-2-3", "ca-edge"]
    assert sorted(links, key=link_order) == ["ca-edge", "l1", "l2", "l10", "p2p-2-3", "p2p-11-12"]


PLATFORMS = {
    "p2p-a": ("junos", "iosxr"),
    "p2p-b": ("junos", "junos"),
    "group<x>": ("junos", "junos", "iosxr"),
}


def test_the_report_breaks_rotations_down_by_platform_pair(
    journal: Journal, tmp_path: Path
) -> None:
    files = write_report(
        journal, tmp_path / "out", now=T0 + timedelta(minutes=20), platforms=PLATFORMS
    )
    assert files.pairs == {"junos/iosxr": {"ok": 2, "aborted": 1}, "junos": {"unverified": 1}}
    summary = summarize(timeline_entries(journal.rotations(limit=100)), PLATFORMS)
    pairs = {p.pair: p for p in summary.per_pair}
    assert set(pairs) == {"junos", "junos/iosxr"}
    assert pairs["junos/iosxr"].links == 2  # p2p-a and group<x> (junos, junos, iosxr)
    assert pairs["junos/iosxr"].counts["ok"] == 2
    assert pairs["junos"].links == 1
    assert pairs["junos/iosxr"].enc_to_active_median == pytest.approx(10.0)
    assert {s.link: s.platforms for s in summary.per_link}["p2p-a"] == "junos/iosxr"
    page = files.html.read_text()
    assert "<h2>Per platform pair</h2>" in page
    table = page[page.index('<table class="pairs">') :]
    table = table[: table.index("</table>")]
    assert "<td>junos/iosxr</td><td>2</td><td>2</td>" in table  # pair, links, ok
    links = page[page.index('<table class="links">') :]
    assert "<tr><td>p2p-a</td><td>junos/iosxr</td>" in links


def test_without_platforms_the_report_says_they_are_not_known(
    journal: Journal, tmp_path: Path
) -> None:
    files = write_report(journal, tmp_path / "out", now=T0 + timedelta(minutes=20))
    assert files.pairs == {}
    assert "Platforms not known" in files.html.read_text()
