"""``key_derivation`` (issue 14 build 4): seed by default, a policy-wide default, a per-link
override, and a warning when a hybrid link's CAK may cross a classical SSH hop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from qkd_macsec.inventory import InventoryError, load_inventory
from qkd_macsec.inventory.loader import parse_inventory
from qkd_macsec.inventory.sanity import inventory_warnings
from qkd_macsec.macsec import KeyDerivation

from .conftest import WriteInventory


def derivations(write_inventory: WriteInventory, doc: dict[str, Any]) -> dict[str, KeyDerivation]:
    return {link.name: link.key_derivation for link in load_inventory(write_inventory(doc)).links}


def test_default_is_seed(write_inventory: WriteInventory, doc: dict[str, Any]) -> None:
    assert set(derivations(write_inventory, doc).values()) == {KeyDerivation.SEED}


def test_policy_default_and_link_override(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["policy"]["key_derivation"] = "hybrid"
    doc["links"][1]["key_derivation"] = "seed"
    assert derivations(write_inventory, doc) == {
        "core-11-12": KeyDerivation.HYBRID,
        "group-a": KeyDerivation.SEED,
    }


@pytest.mark.parametrize("where", ["policy", "link"])
def test_unknown_derivation_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any], where: str
) -> None:
    target = doc["policy"] if where == "policy" else doc["links"][0]
    target["key_derivation"] = "quantum"
    with pytest.raises(InventoryError, match="key_derivation"):
        load_inventory(write_inventory(doc))


def warnings_for(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    return inventory_warnings(parse_inventory(yaml.safe_dump(doc), tmp_path / "inventory.yaml"))


def test_hybrid_without_pq_required_ssh_is_flagged(doc: dict[str, Any], tmp_path: Path) -> None:
    doc["links"][0]["key_derivation"] = "hybrid"
    flagged = [w for w in warnings_for(doc, tmp_path) if "key_derivation" in w]
    assert len(flagged) == 1
    assert flagged[0].startswith("links[0].key_derivation: hybrid on link 'core-11-12'")
    assert "pq-preferred" in flagged[0]
    doc["policy"]["transport"] = {"ssh": "pq-required"}
    assert not [w for w in warnings_for(doc, tmp_path) if "key_derivation" in w]
