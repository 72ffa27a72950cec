"""Junos as a :class:`~qkd_macsec.devices.platform.Platform`: its names, slots, port, rendering,
parsers, binding extras and driver (PyEZ, imported only when a Junos device is used).

This module imports only pure Junos modules, so the inventory can validate Junos names without
loading PyEZ. It is registered by import path in :mod:`qkd_macsec.devices.platform`.
"""

from __future__ import annotations

from lxml import etree

from qkd_macsec.devices import junos_names
from qkd_macsec.devices.base import ChainEntryState, MkaSessionState
from qkd_macsec.devices.junos_options import DEFAULT_PORT, JunosOptions, parse_target_options
from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    parse_key_chain,
    parse_key_chain_set,
    parse_mka_sessions,
    parse_mka_sessions_text,
)
from qkd_macsec.devices.junos_render import render
from qkd_macsec.devices.limits import PlatformLimits
from qkd_macsec.devices.platform import EndSettings, NameRules, Platform

__all__ = ["JUNOS", "parse_key_chain_reply", "parse_mka_reply"]

_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _is_xml(text: str) -> bool:
    return text.lstrip().startswith("<")


def _xml(text: str) -> etree._Element:
    try:
        return etree.fromstring(text.encode(), _XML)
    except etree.XMLSyntaxError as exc:
        raise MalformedReplyError(f"reply is not well-formed XML ({exc.msg})") from None


def parse_key_chain_reply(text: str, chain: str) -> list[ChainEntryState]:
    """A key chain as ``get-configuration`` XML or ``display set`` text."""
    if _is_xml(text):
        return parse_key_chain(_xml(text), chain)
    return parse_key_chain_set(text, chain)


def parse_mka_reply(text: str) -> list[MkaSessionState]:
    """MKA sessions as ``get-mka-session-information`` XML or ``show … sessions`` text."""
    if _is_xml(text):
        return parse_mka_sessions(_xml(text))
    return parse_mka_sessions_text(text)


def _binding_options(settings: EndSettings) -> JunosOptions:
    """The seed's extras: ``apply-macro qkd`` with the KME settings, static host mappings."""
    return JunosOptions(macros=settings.parameters, host_mappings=settings.name_addresses)


JUNOS = Platform(
    name="junos",
    driver="qkd_macsec.devices.junos:JunosDriver",
    names=NameRules(
        interface=junos_names.validate_interface_name,
        interface_identity=junos_names.interface_identity,
        connectivity_association=junos_names.validate_ca_name,
        key_chain=junos_names.validate_key_chain_name,
        protocol=junos_names.validate_protocol,
        ckn_prefix=junos_names.validate_ckn_prefix,
        key_server_priority=junos_names.validate_key_server_priority,
        transmit_interval_ms=junos_names.validate_transmit_interval_ms,
    ),
    slots=junos_names.MAX_SLOT + 1,
    default_port=DEFAULT_PORT,
    render=render,
    parse_key_chain=parse_key_chain_reply,
    parse_mka_sessions=parse_mka_reply,
    binding_options=_binding_options,
    limits=PlatformLimits(max_ckn_hex=junos_names.CKN_MAX_HEX, transmit_interval_ms=(2000, 6000)),
    title="Junos",
    target_options=parse_target_options,
    async_driver="qkd_macsec.devices.junos_async:AsyncJunosDriver",
)
