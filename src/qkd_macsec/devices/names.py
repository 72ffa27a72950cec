"""Vendor-neutral name rules: host names and addresses, and the error every name rule raises.

A host name, an IP address and a KME's host are the same on every platform (DNS and IP say what
they are), so the inventory checks them here before it knows a host's platform. Everything a
platform writes into its own configuration (interfaces, CA and key-chain names...) is checked by
that platform's rules (:class:`qkd_macsec.devices.platform.NameRules`).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "ConfigRenderError",
    "require_str",
    "shown",
    "validate_host",
    "validate_hostname",
    "validate_ip_address",
]

_SHOWN = 40  # how much of a bad value an error message repeats
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


class ConfigRenderError(ValueError):
    """A name or value cannot be written safely into device configuration."""


def shown(value: object) -> str:
    """A bad value for an error message: repr'd (so newlines/quotes are visible) and cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigRenderError(f"{what} must be a string, not {type(value).__name__}")
    return value


def validate_hostname(name: str) -> str:
    """A DNS host name (RFC 1123 labels; '_' tolerated as device names use it), lower-cased."""
    name = require_str(name, "host name")
    labels = name.split(".")
    if (
        not name
        or len(name) > 253
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or (labels[-1].isascii() and labels[-1].isdigit())
    ):
        raise ConfigRenderError(f"{shown(name)} is not a valid host name")
    return name.lower()


def validate_ip_address(text: str) -> str:
    """An IPv4 or IPv6 address, returned in canonical form (no zone ids, no prefix length)."""
    text = require_str(text, "IP address")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ConfigRenderError(f"{shown(text)} is not a valid IP address") from None
    if "%" in text:
        raise ConfigRenderError(f"{shown(text)}: scoped IPv6 addresses are not supported")
    return str(address)


def validate_host(text: str) -> str:
    """An IP address or a host name (what a KME or device address may be)."""
    text = require_str(text, "host")
    try:
        return validate_ip_address(text)
    except ConfigRenderError:
        pass
    try:
        return validate_hostname(text)
    except ConfigRenderError:
        raise ConfigRenderError(f"{shown(text)} is not a valid host name or IP address") from None
