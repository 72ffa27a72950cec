"""The short chaos run (part of `make test`): every fault kind (v2 included: slow and hung
commits, a second controller, the journal lost or restored, a zone change, a controller clock
step), controller kills, then the checks. The lab is mixed-vendor: one IOS XR router (served by
the IOS XR simulator in the same lab) on four Junos ↔ IOS XR links, which takes every fault that
makes sense on IOS XR (refused commit, unreachable, commit latency, clock skew).

`make chaos` (bench/chaos.py) runs the same driver for >= 1,000 rotations and writes
docs/reliability.md; this run is the same campaign, cut short.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from testkit.chaos import ChaosOptions, FaultKind, render_markdown, run_chaos
from testkit.chaos.faults import PORTABLE_ROUTER_KINDS, V2_KINDS

SEED = 20261126


# Measured standalone on the idle 2-core machine: 211-228 s with the IOS XR router (its four
# extra coverage faults: slow, refused and skewed commits, the router down), 134 s Junos-only.
@pytest.mark.timeout(480)
def test_short_chaos_run_keeps_every_link_up_and_leaks_nothing(tmp_path: Path) -> None:
    report = run_chaos(ChaosOptions(seed=SEED, waves=12), tmp_path / "chaos")

    assert report.problems == []
    # every kind of fault was injected, acted and was seen in the run's own counts
    assert {kind.value for kind in FaultKind} <= set(report.faults)
    for kind, counts in report.faults.items():
        assert counts.injected >= 1, kind
        assert counts.observed == counts.fired, kind
    assert report.faults[FaultKind.CONTROLLER_KILL.value].observed >= 1
    # chaos v2: each kind acted at least once, and the run saw it act
    for kind in V2_KINDS:
        assert report.faults[kind.value].fired >= 1, kind
    assert report.lease_refusals == report.faults[FaultKind.SECOND_CONTROLLER.value].injected
    assert report.adoptions.get("adopt", 0) >= 1  # a lost journal: the routers' keys adopted
    assert report.recovered >= 1  # a killed controller left rotations open; they were closed
    # the end state, measured on the simulator's fabric (not on what the controller believes)
    assert report.links_live_shared == report.links >= 20
    assert report.max_outage_s == 0.0
    assert report.open_rotations == 0
    assert report.rotated >= 100
    assert report.aborted >= 1
    assert report.canary_values > 100
    assert report.canary_files >= 4
    assert report.canary_hits == []

    # mixed-vendor links, reported on their own: rotated, undone, live on a shared key, no outage
    assert report.platforms == {"junos": 9, "iosxr": 1}
    mixed = report.pairs["iosxr-junos"]
    assert mixed.links == 4
    assert mixed.live_shared == mixed.links
    assert mixed.max_outage_s == 0.0
    assert mixed.rotated >= 10
    assert mixed.aborted >= 1
    assert report.pairs["junos-junos"].live_shared == report.pairs["junos-junos"].links
    lines = (tmp_path / "chaos" / "waves.jsonl").read_text().splitlines()
    waves = [json.loads(line) for line in lines]
    on_xr = {text.split()[0] for w in waves for text in w["faults"] if text.split()[1:2] == ["r09"]}
    assert on_xr == {kind.value for kind in PORTABLE_ROUTER_KINDS}

    table = render_markdown(report, command="pytest tests/chaos")
    assert "| iosxr-junos | 4 |" in table
    assert all(f"| {kind.value} |" in table for kind in FaultKind)
    assert "### Chaos v2 faults" in table
    # what the run wrote is private: the per-wave log and the report hold key IDs and CKNs
    for name in ("report.json", "waves.jsonl", "controller.trace"):
        mode = stat.S_IMODE((tmp_path / "chaos" / name).stat().st_mode)
        assert mode == 0o600, name
