"""Names are checked by the platform of the host they reach: an interface by its end's platform
(inherited through groups), a link-level name by every end's platform; the port defaults to the
platform's. FakeOS (tests/support/fake_platform) is the second platform."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.inventory import InventoryError, load_inventory
from support import fake_platform

WriteInventory = Callable[[dict[str, Any] | str], Path]


@pytest.fixture(autouse=True)
def fakeos() -> Iterator[None]:
    with fake_platform.registered():
        yield


def mixed(doc: dict[str, Any]) -> dict[str, Any]:
    """mx304-12 becomes a FakeOS box (by its group), on port1 in the first link only."""
    doc["groups"]["edge"]["platform"] = fake_platform.NAME  # mx304-11 lists mx304 first
    doc["groups"]["mx304"]["platform"] = "junos"
    doc["hosts"]["mx304-12"].pop("port")
    doc["links"] = doc["links"][:1]
    doc["links"][0]["slaves"] = [{"host": "mx304-12", "interface": "port1"}]
    return doc


def problems(write_inventory: WriteInventory, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    return list(caught.value.problems)


def test_a_mixed_link_loads_with_each_end_on_its_own_platform(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    inventory = load_inventory(write_inventory(mixed(doc)))
    assert inventory.host("mx304-11").platform == "junos"
    assert inventory.host("mx304-12").platform == fake_platform.NAME
    assert inventory.host("mx304-12").port == 9830  # the group's; without it FakeOS' 2222
    assert inventory.links[0].ckn_prefix == "abcd1234abcd5678abcd1234abcd5678"


def test_the_platform_default_port_applies(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["groups"]["edge"].pop("port")
    doc["defaults"].pop("port")
    inventory = load_inventory(write_inventory(doc))
    assert inventory.host("mx304-12").port == 2222
    assert inventory.host("mx304-11").port == 8830


def test_an_interface_is_checked_by_its_own_end_platform(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["master"]["interface"] = "port2"  # FakeOS spelling on the Junos end
    doc["links"][0]["slaves"][0]["interface"] = "et-0/0/9"  # Junos spelling on the FakeOS end
    found = problems(write_inventory, doc)
    assert any(
        p.startswith("links[0].master.interface:") and "not a valid Junos interface" in p
        for p in found
    ), found
    assert any(
        p.startswith("links[0].slaves[0].interface:") and "not a valid FakeOS interface" in p
        for p in found
    ), found


def test_a_link_name_must_suit_every_end_platform(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["connectivity_association"] = "CA.core"  # Junos takes '.', FakeOS does not
    doc["links"][0]["mka"]["key_server_priority"] = 16
    found = problems(write_inventory, doc)
    assert found == [
        "links[0].connectivity_association: 'CA.core' is not a valid FakeOS CA name "
        "(on host mx304-12, platform fakeos)"
    ]


def test_the_same_document_all_junos_accepts_that_name(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["links"][0]["connectivity_association"] = "CA.core"
    assert load_inventory(write_inventory(doc)).links[0].connectivity_association == "CA.core"
