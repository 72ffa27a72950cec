"""Acceptance: whole on-box networks rotate with no controller, hitlessly, leaking nothing."""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.macsec import derive_ckn
from qkd_macsec.testbed.builder import Testbed
from testkit.onbox_harness import OnboxHarness

pytestmark = pytest.mark.slow  # real processes wait for real start-times

CYCLES = 3  # bootstrap + two rotations


def run_cycle(kit: Any, bed: Testbed, harness: OnboxHarness, delay_s: float) -> dict[str, str]:
    """Fire every master's timer once and wait until every link is live on the new key."""
    outputs = []
    for master in harness.masters():
        result = harness.fire_timer(master)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 0, harness.trace(master)
    new = {}
    for link in bed.inventory.links:
        key_id = kit.current_key_id(harness, link.master.host, link.name)
        assert key_id is not None
        ckn = derive_ckn(key_id)
        new[link.name] = ckn
        kit.wait_for(
            lambda link=link, ckn=ckn: (
                bed.live_ckns(link.name) == [ckn] * len(bed.wires[link.name])
            ),
            delay_s + 10,
            f"{link.name} live on {ckn}",
        )
    for link in bed.inventory.links:
        kit.wait_until_due(harness, link.master.host, link.name)
    return new


def test_seed_group_and_p2p_rotate_for_n_cycles(onbox_factory: Any, kit: Any) -> None:
    bed, harness = onbox_factory(delay_s=5.0)
    seen: list[dict[str, str]] = [run_cycle(kit, bed, harness, 5.0) for _ in range(CYCLES)]

    for link in bed.inventory.links:
        ckns = [cycle[link.name] for cycle in seen]
        assert len(set(ckns)) == CYCLES, f"{link.name} did not get a new key every cycle"
        assert bed.outage_seconds(link.name) == 0.0
    # every member of the group CA holds the same key IDs as the master; old slots are pruned
    group_slots = kit.chain_slots(bed, "mx304-11", "et-0/0/9")
    assert sorted(group_slots) == [0, 1, 2]  # newest, current, previous
    for router, interface in [("mx304-12", "et-0/0/9"), ("mx10008-24", "et-0/0/1")]:
        assert kit.chain_slots(bed, router, interface) == group_slots
    # slaves ran no timer of their own: only the op-script hand-offs touched them
    assert "rotated" not in harness.trace("mx10008-24")
    kit.assert_no_key_material(bed, harness)


def test_two_router_link_rotates_for_n_cycles(onbox_factory: Any, kit: Any) -> None:
    bed, harness = onbox_factory(["p2p-11-12"], delay_s=3.0)
    seen = [run_cycle(kit, bed, harness, 3.0) for _ in range(CYCLES + 1)]
    assert len({cycle["p2p-11-12"] for cycle in seen}) == CYCLES + 1
    # four keys so far, three kept: the oldest slot was pruned on both ends
    slots = kit.chain_slots(bed, "mx304-11", "et-0/0/10")
    assert sorted(slots) == [1, 2, 3]
    assert kit.chain_slots(bed, "mx304-12", "et-0/0/10") == slots
    assert bed.outage_seconds("p2p-11-12") == 0.0
    assert kit.current_key_id(harness, "mx304-12", "p2p-11-12") == kit.current_key_id(
        harness, "mx304-11", "p2p-11-12"
    )
    kit.assert_no_key_material(bed, harness)
