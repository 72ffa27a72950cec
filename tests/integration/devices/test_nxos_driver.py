"""The NX-OS driver through real httpx against the NX-OS simulator's HTTPS NX-API: the
configuration-session discipline (session → commands → verify → commit, abort on any failure),
the chain lifetimes it keeps (the old key ends where the new one starts), TLS verified against
the CA bundle (a wrong CA or a wrong host name is refused), basic auth, secrets never in an
error or a log, deadlines, the clock read in the switch's own zone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qkd_macsec.devices import nxos_names
from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceAuthError,
    DeviceCommitError,
    DeviceDeadlineError,
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DeviceTarget,
    DeviceUnreachableError,
    KeyChainEntry,
    MacsecBinding,
)
from qkd_macsec.devices.nxos import NxosDriver
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret
from qkd_macsec.sim.nxos.device import BatchContext, NxosSimDevice
from qkd_macsec.sim.nxos.server import NxosLabThread, make_tls, run_nxos_in_thread, serve

PASSWORD = "nx-sim-pw"
CAK = bytes(range(0x90, 0xB0))
BINDING = MacsecBinding("Ethernet1/1", "QKD_POL", CipherSuite.GCM_AES_XPN_256, "QKD_KC")
T0 = datetime(2026, 12, 1, 7)


def entry(slot: int, ckn_byte: int, start: datetime = T0) -> KeyChainEntry:
    return KeyChainEntry("QKD_KC", slot, f"{ckn_byte:02x}" * 32, Secret(CAK), start)


@pytest.fixture
def switch() -> NxosSimDevice:
    return NxosSimDevice("nx1", user="admin", password=PASSWORD, timezone=("PST", -8, 0))


@pytest.fixture
def lab(switch: NxosSimDevice) -> Iterator[NxosLabThread]:
    with run_nxos_in_thread([switch]) as running:
        yield running


@pytest.fixture
def target(lab: NxosLabThread) -> DeviceTarget:
    return DeviceTarget(
        name="nx1",
        host="127.0.0.1",
        port=lab.port("nx1"),
        user="admin",
        password=Secret(PASSWORD.encode()),
        insecure_host_keys=True,  # an SSH setting: it must not loosen TLS in any way
        tls_ca=lab.ca,
        timeout=10.0,
    )


@pytest.fixture
def driver(target: DeviceTarget) -> Iterator[NxosDriver]:
    d = NxosDriver(target)
    d.open()
    yield d
    d.close()


def test_a_rotation_keeps_one_key_in_use_at_every_instant(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    first = driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    assert first.changed
    assert first.diff_lines == 5
    keys = switch.running.chains["QKD_KC"]
    assert keys["01" * 32].duration_s == nxos_names.SLOT_CARRIER_S  # newest: slot 0 carried
    t1 = T0 + timedelta(hours=1)
    driver.apply(ChangeSet(add_entries=[entry(1, 2, t1)]), comment="stage")
    keys = switch.running.chains["QKD_KC"]
    old, new = keys["01" * 32], keys["02" * 32]
    assert old.start is not None
    assert old.duration_s is not None
    end = old.start + timedelta(seconds=old.duration_s)
    assert t1 <= end < t1 + timedelta(seconds=nxos_names.SLOTS)  # ends where the new starts
    assert new.duration_s == nxos_names.SLOT_CARRIER_S + 1
    assert [(e.slot, e.ckn) for e in driver.key_chain("QKD_KC")] == [(0, "01" * 32), (1, "02" * 32)]
    # undoing the stage gives the old key its four years back
    driver.apply(ChangeSet(remove_entries=[("QKD_KC", 1)]), comment="undo")
    assert list(switch.running.chains["QKD_KC"]) == ["01" * 32]
    assert switch.running.chains["QKD_KC"]["01" * 32].duration_s == nxos_names.SLOT_CARRIER_S
    assert switch.session_name is None
    assert switch.counters.commits == 3


def test_an_unchanged_change_set_commits_nothing(driver: NxosDriver, switch: NxosSimDevice) -> None:
    changes = ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)])
    driver.apply(changes, comment="t")
    commits = switch.counters.commits
    assert driver.preview(changes) == 0
    result = driver.apply(changes, comment="again")
    assert not result.changed
    assert switch.counters.commits == commits


def test_preview_counts_the_change_and_leaves_running_untouched(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    assert driver.preview(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)])) == 5
    assert switch.running.chains == {}
    assert switch.session_name is None
    assert switch.counters.commits == 0


def test_a_refused_commit_leaves_running_untouched_and_no_session(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    before = switch.running.copy()
    switch.refuse_commits = True
    with pytest.raises(DeviceCommitError) as caught:
        driver.apply(ChangeSet(add_entries=[entry(1, 2, T0 + timedelta(hours=1))]), comment="x")
    assert CAK.hex() not in str(caught.value).lower()
    assert switch.running == before
    assert switch.session_name is None


def test_a_refused_command_is_a_load_error_that_changes_nothing(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    before = switch.running.copy()
    # a CAK too short for the bound policy's 256-bit suite: verify refuses the whole session
    short = replace(entry(1, 2, T0 + timedelta(hours=1)), cak=Secret(CAK[:16]))
    with pytest.raises((DeviceLoadError, DeviceCommitError)) as caught:
        driver.apply(ChangeSet(add_entries=[short]), comment="x")
    assert CAK[:16].hex() not in str(caught.value).lower()
    assert switch.running == before
    assert switch.session_name is None


def test_another_session_in_progress_is_a_lock_error(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    switch.run_config(BatchContext(), "configure session operator")  # someone else's
    with pytest.raises(DeviceLockError):
        driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="x")
    assert switch.running.chains == {}
    assert switch.session_name == "operator"  # theirs is left alone


def test_a_crashed_runs_session_is_dropped_not_committed(
    driver: NxosDriver, switch: NxosSimDevice
) -> None:
    """A session of ours left open (a controller killed mid-request) holds stale commands:
    the next change starts by aborting it, so they never land."""
    stale = BatchContext()
    switch.run_config(stale, "configure session qkd-macsec")
    switch.run_config(stale, "interface Ethernet1/7")
    switch.run_config(stale, "shutdown")
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    assert "Ethernet1/7" not in switch.running.interfaces
    assert switch.session_name is None


def test_the_clock_is_read_in_the_switchs_zone(driver: NxosDriver, switch: NxosSimDevice) -> None:
    clock = driver.device_time()
    assert clock.utc_offset == timedelta(0)  # lifetimes are UTC on NX-OS
    assert abs((clock.now - datetime.now(UTC)).total_seconds()) < 5.0
    assert "PST" in switch.show("show clock")


def test_read_verbs(driver: NxosDriver) -> None:
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    assert driver.macsec_bindings() == {"Ethernet1/1": "QKD_POL"}
    config = driver.macsec_config()
    assert config.cas["QKD_POL"].cipher_suite == "gcm-aes-xpn-256"
    assert config.cas["QKD_POL"].pre_shared_key_chain == "QKD_KC"
    assert driver.facts().hostname == "nx1"
    assert driver.ntp_status().synchronised
    states = driver.interfaces(["Eth1/1", "Ethernet1/2"])
    assert states["Eth1/1"].exists
    assert not states["Ethernet1/2"].exists
    assert driver.macsec_capable()
    assert driver.mka_sessions() == []  # no fabric: no MKA sessions
    assert driver.commit_check()


def test_a_wrong_password_is_an_auth_error(target: DeviceTarget) -> None:
    driver = NxosDriver(replace(target, password=Secret(b"wrong-password")))
    with pytest.raises(DeviceAuthError) as caught:
        driver.open()
    assert "wrong-password" not in str(caught.value)
    assert not driver.is_alive()


def test_a_certificate_from_another_ca_is_refused(target: DeviceTarget, tmp_path: Path) -> None:
    other = make_tls(tmp_path / "other")
    driver = NxosDriver(replace(target, tls_ca=other.ca))
    with pytest.raises(DeviceHostKeyError, match="not trusted"):
        driver.open()


def test_the_system_trust_store_does_not_trust_the_lab(target: DeviceTarget) -> None:
    driver = NxosDriver(replace(target, tls_ca=None))
    with pytest.raises(DeviceHostKeyError):
        driver.open()


def test_a_certificate_for_another_host_name_is_refused(
    switch: NxosSimDevice, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path / "tls", names=["switch.example.net"], addresses=[])
    with run_nxos_in_thread([switch], tls=tls) as lab:
        target = DeviceTarget(
            name="nx1",
            host="127.0.0.1",
            port=lab.port("nx1"),
            user="admin",
            password=Secret(PASSWORD.encode()),
            insecure_host_keys=True,
            tls_ca=tls.ca,
            timeout=10.0,
        )
        with pytest.raises(DeviceHostKeyError, match="not trusted"):
            NxosDriver(target).open()


def test_a_stopped_switch_is_unreachable(lab: NxosLabThread, target: DeviceTarget) -> None:
    lab.stop()
    with pytest.raises(DeviceUnreachableError):
        NxosDriver(target).open()


def test_a_passed_deadline_sends_nothing(driver: NxosDriver, switch: NxosSimDevice) -> None:
    driver.set_deadline(1.0)
    with pytest.raises(DeviceDeadlineError):
        driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="x")
    assert switch.counters.sessions == 0


def test_no_cak_reaches_the_logs(
    driver: NxosDriver, switch: NxosSimDevice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    switch.refuse_commits = True
    with pytest.raises(DeviceCommitError):
        driver.apply(ChangeSet(add_entries=[entry(1, 2, T0 + timedelta(hours=1))]), comment="x")
    text = caplog.text.lower()
    assert "loading" in text  # the masked preview was logged...
    assert CAK.hex() not in text  # ...and no CAK in any case
    assert PASSWORD not in caplog.text


def test_commit_latency_is_waited_for(driver: NxosDriver, switch: NxosSimDevice) -> None:
    switch.commit_latency_s = 0.3
    result = driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
    assert result.changed
    assert result.seconds >= 0.3
    assert switch.counters.commits == 1


async def test_the_async_server_serves_on_the_callers_loop(switch: NxosSimDevice) -> None:
    """``serve`` runs on the running loop (as a shared lab would run it, next to other
    simulators); the synchronous driver is used from a worker thread."""
    async with serve([switch]) as endpoints:
        target = DeviceTarget(
            name="nx1",
            host="127.0.0.1",
            port=endpoints.port("nx1"),
            user="admin",
            password=Secret(PASSWORD.encode()),
            insecure_host_keys=True,
            tls_ca=endpoints.ca,
            timeout=10.0,
        )

        def rotate() -> list[int]:
            driver = NxosDriver(target)
            driver.open()
            try:
                driver.apply(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)]), comment="t")
                return [e.slot for e in driver.key_chain("QKD_KC")]
            finally:
                driver.close()

        assert await asyncio.to_thread(rotate) == [0]
    assert switch.counters.commits == 1
