"""The seam holds: the engine and the inventory import no vendor module (they ask the platform
registry), and the registry is the one list of platforms the inventory and drivers share."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qkd_macsec
from qkd_macsec.devices.platform import DRIVERS, get_platform, platform_names

PACKAGE = Path(qkd_macsec.__file__).parent
VENDOR_NEUTRAL = ("engine", "inventory")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("package", VENDOR_NEUTRAL)
def test_vendor_neutral_packages_import_no_junos_module(package: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for name in _imports(path)
        if "junos" in name.lower() or name.startswith("jnpr")
    }
    assert offenders == set()


def test_the_driver_registry_and_the_platform_registry_are_one_list() -> None:
    assert set(DRIVERS.platforms()) >= set(platform_names())
    for name in platform_names():
        assert DRIVERS.get(name) is get_platform(name).driver_factory()


def test_the_inventory_refuses_a_platform_the_registry_lacks() -> None:
    from qkd_macsec.inventory.schema import ConnectionSpec

    with pytest.raises(ValueError, match="not a supported platform"):
        ConnectionSpec(platform="eos")
    assert ConnectionSpec(platform="junos").platform == "junos"
