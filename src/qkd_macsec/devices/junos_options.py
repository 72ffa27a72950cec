"""Junos extras the vendor-neutral types carry opaquely (``options``), read only by Junos code.

:class:`JunosOptions` rides on a :class:`~qkd_macsec.devices.base.MacsecBinding`: the seed's
``apply-macro qkd`` parameters on the interface and its ``system static-host-mapping`` lines.
:class:`JunosTargetOptions` rides on a :class:`~qkd_macsec.devices.base.DeviceTarget`: PyEZ
session settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PORT",
    "JunosOptions",
    "JunosTargetOptions",
    "junos_options",
    "parse_target_options",
]

DEFAULT_PORT = 830  # NETCONF over SSH (RFC 6242)


@dataclass(frozen=True)
class JunosOptions:
    """``macros``: ``apply-macro qkd NAME VALUE`` on the interface; ``host_mappings``:
    ``system static-host-mapping NAME inet|inet6 ADDRESS``."""

    macros: tuple[tuple[str, str], ...] = ()
    host_mappings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class JunosTargetOptions:
    """``gather_facts``: let PyEZ read its facts on open (slower; the tool never needs them)."""

    gather_facts: bool = False


def parse_target_options(block: Mapping[str, object]) -> JunosTargetOptions:
    """The inventory's ``options: {junos: {...}}`` block: ``gather_facts`` (true/false)."""
    unknown = sorted(set(block) - {"gather_facts"})
    if unknown:
        raise ValueError(f"unknown Junos option {unknown[0]!r} (known: gather_facts)")
    gather = block.get("gather_facts", False)
    if not isinstance(gather, bool):
        raise ValueError("gather_facts must be true or false")
    return JunosTargetOptions(gather_facts=gather)


def junos_options(options: object | None) -> JunosOptions:
    """A binding's Junos extras; none (or another platform's) means no extras."""
    return options if isinstance(options, JunosOptions) else JunosOptions()
