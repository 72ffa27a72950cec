"""``key_derivation: hybrid`` off-box, end to end: real PyEZ → simulated Junos, real httpx →
embedded KMEs over hybrid mTLS. The CAK every router holds is HKDF(QKD key ‖ S, info = CKN)
(checked with ``cryptography``'s HKDF, not our own), MKA comes up on it on every wire of the
two-end link and the group CA with outage 0, and neither S nor the CAK appears in any log,
journal or file the controller writes.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qkd_macsec.engine import keysource
from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Journal
from qkd_macsec.macsec import KeyDerivation, MacsecKey
from qkd_macsec.macsec.kdf import key_check_value
from qkd_macsec.secret import Secret
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, pre_shared_key_link
from support.testbed import run_cli as cli

HYBRID = {"key_derivation": "hybrid", "transport": {"ssh": "pq-required", "tls": "pq-required"}}
# "set ... key 3 key-name CKN" / "... key 3 secret CAK", or "... pre-shared-key ckn|cak X":
# paired by everything before the last word of the path.
NAME_LINE = re.compile(r"^set (.*) (key-name|pre-shared-key ckn) ([0-9a-f]+)$")
SECRET_LINE = re.compile(r"^set (.*) (secret|pre-shared-key cak) \"?([0-9a-fA-F]{32,64})\"?$")


@dataclass(frozen=True)
class Derived:
    raw: bytes
    share: bytes
    key: MacsecKey


def spy_derivations(monkeypatch: pytest.MonkeyPatch) -> list[Derived]:
    """Record every derivation the key source makes: the QKD key, S and the resulting key."""
    seen: list[Derived] = []
    original = keysource.derive_macsec_key

    def spy(key: Secret, *args: Any, **kwargs: Any) -> MacsecKey:
        result = original(key, *args, **kwargs)
        share = kwargs.get("hybrid_share")
        seen.append(Derived(key.reveal(), share.reveal() if share else b"", result))
        return result

    monkeypatch.setattr(keysource, "derive_macsec_key", spy)
    return seen


def reference_cak(raw: bytes, share: bytes, ckn: str, length: int) -> bytes:
    """The hybrid CAK by ``cryptography``'s HKDF (an independent implementation)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=bytes.fromhex(ckn))
    return hkdf.derive(raw[:length] + share)


def installed_caks(testbed: Testbed) -> dict[str, set[bytes]]:
    """CKN -> every CAK any router was ever given under it (from the commit history)."""
    out: dict[str, set[bytes]] = {}
    for name in testbed.inventory.hosts:
        for record in testbed.lab.device(name).history:
            ckns: dict[str, str] = {}
            caks: dict[str, bytes] = {}
            for line in record.config.to_set().splitlines():
                named = NAME_LINE.match(line)
                if named:
                    ckns[named.group(1)] = named.group(3)
                secret = SECRET_LINE.match(line)
                if secret:
                    caks[secret.group(1)] = bytes.fromhex(secret.group(3))
            for entry, ckn in ckns.items():
                if entry in caks:
                    out.setdefault(ckn, set()).add(caks[entry])
    return out


def canary_forms(raw: bytes) -> set[str]:
    b64 = base64.b64encode(raw).decode()
    return {raw.hex(), raw.hex().upper(), b64, b64.rstrip("=")}


def assert_live_on_newest(testbed: Testbed, journal: Journal) -> None:
    for link in testbed.inventory.links:
        (newest,) = journal.active_keys(link.name, 1)
        live = testbed.live_ckns(link.name)
        assert live == [newest.ckn] * len(testbed.wires[link.name]), link.name
        assert testbed.outage_seconds(link.name) == 0.0, link.name


