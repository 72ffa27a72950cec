"""Build and start a testbed from an inventory document (see the package docstring).

Each host is simulated by its inventory platform's simulator (``platform:`` of the host, its
groups or the defaults), all in one lab on one MKA fabric: a link may join a Junos and an IOS XR
router. Interface names in the document must then follow each end's platform rules (e.g.
``HundredGigE0/0/0/1`` on IOS XR). A host whose platform has no lab simulator
(:func:`~qkd_macsec.sim.lab_servers.lab_platforms`) is not served: it is an external device of
the lab's fabric, which the test's own simulator joins (as the FakeOS tests do).
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qkd_macsec.inventory import Inventory, load_inventory
from qkd_macsec.inventory.schema import _raw_host_platforms
from qkd_macsec.kme.example import write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.server import RunningNetwork, run_network_in_thread
from qkd_macsec.obs.logging import SECRETS
from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread
from qkd_macsec.sim.lab_servers import LabServer, lab_platforms

PASSWORD_ENV = "QKD_ROUTER_PASSWORD"  # noqa: S105 - the variable name, not a password
Wire = tuple[tuple[str, str], tuple[str, str]]
#: What the inventory host of a platform needs from the running lab besides host and port
#: (SSH platforms: nothing, the lab's known_hosts is the inventory's). An HTTPS platform adds
#: e.g. the lab CA its certificate is checked against: ``filler(host_spec, lab, name)``.
HostFiller = Callable[[dict[str, Any], LabThread, str], None]


def _https_ca(host: dict[str, Any], lab: LabThread, name: str) -> None:
    """An HTTPS-managed host verifies its device against the lab's CA."""
    host["tls_ca"] = str(lab.ca_path)


HOST_FILLERS: dict[str, HostFiller] = {"nxos": _https_ca}


@dataclass(frozen=True)
class TestbedOptions:
    __test__ = False  # not a pytest test class
    commit_latency_s: float = 0.0
    clock_offsets: Mapping[str, float] = field(default_factory=dict)
    time_zones: Mapping[str, str] = field(default_factory=dict)  # router -> system time-zone
    preceding_hold_s: float = 30.0
    kme_link: Mapping[str, Any] = field(default_factory=dict)  # QKD link settings (rate, ...)
    kme_options: Mapping[str, Any] = field(default_factory=dict)  # per-KME settings (faults, ...)
    policy: Mapping[str, Any] = field(default_factory=dict)  # overrides of the inventory policy
    device_config: Mapping[str, str] = field(default_factory=dict)  # router -> initial set lines
    device_faults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # sim.lab faults
    #: router -> other sim.lab device fields (e.g. ``{"pq_kex": False}``: classical SSH only)
    device_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Testbed:
    __test__ = False  # not a pytest test class
    directory: Path
    inventory_path: Path
    inventory: Inventory
    kmes: RunningNetwork
    lab: LabThread
    wires: dict[str, list[str]]  # inventory link -> fabric link names (one per physical wire)

    def outage_seconds(self, link: str) -> float:
        return sum(self.lab.fabric.outage_seconds(wire) for wire in self.wires[link])

    def platform(self, host: str) -> str:
        return self.inventory.hosts[host].platform

    def server(self, host: str) -> LabServer:
        """The simulated device of ``host``, whatever its platform."""
        return self.lab.server(host)

    def commits(self, host: str, since: float = 0.0) -> int:
        """Commits the simulator recorded on ``host`` at or after ``since`` (epoch seconds)."""
        return sum(1 for at in self.lab.server(host).commit_times() if at >= since)

    def live_ckns(self, link: str) -> list[str | None]:
        """The CKN each wire of the link is live on right now (None where it is down)."""
        fabric = self.lab.fabric
        return [fabric.link_ckn(w) if fabric.link_live(w) else None for w in self.wires[link]]


def wiring(document: Mapping[str, Any]) -> dict[str, list[Wire]]:
    """Physical wires for each link: master interfaces to each slave's first interface, in order;
    a slave's further interfaces continue the chain to later slaves (the seed's group CA)."""
    out: dict[str, list[Wire]] = {}
    for link in document.get("links", []):

        def ifaces(end: Mapping[str, Any]) -> list[str]:
            if "interfaces" in end:
                return list(end["interfaces"])
            return [end["interface"]]

        master = link["master"]
        free = [(master["host"], i) for i in ifaces(master)]
        wires: list[Wire] = []
        for slave in link["slaves"]:
            names = ifaces(slave)
            if not free:
                raise ValueError(f"link {link['name']}: not enough interfaces to wire every slave")
            wires.append((free.pop(0), (slave["host"], names[0])))
            free.extend((slave["host"], i) for i in names[1:])
        out[link["name"]] = wires
    return out


