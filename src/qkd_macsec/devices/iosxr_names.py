"""Cisco IOS XR name rules: interfaces, key chains, MACsec policies, CKNs, lifetimes, slots.

Sources (restated from ``docs/vendors-research.md``, section 1): key IDs of a MACsec key chain
are the CKN, hex of even length up to 64 digits, stored upper-case by the CLI but not folded over
NETCONF, so this module writes one canonical upper-case spelling [S2]; key-chain names are 1..32
characters and policy names 1..16 (``Cisco-IOS-XR-crypto-macsec-mka-if-cfg`` [S8]); lifetime
years run 1993..2035 (``Cisco-IOS-XR-lib-keychain-macsec-cfg`` [S3] and the keychain command
reference [S7]). Our rules are stricter than the models' patterns (which admit ``;`` and ``#``):
only letters, digits, ``_``, ``.`` and ``-``.

Slots: IOS XR does not number the keys of a chain (the key ID is the CKN), so the vendor-neutral
slot rides in the key's lifetime, written as ``<start> duration SLOT_CARRIER_S + slot`` (a
little over four years, then the slot in seconds). The slot is read back from the duration;
a key with any other lifetime (an operator's own) gets a nominal slot from its start-time order
among the free slots (see ``iosxr_parse``). Removing a slot needs its CKN: the driver reads the
chain under its lock and resolves it (``iosxr_render.resolve_removals``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from qkd_macsec.devices.names import ConfigRenderError, require_str, shown

__all__ = [
    "CKN_MAX_HEX",
    "DEFAULT_PORT",
    "KEY_CHAIN_MAX_LEN",
    "LAST_YEAR",
    "POLICY_MAX_LEN",
    "SLOTS",
    "SLOT_CARRIER_S",
    "canonical_ckn",
    "ckn_prefix",
    "device_wall_clock",
    "interface",
    "interface_identity",
    "key_chain",
    "key_server_priority",
    "policy",
    "protocol",
    "slot",
    "transmit_interval_ms",
]

DEFAULT_PORT = 830
#: Our bound on keys per chain (the platform's own maximum is not documented: research Q8).
SLOTS = 16
CKN_MAX_HEX = 64
KEY_CHAIN_MAX_LEN = 32
POLICY_MAX_LEN = 16
FIRST_YEAR, LAST_YEAR = 1993, 2035
#: The lifetime duration a key is written with, before its slot is added (4 years of 365 days).
SLOT_CARRIER_S = 4 * 365 * 86400

#: Long and short IOS XR interface type names (``HundredGigE0/0/0/1``, ``Hu0/0/0/1``).
_TYPES = {
    "GigabitEthernet": "Gi",
    "TenGigE": "Te",
    "TwentyFiveGigE": "TF",
    "FortyGigE": "Fo",
    "FiftyGigE": "Fi",
    "HundredGigE": "Hu",
    "TwoHundredGigE": "TH",
    "FourHundredGigE": "FH",
    "EightHundredGigE": "EH",
    "Bundle-Ether": "BE",
}
_SHORT = {short.lower(): long for long, short in _TYPES.items()}
_INTERFACE = re.compile(
    r"([A-Za-z-]+?)((?:[0-9]{1,3}/){2,4}[0-9]{1,3}|[0-9]{1,5})(?:\.([0-9]{1,5}))?"
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


def interface(name: str) -> str:
    """An IOS XR interface name: a known type (long or short form) and a ``rack/slot/.../port``
    path (``Bundle-Ether`` takes a number), optionally ``.sub-interface``; returned as given."""
    text = require_str(name, "interface name")
    match = _INTERFACE.fullmatch(text)
    if match is None or not (match.group(1) in _TYPES or match.group(1).lower() in _SHORT):
        raise ConfigRenderError(f"{shown(name)} is not an IOS XR interface name")
    bundle = match.group(1) in ("Bundle-Ether", "BE")
    if bundle != ("/" not in match.group(2)):
        raise ConfigRenderError(f"{shown(name)} is not an IOS XR interface name")
    return text


def interface_identity(name: str) -> str:
    """What an interface name denotes: ``Hu0/0/0/1`` and ``HundredGigE0/0/0/1`` are one."""
    match = _INTERFACE.fullmatch(interface(name))
    assert match is not None
    kind = match.group(1)
    long = kind if kind in _TYPES else _SHORT[kind.lower()]
    unit = f".{int(match.group(3))}" if match.group(3) else ""
    return f"{long}{match.group(2)}{unit}"


def _identifier(value: str, what: str, max_len: int) -> str:
    text = require_str(value, what)
    if not _NAME.fullmatch(text) or len(text) > max_len:
        raise ConfigRenderError(
            f"{shown(value)} is not a valid {what} (1..{max_len} of A-Z a-z 0-9 _ . -)"
        )
    return text


def key_chain(name: str) -> str:
    return _identifier(name, "IOS XR key-chain name", KEY_CHAIN_MAX_LEN)


def policy(name: str) -> str:
    """The vendor-neutral connectivity association is an IOS XR ``macsec-policy`` (it carries
    the cipher suite and key-server priority)."""
    return _identifier(name, "IOS XR macsec-policy name", POLICY_MAX_LEN)


def protocol(name: str) -> str:
    """Refused: IOS XR has no per-protocol exclusion list like Junos' ``exclude-protocol``
    (only a policy exception for LACP, not modelled here), so a link asking for one is refused
    with the reason before any device is touched."""
    text = require_str(name, "exclude-protocol")
    raise ConfigRenderError(f"IOS XR cannot exclude {shown(text)} from MACsec (not supported)")


def canonical_ckn(ckn: str) -> str:
    """A CKN as the key ID is written: even-length hex, 2..64 digits, upper-case [S2]."""
    text = require_str(ckn, "CKN")
    if not _HEX.fullmatch(text) or not 2 <= len(text) <= CKN_MAX_HEX:
        raise ConfigRenderError(f"CKN {shown(ckn)} is not even-length hex of 2..64 digits")
    return text.upper()


def ckn_prefix(prefix: str, room_for_hex: int = 32) -> str:
    """A CKN prefix leaving ``room_for_hex`` digits within 64 (lower-case, as the engine keeps
    CKNs; the renderer upper-cases the whole key ID)."""
    text = require_str(prefix, "CKN prefix")
    if not _HEX.fullmatch(text) or len(text) > CKN_MAX_HEX - room_for_hex:
        raise ConfigRenderError(f"CKN prefix {shown(prefix)} is not even-length hex that fits")
    return text.lower()


def _int_in_range(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigRenderError(f"{what} {shown(value)} is outside {low}..{high}")
    return value


def slot(value: int) -> int:
    return _int_in_range(value, "IOS XR key-chain slot", 0, SLOTS - 1)


def key_server_priority(value: int) -> int:
    return _int_in_range(value, "MKA key-server-priority", 0, 255)


def transmit_interval_ms(value: int) -> int:
    """IOS XR has no per-policy MKA hello interval to set: only the 2000 ms default is accepted
    (so a link asking for another interval is refused before any device is touched)."""
    return _int_in_range(value, "MKA transmit-interval (ms) on IOS XR", 2000, 2000)


def device_wall_clock(when: datetime) -> datetime:
    """A start-time as the device's naive wall clock (aware → UTC), whole seconds, checked
    against the lifetime's year range."""
    if not isinstance(when, datetime):
        raise ConfigRenderError("start-time must be a datetime")
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ConfigRenderError(
            f"IOS XR lifetimes run {FIRST_YEAR}..{LAST_YEAR}; cannot start a key in {when.year}"
        )
    return when.replace(microsecond=0)
