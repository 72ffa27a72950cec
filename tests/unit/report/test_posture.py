"""The posture the journal keeps per hop, and how status and metrics show it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console

from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.posture_record import POSTURE_META, PostureRecorder, recorded_postures
from qkd_macsec.posture import HopPosture
from qkd_macsec.report.posture import classical_hops, posture_table
from qkd_macsec.report.posture_metrics import TransportPostureCollector

R1_PQ = HopPosture("ssh", "r1 (10.0.0.1:830)", "mlkem768x25519-sha256", "aes256-gcm@openssh.com")
R2_CLASSIC = HopPosture("ssh", "r2 (10.0.0.2:830)", "curve25519-sha256", "aes128-ctr", mac="x")
KME_PQ = HopPosture("tls", "kme-a:443", "X25519MLKEM768", "TLS_AES_256_GCM_SHA384", "TLSv1.3")


def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite")


def test_recorder_keeps_the_newest_posture_per_hop(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record = PostureRecorder(j)
    for posture in (R1_PQ, R2_CLASSIC, KME_PQ):
        record(posture)
    upgraded = HopPosture("ssh", R2_CLASSIC.peer, "mlkem768x25519-sha256", "aes256-ctr")
    record(upgraded)
    entries = recorded_postures(j)
    assert set(entries) == {f"ssh:{R1_PQ.peer}", f"ssh:{R2_CLASSIC.peer}", f"tls:{KME_PQ.peer}"}
    assert entries[f"ssh:{R2_CLASSIC.peer}"]["kex"] == "mlkem768x25519-sha256"
    assert entries[f"ssh:{R2_CLASSIC.peer}"]["pq"] is True
    assert classical_hops(entries) == []


def test_an_unchanged_posture_is_not_rewritten(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record = PostureRecorder(j)
    record(R1_PQ)
    j.set_meta(POSTURE_META, {})  # if the recorder wrote again, the entry would come back
    record(R1_PQ)
    assert recorded_postures(j) == {}


def test_status_table_marks_classical_hops(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record = PostureRecorder(j)
    record(R1_PQ)
    record(R2_CLASSIC)
    console = Console(width=120, record=True)
    console.print(posture_table(recorded_postures(j)))
    text = console.export_text()
    assert "hybrid-PQ" in text
    assert "classical" in text
    assert "curve25519-sha256" in text
    assert classical_hops(recorded_postures(j)) == [f"ssh:{R2_CLASSIC.peer}"]


def test_metrics_count_hops_per_kind_and_posture(tmp_path: Path) -> None:
    j = journal(tmp_path)
    record = PostureRecorder(j)
    for posture in (R1_PQ, R2_CLASSIC, KME_PQ):
        record(posture)
    registry = CollectorRegistry()
    registry.register(TransportPostureCollector(lambda: recorded_postures(j)))
    text = generate_latest(registry).decode()
    assert 'qkd_macsec_transport_hops{kind="ssh",posture="hybrid-PQ"} 1.0' in text
    assert 'qkd_macsec_transport_hops{kind="ssh",posture="classical"} 1.0' in text
    assert 'qkd_macsec_transport_hops{kind="tls",posture="hybrid-PQ"} 1.0' in text
    assert 'qkd_macsec_transport_hops{kind="tls",posture="classical"} 0.0' in text
    assert 'qkd_macsec_transport_hop_pq{kind="ssh",peer="r2 (10.0.0.2:830)"} 0.0' in text


def test_report_html_has_a_transport_section_marking_classical_hops(tmp_path: Path) -> None:
    from qkd_macsec.report.timeline import write_report

    j = journal(tmp_path)
    record = PostureRecorder(j)
    record(R1_PQ)
    record(R2_CLASSIC)
    files = write_report(j, tmp_path / "out")
    page = files.html.read_text()
    assert "<h2>Transport</h2>" in page
    assert "2 hop(s), 1 classical" in page
    assert '<tr class="classical"><td>ssh</td><td>r2 (10.0.0.2:830)</td><td>CLASSICAL</td>' in page
    assert '<tr class="pq"><td>ssh</td><td>r1 (10.0.0.1:830)</td><td>hybrid-PQ</td>' in page
