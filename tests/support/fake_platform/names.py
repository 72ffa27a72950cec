"""FakeOS name rules: deliberately unlike Junos (``portN`` interfaces, 16 key slots numbered
from 1 on the device), so a Junos assumption left in the engine or inventory shows up."""

from __future__ import annotations

import re

from qkd_macsec.devices.names import ConfigRenderError, require_str, shown

SLOTS = 16  # key-chain slots 0..15, written as keys 1..16
_INTERFACE = re.compile(r"port([1-9][0-9]{0,2})")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,23}")
_PROTOCOL = re.compile(r"[a-z]{2,16}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


def interface(name: str) -> str:
    if not _INTERFACE.fullmatch(require_str(name, "interface name")):
        raise ConfigRenderError(f"{shown(name)} is not a valid FakeOS interface name")
    return name


def identity(name: str) -> str:
    return name


def identifier(name: str, what: str = "name") -> str:
    if not _IDENTIFIER.fullmatch(require_str(name, what)):
        raise ConfigRenderError(f"{shown(name)} is not a valid FakeOS {what}")
    return name


def ca(name: str) -> str:
    return identifier(name, "CA name")


def key_chain(name: str) -> str:
    return identifier(name, "key-chain name")


def protocol(name: str) -> str:
    if not _PROTOCOL.fullmatch(require_str(name, "protocol")):
        raise ConfigRenderError(f"{shown(name)} is not a valid FakeOS protocol")
    return name


def hex_word(value: str, what: str, max_digits: int) -> str:
    text = require_str(value, what)
    if not _HEX.fullmatch(text) or len(text) > max_digits:
        raise ConfigRenderError(f"{what} must be pairs of hex digits, at most {max_digits}")
    return text.lower()


def ckn_prefix(prefix: str) -> str:
    return hex_word(prefix, "CKN prefix", 32)


def ckn(value: str) -> str:
    if not value:
        raise ConfigRenderError("CKN is empty")
    return hex_word(value, "CKN", 64)


def in_range(value: int, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigRenderError(f"{what} {value!r} is outside {low}..{high}")
    return value


def key_server_priority(value: int) -> int:
    return in_range(value, "key-server priority", 0, 255)


def transmit_interval_ms(value: int) -> int:
    return in_range(value, "transmit interval (ms)", 1000, 10000)


def slot(value: int) -> int:
    return in_range(value, "key slot", 0, SLOTS - 1)
