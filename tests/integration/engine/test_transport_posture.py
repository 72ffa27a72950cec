"""policy.transport end to end: real PyEZ → simulated Junos, real httpx → embedded KMEs over
hybrid mTLS; the journal records every hop's posture, pq-required refuses a classical router
before any key reaches it, pq-preferred accepts it and records it as classical."""

from __future__ import annotations

from typing import Any

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.posture_record import recorded_postures
from qkd_macsec.report.posture import classical_hops
from support.testbed import StartTestbed

CLASSICAL = "mx10008-24"  # the group CA's router; the p2p link does not touch it
STRICT = {"transport": {"ssh": "pq-required", "tls": "pq-required"}}


async def test_every_hop_is_hybrid_pq_and_rotates_under_pq_required(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc, policy=STRICT)
    async with Controller(testbed.inventory) as controller:
        result = await controller.rotate()
        assert result.ok, result.failed_links
        for link in testbed.wires:
            assert testbed.outage_seconds(link) == 0.0
        postures = recorded_postures(controller.journal)
    ssh = {k: v for k, v in postures.items() if v["kind"] == "ssh"}
    tls = {k: v for k, v in postures.items() if v["kind"] == "tls"}
    assert len(ssh) == len(testbed.inventory.hosts)
    assert {v["kex"] for v in ssh.values()} == {"mlkem768x25519-sha256"}
    assert {v["cipher"] for v in ssh.values()} == {"aes256-gcm@openssh.com"}
    assert len(tls) == len(testbed.inventory.kmes)
    assert {v["kex"] for v in tls.values()} == {"X25519MLKEM768"}
    assert classical_hops(postures) == []


async def test_classical_router_is_refused_under_pq_required_and_gets_no_key(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(
        seed_doc, policy=STRICT, device_options={CLASSICAL: {"pq_kex": False}}
    )
    async with Controller(testbed.inventory) as controller:
        result = await controller.rotate()
        # refused already when reconciliation reads the router: the link is left alone
        assert result.ok, result.failed_links
        assert result.rotations["p2p-11-12"].ok
        assert "ca-basic" not in result.rotations
        assert "pq-required" in result.conflicts["ca-basic"]
        postures = recorded_postures(controller.journal)
    history = testbed.lab.device(CLASSICAL).history
    assert [c.comment for c in history] == ["initial"]  # nothing committed over NETCONF
    assert "key-chain" not in testbed.lab.device(CLASSICAL).committed.to_set()
    [marked] = classical_hops(postures)
    assert marked.startswith(f"ssh:{CLASSICAL} ")


async def test_classical_router_is_accepted_and_recorded_under_pq_preferred(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc, device_options={CLASSICAL: {"pq_kex": False}})
    async with Controller(testbed.inventory) as controller:
        result = await controller.rotate()
        assert result.ok, result.failed_links
        for link in testbed.wires:
            assert testbed.outage_seconds(link) == 0.0
        postures = recorded_postures(controller.journal)
    [marked] = classical_hops(postures)
    assert marked.startswith(f"ssh:{CLASSICAL} ")
    assert postures[marked]["label"] == "classical"
