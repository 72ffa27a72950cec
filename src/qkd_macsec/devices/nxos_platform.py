"""Cisco NX-OS as a :class:`~qkd_macsec.devices.platform.Platform`: its names, slots, port,
rendering, parsers and driver (NX-API over HTTPS with httpx, imported only when an NX-OS
device is used).

Imports only the pure NX-OS modules, so the inventory validates NX-OS names without loading
the HTTP client. Registered by import path in :mod:`qkd_macsec.devices.platform`.
"""

from __future__ import annotations

from qkd_macsec.devices import nxos_names as names
from qkd_macsec.devices.base import ChangeSet
from qkd_macsec.devices.limits import PlatformLimits
from qkd_macsec.devices.nxos_parse import parse_key_chain, parse_mka_sessions
from qkd_macsec.devices.nxos_render import render
from qkd_macsec.devices.platform import NameRules, Platform

__all__ = ["NXOS"]


def _render(changes: ChangeSet, masked: bool) -> str:
    return render(changes, masked)


NXOS = Platform(
    name="nxos",
    driver="qkd_macsec.devices.nxos:NxosDriver",
    names=NameRules(
        interface=names.interface,
        interface_identity=names.interface_identity,
        connectivity_association=names.policy,
        key_chain=names.key_chain,
        protocol=names.protocol,
        ckn_prefix=names.ckn_prefix,
        key_server_priority=names.key_server_priority,
        transmit_interval_ms=names.transmit_interval_ms,
    ),
    slots=names.SLOTS,
    default_port=names.DEFAULT_PORT,
    render=_render,
    parse_key_chain=parse_key_chain,
    parse_mka_sessions=parse_mka_sessions,
    limits=PlatformLimits(
        max_ckn_hex=names.CKN_MAX_HEX,
        ckn_upper_case=True,
        exclude_protocols=False,
        transmit_interval_ms=(2000, 2000),
    ),
    title="NX-OS",
    management="https",
    preflight_not_checked=(
        (
            "interface",
            "the driver reads the configured interfaces only (show running-config), not their "
            "operational state, so an unconfigured port cannot be told from a missing one",
        ),
    ),
)
