"""Deadline-true staging (issue 11): a slow or hung commit never lets one end switch alone.

Real PyEZ → simulated Junos, real KMEs. (a) and (b) run twice: with the issue's own numbers (an
mx10008 end with the bundled example's 60 s RPC timeout, a 45 s commit, MKA keeping the
preceding key for 30 s after an end switches alone) and scaled down ~5x (12 s, 11 s, 4 s) — the
race is the same: a commit that ends after the other end's start-time T. (c) and the margin test
run scaled. Under the old engine, (a) and (b) broke the link for seconds.

Outage is measured by the simulator's fabric, exactly, over an interval that runs until the
preceding-key hold after T (and after any late commit) has expired — a switch-alone that went
unnoticed would have shown up as outage by then.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import pytest

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Phase
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed

FAST = "mx304-11"
SLOW = "mx10008-23"
LINK = "p2p-fast-slow"
HOLD_S = 4.0  # MKA preceding-key hold (30 s on the real boxes, scaled)
SLOW_TIMEOUT_S = 12  # the mx10008 group's RPC timeout (60 s in the bundled example, scaled)


@dataclass(frozen=True)
class Scale:
    """The slow end's RPC timeout, its slow commit (inside the timeout) and MKA's hold."""

    timeout_s: int
    commit_s: float
    hold_s: float


SCALES = [
    pytest.param(Scale(SLOW_TIMEOUT_S, 11.0, HOLD_S), id="scaled"),
    pytest.param(Scale(60, 45.0, 30.0), id="issue-numbers", marks=pytest.mark.slow),
]


def two_router_doc(seed_doc: dict[str, Any], timeout_s: int = SLOW_TIMEOUT_S) -> dict[str, Any]:
    """One point-to-point link between an MX304 and an MX10008 (the slow one)."""
    seed_doc["hosts"] = {name: seed_doc["hosts"][name] for name in (FAST, SLOW)}
    seed_doc["groups"]["mx10008"]["timeout"] = timeout_s
    seed_doc["links"] = [
        {
            "name": LINK,
            "master": {"host": FAST, "interface": "et-0/0/10"},
            "slaves": [{"host": SLOW, "interface": "et-0/0/10"}],
            "connectivity_association": "CA_fast_slow",
            "key_chain": "KC_fast_slow",
            "cipher_suite": "gcm-aes-xpn-256",
        }
    ]
    return seed_doc


def start(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], scale: Scale | None = None
) -> Testbed:
    scale = scale or Scale(SLOW_TIMEOUT_S, 11.0, HOLD_S)
    return testbed_factory(two_router_doc(seed_doc, scale.timeout_s), preceding_hold_s=scale.hold_s)


def has_slot(testbed: Testbed, device: str, slot: int) -> bool:
    config = testbed.lab.device(device).committed.to_set()
    return f"key-chain KC_fast_slow key {slot} " in config


async def settle(activation: float, hold_s: float = HOLD_S) -> None:
    """Wait until a switch-alone at T, or at a late commit that landed before now, would have
    outlived the preceding-key hold: only then is 'outage 0' a fact."""
    until = max(activation, time.time()) + hold_s + 0.5
    await asyncio.sleep(max(0.0, until - time.time()))


async def bootstrap(testbed: Testbed, controller: Controller) -> str:
    first = await controller.rotate()
    assert first.ok, first.failed_links
    (live,) = testbed.live_ckns(LINK)
    assert live is not None
    return live


def late_notes(controller: Controller, rid: int) -> list[str]:
    return [str(d["outcome"]) for _, kind, d in controller.journal.events(rid) if kind == "LATE"]


@pytest.mark.parametrize("scale", SCALES)
async def test_hung_commit_is_undone_before_activation(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], scale: Scale
) -> None:
    """(a) The slow end's commit never answers (its RPC timeout is far past T)."""
    testbed = start(testbed_factory, seed_doc, scale)
    async with Controller(testbed.inventory) as controller:
        old = await bootstrap(testbed, controller)
        testbed.lab.device(SLOW).set_faults(hang_rpcs={"commit-configuration"})
        result = await controller.rotate(all_links=True)
        rotation = result.rotations[LINK]
        assert result.activation is not None
        assert rotation.slot is not None
        activation = result.activation.timestamp()
        # the engine decided before T, not when the hung RPC would have timed out
        assert result.finished is not None
        assert result.finished.timestamp() < activation + 2 * scale.hold_s
        assert result.finished.timestamp() < activation + scale.timeout_s / 2
        assert rotation.phase is Phase.ABORTED, rotation.error
        assert f"late end {SLOW}: its commit did not land" in (rotation.error or "")
        assert late_notes(controller, rotation.rotation_id) == [
            f"late end {SLOW}: its commit did not land"
        ]
        record = controller.journal.get(rotation.rotation_id)
        assert record.phase is Phase.ABORTED
        assert {e.device: e.removed for e in record.ends} == {FAST: True, SLOW: True}
        await settle(activation, scale.hold_s)
        assert not has_slot(testbed, FAST, rotation.slot)
        assert not has_slot(testbed, SLOW, rotation.slot)
        assert testbed.live_ckns(LINK) == [old]
        assert testbed.outage_seconds(LINK) == 0.0

        testbed.lab.device(SLOW).set_faults(hang_rpcs=set())
        retry = await controller.rotate(all_links=True)
        assert retry.ok, retry.rotations[LINK].error
        await settle(time.time(), scale.hold_s)
        assert testbed.live_ckns(LINK) == [retry.rotations[LINK].ckn]
        assert testbed.outage_seconds(LINK) == 0.0


