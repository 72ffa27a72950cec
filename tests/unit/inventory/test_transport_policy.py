"""``policy.transport``: the quantum-safe policy per hop kind, loaded from the inventory."""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.inventory import InventoryError, load_inventory
from qkd_macsec.posture import PqPolicy, TransportPolicy

from .conftest import WriteInventory


def test_default_is_pq_preferred_for_both_hops(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["policy"].pop("transport", None)
    inventory = load_inventory(write_inventory(doc))
    assert inventory.policy.transport == TransportPolicy(PqPolicy.PREFERRED, PqPolicy.PREFERRED)


def test_each_hop_kind_takes_its_own_policy(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["policy"]["transport"] = {"ssh": "pq-required", "tls": "any"}
    inventory = load_inventory(write_inventory(doc))
    assert inventory.policy.transport.ssh is PqPolicy.REQUIRED
    assert inventory.policy.transport.tls is PqPolicy.ANY


@pytest.mark.parametrize(
    ("transport", "where"),
    [({"ssh": "pq-maybe"}, "policy.transport.ssh"), ({"quic": "any"}, "policy.transport.quic")],
)
def test_unknown_values_and_hops_are_refused(
    write_inventory: WriteInventory, doc: dict[str, Any], transport: dict[str, str], where: str
) -> None:
    doc["policy"]["transport"] = transport
    with pytest.raises(InventoryError, match=where):
        load_inventory(write_inventory(doc))
