"""The chaos lab as an inventory document: routers on a ring with chords, plus group CAs.

Pure (no I/O): :func:`qkd_macsec.testbed.start_testbed` fills in ports, URLs and certificates.
Routers ``r00``, ``r01``, … attach to KMEs round-robin, so point-to-point links cross KME pairs
(QKD link pools) as well as share one KME (its local pool); every ``group_size`` routers starting
at a few offsets form a group CA whose master holds one interface per slave.

``iosxr_routers`` of the routers outside every group (the last ones) are Cisco IOS XR
(``platform: iosxr``, ``HundredGigE0/0/0/N`` interfaces): each of their ring and chord links is
a Junos ↔ IOS XR link, served by the IOS XR simulator in the same lab.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChaosLabShape:
    routers: int = 10
    chord_distances: tuple[int, ...] = (1, 2)  # 1 = the ring; each distance adds `routers` links
    groups: int = 3
    group_size: int = 3
    kmes: int = 4
    device_timeout_s: int = 6  # NETCONF RPC timeout: a hung RPC fails the session this fast
    iosxr_routers: int = 1  # routers outside every group that are IOS XR (mixed-vendor links)

    def __post_init__(self) -> None:
        if self.routers < 3:
            raise ValueError("a chaos lab needs at least 3 routers")
        if any(not 0 < d <= self.routers // 2 for d in self.chord_distances):
            raise ValueError(f"chord distances must be between 1 and {self.routers // 2}")
        if not 2 < self.group_size <= self.routers:
            raise ValueError("group_size must be between 3 and the number of routers")
        if not 1 <= self.kmes <= 26:
            raise ValueError("kmes must be between 1 and 26")
        if self.device_timeout_s < 1:
            raise ValueError("device_timeout_s must be at least 1")
        free = self.routers - len(grouped_routers(self))
        if not 0 <= self.iosxr_routers <= free:
            raise ValueError(f"iosxr_routers must be between 0 and {free} (routers in no group)")

    @property
    def link_count(self) -> int:
        return len(point_to_point_pairs(self)) + self.groups


def router_name(index: int) -> str:
    return f"r{index:02d}"


def kme_name(index: int) -> str:
    return f"KME_{chr(ord('A') + index)}"


def group_members(shape: ChaosLabShape) -> list[list[int]]:
    """Each group CA's routers, the master first."""
    stride = max(1, shape.routers // max(1, shape.groups))
    return [
        [(g * stride + k) % shape.routers for k in range(shape.group_size)]
        for g in range(shape.groups)
    ]


def grouped_routers(shape: ChaosLabShape) -> set[int]:
    return {r for members in group_members(shape) for r in members}


def iosxr_indices(shape: ChaosLabShape) -> set[int]:
    """The IOS XR routers: the last ``iosxr_routers`` routers that are in no group (IOS XR ends
    stay point-to-point)."""
    free = [r for r in range(shape.routers) if r not in grouped_routers(shape)]
    return set(free[len(free) - shape.iosxr_routers :]) if shape.iosxr_routers else set()


def platform_of(shape: ChaosLabShape, router: int) -> str:
    return "iosxr" if router in iosxr_indices(shape) else "junos"


def point_to_point_pairs(shape: ChaosLabShape) -> list[tuple[int, int]]:
    """Each unordered pair once: distance 1 (the ring) first, then the chords."""
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int]] = []
    for distance in shape.chord_distances:
        for i in range(shape.routers):
            a, b = i, (i + distance) % shape.routers
            pair = (min(a, b), max(a, b))
            if pair not in seen:
                seen.add(pair)
                out.append(pair)
    return out


def chaos_lab_document(shape: ChaosLabShape | None = None) -> dict[str, Any]:
    """The inventory document of the chaos lab (placeholders where the testbed fills in)."""
    shape = shape or ChaosLabShape()
    used: dict[int, int] = defaultdict(int)

    def interface(router: int) -> str:
        used[router] += 1
        if platform_of(shape, router) == "iosxr":
            return f"HundredGigE0/0/0/{used[router] - 1}"
        return f"et-0/0/{used[router] - 1}"

    links: list[dict[str, Any]] = []
    for a, b in point_to_point_pairs(shape):
        name = f"p2p-{a:02d}-{b:02d}"
        links.append(
            _link(
                name,
                {"host": router_name(a), "interface": interface(a)},
                [{"host": router_name(b), "interface": interface(b)}],
            )
        )
    for g, members in enumerate(group_members(shape)):
        master, slaves = members[0], members[1:]
        links.append(
            _link(
                f"grp-{g}",
                {"host": router_name(master), "interfaces": [interface(master) for _ in slaves]},
                [{"host": router_name(s), "interface": interface(s)} for s in slaves],
            )
        )
    hosts = {
        router_name(i): {
            "host": "127.0.0.1",
            "kme": kme_name(i % shape.kmes),
            "tls": {"cert": "placeholder.pem", "key": "placeholder.key"},
            **({"platform": "iosxr"} if platform_of(shape, i) == "iosxr" else {}),
        }
        for i in range(shape.routers)
    }
    return {
        "version": 1,
        "defaults": {
            "port": 830,
            "user": "netconf",
            "password": {"env": "QKD_ROUTER_PASSWORD"},
            "known_hosts": "known_hosts",  # SSH host keys are always verified
            "platform": "junos",
            "timeout": shape.device_timeout_s,
        },
        "hosts": hosts,
        "kmes": {
            kme_name(k): {"url": "https://127.0.0.1:8443", "ca": "placeholder-ca.pem"}
            for k in range(shape.kmes)
        },
        "links": links,
        "policy": {
            "rotation_interval": "1h",
            "activation_delay": "auto",
            "min_activation_delay": "2s",
            "clock_tolerance": "3s",  # Junos reports its time in whole seconds
            "dec_keys_wait": "4s",
            "keep_previous": 1,
        },
    }


def _link(name: str, master: dict[str, Any], slaves: list[dict[str, Any]]) -> dict[str, Any]:
    tag = name.replace("-", "_")
    return {
        "name": name,
        "master": master,
        "slaves": slaves,
        "connectivity_association": f"CA_{tag}",
        "key_chain": f"KC_{tag}",
        "cipher_suite": "gcm-aes-xpn-256",
    }
