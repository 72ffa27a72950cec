"""The fault schedule and the chaos lab are pure and seeded: same seed, same campaign."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from qkd_macsec.engine.inventory.loader import parse_inventory
from qkd_macsec.testbed.chaos import (
    ChaosLabShape,
    ChaosReport,
    FaultKind,
    chaos_lab_document,
    fault_schedule,
    render_markdown,
)
from qkd_macsec.testbed.chaos.faults import (
    DEADLINE_KINDS,
    JOURNAL,
    V2_KINDS,
    ZONES,
    LabFacts,
    draw_fault,
)

FACTS = LabFacts(
    routers=[f"r{i:02d}" for i in range(10)],
    kmes=["KME_A", "KME_B", "KME_C", "KME_D"],
    kme_pairs=[("KME_A", "KME_B"), ("KME_B", "KME_C")],
    clock_tolerance_s=1.0,
    device_timeout_s=6.0,
    activation_margin_s=2.0,
)


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    first = fault_schedule(random.Random(7), 30, FACTS)
    assert first == fault_schedule(random.Random(7), 30, FACTS)
    assert first != fault_schedule(random.Random(8), 30, FACTS)


@pytest.mark.parametrize("seed", range(20))
def test_short_schedules_cover_every_kind_and_keep_kills_alone(seed: int) -> None:
    waves = fault_schedule(random.Random(seed), 12, FACTS)
    kinds = {fault.kind for wave in waves for fault in wave}
    assert kinds == set(FaultKind)
    for wave in waves:
        targets = [t for f in wave for t in f.target.split("+") if t]
        assert len(targets) == len(set(targets))  # no two faults on one router or KME
        if any(f.kind is FaultKind.CONTROLLER_KILL for f in wave):
            assert len(wave) == 1
    assert not any(f.kind is FaultKind.CONTROLLER_KILL for f in waves[-1])
    skews = [f.value for wave in waves for f in wave if f.kind is FaultKind.CLOCK_SKEW]
    assert all(0.5 <= abs(v) / FACTS.clock_tolerance_s <= 0.8 for v in skews)


def test_chaos_lab_is_a_valid_inventory_with_group_and_point_to_point_links(
    tmp_path: Path,
) -> None:
    shape = ChaosLabShape()
    document = chaos_lab_document(shape)
    inventory = parse_inventory(yaml.safe_dump(document), tmp_path / "inventory.yaml")
    assert len(inventory.hosts) >= 10
    assert len(inventory.links) == shape.link_count >= 20
    groups = [link for link in inventory.links if len(link.slaves) > 1]
    assert len(groups) == shape.groups >= 2
    used = [
        (end["host"], interface)
        for link in document["links"]
        for end in [link["master"], *link["slaves"]]
        for interface in end.get("interfaces", [end.get("interface")])
    ]
    assert len(used) == len(set(used))  # no interface serves two links


@pytest.mark.parametrize(
    "bad",
    [{"routers": 2}, {"chord_distances": (6,)}, {"group_size": 2}, {"kmes": 0}],
)
def test_impossible_lab_shapes_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        ChaosLabShape(**bad)  # type: ignore[arg-type]


def test_a_saved_report_renders_the_same_table_again() -> None:
    report = ChaosReport(seed=3, routers=10, links=23, group_links=3, waves=5, rotated=90)
    report.stat(FaultKind.LOCK_HELD).injected = 2
    report.problems.append("p2p-00-01: 0.1 s of outage")
    again = ChaosReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    table = render_markdown(again, command="make chaos")
    assert "| lock-held | another user holds a router's config lock | 2 |" in table
    assert "Problems: p2p-00-01: 0.1 s of outage" in table


@pytest.mark.parametrize("seed", range(10))
def test_zone_changes_only_move_a_router_east(seed: int) -> None:
    """A zone to the west would push every start-time on the router into the future."""
    offsets = dict(ZONES)
    zone = {router: "UTC" for router in FACTS.routers}
    for wave in fault_schedule(random.Random(seed), 200, FACTS):
        for fault in wave:
            if fault.kind is FaultKind.ZONE_CHANGE:
                assert fault.detail != zone[fault.target]
                assert offsets[fault.detail] >= offsets[zone[fault.target]]
                assert fault.value == offsets[fault.detail]
                zone[fault.target] = fault.detail
    assert any(z != "UTC" for z in zone.values())


def test_the_journal_faults_never_share_a_wave() -> None:
    for wave in fault_schedule(random.Random(3), 200, FACTS):
        assert sum(1 for f in wave if f.target == JOURNAL) <= 1


def test_commit_latency_has_a_tail_beyond_the_margin_but_below_two_timeouts() -> None:
    rng = random.Random(5)
    values = [draw_fault(FaultKind.COMMIT_LATENCY_TAIL, rng, FACTS).value for _ in range(2000)]
    beyond = sum(1 for v in values if v > FACTS.activation_margin_s) / len(values)
    assert 0.15 < beyond < 0.5  # heavy tail: a good share beyond the margin
    assert any(v > FACTS.device_timeout_s for v in values)  # some never finish in time
    assert max(values) <= 2 * FACTS.device_timeout_s
    assert sorted(values)[len(values) // 2] < FACTS.activation_margin_s  # most are quick


def test_controller_clock_steps_are_forward_for_the_routers_from_seconds_to_an_hour() -> None:
    rng = random.Random(9)
    steps = [draw_fault(FaultKind.CONTROLLER_CLOCK_STEP, rng, FACTS).value for _ in range(500)]
    assert min(steps) >= 2.0
    assert max(steps) <= 3600.0
    assert any(s > 600 for s in steps) and any(s < 10 for s in steps)


@pytest.mark.parametrize("seed", range(10))
def test_excluded_kinds_are_never_scheduled(seed: int) -> None:
    kinds = [k for k in FaultKind if k not in DEADLINE_KINDS]
    waves = fault_schedule(random.Random(seed), 12, FACTS, kinds=kinds)
    scheduled = {fault.kind for wave in waves for fault in wave}
    assert scheduled == set(kinds)
    assert set(V2_KINDS) - DEADLINE_KINDS <= scheduled


def test_v2_kinds_get_a_table_of_their_own_and_exclusions_say_why() -> None:
    report = ChaosReport(seed=3, routers=10, links=23, group_links=3)
    report.stat(FaultKind.ZONE_CHANGE).injected = 4
    report.excluded = {FaultKind.HUNG_COMMIT.value: "waiting for deadline-true staging"}
    table = render_markdown(report, command="make chaos")
    v1, v2 = table.split("### Chaos v2 faults")
    assert "| zone-change |" in v2 and "| zone-change |" not in v1
    assert "| lock-held |" in v1 and "| lock-held |" not in v2
    assert "| hung-commit | a router never answers commit-configuration | not injected: " in v2
    assert ChaosReport.from_json(json.loads(json.dumps(report.to_json()))) == report
