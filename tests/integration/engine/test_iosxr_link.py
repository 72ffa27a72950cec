"""A Junos ↔ Cisco IOS XR link through the real engine: the Junos end a simulated Junos router
(real PyEZ), the IOS XR end the IOS XR simulator (real ncclient with its ``iosxr`` handler,
host key checked against known_hosts). The testbed's one lab serves both (the inventory's
``platform: iosxr`` picks the IOS XR simulator) on one MKA link fabric, so the link is live only
when both ends derive the same MKA keys from their CAK/CKN; outage is measured exactly.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qkd_macsec.engine.controller import Controller, link_specs
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.testbed.builder import Testbed
from support.mixed_lab import LINK, XR, mixed_link
from support.testbed import StartTestbed


def xr_router(testbed: Testbed) -> IosxrSimDevice:
    """The IOS XR simulator serving the IOS XR host in the testbed's lab."""
    assert testbed.platform(XR) == "iosxr"
    return testbed.lab.device_of(XR, IosxrSimDevice)


@pytest.mark.parametrize("mode", ["key-chain", "pre-shared-key"])
async def test_a_junos_to_iosxr_link_rotates_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], mode: str
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, mode))
    router = xr_router(testbed)
    (spec,) = link_specs(testbed.inventory)
    assert spec.slots == 16  # the smaller of Junos' 64 and IOS XR's 16
    async with Controller(testbed.inventory) as controller:
        seen: list[str] = []
        for wave in range(3):
            result = await controller.rotate(all_links=wave > 0)
            assert result.ok, result.failed_links
            (newest,) = controller.journal.active_keys(LINK, 1)
            assert testbed.live_ckns(LINK) == [newest.ckn]
            assert testbed.outage_seconds(LINK) == 0.0
            seen.append(newest.ckn)
    assert len(set(seen)) == 3  # three different keys went live
    assert router.counters.commits >= 3
    assert len(testbed.lab.device("mx304-11").history) >= 3  # the Junos end committed too
    if mode == "key-chain":
        keys = router.running.chains["KC_p2p_11_12"]
        assert seen[-1].upper() in keys  # the key ID is the CKN, upper-case
        assert 1 <= len(keys) <= 3  # old keys pruned
    else:
        assert list(router.running.chains["CA_p2p_11_12"]) == [seen[-1].upper()]
    assert router.lock_owner is None


async def test_a_refused_iosxr_commit_leaves_the_link_on_the_key_both_ends_share(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, "key-chain"))
    router = xr_router(testbed)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        (shared,) = controller.journal.active_keys(LINK, 1)
        commits = router.counters.commits
        router.refuse_commits = True
        result = await controller.rotate(all_links=True)
        assert not result.ok
        assert LINK in result.failed_links
        assert testbed.live_ckns(LINK) == [shared.ckn]
        assert router.counters.commits == commits  # nothing landed on IOS XR
        router.refuse_commits = False
        assert (await controller.rotate(all_links=True)).ok  # and it recovers
        (newest,) = controller.journal.active_keys(LINK, 1)
        assert newest.ckn != shared.ckn
        assert testbed.live_ckns(LINK) == [newest.ckn]
    assert testbed.outage_seconds(LINK) == 0.0
    assert router.lock_owner is None


async def test_lifetimes_are_written_in_the_iosxr_routers_own_zone(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """The IOS XR end keeps its clock in Europe/Berlin, the Junos end in UTC: each start is
    written in its device's wall clock, and the link still switches hitlessly."""
    testbed = testbed_factory(mixed_link(seed_doc, "key-chain"), time_zones={XR: "Europe/Berlin"})
    router = xr_router(testbed)
    assert router.time_zone == "Europe/Berlin"
    async with Controller(testbed.inventory) as controller:
        live: list[str] = []
        for wave in range(2):
            assert (await controller.rotate(all_links=wave > 0)).ok
            (current,) = controller.journal.active_keys(LINK, 1)
            live.append(current.ckn)
        # the second wave rotated too: the Berlin end's lifetime was read back as the instant
        # it denotes (read as UTC it is an hour ahead: "nothing in force", a conflict)
        assert len(set(live)) == 2
        (newest,) = controller.journal.active_keys(LINK, 1)
        assert testbed.live_ckns(LINK) == [newest.ckn]
        (record,) = [r for r in controller.journal.rotations(LINK) if r.ckn == newest.ckn]
    assert testbed.outage_seconds(LINK) == 0.0
    written = router.running.chains["KC_p2p_11_12"][newest.ckn.upper()].start
    assert written is not None
    berlin = ZoneInfo("Europe/Berlin")
    as_utc = written.replace(tzinfo=berlin).astimezone(UTC)
    assert record.start_time is not None
    assert abs((as_utc - record.start_time.astimezone(UTC)).total_seconds()) <= 1.0


async def test_an_unreachable_iosxr_router_leaves_the_link_on_its_shared_key(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, "key-chain"))
    xr_router(testbed)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        (shared,) = controller.journal.active_keys(LINK, 1)
        junos_commits = len(testbed.lab.device("mx304-11").history)
        testbed.lab.refuse_connections(XR)  # the router's port now refuses connections
        result = await controller.rotate(all_links=True)
        assert not result.ok
        assert LINK in result.failed_links
        assert testbed.live_ckns(LINK) == [shared.ckn]
        history = testbed.lab.device("mx304-11").history
        # the Junos end is either never staged or staged and undone (sessions open in
        # parallel: which comes first depends on the machine's load)
        assert len(history) in (junos_commits, junos_commits + 2)
    assert testbed.outage_seconds(LINK) == 0.0
