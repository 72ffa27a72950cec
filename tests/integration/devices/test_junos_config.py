"""The Junos driver end to end: real PyEZ/ncclient client → real asyncssh NETCONF simulator.

Configuration: staging key-chain entries (MKA goes live hitlessly), idempotence, pruning, and
every failure leaving the device unlocked with its candidate discarded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jnpr.junos import Device
from jnpr.junos.utils.config import Config

from integration.devices.devices_kit import (
    BINDING,
    CANARY,
    CKN_A,
    CKN_B,
    PSK_BINDING,
    PSK_KEY,
    MakeDriver,
    assert_clean,
    entry,
    live_ckn,
    opened,
    wait_for,
)
from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceCommitError,
    DeviceLockError,
)
from qkd_macsec.sim.lab import LabThread


def test_key_chain_rollover_goes_live_hitlessly(
    lab: LabThread, make_driver: MakeDriver, link: str
) -> None:
    r1, r2 = opened(make_driver, "r1", "r2")
    start = r1.device_time().now + timedelta(seconds=1)
    first = ChangeSet(bindings=[BINDING], add_entries=[entry(1, CKN_A, bytes(range(32)), start)])
    for driver in (r1, r2):
        result = driver.apply(first, comment="qkd-macsec initial")
        assert result.changed
        assert result.diff_lines > 0
    assert r1.macsec_bindings() == {"et-0/0/9": "CA_core"}
    wait_for(lambda: live_ckn(r1) == CKN_A and live_ckn(r2) == CKN_A, "first key live")

    start = r1.device_time().now + timedelta(seconds=1)
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


def test_commit_confirmed_rolls_back_unless_confirmed(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    r1, r2 = opened(make_driver, "r1", "r2")
    changes = ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY])
    assert r2.apply(changes, comment="try", confirm_minutes=1).changed
    r2.confirm_commit(comment="keep")
    assert not lab.device("r2").confirm_pending
    assert r1.apply(changes, comment="try", confirm_minutes=1).changed
    assert lab.device("r1").confirm_pending
    # r1 committed after r2, so once r1 has rolled back, an unconfirmed r2 would have too.
    wait_for(lambda: r1.macsec_bindings() == {}, "unconfirmed commit rolled back")
    assert r2.macsec_bindings() == {"et-0/0/9": "CA_core"}
