"""A controller without the history: the routers are the truth, not the journal.

Journal deleted, restored from an older copy, or a second journal on the same routers: the next
rotation adopts what every end runs on and rotates forward from it — never a bootstrap over the
key in force. Outage is measured by the simulator's fabric (802.1X derivation), not believed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.inventory import Inventory
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, pre_shared_key_link


def live(testbed: Testbed) -> dict[str, list[str | None]]:
    return {link: testbed.live_ckns(link) for link in testbed.wires}


def assert_hitless_on_newest(testbed: Testbed, journal: Journal) -> None:
    for link in testbed.wires:
        (newest,) = journal.active_keys(link, 1)
        assert testbed.live_ckns(link) == [newest.ckn] * len(testbed.wires[link]), link
        assert testbed.outage_seconds(link) == 0.0, link


def forget(journal: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        journal.with_name(journal.name + suffix).unlink(missing_ok=True)


def with_journal(inventory: Inventory, journal: Path) -> Inventory:
    return dataclasses.replace(
        inventory, policy=dataclasses.replace(inventory.policy, journal=journal)
    )


def assert_adopted_then_rotated(
    journal: Journal, result: WaveResult, before: dict[str, list[str | None]]
) -> None:
    """Each link: an adopted row with the key the routers ran on, then a forward rotation."""
    assert result.ok, result.failed_links
    for link, ckns in before.items():
        newest, adopted = journal.rotations(link, limit=2)
        assert adopted.reason == "adopted", link
        assert adopted.phase is Phase.ACTIVE
        assert adopted.ckn == ckns[0]
        assert adopted.kcv is None  # the key itself was never seen
        assert newest.reason == "forced"  # not "bootstrap": no initial config over a live key
        assert newest.slot != adopted.slot  # into a free slot, never the one in force
        assert result.rotations[link].ok


async def test_deleted_journal_adopts_and_rotates_forward(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        assert (await controller.rotate(all_links=True)).ok
        key_ids = {
            link: controller.journal.active_keys(link, 1)[0].key_id for link in testbed.wires
        }
    before = live(testbed)
    forget(testbed.inventory.policy.journal)

    async with Controller(testbed.inventory) as controller:
        quiet = await controller.rotate()  # nothing is due: the keys in force are fresh
        assert quiet.rotations == {}, "no history must not mean bootstrap"
        assert quiet.conflicts == {}
        for link in testbed.wires:
            (adopted,) = controller.journal.rotations(link)
            assert adopted.reason == "adopted"
            assert adopted.key_id == key_ids[link]  # derived from the seed-format CKN
            kinds = [kind for _, kind, _ in controller.journal.events(adopted.id)]
            assert kinds == ["ADOPTED"]
        assert live(testbed) == before

        result = await controller.rotate(all_links=True)
        assert_adopted_then_rotated(controller.journal, result, before)
        assert_hitless_on_newest(testbed, controller.journal)


async def test_journal_restored_from_an_older_copy_is_safe(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    path = testbed.inventory.policy.journal
    backup = path.with_name("backup.sqlite")
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        with sqlite3.connect(backup) as copy, sqlite3.connect(path) as source:
            source.backup(copy)
        for _ in range(2):
            assert (await controller.rotate(all_links=True)).ok
        in_force = {link: controller.journal.active_keys(link, 1)[0].slot for link in testbed.wires}
    before = live(testbed)
    forget(path)
    backup.rename(path)

    async with Controller(testbed.inventory) as controller:
        stale = {link: controller.journal.active_keys(link, 1)[0].ckn for link in testbed.wires}
        assert all([ckn] != before[link][:1] for link, ckn in stale.items())  # really old
        result = await controller.rotate(all_links=True)
        assert_adopted_then_rotated(controller.journal, result, before)
        for link, slot in in_force.items():
            assert controller.journal.rotations(link, limit=2)[1].slot == slot
        assert_hitless_on_newest(testbed, controller.journal)


async def test_second_journal_on_the_same_routers(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    testbed = testbed_factory(seed_doc)
    other = with_journal(testbed.inventory, tmp_path / "other" / "journal.sqlite")
    async with Controller(testbed.inventory) as first:
        assert (await first.rotate()).ok
    before = live(testbed)
    async with Controller(other) as second:
        quiet = await second.rotate()
        assert quiet.rotations == {}
        result = await second.rotate(all_links=True)
        assert_adopted_then_rotated(second.journal, result, before)
        assert_hitless_on_newest(testbed, second.journal)
    before = live(testbed)
    async with Controller(testbed.inventory) as first:  # its journal is now the stale one
        result = await first.rotate(all_links=True)
        for link, ckns in before.items():
            assert first.journal.rotations(link, limit=2)[1].ckn == ckns[0]
        assert result.ok, result.failed_links
        assert_hitless_on_newest(testbed, first.journal)


async def test_second_journal_leaves_anothers_pending_rotation_alone(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    """The second journal's controller sees entries newer than it knows: a conflict, untouched."""
    testbed = testbed_factory(seed_doc, policy={"min_activation_delay": "8s"})
    other = with_journal(testbed.inventory, tmp_path / "other" / "journal.sqlite")
    async with Controller(testbed.inventory) as first:
        assert (await first.rotate()).ok
        wave = asyncio.create_task(first.rotate(all_links=True))
        deadline = time.monotonic() + 30
        while not all(
            r.phase is Phase.STAGED
            for r in (first.journal.rotations(link, limit=1)[0] for link in testbed.wires)
        ):
            assert not wave.done(), "the first wave ended before it was seen in flight"
            assert time.monotonic() < deadline, "the first wave never staged"
            await asyncio.sleep(0.02)
        configs = {d: testbed.lab.device(d).committed.to_set() for d in testbed.inventory.hosts}
        async with Controller(other) as second:
            blocked = await second.rotate(all_links=True)
            assert blocked.rotations == {}
            assert set(blocked.conflicts) == set(testbed.wires)
            for why in blocked.conflicts.values():
                assert "newer than the journal knows" in why
            assert second.journal.rotations() == []  # nothing adopted from a moving target
        assert not wave.done(), "the check must have run while the first wave was in flight"
        assert {d: testbed.lab.device(d).committed.to_set() for d in configs} == configs
        result = await wave
        assert result.ok, result.failed_links
        assert_hitless_on_newest(testbed, first.journal)


