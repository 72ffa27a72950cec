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
from qkd_macsec.testbed.chaos.faults import LabFacts

FACTS = LabFacts(
    routers=[f"r{i:02d}" for i in range(10)],
    kmes=["KME_A", "KME_B", "KME_C", "KME_D"],
    kme_pairs=[("KME_A", "KME_B"), ("KME_B", "KME_C")],
    clock_tolerance_s=1.0,
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
