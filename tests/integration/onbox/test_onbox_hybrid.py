"""``key-derivation hybrid`` on-box (issue 14 build 4): the master's fresh S travels over the peer
channel in a 0600 file it puts with ``file-put`` (the offer only names it), each end derives
HKDF(QKD key ‖ S, info = CKN), MKA comes up on it on the two-end link and the group CA with outage
0, a crash that loses S ends on a key both ends share, and neither S nor the CAK is left in any
file, trace, output or op-script command line of the runtimes, nor any share file on a router."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.kme.store import IssuedKey, KeyStore
from qkd_macsec.macsec import derive_ckn
from qkd_macsec.sim.config.macsec_view import macsec_interfaces
from qkd_macsec.sim.netconf import dispatch
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext
from qkd_macsec.testbed.builder import Testbed
from testkit.onbox_harness import OnboxHarness

pytestmark = pytest.mark.slow  # real processes wait for real start-times

HYBRID = {"policy": {"key_derivation": "hybrid"}}
HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def record_issued_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Key ID -> raw QKD key, as the embedded KMEs (threads of this process) issue them."""
    issued: dict[str, bytes] = {}
    original = KeyStore.hold

    def hold(self: KeyStore, key: IssuedKey, **kwargs: Any) -> None:
        issued[key.key_id] = key.key.reveal()
        original(self, key, **kwargs)

    monkeypatch.setattr(KeyStore, "hold", hold)
    return issued


