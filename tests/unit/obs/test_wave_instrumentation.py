"""The engine's instrumentation: per-link stage time, and metrics as an observer of the wave."""

from __future__ import annotations

import time
from pathlib import Path

from qkd_macsec.devices.base import ChangeSet, CommitResult, MacsecBinding
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.report.metrics import Metrics
from support.engine_fakes import FakeDriver, FakeKeys, FakeNetwork, make_link

FAST = ExecutorOptions(
    max_workers=4,
    min_activation_delay=0.3,
    clock_tolerance=0.0,
    verify_grace=0.05,
    verify_timeout=3.0,
    verify_interval=0.05,
    initial_session_estimate=0.05,
)


def binding(link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    return [MacsecBinding(i, link.ca, link.suite, link.key_chain) for i in end.interfaces]


class LateDriver(FakeDriver):
    """Commits only after link l1 is staged on both its ends (as the journal records it)."""

    journal: Journal

    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            records = self.journal.rotations("l1", limit=1)
            if records and records[0].ends and all(end.staged for end in records[0].ends):
                break
            time.sleep(0.01)  # polling the journal against a deadline
        else:
            raise AssertionError("l1 was never staged")
        return super().apply(changes, comment=comment, confirm_minutes=confirm_minutes)


async def test_each_link_gets_its_own_stage_time_and_metrics_see_it(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    journal = Journal(tmp_path / "j.sqlite")
    LateDriver.journal = journal

    def driver(name: str) -> FakeDriver:
        if name == "r4":
            return LateDriver(net, net.router(name))
        return net.driver(name)

    links = [make_link("l1", "r1", "r2"), make_link("l2", "r3", "r4")]
    metrics = Metrics()
    executor = RotationExecutor(
        links, journal, keys, driver, binding_for=binding, options=FAST, observers=[metrics]
    )
    try:
        result = await executor.run_wave(executor.plan())
    finally:
        executor.close()
        journal.close()
    assert result.ok, result.failed_links
    l1, l2 = result.rotations["l1"].stage_seconds, result.rotations["l2"].stage_seconds
    assert 0 < l1 < l2  # l2 waited for r4, which committed after l1 was fully staged
    assert l2 <= result.staged_seconds

    # the metrics saw the wave once, as an observer of its WaveDone event
    assert metrics.registry.get_sample_value("qkd_macsec_rotations_total", {"result": "ok"}) == 2
    assert metrics.registry.get_sample_value("qkd_macsec_rotation_duration_seconds_sum") == (
        l1 + l2
    )
    assert metrics.registry.get_sample_value("qkd_macsec_links_without_live_mka") == 0
