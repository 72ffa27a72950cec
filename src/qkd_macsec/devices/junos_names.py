"""Strict validators for every name and value that ends up in Junos configuration (no I/O).

Anything the tool writes into a ``set`` line comes from an inventory or a KME, so it is checked
here first: a name that could close a statement (``;``), open a block (``{``), start a comment
(``#``), quote (``"``), split a line (newline) or add a word (whitespace) is refused with a
:class:`ConfigRenderError` naming what is wrong. Validators return the value to use (normalised
where Junos is case-insensitive, e.g. hex), so they double as pydantic ``AfterValidator``s; the
error is a :class:`ValueError` subclass, which pydantic turns into a validation error.

Stable API (the inventory imports it): ``validate_interface_name``, ``validate_identifier``,
``validate_ca_name``, ``validate_key_chain_name``, ``validate_hostname``, ``validate_ip_address``,
``validate_host``, ``validate_macro_name``, ``validate_macro_value``, ``validate_ckn``,
``validate_ckn_prefix``, ``validate_cak_hex``, ``validate_cak_bytes``, ``validate_slot``,
``validate_protocol``, ``validate_key_server_priority``, ``validate_transmit_interval_ms``,
``validate_tolerance_s``, ``format_start_time``, ``interface_identity``, ``is_valid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from qkd_macsec.devices.junos_setlines import KEY_CHAIN_SLOTS
from qkd_macsec.devices.junos_time import StartTimeError, wall_clock_text
from qkd_macsec.devices.names import (
    ConfigRenderError,
    require_str,
    shown,
    validate_host,
    validate_hostname,
    validate_ip_address,
)
from qkd_macsec.macsec.suites import CipherSuite

__all__ = [
    "IDENTIFIER_MAX_LEN",
    "MAX_SLOT",
    "ConfigRenderError",
    "format_start_time",
    "interface_identity",
    "is_valid",
    "validate_ca_name",
    "validate_cak_bytes",
    "validate_cak_hex",
    "validate_ckn",
    "validate_ckn_prefix",
    "validate_host",
    "validate_hostname",
    "validate_identifier",
    "validate_interface_name",
    "validate_ip_address",
    "validate_key_chain_name",
    "validate_key_server_priority",
    "validate_macro_name",
    "validate_macro_value",
    "validate_protocol",
    "validate_slot",
    "validate_tolerance_s",
    "validate_transmit_interval_ms",
]


IDENTIFIER_MAX_LEN = 32
MAX_SLOT = KEY_CHAIN_SLOTS - 1
CKN_MAX_HEX = 64

# Physical: type-fpc/pic/port, optional :channel, optional .unit (et-0/0/9, xe-1/0/0:2, ge-0/0/1.0).
# Digits are ASCII [0-9]: Python's \d (and str.isdigit) also match '٣' and other Unicode digits.
_PHYSICAL = re.compile(
    r"(?:et|xe|ge|fe|mge|xle|fte|so)-([0-9]{1,2})/([0-9]{1,2})/([0-9]{1,3})"
    r"(?::([0-9]{1,2}))?(?:\.([0-9]{1,5}))?"
)
# Aggregated Ethernet: ae0, ae12.0.
_AGGREGATE = re.compile(r"ae([0-9]{1,4})(?:\.([0-9]{1,5}))?")
_MAX_UNIT = 16385
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_MACRO_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# A macro value is one word: no whitespace, quotes, ; { } [ ] # | \ or control characters.
_MACRO_VALUE = re.compile(r"[A-Za-z0-9_.:/@%+=,~-]{1,255}")
_PROTOCOL = re.compile(r"[a-z][a-z0-9-]{0,31}")
_HEX = re.compile(r"[0-9A-Fa-f]*")


def validate_interface_name(name: str) -> str:
    """A Junos interface name: ``et-0/0/9``, ``xe-1/0/0:2``, ``ge-0/0/1.0``, ``ae0``."""
    name = require_str(name, "interface name")
    match = _PHYSICAL.fullmatch(name) or _AGGREGATE.fullmatch(name)
    if match is None:
        raise ConfigRenderError(f"{shown(name)} is not a valid Junos interface name")
    unit = match.group(match.re.groups)  # the logical unit is the last group of both patterns
    if unit is not None and int(unit) > _MAX_UNIT:
        raise ConfigRenderError(
            f"interface {shown(name)}: logical unit {unit} is above {_MAX_UNIT}"
        )
    return name


def interface_identity(name: str) -> str:
    """The interface a (valid) name denotes, for spotting one interface claimed twice: unit 0
    is the physical interface itself (``et-0/0/9.0`` is ``et-0/0/9``)."""
    return name[:-2] if name.endswith(".0") else name


def validate_identifier(name: str, what: str = "name") -> str:
    """A Junos object name (CA, key chain): ``[A-Za-z0-9][A-Za-z0-9_.-]{0,31}``."""
    name = require_str(name, what)
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigRenderError(
            f"{shown(name)} is not a valid {what}: use 1-{IDENTIFIER_MAX_LEN} characters "
            "from letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return name


def validate_ca_name(name: str) -> str:
    return validate_identifier(name, "connectivity-association name")


def validate_key_chain_name(name: str) -> str:
    return validate_identifier(name, "key-chain name")


def validate_macro_name(name: str) -> str:
    """An ``apply-macro`` parameter name such as ``kme-host``."""
    name = require_str(name, "macro parameter name")
    if not _MACRO_NAME.fullmatch(name):
        raise ConfigRenderError(f"{shown(name)} is not a valid apply-macro parameter name")
    return name


def validate_macro_value(value: str) -> str:
    """An ``apply-macro`` value: one word of ``[A-Za-z0-9_.:/@%+=,~-]``, up to 255 characters."""
    value = require_str(value, "macro value")
    if not _MACRO_VALUE.fullmatch(value):
        raise ConfigRenderError(
            f"{shown(value)} is not a valid apply-macro value: one word of letters, digits "
            "and _.:/@%+=,~- (no spaces, quotes, ;, braces, brackets or #)"
        )
    return value


def _even_hex(value: object, what: str, min_len: int, max_len: int) -> str:
    text = require_str(value, what)
    if not _HEX.fullmatch(text) or len(text) % 2 or not min_len <= len(text) <= max_len:
        raise ConfigRenderError(
            f"{what} must be an even number of hex digits, {min_len}..{max_len} "
            f"(got {len(text)} characters)"
        )
    return text.lower()


def validate_ckn(ckn: str) -> str:
    """A CKN: even number of hex digits, 2..64 (Junos refuses odd lengths). Lower-cased."""
    if isinstance(ckn, str) and _HEX.fullmatch(ckn):
        return _even_hex(ckn, "CKN", 2, CKN_MAX_HEX)
    raise ConfigRenderError(f"CKN {shown(ckn)} is not hex")


def validate_ckn_prefix(prefix: str, room_for_hex: int = 32) -> str:
    """A CKN prefix that still leaves ``room_for_hex`` digits (a UUID is 32) within 64."""
    if isinstance(prefix, str) and _HEX.fullmatch(prefix):
        return _even_hex(prefix, "CKN prefix", 0, CKN_MAX_HEX - room_for_hex)
    raise ConfigRenderError(f"CKN prefix {shown(prefix)} is not hex")


def validate_cak_hex(cak_hex: str, suite: CipherSuite) -> str:
    """A CAK as hex: exactly the suite's length (Junos silently zero-fills short CAKs).

    The error never repeats the value: it is a secret.
    """
    if not isinstance(cak_hex, str) or not _HEX.fullmatch(cak_hex):
        raise ConfigRenderError("CAK must be hex digits")
    if len(cak_hex) != suite.cak_hex_len:
        raise ConfigRenderError(
            f"CAK for {suite.value} must be exactly {suite.cak_hex_len} hex digits "
            f"(got {len(cak_hex)})"
        )
    return cak_hex.lower()


def validate_cak_bytes(cak: bytes, suite: CipherSuite | None = None) -> bytes:
    """Raw CAK bytes: 16 or 32, and exactly the suite's length when the suite is known."""
    expected = {suite.key_bytes} if suite is not None else {16, 32}
    if len(cak) not in expected:
        wanted = " or ".join(str(n) for n in sorted(expected))
        raise ConfigRenderError(f"CAK must be {wanted} bytes (got {len(cak)})")
    return cak


