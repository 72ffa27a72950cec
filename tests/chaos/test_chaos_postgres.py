"""A short chaos run on a PostgreSQL journal (a real server): the HA path — TTL lease, fenced
writes — under controller kills, a controller failover and second controllers, then the same
end-state checks as every chaos run."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos import ChaosOptions, FaultKind, run_chaos

SEED = 20261201
KEPT = {
    FaultKind.CONTROLLER_KILL,
    FaultKind.CONTROLLER_FAILOVER,
    FaultKind.SECOND_CONTROLLER,
    FaultKind.KME_503,
}


@pytest.mark.xdist_group("ha-chaos")
@pytest.mark.timeout(400)
def test_short_chaos_run_on_postgresql_fails_over_without_outage(
    tmp_path: Path, pg_url: str
) -> None:
    exclude = {kind: "not in this run" for kind in FaultKind if kind not in KEPT}
    options = ChaosOptions(seed=SEED, waves=8, journal=pg_url, exclude=exclude)
    report = run_chaos(options, tmp_path / "chaos")

    assert report.problems == []
    assert report.links_live_shared == report.links
    assert report.max_outage_s == 0
    failover = report.faults[FaultKind.CONTROLLER_FAILOVER.value]
    assert (failover.injected, failover.fired, failover.observed) == (1, 1, 1)
    assert report.faults[FaultKind.CONTROLLER_KILL.value].observed == 1
    second = report.faults[FaultKind.SECOND_CONTROLLER.value]
    assert second.observed == second.injected >= 1
    assert report.lease_refusals == second.injected
    assert report.journal == "postgresql"
    (took,) = report.failover_s
    assert took < 15.0
    print(f"failover on PostgreSQL: standby held the lease {took:.1f} s after SIGKILL")
