"""Preflight on a platform managed over HTTPS (NX-OS): the TLS certificate is the check the SSH
host key is elsewhere (``host-key`` is n/a), an untrusted certificate blocks, and the switch's
TLS posture is a router finding judged by ``policy.transport.tls``."""

from __future__ import annotations

from qkd_macsec.devices.base import DeviceFacts, DeviceHostKeyError, InterfaceState
from qkd_macsec.posture import HopPosture, PqPolicy, TransportPolicy
from qkd_macsec.preflight.checks import router_findings
from qkd_macsec.preflight.facts import RouterFacts
from qkd_macsec.preflight.model import Finding, Severity, Subject
from qkd_macsec.preflight.posture import posture_findings
from support.engine_fakes import make_link

PORT = "Ethernet1/1"


def by_check(found: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in found}


def read(platform: str) -> RouterFacts:
    return RouterFacts(
        "b",
        platform=platform,
        facts=DeviceFacts("b", "N9K", "10.3(2)"),
        interfaces={PORT: InterfaceState(PORT, exists=True, admin_up=True)},
        macsec_capable=True,
    )


def test_an_nxos_switch_reports_its_certificate_and_no_host_key() -> None:
    found = by_check(router_findings(read("nxos"), [make_link("l1", "a", "b", PORT)], 2.0))
    assert found["tls-certificate"].severity is Severity.OK
    assert found["host-key"].severity is Severity.NOT_APPLICABLE
    assert "HTTPS" in found["host-key"].detail
    assert found["netconf"].severity is Severity.OK
    assert "host key" not in found["netconf"].detail


def test_a_junos_router_keeps_the_host_key_wording() -> None:
    found = by_check(router_findings(read("junos"), [make_link("l1", "a", "b", "et-0/0/1")], 2.0))
    assert "tls-certificate" not in found
    assert "host-key" not in found  # reported only when it fails
    assert found["netconf"].detail == "session open, host key verified"


def test_an_untrusted_certificate_blocks_as_tls_certificate_on_nxos() -> None:
    error = DeviceHostKeyError("b", "TLS certificate of 127.0.0.1:443 not trusted; refusing")
    (finding,) = router_findings(RouterFacts("b", connect_error=error, platform="nxos"), [], 2.0)
    assert finding.check == "tls-certificate"
    assert finding.severity is Severity.BLOCKER
    assert "not trusted" in finding.detail
    (ssh,) = router_findings(RouterFacts("b", connect_error=error, platform="junos"), [], 2.0)
    assert ssh.check == "host-key"
    assert ssh.severity is Severity.BLOCKER


def test_a_routers_tls_hop_is_a_router_finding_under_the_tls_policy() -> None:
    classical = HopPosture("tls", "b (127.0.0.1:443)", "secp256r1", "TLS_AES_256_GCM_SHA384")
    kme = HopPosture("tls", "kme:443", "X25519MLKEM768", "TLS_AES_256_GCM_SHA384")
    policy = TransportPolicy(ssh=PqPolicy.ANY, tls=PqPolicy.REQUIRED)
    found = posture_findings([("b", classical), ("KME_A", kme)], policy, routers={"b"})
    router, other = found
    assert (router.kind, router.subject, router.severity) == (
        Subject.ROUTER,
        "b",
        Severity.BLOCKER,
    )
    assert "policy.transport.tls is pq-required" in router.detail
    assert (other.kind, other.severity) == (Subject.KME, Severity.OK)
