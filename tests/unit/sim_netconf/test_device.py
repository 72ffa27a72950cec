"""SimDevice state rules that the NETCONF tests don't reach directly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qkd_macsec.sim.config import Configuration
from qkd_macsec.sim.device import (
    ROLLBACK_DEPTH,
    DeviceOperationError,
    LockDenied,
    RollbackUnavailable,
    SimDevice,
)
from qkd_macsec.sim.fabric import Fabric

MakeDevice = Callable[..., SimDevice]


async def test_rollback_history_keeps_fifty_with_users_and_comments(
    make_device: MakeDevice,
) -> None:
    device = make_device()
    session = device.open_session("lab", "peer", lambda: None)
    for i in range(ROLLBACK_DEPTH + 5):
        with device.editing(session) as work:
            work.load_set(f"set system location building n{i}")
        await device.commit(session, comment=f"c{i}")
    history = device.history
    assert len(history) == ROLLBACK_DEPTH
    assert history[0].comment == f"c{ROLLBACK_DEPTH + 4}"
    assert all(record.user == "lab" for record in history)
    assert [r.at for r in history] == sorted((r.at for r in history), reverse=True)
    assert "n53" in device.rollback_config(1).to_set()
    with pytest.raises(RollbackUnavailable):
        device.rollback_config(ROLLBACK_DEPTH)


async def test_lock_refused_over_someone_elses_uncommitted_changes(
    make_device: MakeDevice,
) -> None:
    device = make_device()
    editor = device.open_session("alice", "p1", lambda: None)
    locker = device.open_session("bob", "p2", lambda: None)
    with device.editing(editor) as work:
        work.load_set("set system location building x")
    with pytest.raises(DeviceOperationError, match="modified"):
        device.lock(locker)
    device.discard_changes(editor)
    device.lock(locker)
    with pytest.raises(LockDenied) as excinfo:
        device.lock(editor)
    assert excinfo.value.holder_session == locker.session_id
    assert "bob" in excinfo.value.message
    with pytest.raises(DeviceOperationError):
        device.unlock(editor)


def test_unknown_fault_is_refused(make_device: MakeDevice) -> None:
    with pytest.raises(AttributeError, match="no_such_fault"):
        make_device().set_faults(no_such_fault=True)


def test_clock_offset_reaches_the_fabric_and_device_time() -> None:
    now = 1_800_000_000.0
    fabric = Fabric(clock=lambda: now)
    fabric.add_device("r1")
    device = SimDevice("r1", config=Configuration.empty(), fabric=fabric, clock=lambda: now)
    device.set_clock_offset(90.0)
    assert device.device_time().timestamp() == now + 90.0
    assert fabric.device_time("r1").timestamp() == pytest.approx(now + 90.0)


def test_hostname_follows_committed_config(make_device: MakeDevice) -> None:
    assert make_device(config="set system host-name edge-7").hostname == "edge-7"
    assert make_device(config="set system location building z").hostname == "r1"


async def test_unlock_without_commit_discards_the_candidate(make_device: MakeDevice) -> None:
    """Juniper, <lock-configuration/>: unlocking before a commit discards the changes."""
    device = make_device()
    session = device.open_session("lab", "peer", lambda: None)
    device.lock(session)
    with device.editing(session) as work:
        work.load_set("set system location building gone")
    assert device.candidate() != device.committed
    device.unlock(session)
    assert device.candidate() == device.committed
    device.lock(session)  # and nothing blocks the next lock
