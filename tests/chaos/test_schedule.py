"""The fault schedule and the chaos lab are pure and seeded: same seed, same campaign."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from qkd_macsec.engine.journal import Phase
from qkd_macsec.engine.results import DeviceResult, RotationResult, WaveResult
from qkd_macsec.inventory.loader import parse_inventory
from testkit.chaos import (
    ChaosLabShape,
    ChaosReport,
    FaultKind,
    chaos_lab_document,
    fault_schedule,
    render_markdown,
)
from testkit.chaos.faults import (
    DEADLINE_KINDS,
    JOURNAL,
    V2_KINDS,
    ZONES,
    Fault,
    LabFacts,
    ScheduleState,
    draw_fault,
)
from testkit.chaos.observe import device_evidence, zone_evidence

FACTS = LabFacts(
    routers=[f"r{i:02d}" for i in range(10)],
    kmes=["KME_A", "KME_B", "KME_C", "KME_D"],
    kme_pairs=[("KME_A", "KME_B"), ("KME_B", "KME_C")],
    clock_tolerance_s=1.0,
    device_timeout_s=6.0,
    activation_margin_s=5.0,
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
    state = ScheduleState(tail_drawn=True)
    kind = FaultKind.COMMIT_LATENCY_TAIL
    values = [draw_fault(kind, rng, FACTS, state).value for _ in range(2000)]
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
    assert any(s > 600 for s in steps)
    assert any(s < 10 for s in steps)


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
    assert "| zone-change |" in v2
    assert "| zone-change |" not in v1
    assert "| lock-held |" in v1
    assert "| lock-held |" not in v2
    assert "| hung-commit | a router never answers commit-configuration | not injected: " in v2
    assert ChaosReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_start_time_the_router_reads_hours_off_after_a_zone_change_is_named() -> None:
    """The zone-change observation can fail: a start-time written in the old zone is read by
    the router (in its new zone) an hour or more away from the wave's activation instant."""
    activation = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
    result = WaveResult(wave="w", started=activation)
    result.rotations["p2p-00-01"] = RotationResult(
        "p2p-00-01", 1, "forced", phase=Phase.ACTIVE, ckn="ab", activation=activation
    )
    fault = Fault(FaultKind.ZONE_CHANGE, "r00", "Africa/Lagos", 60)
    assert zone_evidence(fault, result, ["p2p-00-01"], {"p2p-00-01": activation}) == (
        True,
        True,
        [],
    )
    off = activation - timedelta(hours=1)
    acted, seen, mismatches = zone_evidence(fault, result, ["p2p-00-01"], {"p2p-00-01": off})
    assert (acted, seen) == (True, False)
    assert "p2p-00-01 on r00 (Africa/Lagos)" in mismatches[0]
    # no rotation through the router went live: the change had no chance to show
    result.rotations["p2p-00-01"].phase = Phase.ABORTED
    assert zone_evidence(fault, result, ["p2p-00-01"], {}) == (False, False, [])


@pytest.mark.parametrize("seed", range(10))
def test_the_first_slow_commit_of_a_run_is_late_but_answers(seed: int) -> None:
    """So even the short run has a commit landing after the other ends' start-time."""
    waves = fault_schedule(random.Random(seed), 12, FACTS)
    slow = [f for w in waves for f in w if f.kind is FaultKind.COMMIT_LATENCY_TAIL]
    assert FACTS.activation_margin_s <= slow[0].value <= FACTS.device_timeout_s


@pytest.mark.parametrize(
    "error",
    [
        "r09: DeviceTimeoutError: commit: no reply within 0.764s",
        "no answer by the decision instant, 3.6s before activation",
        "commit returned 1.2s after the decision instant",
    ],
)
def test_a_hung_or_slow_commit_is_seen_in_how_the_wave_reports_it(error: str) -> None:
    result = WaveResult(wave="w", started=datetime.now(UTC))
    result.devices["r09"] = DeviceResult("r09", ok=False, error=error)
    hung = Fault(FaultKind.HUNG_COMMIT, "r09", "commit-configuration")
    slow = Fault(FaultKind.COMMIT_LATENCY_TAIL, "r09", value=5.5)
    assert device_evidence(hung, result)
    assert device_evidence(slow, result, timeout_s=6.0)
    result.devices["r09"] = DeviceResult("r09", ok=False, error="commit failed: (injected)")
    assert not device_evidence(hung, result)
    assert not device_evidence(slow, result, timeout_s=6.0)


def test_a_session_drop_in_the_reconciliation_read_is_seen_in_its_log() -> None:
    """Found by the long run: a drop on the first RPC hit the read-only reconciliation session,
    which keeps the journal's key and goes on; only its log says so."""
    result = WaveResult(wave="w", started=datetime.now(UTC))
    result.devices["r15"] = DeviceResult("r15")  # staging went fine
    drop = Fault(FaultKind.SESSION_DROP, "r15", "*")
    assert not device_evidence(drop, result)
    logged = [
        "p2p-00-15: in-sync: not read (r15: DeviceConnectError: r15: uptime: session lost "
        "(ConnectClosedError)); the journal's key is kept"
    ]
    assert device_evidence(drop, result, reads=logged)
    assert not device_evidence(Fault(FaultKind.SESSION_DROP, "r01", "*"), result, reads=logged)


@pytest.mark.parametrize("seed", range(5))
def test_failovers_take_every_second_controller_wave_and_keep_it_alone(seed: int) -> None:
    waves = fault_schedule(random.Random(seed), 24, FACTS)
    alone = [w[0].kind for w in waves if len(w) == 1]
    controller = [
        (i, w[0].kind)
        for i, w in enumerate(waves)
        if any(f.kind in (FaultKind.CONTROLLER_KILL, FaultKind.CONTROLLER_FAILOVER) for f in w)
    ]
    assert [i for i, _ in controller] == [2, 6, 10, 14, 18, 22]
    assert [k for _, k in controller] == [
        FaultKind.CONTROLLER_KILL,
        FaultKind.CONTROLLER_FAILOVER,
    ] * 3
    assert all(k in alone for _, k in controller)
    only_failover = fault_schedule(
        random.Random(seed), 12, FACTS, kinds=[FaultKind.CONTROLLER_FAILOVER, FaultKind.KME_503]
    )
    assert [w[0].kind for w in only_failover if w and w[0].kind.startswith("controller")] == [
        FaultKind.CONTROLLER_FAILOVER
    ] * 3
