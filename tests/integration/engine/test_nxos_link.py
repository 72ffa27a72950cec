"""A Junos ↔ Cisco NX-OS link through the real engine, journal and KMEs: the Junos end a
simulated Junos router (real PyEZ), the NX-OS end the NX-OS simulator (real httpx over HTTPS,
its certificate checked against the inventory's ``tls_ca``). Both join one MKA link fabric, so
the link is live only when both ends derive the same MKA keys from their CAK/CKN, and the
NX-OS end moves to a new key only when the old key's lifetime ends (the documented NX-OS
rollover); outage is measured exactly.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from qkd_macsec.devices import nxos_names
from qkd_macsec.engine.controller import Controller, link_specs
from qkd_macsec.engine.journal import Journal
from qkd_macsec.inventory import Inventory, load_inventory
from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.nxos.device import NxosSimDevice
from qkd_macsec.sim.nxos.server import NxosLabThread, run_nxos_in_thread
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed
from support.testbed import StartTestbed, run_cli

LINK = "p2p-11-12"
NX = "mx304-12"
NX_PORT = "Ethernet1/1"
CHAIN = "KC_p2p_11_12"


def mixed_link(document: dict[str, Any], mode: str = "key-chain") -> dict[str, Any]:
    """The seed lab cut to its point-to-point link, with mx304-12 an NX-OS switch."""
    document["links"] = [link for link in document["links"] if link["name"] == LINK]
    document["hosts"] = {n: h for n, h in document["hosts"].items() if n.startswith("mx304")}
    document["hosts"][NX]["platform"] = "nxos"
    document["links"][0]["slaves"] = [{"host": NX, "interface": NX_PORT}]
    if mode == "pre-shared-key":
        document["links"][0]["mode"] = mode
        document["links"][0].pop("key_chain")
    return document


def pointed_at(testbed: Testbed, nx: NxosLabThread) -> Path:
    """The testbed's inventory with the NX-OS host on the simulator's NX-API and its CA."""
    doc = yaml.safe_load(testbed.inventory_path.read_text())
    doc["hosts"][NX]["port"] = nx.port(NX)
    doc["hosts"][NX]["tls_ca"] = str(nx.ca)
    path = testbed.directory / "inventory.nxos.yaml"
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())
    return path


def switch_for(testbed: Testbed, timezone: tuple[str, int, int] | None = None) -> NxosSimDevice:
    return NxosSimDevice(
        NX,
        user="netconf",
        password=os.environ[PASSWORD_ENV],
        fabric=testbed.lab.fabric,
        timezone=timezone,
    )


def inventory_for(testbed: Testbed, nx: NxosLabThread) -> Inventory:
    return load_inventory(pointed_at(testbed, nx))


@pytest.mark.parametrize("mode", ["key-chain", "pre-shared-key"])
async def test_a_junos_to_nxos_link_rotates_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], mode: str
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, mode))
    switch = switch_for(testbed)
    with run_nxos_in_thread([switch]) as nx:
        inventory = inventory_for(testbed, nx)
        (spec,) = link_specs(inventory)
        assert spec.slots == 8  # the smaller of Junos' 64 and NX-OS's 8
        async with Controller(inventory) as controller:
            seen: list[str] = []
            for wave in range(3):
                result = await controller.rotate(all_links=wave > 0)
                assert result.ok, result.failed_links
                (newest,) = controller.journal.active_keys(LINK, 1)
                assert testbed.live_ckns(LINK) == [newest.ckn]
                assert testbed.outage_seconds(LINK) == 0.0
                seen.append(newest.ckn)
    assert len(set(seen)) == 3  # three different keys went live
    assert switch.counters.commits >= 3
    assert len(testbed.lab.device("mx304-11").history) >= 3  # the Junos end committed too
    if mode == "key-chain":
        keys = switch.running.chains[CHAIN]
        assert seen[-1].upper() in keys  # the key ID is the CKN, upper-case
        assert 1 <= len(keys) <= 3  # old keys pruned
        ordered = sorted(keys.values(), key=lambda k: k.start or datetime.min)
        for older, newer in itertools.pairwise(ordered):  # each hands over in time
            assert older.start is not None
            assert newer.start is not None
            assert older.duration_s is not None
            end = older.start + timedelta(seconds=older.duration_s)
            assert newer.start <= end < newer.start + timedelta(seconds=8)
    else:
        assert list(switch.running.chains["CA_p2p_11_12"]) == [seen[-1].upper()]
    assert switch.session_name is None


async def test_a_refused_nxos_commit_is_undone_before_t(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc))
    switch = switch_for(testbed)
    with run_nxos_in_thread([switch]) as nx:
        inventory = inventory_for(testbed, nx)
        async with Controller(inventory) as controller:
            assert (await controller.rotate()).ok
            (shared,) = controller.journal.active_keys(LINK, 1)
            commits = switch.counters.commits
            running = switch.running.copy()
            switch.refuse_commits = True
            result = await controller.rotate(all_links=True)
            assert not result.ok
            assert LINK in result.failed_links
            assert testbed.live_ckns(LINK) == [shared.ckn]
            assert switch.counters.commits == commits  # nothing landed on NX-OS
            assert switch.running == running
            switch.refuse_commits = False
            assert (await controller.rotate(all_links=True)).ok  # and it recovers
            (newest,) = controller.journal.active_keys(LINK, 1)
            assert newest.ckn != shared.ckn
            assert testbed.live_ckns(LINK) == [newest.ckn]
    assert testbed.outage_seconds(LINK) == 0.0
    assert switch.session_name is None


async def test_a_stage_undone_on_nxos_gives_the_old_key_its_lifetime_back(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """The Junos end refuses its commit: the NX-OS end, staged with the new key (and the old
    key's end at T), is undone before T — the old key runs four years again, so NX-OS does not
    leave the shared key at T."""
    testbed = testbed_factory(mixed_link(seed_doc))
    switch = switch_for(testbed)
    with run_nxos_in_thread([switch]) as nx:
        inventory = inventory_for(testbed, nx)
        async with Controller(inventory) as controller:
            assert (await controller.rotate()).ok
            (shared,) = controller.journal.active_keys(LINK, 1)
            before = switch.running.chains[CHAIN]
            commits = switch.counters.commits
            # the Junos commit is slow and then fails: NX-OS is staged first, then undone
            testbed.lab.device("mx304-11").set_faults(failing_commits=1, commit_latency_s=0.5)
            result = await controller.rotate(all_links=True)
            assert not result.ok
            assert LINK in result.failed_links
            assert switch.running.chains[CHAIN] == before
            assert switch.counters.commits == commits + 2  # the stage and its undo
            testbed.lab.device("mx304-11").set_faults(commit_latency_s=0.0)
            key = switch.running.chains[CHAIN][shared.ckn.upper()]
            assert key.duration_s is not None
            assert key.duration_s >= nxos_names.SLOT_CARRIER_S  # no end near T
            assert testbed.live_ckns(LINK) == [shared.ckn]
            assert (await controller.rotate(all_links=True)).ok
            (newest,) = controller.journal.active_keys(LINK, 1)
            assert testbed.live_ckns(LINK) == [newest.ckn]
    assert testbed.outage_seconds(LINK) == 0.0
    assert switch.session_name is None


async def test_an_unreachable_nxos_switch_leaves_the_link_on_its_shared_key(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc))
    switch = switch_for(testbed)
    nx = run_nxos_in_thread([switch])
    nx.start()
    try:
        inventory = inventory_for(testbed, nx)
        async with Controller(inventory) as controller:
            assert (await controller.rotate()).ok
            (shared,) = controller.journal.active_keys(LINK, 1)
            junos_commits = len(testbed.lab.device("mx304-11").history)
            nx.stop()  # NX-API now refuses connections
            result = await controller.rotate(all_links=True)
            assert not result.ok
            assert LINK in result.failed_links
            assert testbed.live_ckns(LINK) == [shared.ckn]
            history = testbed.lab.device("mx304-11").history
            # the Junos end is either never staged or staged and undone
            assert len(history) in (junos_commits, junos_commits + 2)
    finally:
        nx.close()
    assert testbed.outage_seconds(LINK) == 0.0


async def test_lifetimes_are_utc_on_a_switch_in_another_zone(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """The NX-OS clock shows PST (UTC-8), the Junos end keeps UTC: NX-OS reads key lifetimes
    in UTC whatever its display zone, so the start written is the journal's instant in UTC,
    and the link still switches hitlessly."""
    testbed = testbed_factory(mixed_link(seed_doc))
    switch = switch_for(testbed, timezone=("PST", -8, 0))
    with run_nxos_in_thread([switch]) as nx:
        inventory = inventory_for(testbed, nx)
        async with Controller(inventory) as controller:
            for wave in range(2):
                assert (await controller.rotate(all_links=wave > 0)).ok
            (newest,) = controller.journal.active_keys(LINK, 1)
            assert testbed.live_ckns(LINK) == [newest.ckn]
            (record,) = [r for r in controller.journal.rotations(LINK) if r.ckn == newest.ckn]
    assert "PST" in switch.show("show clock")
    assert testbed.outage_seconds(LINK) == 0.0
    written = switch.running.chains[CHAIN][newest.ckn.upper()].start
    assert written is not None
    assert record.start_time is not None
    as_utc = written.replace(tzinfo=UTC)
    assert abs((as_utc - record.start_time.astimezone(UTC)).total_seconds()) <= 1.0


@pytest.mark.parametrize("point", ["staging", "stage:mx304-12", "staged"])
def test_a_controller_killed_while_staging_is_recovered_by_the_next_run(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], point: str
) -> None:
    """The real CLI in a subprocess exits abruptly (``os._exit``) at ``point``; the next run
    finishes or undoes the wave on both ends, NX-OS included, with outage 0."""
    testbed = testbed_factory(mixed_link(seed_doc))
    switch = switch_for(testbed)
    with run_nxos_in_thread([switch]) as nx:
        inventory_path = pointed_at(testbed, nx)
        boot = run_cli(testbed, "rotate", inventory=inventory_path)
        assert boot.returncode == 0, boot.stdout + boot.stderr
        crashed = run_cli(testbed, "rotate", "--force", crash_at=point, inventory=inventory_path)
        assert crashed.returncode == 99, crashed.stdout + crashed.stderr
        recovered = run_cli(testbed, "rotate", inventory=inventory_path)
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        journal = Journal(load_inventory(inventory_path).policy.journal)
        try:
            assert journal.open_rotations() == []
            (newest,) = journal.active_keys(LINK, 1)
        finally:
            journal.close()
        assert testbed.live_ckns(LINK) == [newest.ckn]
        assert newest.ckn.upper() in switch.running.chains[CHAIN]
    assert testbed.outage_seconds(LINK) == 0.0
    assert switch.session_name is None