def record_shares(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every S a master puts on a peer, as the simulated peers' ``file-put`` RPC receives it."""
    shares: list[bytes] = []
    dispatch.known_rpcs()  # the handlers are registered
    original = dispatch._HANDLERS["file-put"]

    async def put(ctx: RpcContext, op: etree._Element) -> Reply:
        shares.append(base64.b64decode(op.findtext("file-contents") or ""))
        return await original(ctx, op)

    monkeypatch.setitem(dispatch._HANDLERS, "file-put", put)
    return shares


def assert_s_never_in_argv_nor_left(harness: OnboxHarness, shares: list[bytes]) -> None:
    """S reached the peers by file only: no op-script command line holds it (hex or base64) or
    carries ``hybrid_share``; every offer names a share file; no share file is left anywhere."""
    assert shares
    assert all(len(share) == 32 for share in shares)
    argv = [" ".join(line) for _router, line in harness.op_argv]
    spellings = [s.hex() for s in shares] + [base64.b64encode(s).decode() for s in shares]
    assert not [a for a in argv if any(spelling in a for spelling in spellings)]
    offers = [
        json.loads(line[line.index("-message") + 1])
        for _router, line in harness.op_argv
        if line[line.index("-action") + 1] == "accept"
    ]
    assert offers
    assert all(o["hybrid_share_file"].startswith(".qkd-share-") for o in offers)
    assert not [o for o in offers if "hybrid_share" in o]
    texts = [p.read_bytes() for p in harness.files()]
    assert not [t for t in texts for s in shares if s in t or s.hex().encode() in t]
    assert harness.share_files() == []


def caks_by_ckn(bed: Testbed) -> dict[str, set[bytes]]:
    """CKN -> every CAK any router ever committed under it."""
    out: dict[str, set[bytes]] = {}
    for name in bed.inventory.hosts:
        for record in bed.lab.device(name).history:
            for view in macsec_interfaces(record.config).values():
                for key in view.chain:
                    out.setdefault(key.ckn, set()).add(key.cak)
    return out


def run_cycle(kit: Any, bed: Testbed, harness: OnboxHarness, delay_s: float) -> str:
    """Fire every master's timer once, wait until every link is live on its new key."""
    outputs = []
    for master in harness.masters():
        result = harness.fire_timer(master)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 0, harness.trace(master)
    for link in bed.inventory.links:
        key_id = kit.current_key_id(harness, link.master.host, link.name)
        assert key_id is not None
        ckn = derive_ckn(key_id)
        kit.wait_for(
            lambda link=link, ckn=ckn: (
                bed.live_ckns(link.name) == [ckn] * len(bed.wires[link.name])
            ),
            delay_s + 10,
            f"{link.name} live on {ckn}",
        )
    for link in bed.inventory.links:
        kit.wait_until_due(harness, link.master.host, link.name)
    return "".join(outputs)


def assert_no_share_or_cak(kit: Any, bed: Testbed, harness: OnboxHarness, output: str) -> None:
    """No CAK anywhere (the kit's scan), and no 256-bit hex value but the CKNs: S travels as 64
    hex digits, so any other such run in a file, trace or output would be S (or a CAK)."""
    kit.assert_no_key_material(bed, harness, output)
    ckns = set(caks_by_ckn(bed))
    texts = {str(p): p.read_text(errors="replace") for p in harness.files()}
    texts["output"] = output
    strays = {
        (where, run[:6])
        for where, text in texts.items()
        for run in HEX64.findall(text)
        if run.lower() not in ckns
    }
    assert strays == set()


def test_hybrid_group_and_p2p_rotate_with_outage_0(
    onbox_factory: Any, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = record_issued_keys(monkeypatch)
    shares = record_shares(monkeypatch)
    bed, harness = onbox_factory(delay_s=5.0, testbed=HYBRID)
    macros = bed.lab.device("mx304-12").committed.to_set()
    assert "apply-macro qkd key-derivation hybrid" in macros
    output = "".join(run_cycle(kit, bed, harness, 5.0) for _ in range(3))

    caks = caks_by_ckn(bed)
    for link in bed.inventory.links:
        assert bed.outage_seconds(link.name) == 0.0, link.name
    assert len(issued) == 6  # 2 links x 3 cycles, one key each (the group's shared by all)
    for key_id, raw in issued.items():
        (cak,) = caks[derive_ckn(key_id)]  # every end holds one and the same CAK
        assert len(cak) in (16, 32)
        assert cak != raw[: len(cak)]  # the hybrid CAK, not the QKD key the KMEs know
    group = kit.chain_slots(bed, "mx304-11", "et-0/0/9")
    for router, interface in [("mx304-12", "et-0/0/9"), ("mx10008-24", "et-0/0/1")]:
        assert kit.chain_slots(bed, router, interface) == group
    assert_no_share_or_cak(kit, bed, harness, output)
    assert len(shares) == 12  # 3 cycles x (one slave on p2p + three on the group)
    assert len(set(shares)) == 6  # a fresh S per rotation, the group's slaves all get its one
    assert_s_never_in_argv_nor_left(harness, shares)


def test_master_crash_after_the_offer_loses_s_and_ends_on_a_shared_key(
    onbox_factory: Any, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shares = record_shares(monkeypatch)
    delay = 10.0  # the rerun comes before T: the slave's half-done entry is withdrawn
    link = "p2p-11-12"
    bed, harness = onbox_factory([link], delay_s=delay, testbed=HYBRID)
    first = harness.fire_timer("mx304-11")
    assert first.returncode == 0, harness.trace("mx304-11")
    old = derive_ckn(kit.current_key_id(harness, "mx304-11", link))
    kit.wait_for(lambda: bed.live_ckns(link) == [old], delay + 10, "bootstrap key live")
    kit.wait_until_due(harness, "mx304-11", link)

    crashed = harness.fire_timer("mx304-11", {"QKD_ONBOX_CRASH_AT": "after-peer-ack"})
    assert crashed.returncode == 70
    pending = kit.state_of(harness, "mx304-11")["links"][link]["pending"]
    half = derive_ckn(pending["key_id"])
    assert half in kit.chain_slots(bed, "mx304-12", "et-0/0/10").values()  # S reached the peer

    rerun = harness.fire_timer("mx304-11")  # a new process: S is gone with the crashed one
    assert rerun.returncode == 0, harness.trace("mx304-11")
    assert "left by a crash" in harness.trace("mx304-11")
    new = derive_ckn(kit.current_key_id(harness, "mx304-11", link))
    assert new not in (old, half)
    master = kit.chain_slots(bed, "mx304-11", "et-0/0/10")
    assert master == kit.chain_slots(bed, "mx304-12", "et-0/0/10")
    assert half not in master.values()
    kit.wait_for(lambda: bed.live_ckns(link) == [new], delay + 10, "rotation after recovery")
    assert bed.outage_seconds(link) == 0.0
    assert_no_share_or_cak(
        kit, bed, harness, first.stdout + crashed.stdout + crashed.stderr + rerun.stdout
    )
    assert_s_never_in_argv_nor_left(harness, shares)  # the crash left no share file behind