def _int_in_range(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigRenderError(f"{what} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ConfigRenderError(f"{what} {value} is outside {low}..{high}")
    return value


def validate_slot(slot: int) -> int:
    """A key-chain key id: 0..63."""
    return _int_in_range(slot, "key-chain key id", 0, MAX_SLOT)


def validate_key_server_priority(priority: int) -> int:
    return _int_in_range(priority, "MKA key-server-priority", 0, 255)


def validate_transmit_interval_ms(interval: int) -> int:
    """MKA ``transmit-interval`` in milliseconds (Junos: 2000..6000, equal on both ends)."""
    return _int_in_range(interval, "MKA transmit-interval (ms)", 2000, 6000)


def validate_tolerance_s(seconds: int) -> int:
    """Key-chain ``tolerance`` in seconds (clock-skew allowance)."""
    return _int_in_range(seconds, "key-chain tolerance (s)", 0, 999_999_999)


def validate_protocol(name: str) -> str:
    """An ``exclude-protocol`` value such as ``lldp`` (lower-case word)."""
    name = require_str(name, "exclude-protocol")
    if not _PROTOCOL.fullmatch(name):
        raise ConfigRenderError(f"{shown(name)} is not a valid exclude-protocol name")
    return name


def format_start_time(when: datetime) -> str:
    """Junos key-chain ``start-time`` (``YYYY-MM-DD.HH:MM:SS``) in device-local time.

    Aware datetimes are converted to UTC (the device clock is assumed UTC, as the driver's
    ``device_time`` reports it); naive ones are taken as already device-local.
    """
    if not isinstance(when, datetime):
        raise ConfigRenderError(f"start-time must be a datetime, not {type(when).__name__}")
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    try:
        return wall_clock_text(when)
    except StartTimeError as exc:
        raise ConfigRenderError(str(exc)) from None


def is_valid(validator: Callable[[str], object], value: str) -> bool:
    """True when ``validator`` accepts ``value`` (for filters; prefer the raising form)."""
    try:
        validator(value)
    except ConfigRenderError:
        return False
    return True
