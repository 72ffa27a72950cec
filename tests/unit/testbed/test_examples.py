"""The demo's example labs: the multi-vendor inventory is valid for its platforms, and a platform
joins an example by an extensions/PLATFORM.yaml file only when it is usable in a lab."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from qkd_macsec.inventory import load_inventory
from qkd_macsec.testbed.examples import DEMO_LABS, EXAMPLES_DIR, compose_example, demo_example
from qkd_macsec.testbed.links import link_ends, platform_pair

EXTENSION = {
    "hosts": {"dc-41": {"host": "127.0.0.1", "platform": "dcos", "kme": "KME_C"}},
    "links": [
        {
            "name": "mx11-dc41",
            "master": {"host": "mx304-11", "interface": "et-0/0/12"},
            "slaves": [{"host": "dc-41", "interface": "Ethernet1/1"}],
        }
    ],
}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    directory = tmp_path / "multi-vendor"
    shutil.copytree(EXAMPLES_DIR / DEMO_LABS["multi-vendor"], directory)
    (directory / "extensions").mkdir(exist_ok=True)
    (directory / "extensions" / "dcos.yaml").write_text(yaml.safe_dump(EXTENSION))
    return directory


def test_an_extension_joins_only_when_its_platform_is_usable(example: Path) -> None:
    without = compose_example(example, {"junos", "iosxr"})
    assert "dc-41" not in without["hosts"]
    assert "mx11-dc41" not in [link["name"] for link in without["links"]]
    grown = compose_example(example, {"junos", "iosxr", "dcos"})
    assert grown["hosts"]["dc-41"]["platform"] == "dcos"
    assert [link["name"] for link in grown["links"]][-1] == "mx11-dc41"
    assert len(grown["links"]) == len(without["links"]) + 1


def test_an_extension_may_not_redefine_the_example(example: Path) -> None:
    clash = {"hosts": {"mx304-11": {"host": "127.0.0.1"}}}
    (example / "extensions" / "dcos.yaml").write_text(yaml.safe_dump(clash))
    with pytest.raises(ValueError, match=r"dcos\.yaml: hosts\.mx304-11 is already"):
        compose_example(example, {"dcos"})


def test_the_multi_vendor_inventory_is_valid_and_mixed(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(demo_example("multi-vendor")))
    inventory = load_inventory(path)
    platforms = {name: host.platform for name, host in inventory.hosts.items()}
    assert platforms == {
        "mx304-11": "junos",
        "mx304-12": "junos",
        "asr9k-31": "iosxr",
        "n9k-41": "nxos",  # extensions/nxos.yaml: NX-OS has a driver and a lab simulator
    }
    pairs = sorted(platform_pair(inventory, link) for link in inventory.links)
    assert pairs == ["iosxr-junos", "iosxr-junos", "junos-junos", "junos-nxos"]
    (to_xr,) = [link for link in inventory.links if link.name == "mx11-xr31"]
    assert [(e.host, e.platform, e.interface) for e in link_ends(inventory, to_xr)] == [
        ("mx304-11", "junos", "et-0/0/11"),
        ("asr9k-31", "iosxr", "HundredGigE0/0/0/1"),
    ]


def test_the_seed_demo_lab_is_unchanged() -> None:
    seed = yaml.safe_load((EXAMPLES_DIR / "seed-lab" / "inventory.yaml").read_text())
    assert demo_example("seed") == seed
