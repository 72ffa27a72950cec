"""A Junos ↔ IOS XR link in the inventory: each end's names by its own platform, link-level
names by both, and what IOS XR cannot do refused with the reason before any device is touched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.inventory import InventoryError, load_inventory

WriteInventory = Callable[[dict[str, Any] | str], Path]


def mixed(doc: dict[str, Any]) -> dict[str, Any]:
    """mx304-12 becomes an IOS XR router (by its group) on HundredGigE0/0/0/1, first link only."""
    doc["groups"]["edge"]["platform"] = "iosxr"
    doc["groups"]["mx304"]["platform"] = "junos"
    doc["links"] = doc["links"][:1]
    doc["links"][0]["slaves"] = [{"host": "mx304-12", "interface": "HundredGigE0/0/0/1"}]
    doc["links"][0].get("mka", {}).pop("exclude_protocols", None)  # IOS XR has none
    return doc


def problems(write_inventory: WriteInventory, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    return list(caught.value.problems)


def test_a_junos_to_iosxr_link_loads(write_inventory: WriteInventory, doc: dict[str, Any]) -> None:
    inventory = load_inventory(write_inventory(mixed(doc)))
    assert inventory.host("mx304-12").platform == "iosxr"
    assert inventory.host("mx304-11").platform == "junos"


def test_a_junos_interface_name_on_the_iosxr_end_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["slaves"][0]["interface"] = "et-0/0/9"
    found = problems(write_inventory, doc)
    assert any(
        p.startswith("links[0].slaves[0].interface:") and "IOS XR interface" in p for p in found
    ), found


def test_a_ca_name_too_long_for_an_iosxr_policy_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["connectivity_association"] = "CA_seventeen_chr"  # 16: fits
    load_inventory(write_inventory(doc))
    doc["links"][0]["connectivity_association"] = "CA_seventeen_char"  # 17
    found = problems(write_inventory, doc)
    assert found == [
        "links[0].connectivity_association: 'CA_seventeen_char' is not a valid IOS XR "
        "macsec-policy name (1..16 of A-Z a-z 0-9 _ . -) (on host mx304-12, platform iosxr)"
    ], found


def test_an_exclude_protocol_is_refused_on_a_link_with_an_iosxr_end(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0].setdefault("mka", {})["exclude_protocols"] = ["lldp"]
    found = problems(write_inventory, doc)
    assert found == [
        "links[0].mka.exclude_protocols[0]: IOS XR cannot exclude 'lldp' from MACsec "
        "(not supported) (on host mx304-12, platform iosxr)"
    ], found
