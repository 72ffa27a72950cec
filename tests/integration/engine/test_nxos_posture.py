"""The NX-API hop's quantum-safe posture through the real engine: real httpx over the hybrid-TLS
transport to the NX-OS simulator (hybrid by default, ``pq_kex=False`` for a switch whose NX-API
has no post-quantum group), judged by ``policy.transport.tls`` like the KME hops, recorded in
the journal and shown by ``status``. A Junos end (real PyEZ) on the same link."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.integration.engine.test_nxos_link import LINK, NX, mixed_link, pointed_at

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.posture_record import recorded_postures
from qkd_macsec.inventory import load_inventory
from qkd_macsec.report.posture import classical_hops
from qkd_macsec.sim.nxos.device import NxosSimDevice
from qkd_macsec.sim.nxos.server import run_nxos_in_thread
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed
from support.testbed import StartTestbed, run_cli

TLS_REQUIRED = {"transport": {"tls": "pq-required"}}
TLS_PREFERRED = {"transport": {"tls": "pq-preferred"}}


def switch_for(testbed: Testbed, *, pq_kex: bool = True) -> NxosSimDevice:
    return NxosSimDevice(
        NX,
        user="netconf",
        password=os.environ[PASSWORD_ENV],
        fabric=testbed.lab.fabric,
        pq_kex=pq_kex,
    )


def nxos_hops(postures: dict[str, Any]) -> dict[str, Any]:
    return {key: entry for key, entry in postures.items() if key.startswith(f"tls:{NX} ")}


async def test_the_nxos_hop_is_hybrid_and_recorded_in_the_journal_and_status(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc), policy=TLS_REQUIRED)
    switch = switch_for(testbed)
    with run_nxos_in_thread([switch]) as nx:
        path = pointed_at(testbed, nx)
        async with Controller(load_inventory(path)) as controller:
            result = await controller.rotate()
            assert result.ok, result.failed_links
            (newest,) = controller.journal.active_keys(LINK, 1)
            assert testbed.live_ckns(LINK) == [newest.ckn]
            postures = recorded_postures(controller.journal)
        status = run_cli(testbed, "status", inventory=path)
        checked = run_cli(testbed, "preflight", "--json", inventory=path)
    assert testbed.outage_seconds(LINK) == 0.0
    ((key, entry),) = nxos_hops(postures).items()
    assert key == f"tls:{NX} (127.0.0.1:{nx.port(NX)})"
    assert entry["kex"] == "X25519MLKEM768"
    assert entry["pq"] is True
    assert entry["label"] == "hybrid-PQ"
    assert entry["version"] == "TLSv1.3"
    assert entry["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert key not in classical_hops(postures)
    assert status.returncode == 0, status.stdout + status.stderr
    blocks = status.stdout.split("hop ")
    (shown,) = [b for b in blocks if b.startswith("tls") and f"{NX} (127.0.0.1:" in b]
    assert "hybrid-PQ" in shown
    assert "X25519MLKEM768" in shown
    findings = json.loads(checked.stdout)["findings"]
    mine = {f["check"]: f for f in findings if f["subject"] == NX}
    assert mine["tls-certificate"]["severity"] == "ok"
    assert mine["host-key"]["severity"] == "n/a"
    assert mine["transport-pq"]["severity"] == "ok"
    assert mine["transport-pq"]["kind"] == "router"
    assert mine["transport-pq"]["platform"] == "nxos"
    assert "X25519MLKEM768" in mine["transport-pq"]["detail"]


async def test_pq_required_refuses_a_classical_switch_before_any_config_rpc(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc), policy=TLS_REQUIRED)
    switch = switch_for(testbed, pq_kex=False)
    with run_nxos_in_thread([switch]) as nx:
        path = pointed_at(testbed, nx)
        async with Controller(load_inventory(path)) as controller:
            result = await controller.rotate()
            # refused already when reconciliation reads the switch: the link is left alone
            assert LINK not in result.rotations
            reason = result.conflicts[LINK]
            assert "DeviceTransportPolicyError" in reason
            assert "policy.transport.tls is pq-required" in reason
            assert "secp256r1" in reason
            postures = recorded_postures(controller.journal)
        checked = run_cli(testbed, "preflight", "--json", inventory=path)
    # the TLS handshake happened, no HTTP request followed it: no read, no session, no commit
    assert switch.counters.requests == 0
    assert switch.counters.sessions == 0
    assert switch.counters.commits == 0
    assert switch.running.chains == {}
    junos = testbed.lab.device("mx304-11").history
    assert [c.comment for c in junos] == ["initial"]  # the Junos end got no key either
    assert checked.returncode == 1, checked.stdout + checked.stderr
    findings = json.loads(checked.stdout)["findings"]
    (pq,) = [f for f in findings if f["subject"] == NX and f["check"] == "transport-pq"]
    assert (pq["kind"], pq["severity"]) == ("router", "blocker")
    assert "policy.transport.tls is pq-required" in pq["detail"]
    ((key, entry),) = nxos_hops(postures).items()
    assert entry["pq"] is False
    assert entry["kex"] == "secp256r1"
    assert key in classical_hops(postures)
    assert testbed.outage_seconds(LINK) == 0.0


async def test_pq_preferred_rotates_a_junos_to_classical_nxos_link_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc), policy=TLS_PREFERRED)
    switch = switch_for(testbed, pq_kex=False)
    with run_nxos_in_thread([switch]) as nx:
        inventory = load_inventory(pointed_at(testbed, nx))
        async with Controller(inventory) as controller:
            for wave in range(2):
                result = await controller.rotate(all_links=wave > 0)
                assert result.ok, result.failed_links
                (newest,) = controller.journal.active_keys(LINK, 1)
                assert testbed.live_ckns(LINK) == [newest.ckn]
            postures = recorded_postures(controller.journal)
    assert testbed.outage_seconds(LINK) == 0.0
    assert switch.counters.commits >= 2
    ((key, entry),) = nxos_hops(postures).items()
    assert entry["label"] == "classical"
    assert key in classical_hops(postures)
