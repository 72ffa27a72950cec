"""The Junos driver end to end: real PyEZ/ncclient client → real asyncssh NETCONF simulator."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceAuthError,
    DeviceCommitError,
    DeviceConnectError,
    DeviceHostKeyError,
    DeviceLockError,
    DeviceTimeoutError,
    DeviceUnreachableError,
    Driver,
    KeyChainEntry,
    MacsecBinding,
    StaticKey,
)
from qkd_macsec.macsec import CipherSuite
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import LabThread

SUITE = CipherSuite.GCM_AES_XPN_256
CANARY = bytes.fromhex("ca4a11" * 10 + "beef")
CKN_A = "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "a"
CKN_B = "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "b"
BINDING = MacsecBinding(
    "et-0/0/9",
    "CA_core",
    SUITE,
    "KC_core",
    macros=(("kme-host", "kme-a.example.net"), ("kme-port", "443")),
    host_mappings=(("kme-a.example.net", "192.0.2.10"),),
)
#: Pre-shared-key mode: binding + static key commit on their own (no chain to stage first).
PSK_BINDING = replace(BINDING, key_chain=None)
PSK_KEY = StaticKey("CA_core", CKN_A, Secret(bytes(range(32))), SUITE)
MakeDriver = Callable[..., Driver]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def entry(slot: int, ckn: str, cak: bytes, start: datetime) -> KeyChainEntry:
    return KeyChainEntry("KC_core", slot, ckn, Secret(cak), start)


def live_ckn(driver: Driver) -> str | None:
    live = [s.cak_name for s in driver.mka_sessions(["et-0/0/9"]) if s.live]
    return live[0] if len(live) == 1 else None


def opened(make_driver: MakeDriver, *names: str) -> list[Driver]:
    drivers = [make_driver(name) for name in names]
    for driver in drivers:
        driver.open()
    return drivers


def assert_clean(err: BaseException, secret: bytes = CANARY) -> None:
    text = "".join(traceback.format_exception(err)) + repr(err)
    assert secret.hex() not in text
    assert secret.hex().upper() not in text


def test_open_verifies_host_key_and_reads_the_device_clock(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    lab.device("r2").set_clock_offset(300.0)
    r1, r2 = opened(make_driver, "r1", "r2")
    assert r1.is_alive()
    skew = (r2.device_time() - r1.device_time()).total_seconds()
    assert 290 <= skew <= 310
    assert r1.device_time().tzinfo is not None
    r1.close()
    assert not r1.is_alive()


def test_key_chain_rollover_goes_live_hitlessly(
    lab: LabThread, make_driver: MakeDriver, link: str
) -> None:
    r1, r2 = opened(make_driver, "r1", "r2")
    start = r1.device_time() + timedelta(seconds=1)
    first = ChangeSet(bindings=[BINDING], add_entries=[entry(1, CKN_A, bytes(range(32)), start)])
    for driver in (r1, r2):
        result = driver.apply(first, comment="qkd-macsec initial")
        assert result.changed
        assert result.diff_lines > 0
    assert r1.macsec_bindings() == {"et-0/0/9": "CA_core"}
    wait_for(lambda: live_ckn(r1) == CKN_A and live_ckn(r2) == CKN_A, "first key live")

    start = r1.device_time() + timedelta(seconds=1)
    second = ChangeSet(add_entries=[entry(2, CKN_B, bytes(range(1, 33)), start)])
    for driver in (r1, r2):
        assert driver.apply(second, comment="qkd-macsec rotate").changed
    assert [(e.slot, e.ckn) for e in r2.key_chain("KC_core")] == [(1, CKN_A), (2, CKN_B)]
    wait_for(lambda: live_ckn(r1) == CKN_B and live_ckn(r2) == CKN_B, "second key live")
    assert lab.fabric.outage_seconds(link) == 0.0


def test_apply_is_idempotent_and_removes_entries(lab: LabThread, make_driver: MakeDriver) -> None:
    (r1,) = opened(make_driver, "r1")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    changes = ChangeSet(
        bindings=[BINDING],
        add_entries=[
            entry(1, CKN_A, bytes(32), start),
            entry(2, CKN_B, bytes(range(32)), start + timedelta(hours=1)),
        ],
    )
    assert r1.apply(changes, comment="first").changed
    again = r1.apply(changes, comment="again")
    assert again.changed is False
    assert again.diff_lines == 0
    commits = len(lab.device("r1").history)

    removed = r1.apply(ChangeSet(remove_entries=[("KC_core", 1)]), comment="prune")
    assert removed.changed
    assert [e.slot for e in r1.key_chain("KC_core")] == [2]
    assert r1.key_chain("KC_core")[0].start_time == start + timedelta(hours=1)
    assert len(lab.device("r1").history) == commits + 1
    # Removing an entry that is already gone is not an error and changes nothing.
    assert not r1.apply(ChangeSet(remove_entries=[("KC_core", 1)]), comment="again").changed


def test_commit_error_unlocks_and_discards_the_candidate(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    device = lab.device("r1")
    device.set_faults(failing_commits=1, commit_error_message=f"bad secret {CANARY.hex()}")
    (r1,) = opened(make_driver, "r1")
    changes = ChangeSet(add_entries=[entry(1, CKN_A, CANARY, datetime(2026, 1, 1, tzinfo=UTC))])
    with pytest.raises(DeviceCommitError, match="bad secret") as info:
        r1.apply(changes, comment="fails")
    assert_clean(info.value)
    assert device.lock_holder is None
    assert device.candidate() == device.committed
    assert r1.key_chain("KC_core") == []
    assert r1.apply(changes, comment="works").changed
    assert [e.ckn for e in r1.key_chain("KC_core")] == [CKN_A]


def test_lock_held_elsewhere(lab: LabThread, make_driver: MakeDriver) -> None:
    lab.device("r1").set_faults(foreign_lock_user="alice")
    (r1,) = opened(make_driver, "r1")
    changes = ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY])
    with pytest.raises(DeviceLockError, match="alice"):
        r1.apply(changes, comment="x")
    lab.device("r1").set_faults(foreign_lock_user=None)
    assert r1.apply(changes, comment="x").changed


def test_second_session_holding_the_lock(lab: LabThread, make_driver: MakeDriver) -> None:
    """Two drivers on one device: the second is refused while the first holds the lock."""
    from jnpr.junos import Device
    from jnpr.junos.utils.config import Config

    holder = Device(
        host=lab.host,
        port=lab.port("r1"),
        user="lab",
        passwd="lab-pw-r1",
        gather_facts=False,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
    )
    holder.open()
    try:
        cu = Config(holder)
        cu.lock()
        (r1,) = opened(make_driver, "r1")
        with pytest.raises(DeviceLockError, match="locked by"):
            r1.apply(ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY]), comment="x")
        cu.unlock()
        assert r1.apply(
            ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY]), comment="x"
        ).changed
    finally:
        holder.close()


def test_changed_host_key_is_refused(lab: LabThread, make_driver: MakeDriver) -> None:
    lab.rotate_host_key("r1")
    with pytest.raises(DeviceHostKeyError, match="CHANGED"):
        make_driver("r1").open()


def test_host_missing_from_known_hosts_is_refused(
    lab: LabThread, make_driver: MakeDriver, tmp_path: object
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    other = tmp_path / "known_hosts"
    lines = lab.known_hosts_path.read_text().splitlines()
    other.write_text("\n".join(line for line in lines if f":{lab.port('r1')}]" not in line) + "\n")
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


def test_commit_confirmed_rolls_back_unless_confirmed(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    r1, r2 = opened(make_driver, "r1", "r2")
    changes = ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY])
    assert r1.apply(changes, comment="try", confirm_minutes=1).changed
    assert r2.apply(changes, comment="try", confirm_minutes=1).changed
    r2.confirm_commit(comment="keep")
    wait_for(lambda: r1.macsec_bindings() == {}, "unconfirmed commit rolled back")
    assert r2.macsec_bindings() == {"et-0/0/9": "CA_core"}


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
