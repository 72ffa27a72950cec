"""Each router fault the chaos run injects is reported as what it is, by the real stack.

The chaos run counts a fault as seen only when the wave result says so; these are the messages
an operator reads. Found by the campaign: a lock RPC that never answers was reported as
"configuration lock refused" (PyEZ re-raises the timeout as LockError) — fixed in the driver.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Phase
from qkd_macsec.testbed.builder import Testbed

from .conftest import DEVICE_TIMEOUT_S

ROUTER = "mx304-12"  # an end of both seed-lab links
CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"failing_commits": 1}, "commit failed", "simulated commit failure"),
    ({"foreign_lock_user": "admin"}, "configuration lock refused", "admin"),
    ({"drop_session_on": "load-configuration"}, "session lost", "load"),
    ({"hang_rpcs": {"lock-configuration"}}, "no reply within", "lock"),
    ({"hang_rpcs": {"commit-configuration"}}, "no reply within", "commit"),
    ({"refuse_connections": True}, "refused the NETCONF session", ROUTER),
]
CLEAR = {
    "failing_commits": 0,
    "foreign_lock_user": None,
    "drop_session_on": None,
    "hang_rpcs": set(),
}


@pytest.mark.timeout(180)
async def test_router_faults_are_reported_as_what_they_are(quick_testbed: Testbed) -> None:
    testbed = quick_testbed
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        for faults, message, detail in CASES:
            live_before = {link: testbed.live_ckns(link) for link in testbed.wires}
            if faults.get("refuse_connections"):
                testbed.lab.refuse_connections(ROUTER, True)
            else:
                testbed.lab.device(ROUTER).set_faults(**faults)
            try:
                result = await controller.rotate(all_links=True)
            finally:
                testbed.lab.refuse_connections(ROUTER, False)
                testbed.lab.device(ROUTER).set_faults(**CLEAR)

            error = result.devices[ROUTER].error or ""
            assert message in error, (faults, error)
            assert detail in error, (faults, error)
            if "no reply" in message:
                assert "lock refused" not in error, (faults, error)
                # the wait is the device timeout, or less when the wave's deadline is nearer
                waited = re.search(r"no reply within ([0-9.]+)s", error)
                assert waited is not None, error
                assert 0 < float(waited.group(1)) <= DEVICE_TIMEOUT_S, error
            assert {r.phase for r in result.rotations.values()} == {Phase.ABORTED}, faults
            assert {link: testbed.live_ckns(link) for link in testbed.wires} == live_before
        healed = await controller.rotate(all_links=True)  # recovers what was left open first
        assert healed.ok
        assert controller.journal.open_rotations() == []
    assert all(testbed.outage_seconds(link) == 0.0 for link in testbed.wires)
