"""`qkd-macsec preflight` end to end: the CLI in its own process, real PyEZ sessions to the
simulated routers, real httpx mTLS to the embedded KMEs. Every test also proves that preflight
changed nothing: each router's committed configuration, candidate, commit history and lock
are compared before and after."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from qkd_macsec.devices.base import ChangeSet, KeyChainEntry
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.engine.controller import device_target
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX
from qkd_macsec.pki.ca import create_ca, issue_client_cert, save_issued
from qkd_macsec.pki.files import write_private
from qkd_macsec.secret import Secret
from qkd_macsec.sim.config import Configuration
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, count_logins

ROUTER_CHECKS = {
    "netconf",
    "commit",
    "facts",
    "clock",
    "time-zone",
    "ntp",
    "interface",
    "macsec",
    "config",
    "transport-pq",
}


@dataclass(frozen=True)
class RouterSnapshot:
    committed: Configuration
    candidate: Configuration
    commits: int
    locked: bool


def snapshot(testbed: Testbed) -> dict[str, RouterSnapshot]:
    out = {}
    for name in testbed.inventory.hosts:
        device = testbed.lab.device(name)
        out[name] = RouterSnapshot(
            device.committed,
            device.candidate(),
            len(device.history),
            device.lock_holder is not None,
        )
    return out


def assert_unchanged(testbed: Testbed, before: dict[str, RouterSnapshot]) -> None:
    after = snapshot(testbed)
    for name, old in before.items():
        new = after[name]
        assert new.committed == old.committed, f"{name}: committed configuration changed"
        assert new.candidate == old.candidate, f"{name}: candidate changed"
        assert new.commits == old.commits, f"{name}: {new.commits - old.commits} commit(s)"
        assert not new.locked, f"{name}: configuration left locked"


def preflight(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qkd_macsec", "preflight", "-i", str(inventory), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "80"},  # the table must fit an 80-column terminal
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    document = json.loads(result.stdout)
    found: list[dict[str, Any]] = document["findings"]
    return found


def by_severity(found: list[dict[str, Any]], severity: str) -> set[tuple[str, str, str]]:
    return {(f["kind"], f["subject"], f["check"]) for f in found if f["severity"] == severity}


def test_demo_lab_is_all_green_and_untouched(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc, clock_offsets={"mx304-12": 0.4, "mx10008-24": -0.3})
    before = snapshot(testbed)
    result = preflight(testbed.inventory_path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    found = findings(result)
    assert not by_severity(found, "blocker")
    assert not by_severity(found, "unreachable")
    for name in testbed.inventory.hosts:
        passed = {f["check"] for f in found if f["subject"] == name and f["severity"] == "ok"}
        assert passed == ROUTER_CHECKS, name
    statuses = {f["subject"] for f in found if f["check"] == "kme-status"}
    assert "mx304-11->mx10008-24" in statuses
    assert "mx10008-24->mx304-11" in statuses
    assert_unchanged(testbed, before)

    table = preflight(testbed.inventory_path)
    assert table.returncode == 0, table.stderr
    assert "0 blocker(s)" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80

    consumed = preflight(testbed.inventory_path, "--json", "--consume-key")
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    fetched = {f["subject"] for f in findings(consumed) if f["check"] == "key-fetch"}
    assert fetched == {link.name for link in testbed.inventory.links}
    assert_unchanged(testbed, before)


HUB = "hub"
CA_CKN = "ab" * 32
CA_CAK = "cd" * 16
#: router -> (initial configuration, simulator faults); one fault per check.
FAULTY: dict[str, tuple[str, dict[str, Any]]] = {
    "r-commit": ("", {"commit_denied": True}),
    "r-iface": ("", {"absent_interfaces": ["et-0/0/1"]}),
    "r-ntp": ("", {"ntp_unsynchronised": True}),
    "r-clock": ("", {}),  # clock offset below
    "r-suite": (
        "set security macsec connectivity-association CA_r_suite cipher-suite gcm-aes-256",
        {},
    ),
    "r-psk": (
        "set security macsec connectivity-association CA_r_psk cipher-suite gcm-aes-xpn-128\n"
        f"set security macsec connectivity-association CA_r_psk pre-shared-key ckn {CA_CKN}\n"
        f"set security macsec connectivity-association CA_r_psk pre-shared-key cak {CA_CAK}",
        {},
    ),
    "r-chain": (
        "set security authentication-key-chains key-chain KC_r_chain key 5 key-name 0123abcd\n"
        f"set security authentication-key-chains key-chain KC_r_chain key 5 secret {CA_CAK}\n"
        "set security authentication-key-chains key-chain KC_r_chain key 5 start-time "
        "2026-01-01.00:00:00",
        {},
    ),
    "r-bound": (
        "set security macsec connectivity-association OTHER cipher-suite gcm-aes-128\n"
        f"set security macsec connectivity-association OTHER pre-shared-key ckn {CA_CKN}\n"
        f"set security macsec connectivity-association OTHER pre-shared-key cak {CA_CAK}\n"
        "set security macsec interfaces et-0/0/1 connectivity-association OTHER",
        {},
    ),
    "r-nomacsec": ("", {"unsupported_rpcs": ["get-macsec-connection-information"]}),
    "r-tz": ("set system time-zone Europe/Berlin", {}),  # not a fault: start-times are local
    "r-cert": ("", {}),  # its SAE certificate is replaced by one from another CA
    "r-keysize": ("", {}),  # its link needs 256-bit keys, the KMEs give at most 128
    "r-login": ("", {"reject_auth": True}),
    "r-hostkey": ("", {}),  # gets a new host key after known_hosts is written
    "r-confirm": ("", {}),  # a commit confirmed is pending: commit check must not run
}
GROUP_SLAVES = ("r-ntp", "r-clock", "r-tz")
EXPECTED_BLOCKERS = {
    ("router", "r-commit", "commit"),
    ("router", "r-iface", "interface"),
    ("router", "r-ntp", "ntp"),
    ("router", "r-clock", "clock"),
    ("router", "r-suite", "ca-conflict"),
    ("router", "r-psk", "ca-conflict"),
    ("router", "r-chain", "chain-conflict"),
    ("router", "r-bound", "binding-conflict"),
    ("router", "r-nomacsec", "macsec"),
    ("router", "r-login", "login"),
    ("router", "r-hostkey", "host-key"),
    ("kme", "r-cert@KME_B", "kme-tls"),
    ("kme", "p2p-r-keysize (hub->r-keysize)", "key-size"),
    ("kme", "p2p-r-keysize (r-keysize->hub)", "key-size"),
    ("kme", "group", "sae-count"),
}


def fault_doc(seed_doc: dict[str, Any]) -> dict[str, Any]:
    names = [HUB, *FAULTY]
    hosts = {
        name: {
            "host": "127.0.0.1",
            "kme": "KME_A" if name == HUB else "KME_B",
            "tls": {"cert": f"certs/{name}.pem", "key": f"certs/{name}.key"},
        }
        for name in names
    }
    links: list[dict[str, Any]] = []
    for index, name in enumerate(FAULTY, start=1):
        slug = name.replace("-", "_")
        links.append(
            {
                "name": f"p2p-{name}",
                "master": {"host": HUB, "interface": f"et-0/0/{index}"},
                "slaves": [{"host": name, "interface": "et-0/0/1"}],
                "connectivity_association": f"CA_{slug}",
                "key_chain": f"KC_{slug}",
                "cipher_suite": "gcm-aes-xpn-256" if name == "r-keysize" else "gcm-aes-xpn-128",
            }
        )
    links.append(
        {
            "name": "group",
            "master": {"host": HUB, "interfaces": ["xe-0/0/1", "xe-0/0/2", "xe-0/0/3"]},
            "slaves": [{"host": name, "interface": "et-0/0/2"} for name in GROUP_SLAVES],
            "connectivity_association": "CA_group",
            "key_chain": "KC_group",
            "cipher_suite": "gcm-aes-xpn-128",
        }
    )
    return {
        "version": 1,
        "defaults": seed_doc["defaults"],
        "hosts": hosts,
        "kmes": seed_doc["kmes"],
        "links": links,
        "policy": {"clock_tolerance": "2s"},
    }


def replace_certificate(testbed: Testbed, host: str) -> Path:
    """A copy of the inventory where ``host`` presents a certificate from a foreign CA."""
    foreign = create_ca("not the KME's CA")
    cert, key = testbed.directory / "foreign.pem", testbed.directory / "foreign.key"
    save_issued(issue_client_cert(foreign, host), cert, key)
    document = yaml.safe_load(testbed.inventory_path.read_text())
    document["hosts"][host]["tls"].update(cert=str(cert), key=str(key))
    path = testbed.directory / "inventory-foreign-cert.yaml"
    write_private(path, yaml.safe_dump(document, sort_keys=False).encode())
    return path


def start_commit_confirmed(testbed: Testbed, host: str) -> None:
    """Commit a key-chain entry on ``host`` with ``commit confirmed 5``, left unconfirmed."""
    ckn = DEFAULT_CKN_PREFIX + "0" * 32
    entry = KeyChainEntry(
        f"KC_{host.replace('-', '_')}", 1, ckn, Secret(bytes(16)), datetime(2030, 1, 1, tzinfo=UTC)
    )
    driver = DRIVERS.create(device_target(testbed.inventory, host), "junos")
    driver.open()
    try:
        driver.apply(ChangeSet(add_entries=[entry]), comment="test", confirm_minutes=5)
    finally:
        driver.close()
    assert testbed.lab.device(host).confirm_pending


def test_one_fault_per_check_is_a_named_blocker_and_nothing_changes(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(
        fault_doc(seed_doc),
        clock_offsets={"r-clock": 30.0},
        device_config={name: config for name, (config, _) in FAULTY.items() if config},
        device_faults={name: faults for name, (_, faults) in FAULTY.items() if faults},
        kme_link={"key_size_bits": 128},
        kme_options={"max_key_size": 128, "max_sae_id_count": 1, "local": {"key_size_bits": 128}},
        policy={"clock_tolerance": "2s"},
    )
    inventory = replace_certificate(testbed, "r-cert")
    testbed.lab.rotate_host_key("r-hostkey")
    start_commit_confirmed(testbed, "r-confirm")
    before = snapshot(testbed)
    result = preflight(inventory, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    found = findings(result)
    assert by_severity(found, "blocker") == EXPECTED_BLOCKERS
    assert not by_severity(found, "unreachable")
    hub_problems = [f for f in found if f["subject"] == HUB and f["severity"] != "ok"]
    assert hub_problems == []
    assert by_severity(found, "warning") == {("router", "r-confirm", "commit")}
    zone = next(f for f in found if f["subject"] == "r-tz" and f["check"] == "time-zone")
    assert zone["severity"] == "ok"
    assert re.match(r"Europe/Berlin \(UTC\+0[12]:00 now\); start-times written", zone["detail"])
    assert testbed.lab.device("r-confirm").confirm_pending  # not confirmed by preflight
    assert_unchanged(testbed, before)
    secret_texts = (CA_CAK, CA_CAK.upper(), "QKD_ROUTER_PASSWORD=")
    assert not any(text in result.stdout + result.stderr for text in secret_texts)


def test_unreachable_router_exits_3(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(seed_doc)
    testbed.lab.refuse_connections("mx304-12")
    before = snapshot(testbed)
    result = preflight(testbed.inventory_path, "--json")
    assert result.returncode == 3, result.stdout + result.stderr
    found = findings(result)
    assert by_severity(found, "unreachable") == {("router", "mx304-12", "netconf")}
    assert not by_severity(found, "blocker")
    assert_unchanged(testbed, before)


@pytest.mark.parametrize(
    ("what", "mutate"),
    [
        ("cipher_suite", lambda d: d["links"][1].update(cipher_suite="gcm-aes-512")),
        ("does not exist", lambda d: d["hosts"]["mx304-12"]["tls"].update(cert="/nonexistent.pem")),
        ("mx999", lambda d: d["links"][1]["slaves"][0].update(host="mx999")),
    ],
)
def test_bad_inventory_exits_2_without_contacting_anything(
    testbed_factory: StartTestbed,
    seed_doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    mutate: Any,
) -> None:
    testbed = testbed_factory(seed_doc)
    opened = count_logins(testbed, monkeypatch)
    document = yaml.safe_load(testbed.inventory_path.read_text())
    mutate(document)
    bad = testbed.directory / "bad.yaml"
    write_private(bad, yaml.safe_dump(document, sort_keys=False).encode())
    result = preflight(bad)
    assert result.returncode == 2, result.stdout + result.stderr
    assert what in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert opened == []


def test_unreachable_kme_exits_3(testbed_factory: StartTestbed, seed_doc: dict[str, Any]) -> None:
    testbed = testbed_factory(seed_doc)
    document = yaml.safe_load(testbed.inventory_path.read_text())
    document["kmes"]["KME_B"]["url"] = "https://127.0.0.1:1"  # nothing listens there
    moved = testbed.directory / "kme-b-gone.yaml"
    write_private(moved, yaml.safe_dump(document, sort_keys=False).encode())
    result = preflight(moved, "--json")
    assert result.returncode == 3, result.stdout + result.stderr
    found = findings(result)
    on_b = {h for h, spec in document["hosts"].items() if spec["kme"] == "KME_B"}
    assert by_severity(found, "unreachable") == {("kme", f"{h}@KME_B", "kme") for h in on_b}
    assert not by_severity(found, "blocker")


def test_classical_hops_are_warned_under_pq_preferred_and_block_under_pq_required(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(
        seed_doc,
        device_options={"mx10008-24": {"pq_kex": False}},
        kme_options={"tls": "classical"},
    )
    before = snapshot(testbed)
    result = preflight(testbed.inventory_path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    found = findings(result)
    warned = {(k, s) for k, s, c in by_severity(found, "warning") if c == "transport-pq"}
    kmes = {("kme", name) for name in testbed.inventory.kmes}
    assert warned == {("router", "mx10008-24")} | kmes
    pq_routers = {s for k, s, c in by_severity(found, "ok") if c == "transport-pq"}
    assert pq_routers == set(testbed.inventory.hosts) - {"mx10008-24"}

    document = yaml.safe_load(testbed.inventory_path.read_text())
    document["policy"]["transport"] = {"ssh": "pq-required", "tls": "pq-required"}
    strict = testbed.directory / "strict.yaml"
    write_private(strict, yaml.safe_dump(document, sort_keys=False).encode())
    refused = preflight(strict, "--json")
    assert refused.returncode != 0, refused.stdout
    blocked = by_severity(findings(refused), "blocker") | by_severity(
        findings(refused), "unreachable"
    )
    assert ("router", "mx10008-24", "transport-pq") in blocked
    assert {("kme", name, "transport-pq") for name in testbed.inventory.kmes} <= blocked
    assert_unchanged(testbed, before)
