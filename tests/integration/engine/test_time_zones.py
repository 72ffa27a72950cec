"""Routers on different time zones, and one whose clock crosses a DST change between staging
and activation: both ends still switch at the same instant, outage 0 (measured by the
simulator's fabric, which reads each start-time in its router's ``system time-zone``, as Junos
does — field evidence §1).

Real PyEZ → simulated Junos, real KMEs over mTLS. A DST change cannot be waited for in real
time, so the Berlin router's clock is SKEWED (the simulator's clock offset) to sit a few
seconds before Europe/Berlin springs forward (2027-03-28 01:00 UTC, 02:00 CET → 03:00 CEST).
The engine measures that skew like any other and must write the start-time in the offset in
force at the activation instant (CEST), not the one it measured (CET).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qkd_macsec.engine import sessions
from qkd_macsec.engine.controller import Controller
from qkd_macsec.sim.config import macsec_interfaces
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed

LINK = "p2p-11-12"
UTC_END, BERLIN_END = "mx304-11", "mx304-12"
INTERFACE = "et-0/0/10"
SPRING_FORWARD = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def p2p_only(seed_doc: dict[str, Any]) -> dict[str, Any]:
    seed_doc["links"] = [link for link in seed_doc["links"] if link["name"] == LINK]
    return seed_doc


def activation_instants(testbed: Testbed, ckn: str) -> dict[str, float]:
    """Per router, the REAL instant its committed chain starts ``ckn``: the start-time read in
    its zone (the simulator's device model), minus its clock offset."""
    out: dict[str, float] = {}
    for name in (UTC_END, BERLIN_END):
        device = testbed.lab.device(name)
        view = macsec_interfaces(device.committed)[INTERFACE]
        (key,) = [k for k in view.chain if k.ckn == ckn]
        out[name] = key.start.replace(tzinfo=UTC).timestamp() - device.clock_offset_s
    return out


def stored_start_time(testbed: Testbed, device: str, ckn: str) -> str:
    """The start-time as written by the engine (raw committed configuration)."""
    for line in testbed.lab.device(device).committed.to_set().splitlines():
        if "start-time" in line:
            slot = line.split(" key ")[1].split()[0]
            if f"key {slot} key-name {ckn}" in testbed.lab.device(device).committed.to_set():
                return line.rsplit(" ", 1)[1].strip('"')
    raise AssertionError(f"no start-time for {ckn} on {device}")


def assert_switched_together(testbed: Testbed, controller: Controller) -> str:
    (newest,) = controller.journal.active_keys(LINK, 1)
    assert testbed.live_ckns(LINK) == [newest.ckn]
    assert testbed.outage_seconds(LINK) == 0.0
    instants = activation_instants(testbed, newest.ckn)
    (rotation,) = controller.journal.rotations(LINK, limit=1)
    assert rotation.start_time is not None
    # Each end's start-time is a whole second of ITS clock, and that clock is read in whole
    # seconds (junos:seconds): its skew is known to ±0.5 s and the start-time rounds by up to
    # 0.5 s more, so each end switches within 1 s of T and the two within 2 s of each other
    # (clock_tolerance absorbs it: outage 0 above). An end an hour off (its zone ignored)
    # fails here even when MKA's preceding key hides it from the outage count.
    assert abs(instants[UTC_END] - instants[BERLIN_END]) < 2.0, instants
    for name, instant in instants.items():
        # near the journal's activation instant (first keys start clock_tolerance early; the
        # executor's own rounding of T is not this test's business): an hour off fails
        assert abs(instant - rotation.start_time.timestamp()) <= 3.0, (name, instants)
    return newest.ckn


async def test_ends_in_utc_and_berlin_switch_at_the_same_instant(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(p2p_only(seed_doc), time_zones={BERLIN_END: "Europe/Berlin"})
    async with Controller(testbed.inventory) as controller:
        for index in range(3):
            result = await controller.rotate(all_links=index > 0)
            assert result.ok, result.failed_links
            ckn = assert_switched_together(testbed, controller)
        utc_wall = datetime.strptime(stored_start_time(testbed, UTC_END, ckn), "%Y-%m-%d.%H:%M:%S")
        berlin_wall = datetime.strptime(
            stored_start_time(testbed, BERLIN_END, ckn), "%Y-%m-%d.%H:%M:%S"
        )
        # December: Berlin is CET, one hour ahead of UTC (within a second of rounding)
        assert abs((berlin_wall - utc_wall) - timedelta(hours=1)) <= timedelta(seconds=1)


async def test_dst_change_between_staging_and_activation(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(
        p2p_only(seed_doc),
        time_zones={BERLIN_END: "Europe/Berlin"},
        policy={"min_activation_delay": "14s"},
    )
    measured: dict[str, sessions.SessionClock] = {}
    real_measure = sessions._measure_offset

    async def spy(driver: Any) -> sessions.SessionClock:
        clock = await real_measure(driver)
        measured[driver.name] = clock
        return clock

    monkeypatch.setattr(sessions, "_measure_offset", spy)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        assert_switched_together(testbed, controller)
        # The Berlin clock now reads 6 s before the change; staging measures it (CET, +0100)
        # well inside those 6 s (KME calls on loopback come first), and the activation comes
        # >= 14 s after the measurement, so after the change.
        skew = SPRING_FORWARD.timestamp() - 6.0 - time.time()
        testbed.lab.device(BERLIN_END).set_clock_offset(skew)
        result = await controller.rotate(all_links=True)
        assert result.ok, result.failed_links
        assert measured[BERLIN_END].utc_offset == timedelta(hours=1), "measured after the change"
        ckn = assert_switched_together(testbed, controller)
        written = stored_start_time(testbed, BERLIN_END, ckn)
        # CEST wall-clock time: the offset in force AT the activation, not the one measured
        assert written.startswith("2027-03-28.03:00:"), written
