"""SSH posture on IOS XR hops, end to end: real ncclient (its ``iosxr`` handler over paramiko)
→ the IOS XR simulator (asyncssh), one router offering the ML-KEM hybrid key exchange and one
withholding it (``pq_kex=False``). The session's kex/cipher/MAC are recorded as on Junos, and
``policy.transport.ssh: pq-required`` refuses the classical router before any RPC."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qkd_macsec.devices import DRIVERS
from qkd_macsec.devices.base import DeviceConnectError, DeviceTarget, DeviceTransportPolicyError
from qkd_macsec.devices.iosxr import IosxrDriver
from qkd_macsec.posture import HopPosture, PqPolicy
from qkd_macsec.secret import Secret
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.sim.iosxr.server import IosxrLabThread, run_iosxr_in_thread

PASSWORD = "xr-posture-pw"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def routers() -> dict[str, IosxrSimDevice]:
    return {
        "xr-pq": IosxrSimDevice("xr-pq", user="netconf", password=PASSWORD),
        "xr-classic": IosxrSimDevice("xr-classic", user="netconf", password=PASSWORD, pq_kex=False),
    }


@pytest.fixture(scope="module")
def lab(routers: dict[str, IosxrSimDevice]) -> Iterator[IosxrLabThread]:
    with run_iosxr_in_thread(routers.values()) as running:
        yield running


@pytest.fixture(scope="module")
def known_hosts(lab: IosxrLabThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xr-posture") / "known_hosts"
    lab.write_known_hosts(path)
    return path


def driver(
    lab: IosxrLabThread,
    known_hosts: Path,
    name: str,
    policy: PqPolicy,
    seen: list[HopPosture] | None = None,
) -> IosxrDriver:
    target = DeviceTarget(
        name=name,
        host="127.0.0.1",
        port=lab.port(name),
        user="netconf",
        password=Secret.from_text(PASSWORD),
        known_hosts=known_hosts,
        timeout=10.0,
        ssh_policy=policy,
        on_posture=None if seen is None else seen.append,
    )
    made = DRIVERS.create(target, "iosxr")
    assert isinstance(made, IosxrDriver)
    return made


def test_ncclient_to_iosxr_negotiates_the_ml_kem_hybrid_and_aes256(
    lab: IosxrLabThread, known_hosts: Path
) -> None:
    seen: list[HopPosture] = []
    pq = driver(lab, known_hosts, "xr-pq", PqPolicy.REQUIRED, seen)
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
        assert "xr-pq" in posture.peer
        assert seen == [posture]  # told to the target's hook, as the controller records it
        assert pq.device_time() is not None  # the session is usable
    finally:
        pq.close()


def test_a_classical_iosxr_router_is_refused_under_pq_required_before_any_rpc(
    lab: IosxrLabThread, known_hosts: Path, routers: dict[str, IosxrSimDevice]
) -> None:
    router = routers["xr-classic"]
    rpcs, ended = router.counters.rpcs, router.counters.sessions_ended
    seen: list[HopPosture] = []
    classic = driver(lab, known_hosts, "xr-classic", PqPolicy.REQUIRED, seen)
    with pytest.raises(DeviceTransportPolicyError, match=r"pq-required") as caught:
        classic.open()
    assert isinstance(caught.value, DeviceConnectError)
    assert "classical" in str(caught.value)
    assert "xr-classic" in str(caught.value)
    assert not classic.is_alive()
    assert classic.posture is not None
    assert not classic.posture.pq
    assert [p.pq for p in seen] == [False]  # the refused hop is still recorded
    wait_for(lambda: router.counters.sessions_ended > ended)  # the driver closed it
    assert router.counters.rpcs == rpcs  # not one RPC reached the router
    assert router.counters.commits == 0


def test_a_classical_iosxr_router_is_accepted_and_flagged_under_pq_preferred(
    lab: IosxrLabThread, known_hosts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    classic = driver(lab, known_hosts, "xr-classic", PqPolicy.PREFERRED)
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
        assert classic.device_time() is not None
        flagged = [r.getMessage() for r in caplog.records if "accepted, flagged" in r.getMessage()]
        assert len(flagged) == 1
        assert "xr-classic" in flagged[0]
    finally:
        classic.close()
