"""The multi-vendor lab through the real clients: Junos routers (PyEZ), an IOS XR router
(ncclient, ``iosxr`` handler) and an NX-OS switch (httpx, NX-API, TLS verified against the lab
CA) in one testbed lab on one MKA fabric, keyed from real KMEs.

Rotation waves, a failed stage undone before T (a refused commit on the IOS XR end, on the NX-OS
end, and on the Junos end of a mixed link), a controller killed after staging on a mixed link
(the real CLI in a subprocess; the next run finishes or undoes), an unreachable IOS XR router
and NX-OS switch — every link ends on a key both its ends share, the outage is 0 everywhere, and
the commits each device's simulator recorded are the ones the controller reports.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.testbed.builder import Testbed
from qkd_macsec.testbed.examples import demo_example
from qkd_macsec.testbed.links import platform_pair
from support.testbed import StartTestbed
from support.testbed import run_cli as cli

XR = "asr9k-31"
NX = "n9k-41"
MX = "mx304-11"
JUNOS_ONLY = "mx11-mx12"
MIXED = ("mx11-xr31", "xr31-mx12")  # both through the IOS XR router
TO_NXOS = "mx12-nx41"


@pytest.fixture
def mixed(testbed_factory: StartTestbed) -> Testbed:
    testbed = testbed_factory(demo_example("multi-vendor"))
    assert testbed.platform(XR) == "iosxr"
    pairs = {link.name: platform_pair(testbed.inventory, link) for link in testbed.inventory.links}
    assert pairs[JUNOS_ONLY] == "junos-junos"
    assert all(pairs[name] == "iosxr-junos" for name in MIXED)
    assert pairs[TO_NXOS] == "junos-nxos"
    return testbed


def xr_router(testbed: Testbed) -> IosxrSimDevice:
    return testbed.lab.device_of(XR, IosxrSimDevice)


def links(testbed: Testbed) -> list[str]:
    return [link.name for link in testbed.inventory.links]


def assert_on_shared_keys(testbed: Testbed, journal: Journal) -> None:
    """Every link live on the journal's newest key on every wire, no outage, nothing open."""
    assert journal.open_rotations() == []
    for name in links(testbed):
        (newest,) = journal.active_keys(name, 1)
        live = testbed.live_ckns(name)
        assert live == [newest.ckn] * len(live), (name, live)
        assert testbed.outage_seconds(name) == 0.0, name


