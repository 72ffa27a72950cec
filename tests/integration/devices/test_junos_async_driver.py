"""The asyncio Junos driver against the simulator's real asyncssh NETCONF server: the same
configuration as the PyEZ driver commits, refusals in the DeviceError tree with no secret in
them, a hung RPC within its deadline, and the SSH posture recorded."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

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
)
from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceCommitError,
    DeviceDeadlineError,
    DeviceLockError,
    DeviceTarget,
    DeviceTimeoutError,
    MkaSessionState,
)
from qkd_macsec.devices.junos_async import AsyncJunosDriver
from qkd_macsec.posture import HopPosture
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import LabThread

PASSWORD = "lab-pw-r1"


def target(lab: LabThread, **overrides: object) -> DeviceTarget:
    values: dict[str, object] = {
        "name": "r1",
        "host": lab.host,
        "port": lab.port("r1"),
        "user": "lab",
        "password": Secret.from_text(PASSWORD),
        "known_hosts": lab.known_hosts_path,
        "timeout": 10.0,
    }
    values.update(overrides)
    return DeviceTarget(**values)  # type: ignore[arg-type]


async def test_it_commits_what_the_pyez_driver_commits(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    first = ChangeSet(
        bindings=[BINDING],
        add_entries=[entry(1, CKN_A, CANARY, datetime(2026, 1, 1, tzinfo=UTC))],
    )
    second = ChangeSet(
        add_entries=[entry(2, CKN_B, CANARY, datetime(2026, 2, 1, tzinfo=UTC))],
        remove_entries=[("KC_core", 1)],
    )
    pyez = make_driver("r2")
    pyez.open()
    driver = AsyncJunosDriver(target(lab))
    await driver.open()
    try:
        for changes in (first, second):
            assert (await driver.apply(changes, comment="async")).changed
            assert pyez.apply(changes, comment="pyez").changed
            assert lab.device("r1").committed.to_set() == lab.device("r2").committed.to_set()
            assert await driver.key_chain("KC_core") == pyez.key_chain("KC_core")
            assert await driver.macsec_bindings() == pyez.macsec_bindings()
        assert not (await driver.apply(second, comment="again")).changed  # no diff, no commit
        assert await driver.preview(ChangeSet(remove_entries=[("KC_core", 2)])) > 0
        assert [e.slot for e in await driver.key_chain("KC_core")] == [2]  # preview discarded
        clock = await driver.device_time()
        assert abs(clock.now.timestamp() - time.time()) < 5

        # the two ends of one link: same CAKs and states (member ids are each end's own)
        def view(rows: list[MkaSessionState]) -> list[tuple[str, str, bool, str]]:
            return [(s.interface, s.cak_name, s.live, s.raw_state) for s in rows]

        mine = view(await driver.mka_sessions(["et-0/0/9"]))
        assert mine
        assert mine == view(pyez.mka_sessions(["et-0/0/9"]))
    finally:
        await driver.close()


async def test_a_refused_commit_names_no_secret_and_leaves_the_router_clean(
    lab: LabThread, caplog: pytest.LogCaptureFixture
) -> None:
    device = lab.device("r1")
    device.set_faults(failing_commits=1, commit_error_message=f"bad secret {CANARY.hex()}")
    driver = AsyncJunosDriver(target(lab))
    await driver.open()
    changes = ChangeSet(add_entries=[entry(1, CKN_A, CANARY, datetime(2026, 1, 1, tzinfo=UTC))])
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(DeviceCommitError, match="bad secret") as info:
            await driver.apply(changes, comment="fails")
        assert_clean(info.value)
        assert CANARY.hex() not in caplog.text
        assert PASSWORD not in caplog.text
        assert device.lock_holder is None
        assert device.candidate() == device.committed
        assert driver.is_alive()  # a clean refusal: the session goes on
        assert (await driver.apply(changes, comment="works")).changed
    finally:
        await driver.close()


async def test_a_lock_held_elsewhere_is_a_lock_error(lab: LabThread) -> None:
    lab.device("r1").set_faults(foreign_lock_user="alice")
    driver = AsyncJunosDriver(target(lab))
    await driver.open()
    changes = ChangeSet(bindings=[PSK_BINDING], static_keys=[PSK_KEY])
    try:
        with pytest.raises(DeviceLockError, match="alice"):
            await driver.apply(changes, comment="x")
        lab.device("r1").set_faults(foreign_lock_user=None)
        assert (await driver.apply(changes, comment="x")).changed
    finally:
        await driver.close()


async def test_a_hung_rpc_ends_at_the_deadline_and_drops_the_session(lab: LabThread) -> None:
    lab.device("r1").set_faults(hang_rpcs={"get-system-uptime-information"})
    driver = AsyncJunosDriver(target(lab))
    await driver.open()
    driver.set_deadline(time.time() + 1.0)
    started = time.monotonic()
    with pytest.raises(DeviceTimeoutError, match="no reply"):
        await driver.device_time()
    assert time.monotonic() - started < 5.0
    assert not driver.is_alive()  # a late reply would be taken for the next RPC's
    driver.set_deadline(time.time() - 1)
    with pytest.raises(DeviceDeadlineError):  # past the deadline nothing is sent
        await driver.open()
    await driver.close()


async def test_the_ssh_posture_is_recorded_and_aes256_preferred(lab: LabThread) -> None:
    seen: list[HopPosture] = []
    driver = AsyncJunosDriver(target(lab, on_posture=seen.append))
    await driver.open()
    await driver.close()
    assert len(seen) == 1
    assert seen[0].kex is not None
    assert seen[0].pq  # the simulator (asyncssh) offers mlkem768x25519-sha256
    assert seen[0].cipher is not None
    assert seen[0].cipher.startswith("aes256")
