"""The Junos driver end to end: real PyEZ/ncclient client → real asyncssh NETCONF simulator.

Sessions: host-key verification, authentication, the device clock, timeouts, and no secret
in any log or exception.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integration.devices.devices_kit import (
    BINDING,
    CANARY,
    CKN_A,
    PSK_BINDING,
    PSK_KEY,
    MakeDriver,
    assert_clean,
    entry,
    opened,
)
from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceAuthError,
    DeviceCommitError,
    DeviceConnectError,
    DeviceHostKeyError,
    DeviceTarget,
    DeviceTimeoutError,
    DeviceUnreachableError,
)
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread


def test_open_verifies_host_key_and_reads_the_device_clock(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    lab.device("r2").set_clock_offset(300.0)
    r1, r2 = opened(make_driver, "r1", "r2")
    assert r1.is_alive()
    skew = (r2.device_time().now - r1.device_time().now).total_seconds()
    assert 290 <= skew <= 310
    assert r1.device_time().now.tzinfo is not None
    assert r1.device_time().utc_offset == timedelta(0)
    r1.close()
    assert not r1.is_alive()


def test_changed_host_key_is_refused(lab: LabThread, make_driver: MakeDriver) -> None:
    lab.rotate_host_key("r1")
    with pytest.raises(DeviceHostKeyError, match="CHANGED"):
        make_driver("r1").open()


def test_host_missing_from_known_hosts_is_refused(
    lab: LabThread, make_driver: MakeDriver, tmp_path: Path
) -> None:

    assert isinstance(tmp_path, Path)
    other = tmp_path / "known_hosts"
    lines = lab.known_hosts_path.read_text().splitlines()
    other.write_text("\n".join(line for line in lines if f"]:{lab.port('r1')} " not in line) + "\n")
    with pytest.raises(DeviceHostKeyError):
        make_driver("r1", known_hosts=other).open()
    driver = make_driver("r2", known_hosts=other)
    driver.open()
    assert driver.is_alive()


def test_bad_password_and_refused_connection(lab: LabThread, make_driver: MakeDriver) -> None:
    with pytest.raises(DeviceAuthError) as info:
        make_driver("r1", password=Secret.from_text("wrong-canary-pw")).open()
    assert "wrong-canary-pw" not in str(info.value)
    lab.refuse_connections("r2")
    with pytest.raises(DeviceUnreachableError):
        make_driver("r2").open()


def test_rpc_timeout_and_dropped_session(lab: LabThread, make_driver: MakeDriver) -> None:
    lab.device("r1").set_faults(hang_rpcs={"get-mka-session-information"})
    slow = make_driver("r1", timeout=1.0)
    slow.open()
    with pytest.raises(DeviceTimeoutError):
        slow.mka_sessions()
    lab.device("r1").set_faults(hang_rpcs=set())

    lab.device("r2").set_faults(drop_session_on="commit-configuration")
    (r2,) = opened(make_driver, "r2")
    with pytest.raises(DeviceConnectError):
        r2.apply(ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY]), comment="x")
    assert lab.device("r2").lock_holder is None
    r2.close()
    r2.open()
    assert r2.apply(ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY]), comment="x").changed


def test_no_cak_in_any_log_at_debug(
    lab: LabThread, make_driver: MakeDriver, caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    with caplog.at_level(logging.DEBUG):
        root.setLevel(logging.DEBUG)
        for name in ("ncclient", "paramiko", "jnpr", "asyncssh", "qkd_macsec"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        (r1,) = opened(make_driver, "r1")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        changes = ChangeSet(bindings=[BINDING], add_entries=[entry(1, CKN_A, CANARY, start)])
        assert r1.apply(changes, comment="canary").changed
        r1.key_chain("KC_core")
        lab.device("r1").set_faults(failing_commits=1, commit_error_message=CANARY.hex())
        with pytest.raises(DeviceCommitError) as info:
            r1.apply(ChangeSet(remove_entries=[("KC_core", 1)]), comment="fails")
    assert_clean(info.value)
    assert caplog.records, "debug logging was captured"
    assert any(r.name.startswith("qkd_macsec.devices") for r in caplog.records)
    for record in caplog.records:
        message = record.getMessage()
        assert CANARY.hex() not in message.lower(), record.name
        assert "lab-pw-r1" not in message, record.name


def test_public_key_authentication(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    spec = {"devices": [{"name": "rk", "user": "ops", "authorized_keys": [public.decode()]}]}
    with run_lab_in_thread(Lab.from_dict(spec)) as lab:
        target = DeviceTarget(
            name="rk",
            host=lab.host,
            port=lab.port("rk"),
            user="ops",
            ssh_key=key_file,
            known_hosts=lab.known_hosts_path,
        )
        driver = DRIVERS.create(target, "junos")
        try:
            driver.open()
            assert driver.is_alive()
            assert driver.mka_sessions() == []
        finally:
            driver.close()
        other = DeviceTarget(
            name="rk",
            host=lab.host,
            port=lab.port("rk"),
            user="ops",
            ssh_key=tmp_path / "missing_key",
            known_hosts=lab.known_hosts_path,
        )
        with pytest.raises(DeviceConnectError):
            DRIVERS.create(other, "junos").open()
