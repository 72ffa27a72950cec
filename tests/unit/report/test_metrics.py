"""Metrics: what each hook records, key ages read at scrape time, certificates, the endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from qkd_macsec.engine.journal import ActiveKey, Phase
from qkd_macsec.engine.results import DeviceResult, RotationResult, WaveResult
from qkd_macsec.etsi014.client import RequestRecord
from qkd_macsec.pki.ca import create_ca, issue_client_cert, save_issued
from qkd_macsec.report.metrics import Metrics, rotation_outcome

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CANARY_KEY_ID = "c4a7a1e5-0000-4000-8000-canary000001"
CANARY_CKN = "ab" * 32


def rotation(link: str, phase: Phase, *, error: str | None = None, **kw: object) -> RotationResult:
    rr = RotationResult(link, 1, "due", phase=phase, error=error)
    rr.key_id, rr.ckn = CANARY_KEY_ID, CANARY_CKN
    for name, value in kw.items():
        setattr(rr, name, value)
    return rr


def wave() -> WaveResult:
    result = WaveResult("w1", started=NOW, finished=NOW + timedelta(seconds=12))
    result.staged_seconds = 1.5
    result.rotations = {
        "l1": rotation("l1", Phase.ACTIVE, verified=True, stage_seconds=1.2),
        "l2": rotation("l2", Phase.ACTIVE, error="verify: timed out", stage_seconds=1.4),
        "l3": rotation("l3", Phase.ABORTED, error="stage failed on r3"),
        "l4": rotation("l4", Phase.FAILED, error="undo failed"),
    }
    result.devices = {
        "r1": DeviceResult("r1", changed=True, commit_seconds=0.25, commits=1),
        "r2": DeviceResult("r2", changed=True, commit_seconds=2.5, commits=1),
        "r3": DeviceResult("r3", ok=False, error="DeviceError: refused"),
    }
    return result


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_rotation_outcome_names_each_ending() -> None:
    assert rotation_outcome(rotation("l", Phase.ACTIVE)) == "ok"
    assert rotation_outcome(rotation("l", Phase.ACTIVE, error="verify: x")) == "unverified"
    assert rotation_outcome(rotation("l", Phase.ABORTED)) == "aborted"
    assert rotation_outcome(rotation("l", Phase.FAILED)) == "failed"
    assert rotation_outcome(rotation("l", Phase.STAGED)) == "failed"


def test_observe_wave_counts_results_durations_commits_and_mka() -> None:
    metrics = Metrics()
    metrics.observe_wave(wave())
    for result in ("ok", "unverified", "aborted", "failed"):
        assert value(metrics, "qkd_macsec_rotations_total", result=result) == 1.0
    assert value(metrics, "qkd_macsec_rotation_duration_seconds_count") == 2.0
    assert value(metrics, "qkd_macsec_rotation_duration_seconds_sum") == pytest.approx(2.6)
    assert value(metrics, "qkd_macsec_wave_staged_seconds_sum") == pytest.approx(1.5)
    assert value(metrics, "qkd_macsec_device_commit_duration_seconds_count") == 2.0
    assert value(
        metrics, "qkd_macsec_device_commit_duration_seconds_bucket", le="0.5"
    ) == pytest.approx(1.0)
    assert (
        value(metrics, "qkd_macsec_device_failures_total", device="r3", platform="unknown") == 1.0
    )  # no platforms set: labelled unknown
    assert value(metrics, "qkd_macsec_link_mka_live", link="l1") == 1.0
    assert value(metrics, "qkd_macsec_link_mka_live", link="l2") == 0.0
    assert value(metrics, "qkd_macsec_links_without_live_mka") == 1.0
    assert value(metrics, "qkd_macsec_last_wave_timestamp_seconds") == pytest.approx(
        (NOW + timedelta(seconds=12)).timestamp()
    )


def test_a_later_verified_wave_clears_the_missing_mka_session() -> None:
    metrics = Metrics()
    metrics.observe_wave(wave())
    later = WaveResult("w2", started=NOW, finished=NOW)
    later.rotations = {"l2": rotation("l2", Phase.ACTIVE, verified=True, stage_seconds=1.0)}
    metrics.observe_wave(later)
    assert value(metrics, "qkd_macsec_links_without_live_mka") == 0.0
    assert value(metrics, "qkd_macsec_rotations_total", result="ok") == 2.0


def test_an_empty_wave_records_nothing() -> None:
    metrics = Metrics()
    metrics.observe_wave(WaveResult("w0", started=NOW))
    assert value(metrics, "qkd_macsec_rotations_total", result="ok") is None
    assert value(metrics, "qkd_macsec_last_wave_timestamp_seconds") == 0.0


def test_kme_requests_latency_by_endpoint_and_errors_by_type() -> None:
    metrics = Metrics()
    metrics.observe_kme_request(RequestRecord("POST", "enc_keys", 200, 0.02, None))
    metrics.observe_kme_request(RequestRecord("POST", "dec_keys", 200, 0.03, None))
    metrics.observe_kme_request(RequestRecord("POST", "dec_keys", None, 5.0, "KmeUnreachable"))
    assert value(metrics, "qkd_macsec_kme_request_duration_seconds_count", endpoint="enc_keys") == 1
    assert value(metrics, "qkd_macsec_kme_request_duration_seconds_count", endpoint="dec_keys") == 2
    assert (
        value(
            metrics,
            "qkd_macsec_kme_request_errors_total",
            endpoint="dec_keys",
            error="KmeUnreachable",
        )
        == 1
    )
    assert (
        value(metrics, "qkd_macsec_kme_request_errors_total", endpoint="enc_keys", error="x")
        is None
    )


def test_key_age_is_read_from_the_journal_view_at_scrape_time() -> None:
    metrics = Metrics()
    activated = {"l1": NOW - timedelta(seconds=90)}
    clock = [NOW]

    def active_key(link: str) -> list[ActiveKey]:
        if link not in activated:
            return []
        return [ActiveKey(link, "k", CANARY_CKN, 1, activated[link], 7)]

    metrics.watch_key_ages(["l1", "l2"], active_key, clock=lambda: clock[0])
    assert value(metrics, "qkd_macsec_key_age_seconds", link="l1") == pytest.approx(90.0)
    assert value(metrics, "qkd_macsec_key_age_seconds", link="l2") is None  # no key yet
    clock[0] = NOW + timedelta(seconds=30)
    activated["l2"] = NOW
    assert value(metrics, "qkd_macsec_key_age_seconds", link="l1") == pytest.approx(120.0)
    assert value(metrics, "qkd_macsec_key_age_seconds", link="l2") == pytest.approx(30.0)


def test_certificate_days_left_from_pem_files(tmp_path: Path) -> None:
    ca = create_ca("metrics test CA", now=NOW)
    cert, key = tmp_path / "sae.pem", tmp_path / "sae.key"
    save_issued(issue_client_cert(ca, "sae-7", valid_for=timedelta(days=30), now=NOW), cert, key)
    metrics = Metrics()
    clock = [NOW + timedelta(days=10)]
    problems = metrics.record_certificates(
        [cert, cert, tmp_path / "missing.pem"], clock=lambda: clock[0]
    )
    assert list(problems) == [tmp_path / "missing.pem"]
    assert value(metrics, "qkd_macsec_certificate_days_left", subject="sae-7") == pytest.approx(
        20.0, abs=0.01
    )
    clock[0] = NOW + timedelta(days=31)  # read at scrape time: a long run stays truthful
    assert value(metrics, "qkd_macsec_certificate_days_left", subject="sae-7") == pytest.approx(
        -1.0, abs=0.01
    )
    metrics.set_certificate_days_left("expired-one", -2.5)
    assert value(metrics, "qkd_macsec_certificate_days_left", subject="expired-one") == -2.5


def test_endpoint_serves_the_registry_without_key_material() -> None:
    metrics = Metrics()
    metrics.observe_wave(wave())
    server = metrics.serve(0)
    try:
        assert server.port > 0
        reply = httpx.get(server.url, timeout=5)
        assert reply.status_code == 200
        text = reply.text
        assert 'qkd_macsec_rotations_total{result="ok"} 1.0' in text
        assert "qkd_macsec_links_without_live_mka 1.0" in text
        assert CANARY_KEY_ID not in text
        assert CANARY_CKN not in text.lower()
    finally:
        server.close()
    assert not server.thread.is_alive()
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url, timeout=2)


def test_two_instances_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.observe_wave(wave())
    assert value(second, "qkd_macsec_rotations_total", result="ok") is None


def test_per_device_series_and_info_gauges_carry_platforms() -> None:
    metrics = Metrics()
    metrics.set_platforms(
        {"r1": "junos", "r2": "junos", "r3": "iosxr"},
        {"l1": ("junos", "iosxr"), "l2": ("junos", "junos")},
    )
    metrics.observe_wave(wave())
    assert value(metrics, "qkd_macsec_device_failures_total", device="r3", platform="iosxr") == 1.0
    assert (
        value(metrics, "qkd_macsec_device_failures_total", device="r3", platform="unknown") is None
    )
    assert value(metrics, "qkd_macsec_device_platform", device="r3", platform="iosxr") == 1.0
    assert value(metrics, "qkd_macsec_device_platform", device="r1", platform="junos") == 1.0
    assert value(metrics, "qkd_macsec_link_platforms", link="l1", platforms="junos/iosxr") == 1.0
    assert value(metrics, "qkd_macsec_link_platforms", link="l2", platforms="junos") == 1.0
    # the metric names stay: the commit histogram is still one series
    assert value(metrics, "qkd_macsec_device_commit_duration_seconds_count") == 2.0
