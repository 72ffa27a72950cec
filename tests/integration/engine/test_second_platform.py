"""A second vendor through the real engine: one end a simulated Junos router (real PyEZ →
simulator), the other the test-only FakeOS platform (tests/support/fake_platform), whose device
joins the same MKA link fabric — so "live" is decided by the 802.1X key derivation on both ends,
and outage is measured exactly. Real journal, real KMEs over mTLS. Nothing outside FakeOS's own
files knows FakeOS: the inventory names it as the host's ``platform:``.
"""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.engine.controller import Controller, link_specs
from support import fake_platform
from support.testbed import StartTestbed

LINK = "p2p-11-12"


def mixed_link(document: dict[str, Any], mode: str) -> dict[str, Any]:
    """The seed lab cut to its point-to-point link, with mx304-12 a FakeOS box on port1."""
    document["links"] = [link for link in document["links"] if link["name"] == LINK]
    document["hosts"] = {n: h for n, h in document["hosts"].items() if n.startswith("mx304")}
    document["hosts"]["mx304-12"]["platform"] = fake_platform.NAME
    document["links"][0]["slaves"] = [{"host": "mx304-12", "interface": "port1"}]
    if mode == "pre-shared-key":
        document["links"][0]["mode"] = mode
        document["links"][0].pop("key_chain")
    return document


@pytest.mark.parametrize("mode", ["key-chain", "pre-shared-key"])
async def test_a_junos_to_fakeos_link_rotates_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], mode: str
) -> None:
    with fake_platform.registered() as network:
        box = network.add("mx304-12", ports=("port1",))
        testbed = testbed_factory(mixed_link(seed_doc, mode))
        network.fabric = testbed.lab.fabric
        (spec,) = link_specs(testbed.inventory)
        assert spec.slots == 16  # the smaller of Junos' 64 and FakeOS' 16
        async with Controller(testbed.inventory) as controller:
            seen: list[str] = []
            for wave in range(3):
                result = await controller.rotate(all_links=wave > 0)
                assert result.ok, result.failed_links
                (newest,) = controller.journal.active_keys(LINK, 1)
                assert testbed.live_ckns(LINK) == [newest.ckn]
                assert testbed.outage_seconds(LINK) == 0.0
                seen.append(newest.ckn)
        assert len(set(seen)) == 3  # three different keys went live
        assert box.commits >= 3
        assert len(testbed.lab.device("mx304-11").history) >= 3  # the Junos end committed too
        if mode == "key-chain":
            slots = set(box.state.chains["KC_p2p_11_12"])
            assert slots
            assert all(0 <= slot < 16 for slot in slots)
        else:
            assert box.state.cas["CA_p2p_11_12"].psk is not None
            assert box.state.cas["CA_p2p_11_12"].psk[0] == seen[-1]
