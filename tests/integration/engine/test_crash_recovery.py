"""kill -9 equivalents at every phase of a wave, then a fresh process recovers with outage 0.

The controller runs as the real CLI in a subprocess; ``QKD_MACSEC_CRASH_AT`` makes it exit
abruptly (``os._exit``: no cleanup, no finally blocks) at the named point of the wave.
"""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.engine.journal import Journal
from support.testbed import StartTestbed
from support.testbed import run_cli as cli


@pytest.mark.parametrize(
    "point", ["planned", "keys", "staging", "stage:mx304-11", "stage:mx10008-24", "staged"]
)
def test_crash_at_each_phase_is_recovered_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], point: str
) -> None:
    testbed = testbed_factory(seed_doc)
    boot = cli(testbed, "rotate")
    assert boot.returncode == 0, boot.stderr

    crashed = cli(testbed, "rotate", "--force", crash_at=point)
    assert crashed.returncode == 99, crashed.stderr

    recovered = cli(testbed, "rotate")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    journal = Journal(testbed.inventory.policy.journal)
    try:
        assert journal.open_rotations() == []
        for link in testbed.inventory.links:
            (newest,) = journal.active_keys(link.name, 1)
            live = testbed.live_ckns(link.name)
            assert live == [newest.ckn] * len(live), (point, link.name, live)
            assert testbed.outage_seconds(link.name) == 0.0, (point, link.name)
    finally:
        journal.close()


def test_exit_code_3_when_the_only_failures_are_unreachable_routers(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    assert cli(testbed, "rotate").returncode == 0
    testbed.lab.refuse_connections("mx10008-24")
    down = cli(testbed, "rotate", "--force")
    assert down.returncode == 3, down.stdout + down.stderr
    testbed.lab.refuse_connections("mx10008-24", False)
    testbed.lab.device("mx304-12").set_faults(failing_commits=1)
    failed = cli(testbed, "rotate", "--force")
    assert failed.returncode == 1, failed.stdout + failed.stderr
