"""A good inventory loads, with Nornir-style inheritance and the derived views the engine uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from qkd_macsec.inventory import (
    Inventory,
    InventoryError,
    RotationMode,
    load_inventory,
)
from qkd_macsec.inventory.schema import InventorySpec
from qkd_macsec.macsec.keys import CknMode
from qkd_macsec.macsec.suites import CipherSuite

EXAMPLE = Path(__file__).parents[3] / "src/qkd_macsec/data/examples/seed-lab/inventory.yaml"


@pytest.fixture
def inventory(write_inventory: Any, doc: dict[str, Any]) -> Inventory:
    return load_inventory(write_inventory(doc))


def test_host_settings_inherit_host_then_groups_in_order_then_defaults(
    inventory: Inventory,
) -> None:
    a = inventory.hosts["mx304-11"]  # groups [mx304, edge]: mx304 wins for port and user
    assert (a.port, a.user, a.timeout) == (8830, "ops", 60.0)
    b = inventory.hosts["mx304-12"]  # own port wins over group edge
    assert (b.port, b.user, b.timeout) == (2222, "netconf", 60.0)
    c = inventory.hosts["mx10008-23"]  # no groups: defaults, then built-ins
    assert (c.port, c.user, c.timeout, c.platform) == (830, "netconf", 30.0, "junos")
    assert c.insecure_host_keys is False


def test_relative_paths_resolve_against_the_inventory_folder(
    inventory: Inventory, tmp_path: Path
) -> None:
    a = inventory.hosts["mx304-11"]
    assert a.known_hosts == tmp_path / "known_hosts"
    assert a.tls is not None
    assert a.tls.cert == tmp_path / "certs/mx304-11.pem"
    assert a.tls.ca == tmp_path / "certs/ca.pem"  # inherited from KME_A
    b = inventory.hosts["mx304-12"]
    assert b.tls is not None
    assert b.tls.ca == Path("/etc/ca.pem")  # the host's own CA wins
    assert inventory.policy.journal == tmp_path / "state/journal.sqlite"


def test_identity_defaults(inventory: Inventory) -> None:
    assert inventory.hosts["mx304-11"].sae_id == "mx304-11"
    assert inventory.hosts["mx304-12"].sae_id == "SAE-B"
    assert inventory.hosts["mx10008-23"].host == "mx10008-23.lab.example.net"
    password = inventory.hosts["mx304-11"].password
    assert password is not None
    assert password.env == "QKD_TEST_ROUTER_PASSWORD"
    assert password.field == "defaults.password"


def test_links_carry_effective_values(inventory: Inventory) -> None:
    core, group = inventory.links
    assert core.rotation_interval == 90.0
    assert core.mode is RotationMode.KEY_CHAIN
    assert core.cipher_suite is CipherSuite.GCM_AES_XPN_256
    assert core.ckn_prefix == "abcd1234abcd5678abcd1234abcd5678"
    assert core.mka.exclude_protocols == ("lldp",)
    assert core.mka.key_server_priority == 16
    assert not core.is_group
    assert group.rotation_interval == 600.0  # from policy
    assert group.mode is RotationMode.PRE_SHARED_KEY
    assert group.key_chain is None
    assert group.ckn_mode is CknMode.SHA256
    assert group.is_group
    assert group.master.interfaces == ("xe-0/0/1:0", "et-0/0/10")
    assert group.host_names == ("mx304-11", "mx304-12", "mx10008-23")
    assert inventory.policy.activation_delay is None
    assert inventory.policy.keep_previous == 2


def test_link_ends_and_links_of_host(inventory: Inventory) -> None:
    core = inventory.link("core-11-12")
    ends = inventory.link_ends(core)
    assert [(host.name, end.interfaces) for host, end in ends] == [
        ("mx304-11", ("et-0/0/9",)),
        ("mx304-12", ("et-0/0/9",)),
    ]
    assert [link.name for link in inventory.links_of_host("mx10008-23")] == ["group-a"]
    assert len(inventory.links_of_host("mx304-12")) == 2
    with pytest.raises(InventoryError, match="unknown host 'nope'"):
        inventory.links_of_host("nope")
    with pytest.raises(InventoryError, match="unknown link"):
        inventory.link("nope")


def test_restrict_keeps_only_links_with_all_ends_selected(inventory: Inventory) -> None:
    pair = inventory.restrict(["mx304-11", "mx304-12"])
    assert set(pair.hosts) == {"mx304-11", "mx304-12"}
    assert [link.name for link in pair.links] == ["core-11-12"]
    assert [link.name for link in inventory.partial_links(["mx304-11", "mx304-12"])] == ["group-a"]
    assert inventory.restrict(["mx10008-23"]).links == ()
    assert len(inventory.restrict(inventory.hosts).links) == 2
    with pytest.raises(InventoryError, match="unknown host"):
        inventory.restrict(["mx304-11", "ghost"])


def test_with_endpoints_and_kme_urls_rewrite_and_validate(inventory: Inventory) -> None:
    moved = inventory.with_endpoints({"mx304-11": ("127.0.0.1", 40001)})
    assert (moved.hosts["mx304-11"].host, moved.hosts["mx304-11"].port) == ("127.0.0.1", 40001)
    assert inventory.hosts["mx304-11"].port == 8830  # the original is untouched
    assert moved.hosts["mx304-11"].user == "ops"
    with pytest.raises(InventoryError, match="not a valid host"):
        inventory.with_endpoints({"mx304-11": ("1.2.3.4; rm", 1)})
    with pytest.raises(InventoryError, match="not a TCP port"):
        inventory.with_endpoints({"mx304-11": ("127.0.0.1", 70000)})
    with pytest.raises(InventoryError, match="unknown host"):
        inventory.with_endpoints({"ghost": ("127.0.0.1", 1)})
    kmes = inventory.with_kme_urls({"KME_A": "https://127.0.0.1:45678/"})
    assert kmes.kmes["KME_A"].url == "https://127.0.0.1:45678"
    assert kmes.kmes["KME_A"].port == 45678
    with pytest.raises(InventoryError, match="https"):
        inventory.with_kme_urls({"KME_A": "http://127.0.0.1:1"})


def test_seed_macros_and_static_host_mappings(inventory: Inventory) -> None:
    core = inventory.link("core-11-12")
    assert inventory.apply_macros(core, "mx304-12") == (
        ("kme-ca", "true"),
        ("kme-host", "kme-b.example.net"),
        ("kme-port", "443"),
        ("kme-keyid-check", "true"),
    )
    assert inventory.static_host_mappings("mx304-12") == (
        ("mx304-12", "192.0.2.12"),
        ("kme-b.example.net", "198.51.100.7"),
    )
    assert inventory.static_host_mappings("mx10008-23") == (("kme-b.example.net", "198.51.100.7"),)


def test_bundled_seed_lab_example_loads() -> None:
    inventory = load_inventory(EXAMPLE)
    assert set(inventory.hosts) == {"mx304-11", "mx304-12", "mx10008-23", "mx10008-24"}
    group, p2p = inventory.links
    assert group.master.host == "mx304-11"
    assert group.connectivity_association == "CA_basic"
    assert {end.host for end in group.slaves} == {"mx304-12", "mx10008-23", "mx10008-24"}
    assert group.is_group
    assert p2p.host_names == ("mx304-11", "mx304-12")
    assert not set(p2p.master.interfaces) & set(group.master.interfaces)
    # The demo points every router at its simulator and every KME at its ephemeral port.
    ready = inventory.with_endpoints(
        {name: ("127.0.0.1", 20000 + i) for i, name in enumerate(inventory.hosts)}
    ).with_kme_urls({"KME_A": "https://127.0.0.1:1111", "KME_B": "https://127.0.0.1:2222"})
    assert sorted(h.port for h in ready.hosts.values()) == [20000, 20001, 20002, 20003]
    assert ready.kme_of("mx304-12").port == 2222


REFERENCE = EXAMPLE.parents[1] / "reference/inventory.yaml"


def _schema_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        stack = [info.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                keys |= _schema_keys(annotation)
            else:
                stack.extend(get_args(annotation))
    return keys


def _document_keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return {str(k) for k in node} | {k for v in node.values() for k in _document_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _document_keys(v)}
    return set()


def test_reference_example_loads_and_shows_every_key() -> None:
    inventory = load_inventory(REFERENCE)
    assert inventory.link("core-11-12").slaves[0].interfaces == ("et-0/0/9", "et-0/0/10")
    missing = _schema_keys(InventorySpec) - _document_keys(yaml.safe_load(REFERENCE.read_text()))
    assert not missing, f"reference inventory lacks: {sorted(missing)}"
