"""The chaos lab's mixed-vendor part (pure): IOS XR routers on point-to-point links only, with
IOS XR interface names; faults aimed only where they make sense, each portable kind at an IOS XR
router at least once; nothing aimed at a router that is still down; per-pair report rows."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from qkd_macsec.inventory.loader import parse_inventory
from qkd_macsec.testbed.links import platform_pair
from testkit.chaos import ChaosLabShape, ChaosReport, FaultKind, chaos_lab_document, render_markdown
from testkit.chaos.faults import (
    ALL_ROUTER_KINDS,
    PORTABLE_ROUTER_KINDS,
    LabFacts,
    fault_schedule,
)
from testkit.chaos.report import PairStat

ROUTERS = [f"r{i:02d}" for i in range(10)]
MIXED_FACTS = LabFacts(
    routers=ROUTERS,
    kmes=["KME_A", "KME_B", "KME_C", "KME_D"],
    kme_pairs=[("KME_A", "KME_B"), ("KME_B", "KME_C")],
    clock_tolerance_s=1.0,
    platforms={"r09": "iosxr"},
)


def test_the_chaos_lab_has_mixed_point_to_point_links(tmp_path: Path) -> None:
    shape = ChaosLabShape()
    document = chaos_lab_document(shape)
    assert document["hosts"]["r09"]["platform"] == "iosxr"
    inventory = parse_inventory(yaml.safe_dump(document), tmp_path / "inventory.yaml")
    pairs = {link.name: platform_pair(inventory, link) for link in inventory.links}
    mixed = sorted(name for name, pair in pairs.items() if pair == "iosxr-junos")
    assert mixed == ["p2p-00-09", "p2p-01-09", "p2p-07-09", "p2p-08-09"]
    for link in inventory.links:
        if "r09" in link.host_names:
            assert not link.is_group
            (end,) = [e for e in link.ends if e.host == "r09"]
            assert all(i.startswith("HundredGigE0/0/0/") for i in end.interfaces)
    assert len(pairs) == shape.link_count  # the IOS XR router took no link away


def test_a_lab_without_iosxr_is_all_junos_and_too_many_iosxr_is_refused() -> None:
    document = chaos_lab_document(ChaosLabShape(iosxr_routers=0))
    assert all("platform" not in host for host in document["hosts"].values())
    with pytest.raises(ValueError, match="iosxr_routers"):
        ChaosLabShape(iosxr_routers=2)  # 10 routers, 3 groups of 3: one router in no group


@pytest.mark.parametrize(("seed", "length"), [*((s, 16) for s in range(20)), (20261126, 12)])
def test_faults_aim_where_they_make_sense_and_cover_iosxr(seed: int, length: int) -> None:
    """A mixed lab's coverage walk is four faults longer, all on its one IOS XR router (one a
    wave): 16 waves cover everything for any seed; the short run's seed does in its 12."""
    waves = fault_schedule(random.Random(seed), length, MIXED_FACTS)
    on_xr = {f.kind for wave in waves for f in wave if f.target == "r09"}
    assert on_xr == set(PORTABLE_ROUTER_KINDS)  # each portable kind hit IOS XR, nothing else
    assert {f.kind for wave in waves for f in wave} == set(FaultKind)


@pytest.mark.parametrize("seed", range(20))
def test_no_fault_aims_at_a_router_still_down(seed: int) -> None:
    waves = fault_schedule(random.Random(seed), 30, MIXED_FACTS)
    down: dict[str, int] = {}
    for wave in waves:
        if any(f.kind is FaultKind.CONTROLLER_KILL for f in wave):
            continue
        for fault in wave:
            assert fault.target not in down, (fault, down)
        down = {r: n - 1 for r, n in down.items() if n > 1}
        for fault in wave:
            if fault.kind is FaultKind.ROUTER_DOWN and fault.waves > 1:
                down[fault.target] = fault.waves - 1


def test_junos_only_kinds_never_aim_at_iosxr() -> None:
    junos_only = ALL_ROUTER_KINDS - PORTABLE_ROUTER_KINDS
    assert FaultKind.ZONE_CHANGE in junos_only
    for seed in range(30):
        for wave in fault_schedule(random.Random(seed), 20, MIXED_FACTS):
            assert not [f for f in wave if f.kind in junos_only and f.target == "r09"]


def test_a_junos_only_lab_keeps_its_schedule() -> None:
    """Naming every router's platform junos changes nothing: same seed, same faults."""
    plain = LabFacts(ROUTERS, MIXED_FACTS.kmes, MIXED_FACTS.kme_pairs, 1.0)
    everyone = dict.fromkeys(ROUTERS, "junos")
    named = LabFacts(ROUTERS, MIXED_FACTS.kmes, MIXED_FACTS.kme_pairs, 1.0, platforms=everyone)
    assert fault_schedule(random.Random(5), 20, plain) == fault_schedule(
        random.Random(5), 20, named
    )


def test_the_report_has_a_row_per_platform_pair() -> None:
    report = ChaosReport(seed=1, routers=10, links=23, group_links=3)
    report.platforms = {"junos": 9, "iosxr": 1}
    report.pairs = {
        "junos-junos": PairStat(links=19, rotations=190, rotated=180, aborted=10, live_shared=19),
        "iosxr-junos": PairStat(links=4, rotations=40, rotated=35, aborted=5, live_shared=4),
    }
    again = ChaosReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    table = render_markdown(again, command="make chaos")
    assert "10 simulated routers (1 IOS XR, 9 Junos)" in table
    assert "| iosxr-junos | 4 | 40 | 35 | 5 | 4/4 | 0 s |" in table
    assert "| junos-junos | 19 | 190 | 180 | 10 | 19/19 | 0 s |" in table
