"""The driver's read-only preflight verbs through real PyEZ against the simulator, including
the refusals preflight must tell apart (no commit permission, absent interface, no MACsec)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from qkd_macsec.devices.base import (
    ChangeSet,
    DevicePermissionError,
    DeviceTarget,
    Driver,
    KeyChainEntry,
)
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread

PASSWORD = "lab-pw-preflight"
CONFIG = "\n".join(
    [
        "set system time-zone Europe/Berlin",
        "set security macsec connectivity-association CA1 cipher-suite gcm-aes-xpn-128",
        f"set security macsec connectivity-association CA1 pre-shared-key ckn {'ab' * 32}",
        f"set security macsec connectivity-association CA1 pre-shared-key cak {'cd' * 16}",
        "set security macsec interfaces et-0/0/9 connectivity-association CA1",
    ]
)


@pytest.fixture
def lab() -> Iterator[LabThread]:
    spec = {
        "devices": [
            {"name": "old", "user": "lab", "password": PASSWORD, "config": CONFIG},
            {"name": "new", "user": "lab", "password": PASSWORD, "version": "24.4R2.23"},
        ],
        "links": [{"a": "old:et-0/0/9", "b": "new:et-0/0/9"}],
    }
    with run_lab_in_thread(Lab.from_dict(spec)) as running:
        yield running


@pytest.fixture
def drivers(lab: LabThread) -> Iterator[dict[str, Driver]]:
    made = {
        name: DRIVERS.create(
            DeviceTarget(
                name=name,
                host=lab.host,
                port=lab.port(name),
                user="lab",
                password=Secret.from_text(PASSWORD),
                known_hosts=lab.known_hosts_path,
                timeout=10.0,
            ),
            "junos",
        )
        for name in ("old", "new")
    }
    for driver in made.values():
        driver.open()
    yield made
    for driver in made.values():
        driver.close()


def test_facts_time_zone_and_macsec_config(drivers: dict[str, Driver]) -> None:
    old = drivers["old"]
    facts = old.facts()
    assert (facts.hostname, facts.model, facts.version) == ("old", "mx304", "23.4R2-S3.9")
    assert old.device_time().zone == "Europe/Berlin"
    assert drivers["new"].device_time().zone is None
    config = old.macsec_config()
    assert config.bindings == {"et-0/0/9": "CA1"}
    ca = config.cas["CA1"]
    assert (ca.cipher_suite, ca.pre_shared_key_ckn, ca.pre_shared_key_chain) == (
        "gcm-aes-xpn-128",
        "ab" * 32,
        None,
    )
    assert "cd" * 16 not in repr(config)


def test_interfaces_exist_or_are_reported_absent(
    lab: LabThread, drivers: dict[str, Driver]
) -> None:
    states = drivers["new"].interfaces(["et-0/0/9", "et-0/0/42"])
    assert states["et-0/0/9"].exists
    assert states["et-0/0/9"].admin_up is True
    assert not states["et-0/0/42"].exists
    lab.device("new").set_faults(absent_interfaces={"et-0/0/9"})
    assert not drivers["new"].interfaces(["et-0/0/9"])["et-0/0/9"].exists


def test_ntp_status_in_both_reply_shapes(lab: LabThread, drivers: dict[str, Driver]) -> None:
    for name in ("old", "new"):  # 23.4: text inside <output>; 24.4: <ntp-status>
        state = drivers[name].ntp_status()
        assert state.synchronised, name
        assert (state.leap, state.sync_source, state.stratum) == ("leap_none", "sync_ntp", 3)
        lab.device(name).set_faults(ntp_unsynchronised=True)
        state = drivers[name].ntp_status()
        assert not state.synchronised, name
        assert (state.sync_source, state.stratum) == ("sync_unspec", 16)


def test_macsec_capable_unless_the_platform_lacks_it(
    lab: LabThread, drivers: dict[str, Driver]
) -> None:
    assert drivers["old"].macsec_capable() is True
    lab.device("old").set_faults(unsupported_rpcs={"get-macsec-connection-information"})
    assert drivers["old"].macsec_capable() is False


def test_commit_check_changes_nothing_and_names_a_missing_permission(
    lab: LabThread, drivers: dict[str, Driver]
) -> None:
    device = lab.device("old")
    committed, commits = device.committed, len(device.history)
    assert drivers["old"].commit_check() is True
    assert device.committed == committed
    assert len(device.history) == commits
    assert device.lock_holder is None
    device.set_faults(commit_denied=True)
    with pytest.raises(DevicePermissionError, match="may not commit"):
        drivers["old"].commit_check()
    assert device.lock_holder is None  # unlocked although the check was refused
    assert len(device.history) == commits


def test_commit_check_never_confirms_a_pending_commit_confirmed(
    lab: LabThread, drivers: dict[str, Driver]
) -> None:
    device = lab.device("new")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    entry = KeyChainEntry("KC1", 1, "ab" * 32, Secret(bytes(16)), start)
    drivers["new"].apply(ChangeSet(add_entries=[entry]), comment="pending", confirm_minutes=5)
    assert device.confirm_pending
    commits = len(device.history)
    assert drivers["new"].commit_check() is False
    assert device.confirm_pending  # still pending: its rollback was not stopped
    assert len(device.history) == commits
    assert device.lock_holder is None