@pytest.mark.parametrize("scale", SCALES)
async def test_commit_landing_long_after_activation_is_joined_by_its_peer(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], scale: Scale
) -> None:
    """(b) The slow end's commit takes 45 s (11 s scaled; inside its timeout): it lands after T,
    after the fast end's entry was removed at the decision instant. Removing it again would
    take the slow router another slow commit, longer than MKA holds the old key; the fast end takes
    the entry back in well under a second instead, and the link lands on the new key."""
    testbed = start(testbed_factory, seed_doc, scale)
    async with Controller(testbed.inventory) as controller:
        await bootstrap(testbed, controller)
        testbed.lab.device(SLOW).set_faults(commit_latency_s=scale.commit_s)
        fast_before = len(testbed.lab.device(FAST).history)
        result = await controller.rotate(all_links=True)
        rotation = result.rotations[LINK]
        assert result.activation is not None
        assert rotation.slot is not None
        activation = result.activation.timestamp()
        assert rotation.phase is Phase.ACTIVE, rotation.error
        assert rotation.verified
        assert rotation.error is None
        restored = [n for n in rotation.notes if "entry restored on" in n]
        assert len(restored) == 1
        assert restored[0].startswith(f"late commit on {SLOW} landed ")
        assert restored[0].endswith("after T")
        # the late commit really landed after T; the fast end: stage, undo, restore
        slow_commit = testbed.lab.device(SLOW).history[0]
        assert slow_commit.at > activation
        assert len(testbed.lab.device(FAST).history) == fast_before + 3
        events = [kind for _, kind, _ in controller.journal.events(rotation.rotation_id)]
        assert events[-3:] == ["RESTAGED", "STAGED", "ACTIVE"]
        record = controller.journal.get(rotation.rotation_id)
        assert record.phase is Phase.ACTIVE
        assert {(e.device, e.staged, e.removed) for e in record.ends} == {
            (FAST, True, False),
            (SLOW, True, False),
        }
        await settle(slow_commit.at, scale.hold_s)
        assert has_slot(testbed, FAST, rotation.slot)
        assert has_slot(testbed, SLOW, rotation.slot)
        assert testbed.live_ckns(LINK) == [rotation.ckn]
        assert testbed.outage_seconds(LINK) == 0.0


async def test_commit_slower_than_planned_still_activates_together(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """(c) The slow end's commit lands 1-2 s after the decision instant (the scaled '4.5 s
    slower than planned'), before T, after the fast end's entry was removed: the fast
    end takes it back before T (faster than undoing the slow router), both switch at T."""
    # a 3 s clock tolerance widens T - D, so that "1-2 s after D" is still well before T
    # even when T, rounded up to a whole second, comes out a second later than predicted
    testbed = testbed_factory(
        two_router_doc(seed_doc), preceding_hold_s=HOLD_S, policy={"clock_tolerance": "3s"}
    )
    async with Controller(testbed.inventory) as controller:
        await bootstrap(testbed, controller)
        planned = controller.executor.wave_deadlines([FAST, SLOW])
        late_by = 2.0
        latency = planned.decide_at - time.time() + late_by
        assert latency < planned.activation_epoch - time.time() - 0.5  # lands before T
        testbed.lab.device(SLOW).set_faults(commit_latency_s=latency)
        result = await controller.rotate(all_links=True)
        rotation = result.rotations[LINK]
        assert result.activation is not None
        assert rotation.slot is not None
        activation = result.activation.timestamp()
        assert testbed.lab.device(SLOW).history[0].at < activation
        assert rotation.phase is Phase.ACTIVE, rotation.error
        assert rotation.verified
        (restored,) = [n for n in rotation.notes if "entry restored on" in n]
        assert restored.startswith(f"late commit on {SLOW} landed "), restored
        await settle(activation)
        assert testbed.live_ckns(LINK) == [rotation.ckn]
        assert testbed.outage_seconds(LINK) == 0.0


async def test_a_router_known_to_be_slow_widens_the_next_margin(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    """After a 3 s commit missed its decision instant (and had to be rescued), the journal holds
    the slow end's latency and the next wave plans around it: the same 3 s commit now rotates
    as planned, outage 0."""
    testbed = start(testbed_factory, seed_doc)
    async with Controller(testbed.inventory) as controller:
        await bootstrap(testbed, controller)
        narrow = controller.executor.wave_deadlines([FAST, SLOW])
        assert narrow.decide_at - time.time() < 3.0  # the planned margin cannot hold 3 s
        testbed.lab.device(SLOW).set_faults(commit_latency_s=3.0)
        missed = await controller.rotate(all_links=True)
        late = [*missed.rotations[LINK].notes, missed.rotations[LINK].error or ""]
        assert any(f"late commit on {SLOW}" in text for text in late), late
        stored = controller.journal.get_meta(f"latency:{SLOW}")
        assert isinstance(stored, dict)
        assert max(stored["session"]) >= 3.0
        wide = controller.executor.wave_deadlines([FAST, SLOW])
        assert wide.decide_at - time.time() > 3.0 + 1.0
        result = await controller.rotate(all_links=True)
        assert result.ok, result.rotations[LINK].error
        assert result.rotations[LINK].notes == []  # planned, staged and activated: no rescue
        assert result.activation is not None
        await settle(result.activation.timestamp())
        assert testbed.live_ckns(LINK) == [result.rotations[LINK].ckn]
        assert testbed.outage_seconds(LINK) == 0.0
