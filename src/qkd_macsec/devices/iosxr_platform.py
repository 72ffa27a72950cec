"""Cisco IOS XR as a :class:`~qkd_macsec.devices.platform.Platform`: its names, slots, port,
rendering, parsers and driver (ncclient, imported only when an IOS XR device is used).

Imports only the pure IOS XR modules, so the inventory validates IOS XR names without loading
the NETCONF client. Registered by import path in :mod:`qkd_macsec.devices.platform`.

Limits (``docs/vendors-research.md`` §1.1): key IDs (the CKN) are even-length hex up to 64
digits, written upper-case [S2]; all four 802.1AE suites are ``cipher-suite`` values of the
macsec-policy [S11]; no per-protocol exclusion list and no per-policy MKA hello interval
(``iosxr_names``).
"""

from __future__ import annotations

from qkd_macsec.devices import iosxr_names as names
from qkd_macsec.devices.base import ChangeSet
from qkd_macsec.devices.iosxr_parse import parse_key_chain, parse_mka_sessions
from qkd_macsec.devices.iosxr_render import render
from qkd_macsec.devices.limits import PlatformLimits
from qkd_macsec.devices.platform import NameRules, Platform

__all__ = ["IOSXR"]


def _render(changes: ChangeSet, masked: bool) -> str:
    return render(changes, masked)


IOSXR = Platform(
    name="iosxr",
    driver="qkd_macsec.devices.iosxr:IosxrDriver",
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
    title="IOS XR",
    preflight_not_checked=(
        (
            "interface",
            "the driver reads the configured interfaces only (interface-configurations), not "
            "their operational state, so an unconfigured port cannot be told from a missing one",
        ),
    ),
)
