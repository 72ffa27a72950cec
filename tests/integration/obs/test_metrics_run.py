"""`qkd-macsec run --metrics-port 0` against the seed lab: scrape while it runs, then look at it
with `status --live` and `report` — real KMEs over mTLS, real PyEZ, simulated Junos."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from qkd_macsec.testbed.builder import Testbed

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def documented_names() -> set[str]:
    table = [line for line in DOCS.read_text().splitlines() if line.startswith("| `qkd_macsec_")]
    return {re.match(r"\| `([a-z_]+)`", line).group(1) for line in table}  # type: ignore[union-attr]


def scrape(url: str) -> tuple[Samples, set[str]]:
    """Every sample, and every announced family (counters also under their ``_total`` name)."""
    text = httpx.get(url, timeout=5).text
    samples: Samples = {}
    families: set[str] = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        if family.type == "counter":
            families.add(f"{family.name}_total")
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, families


def get(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_scraped_during_run_then_status_and_report(
    seed_testbed: Testbed, child: type, tmp_path: Path
) -> None:
    inventory = str(seed_testbed.inventory_path)
    links = [link.name for link in seed_testbed.inventory.links]
    run = child("run", "-i", inventory, "--metrics-port", "0", "--check-interval", "1")
    line = run.wait_for_line("metrics on http://", timeout=30)
    url = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line).group(1)  # type: ignore[union-attr]

    deadline = time.monotonic() + 60
    samples, families = scrape(url)
    while (get(samples, "qkd_macsec_rotations_total", result="ok") or 0) < len(links):
        assert time.monotonic() < deadline, f"no successful wave: {run.seen[-5:]}"
        assert run.proc.poll() is None, f"run exited: {run.seen[-5:]}"
        time.sleep(0.2)  # polling the endpoint against a deadline
        samples, families = scrape(url)

    assert documented_names() <= families
    assert get(samples, "qkd_macsec_rotations_total", result="ok") == len(links)
    for bad in ("aborted", "failed", "unverified"):
        assert not get(samples, "qkd_macsec_rotations_total", result=bad)
    assert get(samples, "qkd_macsec_rotation_duration_seconds_count") == len(links)
    assert 0 < (get(samples, "qkd_macsec_rotation_duration_seconds_sum") or 0) < 60 * len(links)
    for link in links:
        age = get(samples, "qkd_macsec_key_age_seconds", link=link)
        assert age is not None
        assert 0 <= age < 120
        assert get(samples, "qkd_macsec_link_mka_live", link=link) == 1
    assert get(samples, "qkd_macsec_links_without_live_mka") == 0
    # One enc_keys per link; one dec_keys per slave end (ca-basic: 3 slaves, p2p: 1).
    assert get(samples, "qkd_macsec_kme_request_duration_seconds_count", endpoint="enc_keys") == 2
    dec = get(samples, "qkd_macsec_kme_request_duration_seconds_count", endpoint="dec_keys")
    assert dec is not None
    assert dec >= 4
    assert not [k for k in samples if k[0] == "qkd_macsec_kme_request_errors_total"]
    routers = len(seed_testbed.inventory.hosts)
    assert get(samples, "qkd_macsec_device_commit_duration_seconds_count") == routers
    for host in seed_testbed.inventory.hosts:  # every device labelled with its platform
        assert get(samples, "qkd_macsec_device_platform", device=host, platform="junos") == 1
    for link in links:
        assert get(samples, "qkd_macsec_link_platforms", link=link, platforms="junos") == 1
    days = {
        dict(labels)["subject"]: value
        for (name, labels), value in samples.items()
        if name == "qkd_macsec_certificate_days_left"
    }
    assert set(seed_testbed.inventory.hosts) <= set(days)  # every SAE certificate (CN = SAE ID)
    for host in seed_testbed.inventory.hosts:
        assert 29 < days[host] <= 30.01  # the testbed issues 30-day SAE certificates
    assert len(days) > len(seed_testbed.inventory.hosts)  # and the KME CA
    assert all(left > 29 for left in days.values())
    assert (get(samples, "qkd_macsec_last_wave_timestamp_seconds") or 0) > time.time() - 120

    assert run.stop() == 0
    try:
        httpx.get(url, timeout=2)
        served_after_stop = True
    except httpx.TransportError:
        served_after_stop = False
    assert not served_after_stop

    status = subprocess.run(
        [sys.executable, "-m", "qkd_macsec", "status", "-i", inventory, "--live", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    rows = {row["link"]: row for row in json.loads(status.stdout)}
    assert rows["ca-basic"]["mka"] == "live on newest 6/6"
    assert rows["p2p-11-12"]["mka"] == "live on newest 2/2"
    assert all(row["outage"] == "none now" and row["failures"] == 0 for row in rows.values())

    # the same through a pipe at 80 columns, as `ssh host qkd-macsec status --live | less` sees it
    piped = subprocess.run(
        [sys.executable, "-m", "qkd_macsec", "status", "-i", inventory, "--live"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, piped.stdout
    assert "…" not in piped.stdout, piped.stdout
    header = next(line for line in lines if "link" in line and "key ID" in line)
    for column in ("link", "key ID", "age", "last", "MKA", "outage", "fails"):
        assert column in header, header
    for link in ("ca-basic", "p2p-11-12"):
        row = next(line for line in lines if f" {link} " in line)
        assert "live 6/6" in row or "live 2/2" in row, row
        assert "none now" in row, row
    # and the transport table under it: every hop the key travelled was hybrid-PQ
    assert "transport" in piped.stdout, piped.stdout
    assert "hybrid-PQ" in piped.stdout, piped.stdout
    assert "classical" not in piped.stdout, piped.stdout
    hops = get(samples, "qkd_macsec_transport_hops", kind="ssh", posture="hybrid-PQ")
    assert hops == routers
    assert get(samples, "qkd_macsec_transport_hops", kind="ssh", posture="classical") == 0

    out = tmp_path / "report"
    report = subprocess.run(
        [
            sys.executable,
            "-c",
            "from qkd_macsec.cli.report import report; report()",
            "-i",
            inventory,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert "2 rotation(s) on 2 link(s)" in report.stdout
    png = (out / "timeline.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 0
    assert height > 0
    assert "ca-basic" in (out / "timeline.html").read_text()


def test_a_busy_metrics_port_is_bad_input(seed_testbed: Testbed) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "qkd_macsec",
                "run",
                "-i",
                str(seed_testbed.inventory_path),
                "--metrics-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"--metrics-port {port}" in result.stderr
    assert "Traceback" not in result.stderr
