"""The preflight checks as pure functions: severities at their boundaries, and the verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qkd_macsec.devices.base import (
    ChainEntryState,
    DeviceHostKeyError,
    DeviceLockError,
    DeviceUnreachableError,
    MacsecConfigState,
)
from qkd_macsec.etsi014.errors import KmeTimeoutError, KmeTransportError, UnauthorizedError
from qkd_macsec.etsi014.models import KmeStatus
from qkd_macsec.macsec import CipherSuite
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX
from qkd_macsec.preflight.checks import kme_findings, ours, router_findings
from qkd_macsec.preflight.facts import ClockReading, RouterFacts, StatusProbe
from qkd_macsec.preflight.model import Finding, PreflightReport, Severity, Subject
from support.engine_fakes import make_link

LINK = make_link("l1", "a", "b")


def severity_of(found: list[Finding], check: str) -> Severity:
    (finding,) = [f for f in found if f.check == check]
    return finding.severity


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-0.9, 0.2, Severity.OK),
        (1.2, 2.1, Severity.WARNING),  # surely beyond half the tolerance
        (1.9, 3.1, Severity.WARNING),  # may still be within the tolerance
        (2.1, 3.2, Severity.BLOCKER),
        (-31.0, -29.9, Severity.BLOCKER),
    ],
)
def test_clock_is_judged_on_its_whole_interval(low: float, high: float, expected: Severity) -> None:
    facts = RouterFacts("a", clock=ClockReading(low, high))
    assert severity_of(router_findings(facts, [LINK], 2.0), "clock") is expected


def test_connect_errors_stop_the_other_checks() -> None:
    host_key = RouterFacts("a", connect_error=DeviceHostKeyError("a", "changed"))
    assert [(f.check, f.severity) for f in router_findings(host_key, [LINK], 1)] == [
        ("host-key", Severity.BLOCKER)
    ]
    down = RouterFacts("a", connect_error=DeviceUnreachableError("a", "refused"))
    assert [(f.check, f.severity) for f in router_findings(down, [LINK], 1)] == [
        ("netconf", Severity.UNREACHABLE)
    ]


def test_a_held_lock_is_only_a_warning() -> None:
    facts = RouterFacts("a", commit_error=DeviceLockError("a", "locked by bob"))
    assert severity_of(router_findings(facts, [LINK], 1), "commit") is Severity.WARNING


def test_chain_entries_made_by_someone_else() -> None:
    assert ours(DEFAULT_CKN_PREFIX + "0" * 32, LINK)
    assert ours("f" * 64, LINK)  # sha256 fallback for key IDs that are not UUIDs
    assert not ours("0123abcd", LINK)
    facts = RouterFacts(
        "a",
        macsec=MacsecConfigState(cas={}, bindings={}),
        chains={"KC1": [ChainEntryState("KC1", 3, "0123abcd", datetime(2026, 1, 1, tzinfo=UTC))]},
    )
    found = router_findings(facts, [LINK], 1)
    assert severity_of(found, "chain-conflict") is Severity.BLOCKER


def status(**overrides: int) -> KmeStatus:
    values: dict[str, object] = {
        "source_KME_ID": "KME_A",
        "target_KME_ID": "KME_B",
        "master_SAE_ID": "a",
        "slave_SAE_ID": "b",
        "key_size": 256,
        "stored_key_count": 10,
        "max_key_count": 100,
        "max_key_per_request": 10,
        "max_key_size": 1024,
        "min_key_size": 64,
        "max_SAE_ID_count": 0,
    }
    values.update(overrides)
    return KmeStatus.model_validate(values)


def test_key_size_blocks_only_when_the_kme_cannot_deliver() -> None:
    assert LINK.suite is CipherSuite.GCM_AES_256
    small_default = [StatusProbe("a", "b", "KME_A", status=status(key_size=128))]
    assert severity_of(kme_findings(small_default, [LINK]), "key-size") is Severity.WARNING
    too_small = [StatusProbe("a", "b", "KME_A", status=status(max_key_size=128))]
    assert severity_of(kme_findings(too_small, [LINK]), "key-size") is Severity.BLOCKER


def test_a_hang_up_is_a_certificate_problem_only_when_the_kme_answers_others() -> None:
    dropped = KmeTransportError("GET x: RemoteProtocolError")
    alone = [StatusProbe("b", "a", "KME_B", error=dropped)]
    assert severity_of(kme_findings(alone, [LINK]), "kme") is Severity.UNREACHABLE
    others = [*alone, StatusProbe("a", "b", "KME_B", status=status())]
    assert severity_of(kme_findings(others, [LINK]), "kme-tls") is Severity.BLOCKER
    timeout = [StatusProbe("b", "a", "KME_B", error=KmeTimeoutError("slow")), others[1]]
    assert severity_of(kme_findings(timeout, [LINK]), "kme") is Severity.UNREACHABLE
    refused = UnauthorizedError(status_code=401, message="", method="GET", path="/x")
    found = kme_findings([StatusProbe("b", "a", "KME_B", error=refused)], [LINK])
    assert severity_of(found, "kme-status") is Severity.BLOCKER


def test_exit_codes() -> None:
    def report(*severities: Severity) -> PreflightReport:
        return PreflightReport(
            tuple(Finding(Subject.ROUTER, f"r{i}", "x", s) for i, s in enumerate(severities))
        )

    assert report(Severity.OK, Severity.WARNING).exit_code == 0
    assert report(Severity.OK, Severity.UNREACHABLE).exit_code == 3
    assert report(Severity.BLOCKER, Severity.UNREACHABLE).exit_code == 1


@pytest.mark.parametrize(
    ("zone", "offset_h", "expected", "says"),
    [
        (None, 0, Severity.OK, "UTC (not set)"),
        ("Europe/Berlin", 1, Severity.OK, "Europe/Berlin (UTC+01:00 now); start-times written"),
        ("America/New_York", -5, Severity.OK, "America/New_York (UTC-05:00 now)"),
        ("Europe/Berlin", 2, Severity.WARNING, "tz database says UTC+01:00"),  # stale tz data
        ("Mars/Olympus_Mons", 3, Severity.WARNING, "unknown to this controller's tz database"),
    ],
)
def test_any_time_zone_works_and_disagreements_are_warnings(
    zone: str | None, offset_h: int, expected: Severity, says: str
) -> None:
    """Start-times are written in the router's local time: a zone is never a blocker; what the
    controller cannot know (an unknown zone, rules that disagree with the router) is a warning."""
    from datetime import timedelta

    winter = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    clock = ClockReading(-0.1, 0.1, utc_offset=timedelta(hours=offset_h), device_now=winter)
    facts = RouterFacts("a", clock=clock, time_zone=zone)
    (finding,) = [f for f in router_findings(facts, [LINK], 2.0) if f.check == "time-zone"]
    assert finding.severity is expected
    assert says in finding.detail
