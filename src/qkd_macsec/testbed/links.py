"""What a testbed link joins: each end's host, platform and interface, and the platform pair
(``junos-iosxr``) the demo table and the chaos report group links by."""

from __future__ import annotations

from dataclasses import dataclass

from qkd_macsec.inventory import Inventory
from qkd_macsec.inventory.model import Link

__all__ = ["PAIR_SEPARATOR", "LinkEnd", "link_ends", "platform_pair"]

PAIR_SEPARATOR = "-"  # "junos-iosxr"


@dataclass(frozen=True)
class LinkEnd:
    host: str
    platform: str
    interface: str

    def to_json(self) -> dict[str, str]:
        return {"host": self.host, "platform": self.platform, "interface": self.interface}


def link_ends(inventory: Inventory, link: Link) -> list[LinkEnd]:
    """Every (host, interface) of the link, master first, each with its host's platform."""
    return [
        LinkEnd(end.host, inventory.hosts[end.host].platform, interface)
        for end in (link.master, *link.slaves)
        for interface in end.interfaces
    ]


def platform_pair(inventory: Inventory, link: Link) -> str:
    """The link's platforms, sorted, each once (``junos-junos`` for a single-platform link)."""
    platforms = sorted({inventory.hosts[end.host].platform for end in (link.master, *link.slaves)})
    if len(platforms) == 1:
        platforms *= 2
    return PAIR_SEPARATOR.join(platforms)