async def test_hybrid_rotates_p2p_and_group_with_outage_0_and_leaks_neither_s_nor_cak(
    testbed_factory: StartTestbed,
    seed_doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    everything = tmp_path / "root-debug.log"
    handler = logging.FileHandler(everything)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    seen = spy_derivations(monkeypatch)
    testbed = testbed_factory(seed_doc, policy=HYBRID)
    assert {link.key_derivation for link in testbed.inventory.links} == {KeyDerivation.HYBRID}
    try:
        async with Controller(testbed.inventory) as controller:
            for index in range(3):
                result = await controller.rotate(all_links=index > 0)
                assert result.ok, result.failed_links
                assert_live_on_newest(testbed, controller.journal)
            group = controller.journal.rotations("ca-basic", limit=1)[0]
            assert len(group.ends) == 4  # one master, three slaves on one hybrid CAK
            journalled = {
                r.ckn: r.kcv for link in testbed.wires for r in controller.journal.rotations(link)
            }
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)

    assert len(seen) == 6  # 2 links x 3 rotations
    installed = installed_caks(testbed)
    shares = [d.share for d in seen]
    assert len(set(shares)) == len(shares)  # a fresh S per rotation
    assert all(len(s) == 32 for s in shares)
    for derived in seen:
        key = derived.key
        length = key.suite.key_bytes
        cak = key.cak.reveal()
        assert key.derivation is KeyDerivation.HYBRID
        assert cak == reference_cak(derived.raw, derived.share, key.ckn, length)
        assert cak != derived.raw[:length]  # not the raw QKD key (nor its prefix)
        assert installed[key.ckn] == {cak}  # every end holds exactly this CAK
        # the KCV in the journal is over the hybrid CAK the routers really hold
        assert journalled[key.ckn] == key_check_value(cak, bytes.fromhex(key.ckn))

    canaries: set[str] = set()
    for derived in seen:
        canaries |= canary_forms(derived.share) | canary_forms(derived.key.cak.reveal())
    texts: dict[str, str] = {}
    for path in testbed.directory.rglob("*"):
        if path.is_file() and "sim" not in path.relative_to(testbed.directory).parts:
            texts[str(path)] = path.read_bytes().decode("latin-1")
    texts[str(everything)] = everything.read_text("latin-1")
    assert any(p.endswith((".sqlite", ".sqlite-wal")) for p in texts)  # the journal is scanned
    assert "DEBUG" in texts[str(everything)]
    leaks = [(where, c[:6]) for where, text in texts.items() for c in canaries if c in text]
    assert leaks == []


@pytest.mark.parametrize(
    ("mode", "point"),
    [("key-chain", "stage:mx304-11"), ("key-chain", "staged"), ("pre-shared-key", "staging")],
)
def test_crash_that_loses_s_is_recovered_on_a_key_both_ends_share(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], mode: str, point: str
) -> None:
    """S lives only in the crashed process: recovery never re-stages, it finishes what every
    end already holds, removes a half-staged entry, or (pre-shared-key) re-keys with a new S."""
    doc = pre_shared_key_link(seed_doc) if mode == "pre-shared-key" else seed_doc
    testbed = testbed_factory(doc, policy=HYBRID)
    boot = cli(testbed, "rotate")
    assert boot.returncode == 0, boot.stderr
    crashed = cli(testbed, "rotate", "--force", crash_at=point)
    assert crashed.returncode == 99, crashed.stderr
    recovered = cli(testbed, "rotate")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    journal = Journal(testbed.inventory.policy.journal)
    try:
        assert journal.open_rotations() == []
        assert_live_on_newest(testbed, journal)
        installed = installed_caks(testbed)
        for link in testbed.inventory.links:
            (newest,) = journal.active_keys(link.name, 1)
            (cak,) = installed[newest.ckn]
            kcv = journal.get(newest.rotation_id).kcv
            assert kcv == key_check_value(cak, bytes.fromhex(newest.ckn))
    finally:
        journal.close()


async def test_hybrid_link_over_classical_ssh_is_flagged_by_name(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Under pq-preferred a classical router is used; the hybrid link it ends is named once."""
    testbed = testbed_factory(
        seed_doc,
        policy={"key_derivation": "hybrid"},
        device_options={"mx10008-24": {"pq_kex": False}},  # an end of ca-basic only
    )
    caplog.set_level(logging.WARNING, logger="qkd_macsec.engine.hybrid")
    async with Controller(testbed.inventory) as controller:
        for index in range(2):
            result = await controller.rotate(all_links=index > 0)
            assert result.ok, result.failed_links
    flags = [r.getMessage() for r in caplog.records if r.name == "qkd_macsec.engine.hybrid"]
    assert len(flags) == 1  # once per router and run, however many sessions
    assert flags[0].startswith("mx10008-24: SSH is classical")
    assert "link(s) ca-basic use key_derivation hybrid" in flags[0]
    assert "p2p-11-12" not in flags[0]
