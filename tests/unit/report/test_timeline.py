"""The journal timeline report: outcomes, spans, and a PNG/HTML that are well-formed."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.report.timeline import (
    HTML_NAME,
    PNG_NAME,
    in_force_spans,
    timeline_entries,
    write_report,
)

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
