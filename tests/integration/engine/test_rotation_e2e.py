"""End to end: real PyEZ → simulated Junos, real httpx → embedded KMEs over mTLS.

Every assertion about links is made on the simulator's fabric, which decides MKA liveness from
the 802.1X key derivation and measures outage exactly — not on what the controller believes.
"""

from __future__ import annotations

from typing import Any

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Phase
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, pre_shared_key_link


def assert_all_live_on_newest(testbed: Testbed, controller: Controller) -> None:
    for link in testbed.inventory.links:
        (newest,) = controller.journal.active_keys(link.name, 1)
        assert testbed.live_ckns(link.name) == [newest.ckn] * len(testbed.wires[link.name]), link
        assert testbed.outage_seconds(link.name) == 0.0, link.name


def commits(testbed: Testbed, device: str) -> int:
    return len(testbed.lab.device(device).history)


async def test_seed_lab_group_and_p2p_rotate_hitlessly(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    async with Controller(testbed.inventory) as controller:
        first = await controller.rotate()
        assert first.ok, first.failed_links
        assert {r.reason for r in first.rotations.values()} == {"bootstrap"}
        assert_all_live_on_newest(testbed, controller)
        before = {d: commits(testbed, d) for d in testbed.inventory.hosts}
        for _ in range(3):
            result = await controller.rotate(all_links=True)
            assert result.ok, result.failed_links
            assert_all_live_on_newest(testbed, controller)
        # one commit per router per wave, whatever number of its links rotate
        assert {d: commits(testbed, d) - before[d] for d in before} == dict.fromkeys(before, 3)
        # the group CA used ONE key for all four routers (additional_slave_SAE_IDs)
        group = controller.journal.rotations("ca-basic", limit=1)[0]
        assert len(group.ends) == 4
        # pruning keeps the chain short: new + current + previous at most
        config = testbed.lab.device("mx10008-24").committed.to_set()
        assert config.count("key-chain KC_basic key ") // 3 <= 3


async def test_pre_shared_key_mode_rotates_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(pre_shared_key_link(seed_doc))
    async with Controller(testbed.inventory) as controller:
        for index in range(3):
            result = await controller.rotate(all_links=index > 0)
            assert result.ok, result.failed_links
            assert_all_live_on_newest(testbed, controller)
        config = testbed.lab.device("mx304-11").committed.to_set()
        assert "pre-shared-key ckn" in config
        assert "pre-shared-key-chain" not in config


async def test_failed_stage_on_one_end_leaves_both_on_the_old_key(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        old = {link: testbed.live_ckns(link) for link in testbed.wires}
        chains_before = testbed.lab.device("mx304-11").committed.to_set()
        testbed.lab.device("mx304-12").set_faults(failing_commits=1)
        result = await controller.rotate(all_links=True)
        assert sorted(result.failed_links) == ["ca-basic", "p2p-11-12"]
        for rotation in result.rotations.values():
            assert rotation.phase is Phase.ABORTED
            assert "mx304-12" in (rotation.error or "")
        # the ends that had staged the new entries had them removed again
        assert testbed.lab.device("mx304-11").committed.to_set() == chains_before
        for link, ckns in old.items():
            assert testbed.live_ckns(link) == ckns
            assert testbed.outage_seconds(link) == 0.0
        assert controller.journal.open_rotations() == []
        # and the next wave, with the fault gone, rotates everything
        retry = await controller.rotate(all_links=True)
        assert retry.ok, retry.failed_links
        assert_all_live_on_newest(testbed, controller)


async def test_unreachable_device_aborts_its_links_only(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        testbed.lab.refuse_connections("mx10008-24")
        result = await controller.rotate(all_links=True)
        assert result.failed_links == ["ca-basic"]
        assert result.rotations["p2p-11-12"].ok
        assert "mx10008-24" in (result.rotations["ca-basic"].error or "")
        for link in testbed.wires:
            assert None not in testbed.live_ckns(link)
            assert testbed.outage_seconds(link) == 0.0