@contextlib.contextmanager
def start_testbed(
    document: Mapping[str, Any], directory: Path, options: TestbedOptions | None = None
) -> Iterator[Testbed]:
    """Start KMEs and simulated routers for ``document`` under ``directory``; stop them on exit."""
    options = options or TestbedOptions()
    directory.mkdir(parents=True, exist_ok=True)
    doc = copy.deepcopy(dict(document))
    hosts: dict[str, dict[str, Any]] = doc["hosts"]
    if PASSWORD_ENV not in os.environ:
        os.environ[PASSWORD_ENV] = secrets.token_urlsafe(18)
    SECRETS.add(os.environ[PASSWORD_ENV])
    saes = {hosts[name].get("sae_id", name): spec["kme"] for name, spec in hosts.items()}
    example = write_example_network(
        directory,
        saes=saes,
        link=dict(options.kme_link),
        kme_options=dict(options.kme_options),
    )
    wires = wiring(doc)
    platforms = _raw_host_platforms(doc)  # host -> groups -> defaults, as the inventory reads
    simulated = set(lab_platforms())
    served = [name for name in hosts if platforms[name] in simulated]
    lab_doc = {
        "preceding_hold_s": options.preceding_hold_s,
        "devices": [
            {
                "name": name,
                "platform": platforms[name],
                "user": doc.get("defaults", {}).get("user", "netconf"),
                "password_env": PASSWORD_ENV,
                "commit_latency_s": options.commit_latency_s,
                "clock_offset_s": options.clock_offsets.get(name, 0.0),
                "config": options.device_config.get(name, ""),
                "faults": dict(options.device_faults.get(name, {})),
                "time_zone": options.time_zones.get(name),
                **options.device_options.get(name, {}),
            }
            for name in served
        ],
        "external_devices": [name for name in hosts if name not in served],
        "links": [
            {"a": f"{a[0]}:{a[1]}", "b": f"{b[0]}:{b[1]}", "name": f"{link}#{i}"}
            for link, link_wires in wires.items()
            for i, (a, b) in enumerate(link_wires)
        ],
    }
    lab = Lab.from_dict(lab_doc, state_dir=directory / "sim")
    with (
        run_network_in_thread(KmeNetwork.from_file(example.network_file)) as kmes,
        run_lab_in_thread(lab) as running_lab,
    ):
        for name, spec in hosts.items():
            spec["host"] = "127.0.0.1"
            if name in served:  # else a platform with no lab simulator: the test brings its own
                spec["port"] = running_lab.port(name)
                filler = HOST_FILLERS.get(platforms[name])
                if filler is not None:
                    filler(spec, running_lab, name)
            spec.setdefault("tls", {})
            sae = spec.get("sae_id", name)
            spec["tls"] = {
                "cert": str(example.saes[sae].cert),
                "key": str(example.saes[sae].key),
            }
        for name, spec in doc["kmes"].items():
            spec["url"] = kmes.url(name)
            spec["ca"] = str(example.ca_cert)
        doc.setdefault("defaults", {})["known_hosts"] = str(running_lab.known_hosts_path)
        doc.setdefault("policy", {}).update(options.policy)
        doc["policy"].setdefault("journal", str(directory / "state" / "journal.sqlite"))
        inventory_path = directory / "inventory.yaml"
        write_private(inventory_path, yaml.safe_dump(doc, sort_keys=False).encode())
        inventory = load_inventory(inventory_path)
        yield Testbed(
            directory=directory,
            inventory_path=inventory_path,
            inventory=inventory,
            kmes=kmes,
            lab=running_lab,
            wires={link: [f"{link}#{i}" for i in range(len(w))] for link, w in wires.items()},
        )


def bundled_example(name: str = "seed-lab") -> dict[str, Any]:
    """A bundled example inventory document (``src/qkd_macsec/data/examples/NAME``)."""
    path = Path(__file__).resolve().parent.parent / "data" / "examples" / name / "inventory.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


__all__: Sequence[str] = [
    "HOST_FILLERS",
    "Testbed",
    "TestbedOptions",
    "bundled_example",
    "start_testbed",
    "wiring",
]
