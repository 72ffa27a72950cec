"""A router clock that steps back (NTP) inside the tolerance right after a link's first key
started must not take the link down. Found by the campaign: the first key had no older key to
fall back on, so the step "un-started" it and every link of that router went down until the
clock caught up (0.2 s in the chaos run). The first key now starts ``clock_tolerance`` early.
"""

from __future__ import annotations

import copy
from pathlib import Path

from qkd_macsec.engine.controller import Controller
from qkd_macsec.testbed.builder import TestbedOptions, bundled_example, start_testbed

TOLERANCE_S = 5.0
POLICY = {"min_activation_delay": "2s", "clock_tolerance": "5s", "dec_keys_wait": "3s"}


async def test_clock_step_back_after_the_first_activation_keeps_links_up(
    tmp_path: Path,
) -> None:
    options = TestbedOptions(policy=POLICY)
    with start_testbed(copy.deepcopy(bundled_example()), tmp_path / "tb", options) as testbed:
        async with Controller(testbed.inventory) as controller:
            boot = await controller.rotate()
            assert boot.ok, boot.failed_links
            # right after the first keys went live, mx304-12's clock steps back 0.8 x tolerance
            testbed.lab.device("mx304-12").set_clock_offset(-0.8 * TOLERANCE_S)
            for link in testbed.wires:
                (newest,) = controller.journal.active_keys(link, 1)
                live = testbed.live_ckns(link)
                assert live == [newest.ckn] * len(live), link
            # and the next rotation (with a measured offset) is still hitless
            assert (await controller.rotate(all_links=True)).ok
        assert all(testbed.outage_seconds(link) == 0.0 for link in testbed.wires)
