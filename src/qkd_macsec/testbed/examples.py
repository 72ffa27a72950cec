"""The bundled example labs the demo runs, and how a platform joins one by a file of its own.

An example is ``data/examples/NAME/inventory.yaml``. Its ``extensions/PLATFORM.yaml`` (hosts,
groups, kmes and links, in inventory form) is merged in when PLATFORM is usable in a lab — a
driver registered (:func:`qkd_macsec.devices.platform.platform_names`) and a simulator
(:func:`qkd_macsec.sim.lab_servers.lab_platforms`) — so the multi-vendor lab grows a data-centre
link by adding that file, with no change to the demo.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from qkd_macsec.devices.platform import platform_names
from qkd_macsec.sim.lab_servers import lab_platforms

__all__ = ["DEMO_LABS", "EXAMPLES_DIR", "compose_example", "demo_example", "usable_platforms"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "examples"
#: ``qkd-macsec demo --lab NAME`` -> the example directory it runs.
DEMO_LABS = {"seed": "seed-lab", "multi-vendor": "multi-vendor"}
_MAPPINGS = ("groups", "hosts", "kmes")


def usable_platforms() -> set[str]:
    return set(platform_names()) & set(lab_platforms())


def compose_example(directory: Path, usable: Iterable[str]) -> dict[str, Any]:
    """The example in ``directory`` with the extensions of every ``usable`` platform merged in
    (in platform name order); an extension may not redefine a host, group, KME or link."""
    document: dict[str, Any] = yaml.safe_load((directory / "inventory.yaml").read_text())
    wanted = set(usable)
    for path in sorted((directory / "extensions").glob("*.yaml")):
        if path.stem not in wanted:
            continue
        extension = yaml.safe_load(path.read_text()) or {}
        for key in _MAPPINGS:
            section = document.setdefault(key, {})
            for name, value in (extension.get(key) or {}).items():
                if name in section:
                    raise ValueError(f"{path}: {key}.{name} is already in the example")
                section[name] = value
        names = {link["name"] for link in document.get("links", [])}
        for link in extension.get("links") or []:
            if link["name"] in names:
                raise ValueError(f"{path}: link {link['name']} is already in the example")
            document.setdefault("links", []).append(link)
    return document


def demo_example(lab: str) -> dict[str, Any]:
    """The inventory document of demo lab ``lab`` (a key of :data:`DEMO_LABS`)."""
    return compose_example(EXAMPLES_DIR / DEMO_LABS[lab], usable_platforms())
