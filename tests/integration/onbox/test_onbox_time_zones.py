"""On-box, routers on different ``system time-zone``s: each end writes the start-time in its own
wall clock (offset read from the router, as the off-box driver reads it), so both switch at the
same instant. Real runtimes on simulated routers, whose fabric reads each start-time in its
router's zone as Junos does (field evidence §1)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from qkd_macsec.macsec import derive_ckn
from qkd_macsec.sim.config import macsec_interfaces
from qkd_macsec.testbed.builder import Testbed

pytestmark = pytest.mark.slow  # real processes wait for real start-times

LINK = "p2p-11-12"
MASTER, SLAVE = "mx304-11", "mx304-12"
IFACE = "et-0/0/10"
ZONES = {MASTER: "Europe/Berlin", SLAVE: "America/New_York"}


def activation_instant(bed: Testbed, router: str, ckn: str) -> float:
    """The instant the router's committed chain starts ``ckn``, read in the router's zone."""
    device = bed.lab.device(router)
    (key,) = [k for k in macsec_interfaces(device.committed)[IFACE].chain if k.ckn == ckn]
    return key.start.replace(tzinfo=UTC).timestamp() - device.clock_offset_s


def raw_start_time(bed: Testbed, router: str, slot: int) -> str:
    for line in bed.lab.device(router).committed.to_set().splitlines():
        if f" key {slot} start-time " in line:
            return line.rsplit(" ", 1)[1].strip('"')
    raise AssertionError(f"no start-time for key {slot} on {router}")


def test_ends_in_different_zones_switch_at_the_same_instant(onbox_factory: Any, kit: Any) -> None:
    delay = 4.0
    bed, harness = onbox_factory([LINK], delay_s=delay, testbed={"time_zones": ZONES})

    result = harness.fire_timer(MASTER)

    assert result.returncode == 0, harness.trace(MASTER)
    current = kit.state_of(harness, MASTER)["links"][LINK]["current"]
    ckn = derive_ckn(current["key_id"])
    instants = {router: activation_instant(bed, router, ckn) for router in (MASTER, SLAVE)}
    assert instants == {MASTER: current["start"], SLAVE: current["start"]}
    # the texts differ by the zones' offsets (6 h between Berlin and New York, whatever DST)
    master_text = raw_start_time(bed, MASTER, current["slot"])
    slave_text = raw_start_time(bed, SLAVE, current["slot"])
    assert master_text != slave_text
    kit.wait_for(lambda: bed.live_ckns(LINK) == [ckn], delay + 10, "the first key live")