async def test_pre_shared_key_link_without_history_is_not_bootstrapped(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(pre_shared_key_link(seed_doc))
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
    before = live(testbed)
    forget(testbed.inventory.policy.journal)
    async with Controller(testbed.inventory) as controller:
        result = await controller.rotate(all_links=True)
        newest, adopted = controller.journal.rotations("p2p-11-12", limit=2)
        assert adopted.reason == "adopted"
        assert adopted.ckn == before["p2p-11-12"][0]  # named by MKA: the CA's key cannot be read
        assert newest.reason == "forced"
        assert result.ok, result.failed_links
        assert_hitless_on_newest(testbed, controller.journal)


def test_adopt_command_records_what_the_routers_run_on(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qkd_macsec", *args, "-i", str(testbed.inventory_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("rotate").returncode == 0
    before = live(testbed)
    forget(testbed.inventory.policy.journal)
    adopted = cli("adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    for link in testbed.wires:
        assert f"{link}: adopt: every end runs on" in adopted.stdout
    again = cli("adopt")
    assert again.returncode == 0
    for link in testbed.wires:
        assert f"{link}: in-sync:" in again.stdout
    journal = Journal(testbed.inventory.policy.journal)
    try:
        for link, ckns in before.items():
            (row,) = journal.rotations(link)
            assert (row.reason, row.ckn) == ("adopted", ckns[0])
    finally:
        journal.close()
    assert live(testbed) == before


async def test_journal_restored_from_a_copy_taken_mid_rotation(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """The copy shows a rotation in flight that in truth finished and was followed by another:
    recovery must neither undo it from some ends nor wait for MKA to come back to it."""
    testbed = testbed_factory(seed_doc, policy={"min_activation_delay": "6s"})
    path = testbed.inventory.policy.journal
    backup = path.with_name("backup.sqlite")
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        wave = asyncio.create_task(controller.rotate(all_links=True))
        deadline = time.monotonic() + 30
        while {
            r.phase for link in testbed.wires for r in controller.journal.rotations(link, 1)
        } != {Phase.STAGED}:
            assert not wave.done(), "the wave ended before it was seen in flight"
            assert time.monotonic() < deadline, "never seen in flight"
            await asyncio.sleep(0.02)
        with sqlite3.connect(backup) as copy, sqlite3.connect(path) as source:
            source.backup(copy)
        assert (await wave).ok
        assert (await controller.rotate(all_links=True)).ok
    before = live(testbed)
    forget(path)
    backup.rename(path)

    async with Controller(testbed.inventory) as controller:
        (stale,) = controller.journal.open_rotations()[:1]
        result = await controller.rotate(all_links=True)
        assert result.ok, result.failed_links
        for link, ckns in before.items():
            newest, adopted, recovered = controller.journal.rotations(link, limit=3)
            assert recovered.phase is Phase.ACTIVE
            assert "superseded" in (recovered.error or "")
            assert (adopted.reason, adopted.ckn) == ("adopted", ckns[0])
            assert newest.reason == "forced"
        assert controller.journal.get(stale.id).phase is Phase.ACTIVE
        # straight to ACTIVE: recovery did not re-stage it and wait for MKA on the stale key
        kinds = [kind for _, kind, _ in controller.journal.events(stale.id)]
        assert kinds.count("STAGED") == 1
        assert kinds[-1] == "ACTIVE"
        assert_hitless_on_newest(testbed, controller.journal)
