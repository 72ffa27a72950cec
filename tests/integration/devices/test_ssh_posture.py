"""SSH posture end to end: real PyEZ/ncclient/paramiko → the asyncssh simulator, one router
offering the ML-KEM hybrid key exchange and one withholding it (``pq_kex: false``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qkd_macsec.devices import DRIVERS
from qkd_macsec.devices.base import (
    DeviceConnectError,
    DeviceTarget,
    DeviceTransportPolicyError,
)
from qkd_macsec.devices.junos import JunosDriver
from qkd_macsec.posture import PqPolicy
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread

PASSWORD = "lab-pw-posture"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabThread]:
    spec = {
        "devices": [
            {"name": "pq", "user": "lab", "password": PASSWORD},
            {"name": "classic", "user": "lab", "password": PASSWORD, "pq_kex": False},
        ],
    }
    with run_lab_in_thread(Lab.from_dict(spec)) as running:
        yield running


def driver(lab: LabThread, name: str, policy: PqPolicy) -> JunosDriver:
    values: dict[str, Any] = {
        "name": name,
        "host": lab.host,
        "port": lab.port(name),
        "user": "lab",
        "password": Secret.from_text(PASSWORD),
        "known_hosts": lab.known_hosts_path,
        "timeout": 10.0,
        "ssh_policy": policy,
    }
    made = DRIVERS.create(DeviceTarget(**values), "junos")
    assert isinstance(made, JunosDriver)
    return made


def test_pyez_negotiates_the_ml_kem_hybrid_and_aes256(lab: LabThread) -> None:
    pq = driver(lab, "pq", PqPolicy.REQUIRED)
    try:
        pq.open()
        posture = pq.posture
        assert posture is not None
        assert posture.kind == "ssh"
        assert posture.kex == "mlkem768x25519-sha256"
        assert posture.pq
        assert posture.cipher == "aes256-gcm@openssh.com"
        assert posture.mac is None  # AEAD
        assert posture.version is not None
        assert posture.version.startswith("SSH-2.0-")
        assert "pq" in posture.peer
        assert pq.device_time() is not None  # the session is usable
    finally:
        pq.close()


def test_classical_router_is_accepted_and_flagged_under_pq_preferred(
    lab: LabThread, caplog: pytest.LogCaptureFixture
) -> None:
    classic = driver(lab, "classic", PqPolicy.PREFERRED)
    try:
        with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
            classic.open()
        posture = classic.posture
        assert posture is not None
        assert not posture.pq
        assert posture.kex is not None
        assert "mlkem" not in posture.kex
        assert "sntrup" not in posture.kex
        assert posture.aes256
        assert classic.is_alive()
        flagged = [r.getMessage() for r in caplog.records if "accepted, flagged" in r.getMessage()]
        assert len(flagged) == 1
        assert "classic" in flagged[0]
        assert "classical" in flagged[0]
    finally:
        classic.close()


def test_classical_router_is_refused_under_pq_required_before_any_rpc(lab: LabThread) -> None:
    classic = driver(lab, "classic", PqPolicy.REQUIRED)
    with pytest.raises(DeviceTransportPolicyError, match=r"pq-required") as caught:
        classic.open()
    assert isinstance(caught.value, DeviceConnectError)
    assert "classical" in str(caught.value)
    assert not classic.is_alive()
    assert classic.posture is not None
    assert not classic.posture.pq
    # The session the simulator saw is gone (closed by the driver, not left open).
    deadline = time.monotonic() + 10.0
    while lab.device("classic").sessions():
        assert time.monotonic() < deadline, "refused session still open on the router"
        time.sleep(0.05)


def test_any_accepts_a_classical_router_without_a_warning(
    lab: LabThread, caplog: pytest.LogCaptureFixture
) -> None:
    classic = driver(lab, "classic", PqPolicy.ANY)
    try:
        with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
            classic.open()
        assert classic.posture is not None
        assert not classic.posture.pq
        assert not [r for r in caplog.records if "flagged" in r.getMessage()]
    finally:
        classic.close()
