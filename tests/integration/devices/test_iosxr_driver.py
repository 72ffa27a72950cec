"""The IOS XR driver through the real ncclient against the IOS XR simulator: the transaction
discipline (lock → edit candidate → diff → commit → unlock, the candidate discarded on any
failure), removals resolved from the device, host keys verified by us although ncclient's
``iosxr`` handler would accept any, secrets never in an error, deadlines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from ncclient import manager

from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceCommitError,
    DeviceDeadlineError,
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DeviceTarget,
    KeyChainEntry,
    MacsecBinding,
)
from qkd_macsec.devices.iosxr import IosxrDriver
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.sim.iosxr.server import IosxrLabThread, run_iosxr_in_thread

PASSWORD = "xr-sim-pw"
CAK = bytes(range(0x90, 0xB0))
BINDING = MacsecBinding("HundredGigE0/0/0/1", "QKD_POL", CipherSuite.GCM_AES_XPN_256, "QKD_KC")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until ``condition`` holds (the server notices a closed session on its own loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def entry(slot: int, ckn_byte: int, start: datetime = datetime(2026, 12, 1, 7)) -> KeyChainEntry:
    return KeyChainEntry("QKD_KC", slot, f"{ckn_byte:02x}" * 32, Secret(CAK), start)


@pytest.fixture
def router() -> IosxrSimDevice:
    return IosxrSimDevice("xr1", user="netconf", password=PASSWORD, time_zone="Europe/Berlin")


@pytest.fixture
def lab(router: IosxrSimDevice) -> Iterator[IosxrLabThread]:
    with run_iosxr_in_thread([router]) as running:
        yield running


@pytest.fixture
def target(lab: IosxrLabThread, tmp_path: Path) -> DeviceTarget:
    known = tmp_path / "known_hosts"
    lab.write_known_hosts(known)
    return DeviceTarget(
        name="xr1",
        host="127.0.0.1",
        port=lab.port("xr1"),
        user="netconf",
        password=Secret(PASSWORD.encode()),
        known_hosts=known,
        timeout=10.0,
    )


@pytest.fixture
def driver(target: DeviceTarget) -> Iterator[IosxrDriver]:
    d = IosxrDriver(target)
    d.open()
    yield d
    d.close()


def test_a_change_commits_and_reads_back(driver: IosxrDriver, router: IosxrSimDevice) -> None:
    changes = ChangeSet(bindings=[BINDING], add_entries=[entry(2, 0xA1)])
    result = driver.apply(changes, comment="stage")
    assert result.changed
    assert driver.preview(changes) == 0  # already there
    assert [(e.slot, e.ckn) for e in driver.key_chain("QKD_KC")] == [(2, "a1" * 32)]
    assert driver.macsec_bindings() == {"HundredGigE0/0/0/1": "QKD_POL"}
    assert list(router.running.chains["QKD_KC"]) == ["A1" * 32]  # written upper-case
    assert router.lock_owner is None


def test_a_removal_deletes_the_key_in_that_slot(driver: IosxrDriver) -> None:
    driver.apply(
        ChangeSet(bindings=[BINDING], add_entries=[entry(0, 0x01), entry(1, 0x02)]), comment="a"
    )
    driver.apply(ChangeSet(remove_entries=[("QKD_KC", 0), ("QKD_KC", 5)]), comment="prune")
    assert [(e.slot, e.ckn) for e in driver.key_chain("QKD_KC")] == [(1, "02" * 32)]


def test_a_preview_changes_nothing(driver: IosxrDriver, router: IosxrSimDevice) -> None:
    assert driver.preview(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 0x01)])) > 0
    assert router.running.chains == {}
    assert router.candidate == router.running
    assert router.lock_owner is None


def test_a_refused_edit_is_discarded_unlocked_and_shows_no_secret(
    driver: IosxrDriver, router: IosxrSimDevice
) -> None:
    driver.apply(ChangeSet(bindings=[BINDING]), comment="bind")
    # a 16-byte CAK on a 256-bit policy: the router refuses the commit
    short = replace(entry(0, 0x01), cak=Secret(CAK[:16]), suite=CipherSuite.GCM_AES_XPN_128)
    with pytest.raises(DeviceCommitError) as caught:
        driver.apply(ChangeSet(add_entries=[short]), comment="bad")
    assert CAK[:16].hex() not in str(caught.value).lower()
    assert router.candidate == router.running
    assert router.lock_owner is None
    assert "QKD_KC" not in router.running.chains


def test_a_candidate_locked_by_another_session_is_a_lock_error(
    driver: IosxrDriver, target: DeviceTarget, router: IosxrSimDevice
) -> None:
    other = IosxrDriver(target)
    other.open()
    try:
        other._manager().lock(target="candidate")
        with pytest.raises(DeviceLockError):
            driver.apply(ChangeSet(bindings=[BINDING]), comment="blocked")
    finally:
        other.close()
    wait_for(lambda: router.lock_owner is None)  # the other session's lock ends with it
    assert driver.apply(ChangeSet(bindings=[BINDING]), comment="now").changed


def test_a_bad_edit_from_the_device_is_a_load_error(driver: IosxrDriver) -> None:
    # the renderer would refuse a bad name; the router's own refusal is still typed
    with pytest.raises(DeviceLoadError):
        driver._call(
            "load",
            lambda m: m.edit_config(target="candidate", config="<config><nonsense/></config>"),
        )


def test_an_unknown_host_key_is_refused(target: DeviceTarget, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(DeviceHostKeyError):
        IosxrDriver(replace(target, known_hosts=empty)).open()


def test_ncclients_own_iosxr_handler_would_have_accepted_it(target: DeviceTarget) -> None:
    """Why the driver brings its own handler: the stock one accepts any unknown host key."""
    assert target.password is not None
    with manager.connect(
        host=target.host,
        port=target.port,
        username=target.user,
        password=target.password.reveal_text(),
        hostkey_verify=True,
        device_params={"name": "iosxr"},
        allow_agent=False,
        look_for_keys=False,
        ssh_config=None,
    ) as stock:
        assert stock.connected


def test_the_clock_is_read_in_the_routers_zone(driver: IosxrDriver) -> None:
    clock = driver.device_time()
    assert clock.zone == "Europe/Berlin"
    assert clock.utc_offset.total_seconds() in (3600, 7200)
    assert abs(clock.now.timestamp() - time.time()) < 5


def test_a_passed_deadline_sends_nothing(driver: IosxrDriver, router: IosxrSimDevice) -> None:
    driver.set_deadline(time.time() - 1)
    with pytest.raises(DeviceDeadlineError):
        driver.apply(ChangeSet(bindings=[BINDING]), comment="late")
    assert router.counters.edits == 0


def test_the_preflight_reads_answer(driver: IosxrDriver) -> None:
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 0x01)]), comment="bind")
    config = driver.macsec_config()
    assert config.bindings == {"HundredGigE0/0/0/1": "QKD_POL"}
    assert config.cas["QKD_POL"].cipher_suite == "gcm-aes-xpn-256"
    assert config.cas["QKD_POL"].pre_shared_key_chain == "QKD_KC"
    assert CAK.hex() not in repr(config).lower()
    states = driver.interfaces(["HundredGigE0/0/0/1", "HundredGigE0/0/0/9"])
    assert states["HundredGigE0/0/0/1"].exists
    assert not states["HundredGigE0/0/0/9"].exists
    assert driver.ntp_status().synchronised
    assert driver.macsec_capable()
    assert driver.commit_check()
    assert driver.mka_sessions() == []  # no fabric: no sessions


def test_no_cak_reaches_the_logs_even_at_debug(
    driver: IosxrDriver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 0x01)]), comment="c")
        driver.preview(ChangeSet(add_entries=[entry(1, 0x02)]))
    assert "loading" in caplog.text  # the masked configuration was logged
    for spelling in (CAK.hex(), CAK.hex().upper()):
        assert spelling not in caplog.text
