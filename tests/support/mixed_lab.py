"""A Junos ↔ IOS XR link on a testbed: the seed lab cut to its point-to-point link with
mx304-12 an IOS XR router, served by the IOS XR simulator beside the Junos testbed on one MKA
fabric (the inventory rewritten to point the IOS XR host at it, its host key in known_hosts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qkd_macsec.inventory import Inventory, load_inventory
from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.iosxr.server import IosxrLabThread
from qkd_macsec.testbed.builder import Testbed

LINK = "p2p-11-12"
JUNOS = "mx304-11"
XR = "mx304-12"
XR_PORT = "HundredGigE0/0/0/1"
MIXED_INVENTORY = "inventory.mixed.yaml"


def mixed_link(document: dict[str, Any], mode: str) -> dict[str, Any]:
    """The seed lab cut to its point-to-point link, with mx304-12 an IOS XR router."""
    document["links"] = [link for link in document["links"] if link["name"] == LINK]
    document["hosts"] = {n: h for n, h in document["hosts"].items() if n.startswith("mx304")}
    document["hosts"][XR]["platform"] = "iosxr"
    document["links"][0]["slaves"] = [{"host": XR, "interface": XR_PORT}]
    if mode == "pre-shared-key":
        document["links"][0]["mode"] = mode
        document["links"][0].pop("key_chain")
    return document


def mixed_inventory_path(testbed: Testbed, xr: IosxrLabThread) -> Path:
    """Write the testbed's inventory with the IOS XR host on the IOS XR simulator (and its host
    key in known_hosts next to the Junos routers'); returns the file's path."""
    doc = yaml.safe_load(testbed.inventory_path.read_text())
    doc["hosts"][XR]["port"] = xr.port(XR)
    junos_known = Path(doc["defaults"]["known_hosts"]).read_text()
    known = testbed.directory / "known_hosts.mixed"
    xr.write_known_hosts(known, junos_known)
    doc["defaults"]["known_hosts"] = str(known)
    path = testbed.directory / MIXED_INVENTORY
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())
    return path


def pointed_at(testbed: Testbed, xr: IosxrLabThread) -> Inventory:
    """The mixed inventory (see :func:`mixed_inventory_path`), loaded."""
    return load_inventory(mixed_inventory_path(testbed, xr))
