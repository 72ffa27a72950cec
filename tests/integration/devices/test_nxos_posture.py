"""The NX-OS driver's TLS posture through real httpx against the NX-OS simulator: the hybrid
group negotiated and told to ``on_posture``, ``policy.transport.tls`` deciding between the
handshake and the first request (the simulator counts requests), verification unchanged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceConnectError,
    DeviceHostKeyError,
    DeviceTarget,
    DeviceTransportPolicyError,
    MacsecBinding,
)
from qkd_macsec.devices.nxos import NxosDriver
from qkd_macsec.hybrid_tls import hybrid_tls_available, library_openssl_version
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.posture import HopPosture, PqPolicy
from qkd_macsec.secret import Secret
from qkd_macsec.sim.nxos.device import NxosSimDevice
from qkd_macsec.sim.nxos.server import NxosLabThread, make_tls, run_nxos_in_thread

pytestmark = pytest.mark.skipif(
    not hybrid_tls_available(),
    reason=f"pyOpenSSL's OpenSSL {library_openssl_version()} has no ML-KEM groups (needs 3.5)",
)

PASSWORD = "nx-sim-pw"
BINDING = MacsecBinding("Ethernet1/1", "QKD_POL", CipherSuite.GCM_AES_XPN_256, "QKD_KC")


def target_for(lab: NxosLabThread, policy: PqPolicy, seen: list[HopPosture]) -> DeviceTarget:
    return DeviceTarget(
        name="nx1",
        host="127.0.0.1",
        port=lab.port("nx1"),
        user="admin",
        password=Secret(PASSWORD.encode()),
        tls_ca=lab.ca,
        timeout=10.0,
        management="https",  # no known_hosts: not an SSH target
        tls_policy=policy,
        on_posture=seen.append,
    )


@pytest.fixture
def hybrid() -> Iterator[tuple[NxosSimDevice, NxosLabThread]]:
    switch = NxosSimDevice("nx1", user="admin", password=PASSWORD)
    with run_nxos_in_thread([switch]) as lab:
        yield switch, lab


@pytest.fixture
def classical() -> Iterator[tuple[NxosSimDevice, NxosLabThread]]:
    switch = NxosSimDevice("nx1", user="admin", password=PASSWORD, pq_kex=False)
    with run_nxos_in_thread([switch]) as lab:
        yield switch, lab


def test_the_hybrid_group_is_negotiated_and_reported_under_pq_required(
    hybrid: tuple[NxosSimDevice, NxosLabThread],
) -> None:
    switch, lab = hybrid
    seen: list[HopPosture] = []
    driver = NxosDriver(target_for(lab, PqPolicy.REQUIRED, seen))
    driver.open()
    try:
        assert driver.macsec_bindings() == {}
    finally:
        driver.close()
    (posture,) = seen
    assert posture == driver.posture
    assert posture.kind == "tls"
    assert posture.kex == "X25519MLKEM768"
    assert posture.pq
    assert posture.version == "TLSv1.3"
    assert posture.cipher == "TLS_AES_256_GCM_SHA384"
    assert posture.peer == f"nx1 (127.0.0.1:{lab.port('nx1')})"
    assert switch.counters.requests == 2  # the probe and the read, on one connection


def test_pq_required_refuses_a_classical_switch_before_any_request(
    classical: tuple[NxosSimDevice, NxosLabThread],
) -> None:
    switch, lab = classical
    seen: list[HopPosture] = []
    driver = NxosDriver(target_for(lab, PqPolicy.REQUIRED, seen))
    with pytest.raises(DeviceTransportPolicyError) as caught:
        driver.open()
    message = str(caught.value)
    assert "policy.transport.tls is pq-required" in message
    assert "secp256r1" in message
    assert PASSWORD not in message
    assert not driver.is_alive()
    assert switch.counters.requests == 0  # not even the probe reached NX-API
    (posture,) = seen
    assert not posture.pq
    with pytest.raises(DeviceTransportPolicyError):  # and again on a second try
        driver.open()
    with pytest.raises(DeviceConnectError):  # no session: nothing is sent
        driver.apply(ChangeSet(bindings=[BINDING]), comment="never")
    assert switch.counters.requests == 0
    assert switch.counters.sessions == 0


def test_pq_preferred_accepts_a_classical_switch_and_warns_once(
    classical: tuple[NxosSimDevice, NxosLabThread], caplog: pytest.LogCaptureFixture
) -> None:
    switch, lab = classical
    seen: list[HopPosture] = []
    target = target_for(lab, PqPolicy.PREFERRED, seen)
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        for _ in range(2):
            driver = NxosDriver(target)
            driver.open()
            try:
                assert driver.facts().model
            finally:
                driver.close()
    assert [p.label for p in seen] == ["classical", "classical"]
    flagged = [r for r in caplog.records if "pq-preferred: accepted, flagged" in r.getMessage()]
    assert len(flagged) == 1
    assert "secp256r1" in flagged[0].getMessage()
    assert switch.counters.requests == 4


def test_any_accepts_a_classical_switch_without_a_warning(
    classical: tuple[NxosSimDevice, NxosLabThread], caplog: pytest.LogCaptureFixture
) -> None:
    _, lab = classical
    seen: list[HopPosture] = []
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        driver = NxosDriver(target_for(lab, PqPolicy.ANY, seen))
        driver.open()
        driver.close()
    assert [p.pq for p in seen] == [False]
    assert not [r for r in caplog.records if "flagged" in r.getMessage()]


def test_verification_is_as_strict_under_every_policy(
    hybrid: tuple[NxosSimDevice, NxosLabThread], tmp_path: Path
) -> None:
    """A certificate from another CA is refused before any posture is reported, even under
    ``any``; an SSH setting (insecure_host_keys) loosens nothing."""
    switch, lab = hybrid
    other = make_tls(tmp_path / "other")
    seen: list[HopPosture] = []
    loose = replace(target_for(lab, PqPolicy.ANY, seen), tls_ca=other.ca, insecure_host_keys=True)
    with pytest.raises(DeviceHostKeyError, match="not trusted"):
        NxosDriver(loose).open()
    assert seen == []
    assert switch.counters.requests == 0
