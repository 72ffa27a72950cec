"""Benchmark labs as inventory documents: D routers, L links, as a ring, a mesh or group CAs.

Pure functions (no I/O): the documents are what an operator would write, fed to
:func:`qkd_macsec.testbed.start_testbed`, which fills in ports, URLs and certificates.

* ``ring``  — router i to router i+1 (L = D).
* ``mesh``  — the ring plus chords i to i+2, i+3, ... until L links (L <= D * (D - 1) / 2).
* ``group`` — the mesh, with every ``group_every``-th link replaced by a group CA: one master and
  ``group_size - 1`` slaves sharing one key (one enc_keys naming every slave SAE).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Shape = Literal["ring", "mesh", "group"]
SHAPES: tuple[Shape, ...] = ("ring", "mesh", "group")


@dataclass(frozen=True)
class LabShape:
    routers: int
    links: int
    shape: Shape = "mesh"
    kmes: int = 4
    group_size: int = 3
    group_every: int = 10

    def __post_init__(self) -> None:
        if self.routers < 2:
            raise ValueError("a lab needs at least 2 routers")
        if self.shape == "ring" and self.links != self.routers:
            raise ValueError(f"a ring of {self.routers} routers has {self.routers} links")
        if self.links < 1 or self.links > self.routers * (self.routers - 1) // 2:
            raise ValueError(f"{self.links} links do not fit between {self.routers} routers")
        if self.kmes < 1:
            raise ValueError("a lab needs at least one KME")
        if self.shape == "group" and not 2 < self.group_size <= self.routers:
            raise ValueError("group_size must be between 3 and the number of routers")

    @property
    def label(self) -> str:
        return f"{self.shape} {self.routers}r/{self.links}l"


def router_name(index: int) -> str:
    return f"r{index:04d}"


def kme_name(index: int) -> str:
    return f"KME_{index:02d}"


def _pairs(routers: int) -> Iterator[tuple[int, int]]:
    """Ring first (distance 1), then chords of growing distance; each unordered pair once."""
    seen: set[tuple[int, int]] = set()
    for distance in range(1, routers):
        for i in range(routers):
            a, b = i, (i + distance) % routers
            pair = (min(a, b), max(a, b))
            if pair not in seen:
                seen.add(pair)
                yield a, b


def lab_document(shape: LabShape) -> dict[str, Any]:
    """The inventory document for ``shape`` (placeholders where the testbed fills in)."""
    counters: dict[int, int] = defaultdict(int)

    def interface(router: int) -> str:
        counters[router] += 1
        return f"et-0/0/{counters[router] - 1}"

    pairs = _pairs(shape.routers)
    links: list[dict[str, Any]] = []
    for index in range(shape.links):
        a, b = next(pairs)
        name = f"l{index:05d}"
        is_group = shape.shape == "group" and index % shape.group_every == 0
        if is_group:
            members = [(a + k) % shape.routers for k in range(shape.group_size)]
            master, slaves = members[0], members[1:]
            master_end = {
                "host": router_name(master),
                "interfaces": [interface(master) for _ in slaves],
            }
            slave_ends = [{"host": router_name(s), "interface": interface(s)} for s in slaves]
        else:
            master_end = {"host": router_name(a), "interface": interface(a)}
            slave_ends = [{"host": router_name(b), "interface": interface(b)}]
        links.append(
            {
                "name": name,
                "master": master_end,
                "slaves": slave_ends,
                "connectivity_association": f"CA_{name}",
                "key_chain": f"KC_{name}",
                "cipher_suite": "gcm-aes-xpn-256",
            }
        )
    hosts = {
        router_name(i): {
            "host": "127.0.0.1",
            "kme": kme_name(i % shape.kmes),
            "tls": {"cert": "placeholder.pem", "key": "placeholder.key"},
        }
        for i in range(shape.routers)
    }
    return {
        "version": 1,
        "defaults": {
            "port": 830,
            "user": "netconf",
            "password": {"env": "QKD_ROUTER_PASSWORD"},
            "platform": "junos",
            "timeout": 60,
        },
        "hosts": hosts,
        "kmes": {
            kme_name(k): {"url": "https://127.0.0.1:8443", "ca": "placeholder-ca.pem"}
            for k in range(min(shape.kmes, shape.routers))  # only KMEs some router uses
        },
        "links": links,
        "policy": {"rotation_interval": "1h", "activation_delay": "auto"},
    }


def interfaces_per_router(document: dict[str, Any]) -> dict[str, int]:
    """How many interfaces each router uses (a sanity figure for the report)."""
    counts: dict[str, int] = defaultdict(int)
    for link in document["links"]:
        for end in [link["master"], *link["slaves"]]:
            counts[end["host"]] += len(end.get("interfaces", [end.get("interface")]))
    return dict(counts)
