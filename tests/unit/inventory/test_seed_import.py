"""The seed's targets_dict → inventory: faithful topology, no password copied, errors named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from qkd_macsec.inventory import RotationMode, parse_inventory
from qkd_macsec.inventory.seed import (
    SeedImportError,
    import_seed_targets,
    read_seed_targets,
)

SAMPLE = Path(__file__).parents[3] / "src/qkd_macsec/data/examples/seed_targets.json"
CANARY = "seed-canary-pw-41d8"


@pytest.fixture
def targets() -> dict[str, Any]:
    data = read_seed_targets(SAMPLE)
    for entry in data.values():
        if "password" in entry:
            entry["password"] = CANARY
    return data


def _round_trip(text: str, tmp_path: Path) -> Any:
    return parse_inventory(text, tmp_path / "inventory.yaml")


def test_sample_mirrors_the_documents_four_router_lab(
    targets: dict[str, Any], tmp_path: Path
) -> None:
    imported = import_seed_targets(targets)
    inventory = _round_trip(imported.to_yaml(), tmp_path)
    assert list(inventory.hosts) == ["mx304-11", "mx304-12", "mx10008-23", "mx10008-24"]
    (link,) = inventory.links
    assert link.connectivity_association == "CA_basic"
    assert link.master.host == "mx304-11"
    assert link.master.interfaces == ("et-0/0/9", "xe-0/0/1:0")
    assert [(s.host, s.interfaces) for s in link.slaves] == [
        ("mx304-12", ("et-0/0/9",)),  # the slave first, then the additional slaves
        ("mx10008-23", ("et-0/0/1", "xe-0/0/2:0")),
        ("mx10008-24", ("et-0/0/1",)),
    ]
    assert link.is_group
    assert link.mode is RotationMode.KEY_CHAIN
    assert link.key_chain == "KC_basic"
    assert link.cipher_suite.value == "gcm-aes-xpn-256"
    assert link.ckn_prefix == "abcd1234abcd5678abcd1234abcd5678"
    host = inventory.hosts["mx304-11"]
    assert (host.host, host.port, host.user) == ("192.0.2.11", 830, "remote")
    assert host.tls is not None
    assert host.tls.cert == tmp_path / "certs/mx304-11.crt"
    assert host.tls.ca == tmp_path / "certs/account-1286-server-ca-qukaydee-com.crt"
    assert host.tls.verify is True  # the seed's kme-ca false is not carried over
    kme = inventory.kme_of("mx304-12")
    assert kme.hostname == "kme-5.acct-1286.etsi-qkd-api.qukaydee.com"
    assert (kme.port, kme.address) == (443, "198.51.100.5")
    assert inventory.policy.max_workers == 4
    assert inventory.policy.rotation_interval == 600


def test_passwords_become_env_references_and_are_never_copied(targets: dict[str, Any]) -> None:
    imported = import_seed_targets(targets)
    text = imported.to_yaml()
    assert CANARY not in text
    assert CANARY not in repr(imported)
    assert CANARY not in " ".join(imported.notes)
    assert imported.document["defaults"]["password"] == {"env": "QKD_ROUTER_PASSWORD"}
    assert any("QKD_ROUTER_PASSWORD" in note for note in imported.notes)
    assert any("CA_server" in note for note in imported.notes)
    assert any("kme-ca false" in note for note in imported.notes)


def test_different_passwords_get_one_variable_per_host(
    targets: dict[str, Any], tmp_path: Path
) -> None:
    targets["mx10008-24"]["password"] = CANARY + "-other"
    imported = import_seed_targets(targets)
    assert "password" not in imported.document["defaults"]
    assert imported.document["hosts"]["mx10008-24"]["password"] == {
        "env": "QKD_PASSWORD_MX10008_24"
    }
    inventory = _round_trip(imported.to_yaml(), tmp_path)
    ref = inventory.hosts["mx304-11"].password
    assert ref is not None
    assert ref.env == "QKD_PASSWORD_MX304_11"
    assert CANARY not in imported.to_yaml()


def test_two_connectivity_associations_become_two_links(
    targets: dict[str, Any], tmp_path: Path
) -> None:
    targets["mx10008-23"]["c_a"] = "CA_edge"
    targets["mx10008-23"]["role"] = "master"
    targets["mx10008-24"]["c_a"] = "CA_edge"
    targets["mx10008-24"]["role"] = "slave"
    targets["mx10008-24"]["kme"] = {"name": "kme-7.example.net", "port": 8443}
    inventory = _round_trip(import_seed_targets(targets).to_yaml(), tmp_path)
    assert [(link.name, link.host_names) for link in inventory.links] == [
        ("CA_basic", ("mx304-11", "mx304-12")),
        ("CA_edge", ("mx10008-23", "mx10008-24")),
    ]
    assert inventory.kme_of("mx10008-24").url == "https://kme-7.example.net:8443"
    assert inventory.hosts["mx10008-24"].kme == "kme-7"


def test_pre_shared_key_mode_keeps_the_seed_behaviour(
    targets: dict[str, Any], tmp_path: Path
) -> None:
    inventory = _round_trip(
        import_seed_targets(targets, mode=RotationMode.PRE_SHARED_KEY).to_yaml(), tmp_path
    )
    assert inventory.links[0].mode is RotationMode.PRE_SHARED_KEY
    assert inventory.links[0].key_chain is None


def test_python_dict_literal_is_accepted(tmp_path: Path) -> None:
    data = json.loads(SAMPLE.read_text())
    source = tmp_path / "targets.py"
    source.write_text("targets_dict = " + repr(data) + "\n")
    assert read_seed_targets(source) == data


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda t: t["mx304-12"].update(role="boss"), "['mx304-12'].role: 'boss' is not master"),
        (lambda t: t["mx304-12"].pop("ip"), "['mx304-12'].ip: the router's management address"),
        (lambda t: t["mx304-12"].pop("kme"), "['mx304-12'].kme: required"),
        (lambda t: t["mx304-12"].update(interfaces=[]), "['mx304-12'].interfaces: a list"),
        (lambda t: t["mx304-12"].update(role="master"), "needs exactly one master"),
        (
            lambda t: t["mx304-12"].update(interfaces=["et-0/0/9; delete security"]),
            "not a valid Junos interface name",
        ),
        (lambda t: [t.pop(k) for k in list(t) if k.startswith("mx")], "no router entries"),
    ],
    ids=["role", "ip", "kme", "interfaces", "two masters", "injection", "no routers"],
)
def test_bad_targets_name_the_entry(targets: dict[str, Any], change: Any, fragment: str) -> None:
    change(targets)
    with pytest.raises(SeedImportError) as caught:
        import_seed_targets(copy.deepcopy(targets), source="targets.json")
    assert str(caught.value).startswith("targets.json: ")
    assert fragment in str(caught.value)
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be a dict"),
        ("__import__('os').system('true')", "not valid JSON"),
    ],
)
def test_unreadable_targets(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "targets.json"
    path.write_text(text)
    with pytest.raises(SeedImportError, match=fragment):
        read_seed_targets(path)


def test_yaml_output_is_plain_and_reloadable(targets: dict[str, Any]) -> None:
    text = import_seed_targets(targets).to_yaml()
    assert text.startswith("# Imported from the seed")
    assert yaml.safe_load(text)["links"][0]["name"] == "CA_basic"