def commits_reported(waves: list[WaveResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for wave in waves:
        for name, device in wave.devices.items():
            out[name] = out.get(name, 0) + device.commits
    return out


async def test_waves_rotate_every_link_hitlessly_and_commit_counts_agree(mixed: Testbed) -> None:
    since = time.time()
    waves: list[WaveResult] = []
    seen: dict[str, list[str]] = {name: [] for name in links(mixed)}
    async with Controller(mixed.inventory) as controller:
        for wave in range(4):
            result = await controller.rotate(all_links=wave > 0)
            assert result.ok, result.failed_links
            assert set(result.rotations) == set(links(mixed))  # every link, every wave
            waves.append(result)
            for name in links(mixed):
                (newest,) = controller.journal.active_keys(name, 1)
                seen[name].append(newest.ckn)
        assert_on_shared_keys(mixed, controller.journal)
    for name, ckns in seen.items():
        assert len(set(ckns)) == 4, name  # four different keys went live on each link
    reported = commits_reported(waves)
    for host in mixed.inventory.hosts:
        assert reported[host] == mixed.commits(host, since) > 0, host
    assert xr_router(mixed).lock_owner is None


@pytest.mark.parametrize("refusing", [XR, NX, MX])
async def test_a_refused_commit_on_either_end_of_a_mixed_link_is_undone_before_t(
    mixed: Testbed, refusing: str
) -> None:
    router = xr_router(mixed)
    async with Controller(mixed.inventory) as controller:
        assert (await controller.rotate()).ok
        shared = {name: controller.journal.active_keys(name, 1)[0].ckn for name in links(mixed)}
        since = time.time()
        mixed.server(refusing).fail_commits(1)
        result = await controller.rotate(all_links=True)
        assert not result.ok
        through = [link.name for link in mixed.inventory.links if refusing in link.host_names]
        assert set(result.failed_links) == set(through)  # one commit stages all its links
        assert set(through) & {*MIXED, TO_NXOS}
        for name in result.failed_links:
            assert mixed.live_ckns(name) == [shared[name]], name  # still on the shared key
            failed = result.rotations[name]
            assert failed.ckn is None or failed.ckn.upper() not in router.running.chains.get(
                f"KC_{name.replace('-', '_')}", {}
            ), name  # nothing of the failed key stays on the IOS XR end
        # The other ends of the failed links: never staged, or staged and undone (a stage and
        # its undo are two commits); the refusing router committed nothing.
        assert mixed.commits(refusing, since) == 0
        for name in result.failed_links:
            (link,) = [link for link in mixed.inventory.links if link.name == name]
            for host in set(link.host_names) - {refusing}:
                assert result.devices[host].commits == mixed.commits(host, since), host
        assert (await controller.rotate(all_links=True)).ok  # and it recovers
        assert_on_shared_keys(mixed, controller.journal)
        for name in links(mixed):
            assert controller.journal.active_keys(name, 1)[0].ckn != shared[name], name
    assert router.lock_owner is None


@pytest.mark.parametrize("point", ["staged", f"stage:{XR}", f"stage:{MX}"])
def test_a_controller_killed_after_staging_on_a_mixed_link_is_recovered(
    mixed: Testbed, point: str
) -> None:
    boot = cli(mixed, "rotate")
    assert boot.returncode == 0, boot.stdout + boot.stderr

    crashed = cli(mixed, "rotate", "--force", crash_at=point)
    assert crashed.returncode == 99, crashed.stdout + crashed.stderr
    journal = Journal(mixed.inventory.policy.journal)
    try:
        assert journal.open_rotations() != []  # the kill left rotations open
    finally:
        journal.close()

    recovered = cli(mixed, "rotate")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    journal = Journal(mixed.inventory.policy.journal)
    try:
        assert_on_shared_keys(mixed, journal)
    finally:
        journal.close()
    assert xr_router(mixed).lock_owner is None


@pytest.mark.parametrize(("down", "its_links"), [(XR, set(MIXED)), (NX, {TO_NXOS})])
async def test_an_unreachable_router_fails_only_its_links(
    mixed: Testbed, down: str, its_links: set[str]
) -> None:
    async with Controller(mixed.inventory) as controller:
        assert (await controller.rotate()).ok
        shared = {name: controller.journal.active_keys(name, 1)[0].ckn for name in links(mixed)}
        mixed.lab.refuse_connections(down)
        result = await controller.rotate(all_links=True)
        assert set(result.failed_links) == its_links
        assert result.devices[down].unreachable
        for name in its_links:
            assert mixed.live_ckns(name) == [shared[name]], name
        for name in set(links(mixed)) - its_links:  # the other links rotated meanwhile
            (rotated,) = controller.journal.active_keys(name, 1)
            assert rotated.ckn != shared[name], name
            assert mixed.live_ckns(name) == [rotated.ckn], name
        mixed.lab.refuse_connections(down, False)
        assert (await controller.rotate(all_links=True)).ok
        assert_on_shared_keys(mixed, controller.journal)
    for name in links(mixed):
        assert mixed.outage_seconds(name) == 0.0, name


def test_the_mixed_lab_document_is_the_demos(mixed: Testbed) -> None:
    document: dict[str, Any] = demo_example("multi-vendor")
    assert set(document["hosts"]) == set(mixed.inventory.hosts)
    assert XR in document["hosts"]
    assert mixed.platform(NX) == "nxos"
