"""Hosts of a platform managed over HTTPS (NX-OS, ``Platform.management == "https"``): the SSH
settings do not apply — inherited ones are ignored, ones set on the host refused with the field
named — the API authenticates by password, and the certificate is verified against ``tls_ca``
(or the system trust store)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.devices.platform import get_platform
from qkd_macsec.engine.controller import device_target
from qkd_macsec.inventory import InventoryError, load_inventory
from qkd_macsec.inventory.sanity import inventory_warnings
from qkd_macsec.posture import PqPolicy

WriteInventory = Callable[[dict[str, Any] | str], Path]
NX = "mx304-12"


def with_nxos(doc: dict[str, Any]) -> dict[str, Any]:
    """mx304-12 becomes an NX-OS switch on Ethernet1/1, first link only."""
    doc["hosts"][NX]["platform"] = "nxos"
    doc["hosts"][NX].pop("port")
    doc["links"] = doc["links"][:1]
    doc["links"][0]["slaves"] = [{"host": NX, "interface": "Ethernet1/1"}]
    doc["links"][0]["mka"] = {"key_server_priority": 16}
    return doc


def problems(write_inventory: WriteInventory, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    return list(caught.value.problems)


def test_platforms_declare_their_management_transport() -> None:
    assert get_platform("nxos").management == "https"
    assert get_platform("junos").management == "ssh"
    assert get_platform("iosxr").management == "ssh"


def test_an_nxos_host_needs_no_known_hosts_and_ignores_the_inherited_one(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = with_nxos(doc)
    doc["hosts"][NX]["tls_ca"] = "certs/nxapi-ca.pem"
    inventory = load_inventory(write_inventory(doc))
    host = inventory.host(NX)
    assert host.known_hosts is None  # defaults.known_hosts is an SSH setting
    assert host.insecure_host_keys is False
    assert host.tls_ca is not None
    assert host.tls_ca.name == "nxapi-ca.pem"
    assert inventory.host("mx304-11").known_hosts is not None  # the Junos end keeps it


def test_without_known_hosts_anywhere_only_the_ssh_hosts_are_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = with_nxos(doc)
    del doc["defaults"]["known_hosts"]
    found = problems(write_inventory, doc)
    assert any(p.startswith("hosts.mx304-11.known_hosts: required") for p in found), found
    assert not any(p.startswith(f"hosts.{NX}.") for p in found), found


@pytest.mark.parametrize(
    ("setting", "value"),
    [("known_hosts", "known_hosts"), ("insecure_host_keys", True), ("ssh_key", "id_ed25519")],
)
def test_an_ssh_setting_on_an_nxos_host_itself_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any], setting: str, value: object
) -> None:
    doc = with_nxos(doc)
    doc["hosts"][NX][setting] = value
    found = problems(write_inventory, doc)
    mine = [p for p in found if p.startswith(f"hosts.{NX}.{setting}:")]
    assert len(mine) == 1, found
    assert "SSH setting" in mine[0]
    assert "NX-OS is managed over HTTPS" in mine[0]
    assert "tls_ca" in mine[0]


def test_an_nxos_host_needs_a_password(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = with_nxos(doc)
    del doc["defaults"]["password"]
    doc["hosts"]["mx304-11"]["password"] = {"env": "QKD_TEST_ROUTER_PASSWORD"}
    doc["hosts"]["mx10008-23"]["password"] = {"env": "QKD_TEST_ROUTER_PASSWORD"}
    found = problems(write_inventory, doc)
    assert any(
        p.startswith(f"hosts.{NX}.password: required") and "authenticates by password" in p
        for p in found
    ), found


def test_the_device_target_carries_management_and_the_tls_policy(
    write_inventory: WriteInventory, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QKD_TEST_ROUTER_PASSWORD", "test-only")
    doc = with_nxos(doc)
    doc["policy"]["transport"] = {"tls": "pq-required", "ssh": "any"}
    inventory = load_inventory(write_inventory(doc))
    target = device_target(inventory, NX)
    assert target.management == "https"
    assert target.tls_policy is PqPolicy.REQUIRED
    assert target.known_hosts is None
    junos = device_target(inventory, "mx304-11")
    assert junos.management == "ssh"
    assert junos.ssh_policy is PqPolicy.ANY


def test_a_hybrid_link_to_nxos_warns_about_the_tls_policy(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = with_nxos(doc)
    doc["links"][0]["key_derivation"] = "hybrid"
    doc["policy"]["transport"] = {"ssh": "pq-required", "tls": "pq-preferred"}
    warnings = inventory_warnings(load_inventory(write_inventory(doc)))
    hybrid = [w for w in warnings if w.startswith("links[0].key_derivation:")]
    assert len(hybrid) == 1, warnings
    assert "policy.transport.tls is pq-preferred" in hybrid[0]
    assert "over TLS (NX-API)" in hybrid[0]
    doc["policy"]["transport"]["tls"] = "pq-required"
    warnings = inventory_warnings(load_inventory(write_inventory(doc)))
    assert not [w for w in warnings if w.startswith("links[0].key_derivation:")]


def test_inventory_check_refuses_an_ssh_setting_on_an_nxos_host_without_traceback(
    write_inventory: WriteInventory, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from qkd_macsec.cli import cli, main
    from qkd_macsec.cli.inventory import group

    doc = with_nxos(doc)
    doc["hosts"][NX]["insecure_host_keys"] = True
    path = write_inventory(doc)
    added = "inventory" not in cli.commands
    if added:
        cli.add_command(group)
    try:
        with pytest.raises(SystemExit) as exited:
            main(["inventory", "check", str(path)])
    finally:
        if added:
            cli.commands.pop("inventory")
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert f"{path}: hosts.{NX}.insecure_host_keys: an SSH setting, but NX-OS" in err
    assert "Traceback" not in err + out
