"""Per-platform option blocks: ``options: {<platform>: {...}}`` on defaults, groups or hosts,
read by the platform (unknown keys refused with the key named), inherited per platform (a
host uses the block of its own platform, first from its own settings, then its groups, then
defaults), and handed to the driver as ``DeviceTarget.options``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.devices.junos_options import JunosTargetOptions
from qkd_macsec.engine.controller import device_target
from qkd_macsec.inventory import InventoryError, load_inventory

WriteInventory = Callable[[dict[str, Any] | str], Path]


def problems(write_inventory: WriteInventory, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    return list(caught.value.problems)


def test_a_block_is_inherited_by_the_hosts_of_its_platform_only(
    write_inventory: WriteInventory, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QKD_TEST_ROUTER_PASSWORD", "pw")
    doc["defaults"]["options"] = {"junos": {"gather_facts": True}}
    doc["groups"]["edge"]["platform"] = "iosxr"
    doc["groups"]["mx304"]["platform"] = "junos"
    doc["links"] = []
    inventory = load_inventory(write_inventory(doc))
    assert inventory.host("mx304-11").options == JunosTargetOptions(gather_facts=True)
    assert inventory.host("mx304-12").platform == "iosxr"
    assert inventory.host("mx304-12").options is None  # a Junos block is not an IOS XR one
    target = device_target(inventory, "mx304-11")
    assert target.options == JunosTargetOptions(gather_facts=True)


def test_the_host_and_its_groups_win_over_defaults(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["defaults"]["options"] = {"junos": {"gather_facts": True}}
    doc["groups"]["mx304"]["options"] = {"junos": {"gather_facts": False}}
    doc["hosts"]["mx10008-23"]["options"] = {"junos": {}}
    inventory = load_inventory(write_inventory(doc))
    assert inventory.host("mx304-11").options == JunosTargetOptions(gather_facts=False)
    assert inventory.host("mx304-12").options == JunosTargetOptions(gather_facts=True)
    assert inventory.host("mx10008-23").options == JunosTargetOptions(gather_facts=False)


def test_an_unknown_option_is_refused_naming_platform_and_key(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["groups"]["edge"]["options"] = {"junos": {"gather_fact": True}}
    (found,) = problems(write_inventory, doc)
    assert found.startswith("groups.edge.options:")
    assert "junos: unknown Junos option 'gather_fact' (known: gather_facts)" in found


def test_a_block_for_a_platform_without_options_or_unknown_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["defaults"]["options"] = {"iosxr": {"x": 1}}
    (found,) = problems(write_inventory, doc)
    assert found.startswith("defaults.options:")
    assert "platform 'iosxr' takes no options" in found
    doc["defaults"]["options"] = {"vyos": {}}
    (found,) = problems(write_inventory, doc)
    assert "'vyos' is not a supported platform" in found


def test_a_wrongly_typed_option_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["defaults"]["options"] = {"junos": {"gather_facts": "yes"}}
    (found,) = problems(write_inventory, doc)
    assert "junos: gather_facts must be true or false" in found
