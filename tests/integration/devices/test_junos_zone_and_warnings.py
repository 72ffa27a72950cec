"""The Junos driver against the simulator (real PyEZ): the device zone in ``device_time``, and
the CKN-length commit warning taken as the success it is while other warnings still fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration.devices.devices_kit import BINDING, MakeDriver, entry, opened
from qkd_macsec.devices.base import ChangeSet, DeviceCommitError
from qkd_macsec.sim.lab import LabThread

SHORT_CKN = "badc0ffe01"  # accepted by Junos with MACSEC_CKN_LENGTH_WARNING (evidence §2, §4)


def commit_on_device(lab: LabThread, name: str, lines: str) -> None:
    """Change a lab router's configuration as another user would (CLI), outside the driver."""
    device = lab.device(name)

    async def change() -> None:
        session = device.open_session("admin", "cli", lambda: None)
        try:
            with device.editing(session) as work:
                work.load_set(lines)
            await device.commit(session, comment="cli")
        finally:
            device.close_session(session)

    lab.call(change)


def test_device_time_reports_the_zone_offset_and_name(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    (r1,) = opened(make_driver, "r1")
    assert r1.device_time().utc_offset == timedelta(0)
    assert r1.device_time().zone is None
    commit_on_device(lab, "r1", "set system time-zone America/New_York")
    clock = r1.device_time()
    assert clock.zone == "America/New_York"
    assert clock.utc_offset == timedelta(hours=-5)  # December: EST
    assert abs(clock.now - datetime.now(UTC)) < timedelta(seconds=5)


def test_short_ckn_commit_warning_is_success_other_commit_failures_are_not(
    lab: LabThread, make_driver: MakeDriver
) -> None:
    (r1,) = opened(make_driver, "r1")
    start = datetime.now(UTC) + timedelta(seconds=30)
    short = ChangeSet(bindings=[BINDING], add_entries=[entry(1, SHORT_CKN, bytes(32), start)])
    assert r1.apply(short, comment="short ckn").changed
    assert SHORT_CKN in lab.device("r1").committed.to_set()
    lab.device("r1").set_faults(failing_commits=1)
    longer = ChangeSet(add_entries=[entry(2, SHORT_CKN + "02", bytes(32), start + timedelta(1))])
    with pytest.raises(DeviceCommitError, match="injected"):
        r1.apply(longer, comment="fails")
    assert SHORT_CKN + "02" not in lab.device("r1").committed.to_set()
