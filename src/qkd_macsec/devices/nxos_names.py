"""Cisco NX-OS name rules: interfaces, key chains, MACsec policies, CKNs, lifetimes, slots.

Sources (``docs/vendors-research.md`` §2): a MACsec key chain is ``key chain NAME macsec`` and
its key IDs are the CKN, hex of even length up to 64 digits (the Cisco family rule [S23][S24]);
MACsec binds to Ethernet interfaces (``macsec keychain NAME policy NAME`` [S19]); a key's
lifetime is ``send-lifetime <hh:mm:ss Mon dd yyyy> duration <s>`` [S20][S21], read in UTC
unless the chain says ``local`` [S25]. Our names are stricter than the device's: letters,
digits, ``_``, ``.`` and ``-``, at most 32 characters (no NX-OS maximum was found, research Q5).

Slots. NX-OS does not number the keys of a chain (the key ID is the CKN), so the
vendor-neutral slot rides in the key's lifetime duration, as on IOS XR: ``duration % SLOTS`` is
the slot. The newest key of a chain is written with ``SLOT_CARRIER_S + slot`` (four years and
the slot: Cisco asks for every key to have a lifetime [S22]); every older key ends at its
successor's start plus the least overlap that carries its slot (``0 .. SLOTS - 1`` seconds,
see :func:`ended_duration`). A key written otherwise (an operator's ``infinite`` key) gets a
nominal slot from its start order (``nxos_parse``). ``SLOTS`` is our bound on keys per chain
(no NX-OS maximum was found, research Q8): small, so that the overlap stays under 8 s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from qkd_macsec.devices.names import ConfigRenderError, require_str, shown

__all__ = [
    "CKN_MAX_HEX",
    "DEFAULT_PORT",
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_DURATION_S",
    "NAME_MAX_LEN",
    "SLOTS",
    "SLOT_CARRIER_S",
    "canonical_ckn",
    "ckn_prefix",
    "device_wall_clock",
    "ended_duration",
    "interface",
    "interface_identity",
    "key_chain",
    "key_server_priority",
    "policy",
    "protocol",
    "slot",
    "slot_of_duration",
    "transmit_interval_ms",
]

#: NX-API over HTTPS listens on 443 unless ``nxapi https port`` says otherwise.
DEFAULT_PORT = 443
SLOTS = 8
#: The longest key ID (= CKN) the keychain takes: 64 hex digits (the Cisco family rule [S23][S24]).
CKN_MAX_HEX = 64
NAME_MAX_LEN = 32
#: Lifetime years we write: from the keychain default start (1993, as on IOS XR [S7]) to 2037
#: (no NX-OS bound was found; 2037 keeps a 32-bit time within reach).
FIRST_YEAR, LAST_YEAR = 1993, 2037
#: The newest key's duration before its slot is added (4 years of 365 days; a multiple of SLOTS).
SLOT_CARRIER_S = 4 * 365 * 86400
#: ``duration`` takes 1..2147483647 seconds (the keychain grammar shared by Cisco's OSes [S7]).
MAX_DURATION_S = 2147483647

#: Ethernet is the interface MACsec binds to on NX-OS; ``Eth`` is its short form (the MKA
#: session details print ``Ethernet1/97/2`` for an interface asked for as ``Eth1/97/2`` [S27]).
_INTERFACE = re.compile(r"(Ethernet|Eth|ethernet|eth)([0-9]{1,3}(?:/[0-9]{1,3}){1,2})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


def interface(name: str) -> str:
    """An NX-OS Ethernet interface: ``Ethernet1/1``, ``Ethernet1/97/2`` (breakout), ``Eth1/1``;
    returned as given."""
    text = require_str(name, "interface name")
    if _INTERFACE.fullmatch(text) is None:
        raise ConfigRenderError(f"{shown(name)} is not an NX-OS Ethernet interface name")
    return text


def interface_identity(name: str) -> str:
    """What an interface name denotes: ``Eth1/1`` and ``Ethernet1/1`` are one."""
    match = _INTERFACE.fullmatch(interface(name))
    assert match is not None
    return f"Ethernet{match.group(2)}"


def _identifier(value: str, what: str) -> str:
    text = require_str(value, what)
    if not _NAME.fullmatch(text) or len(text) > NAME_MAX_LEN:
        raise ConfigRenderError(
            f"{shown(value)} is not a valid {what} (1..{NAME_MAX_LEN} of A-Z a-z 0-9 _ . -)"
        )
    return text


def key_chain(name: str) -> str:
    return _identifier(name, "NX-OS key-chain name")


def policy(name: str) -> str:
    """The vendor-neutral connectivity association is an NX-OS ``macsec policy`` (cipher suite,
    key-server priority, security policy)."""
    return _identifier(name, "NX-OS macsec policy name")


def protocol(name: str) -> str:
    """Refused: NX-OS has no per-protocol MACsec exclusion list like Junos' ``exclude-protocol``,
    so a link asking for one is refused with the reason before any device is touched."""
    text = require_str(name, "exclude-protocol")
    raise ConfigRenderError(f"NX-OS cannot exclude {shown(text)} from MACsec (not supported)")


def canonical_ckn(ckn: str) -> str:
    """A CKN as the key ID is written: even-length hex, 2..64 digits, upper-case (one spelling,
    so a key is never written twice in two cases)."""
    text = require_str(ckn, "CKN")
    if not _HEX.fullmatch(text) or not 2 <= len(text) <= CKN_MAX_HEX:
        raise ConfigRenderError(f"CKN {shown(ckn)} is not even-length hex of 2..64 digits")
    return text.upper()


def ckn_prefix(prefix: str, room_for_hex: int = 32) -> str:
    """A CKN prefix leaving ``room_for_hex`` digits within 64 (lower-case, as the engine keeps
    CKNs)."""
    text = require_str(prefix, "CKN prefix")
    if not _HEX.fullmatch(text) or len(text) > CKN_MAX_HEX - room_for_hex:
        raise ConfigRenderError(f"CKN prefix {shown(prefix)} is not even-length hex that fits")
    return text.lower()


def _int_in_range(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigRenderError(f"{what} {shown(value)} is outside {low}..{high}")
    return value


def slot(value: int) -> int:
    return _int_in_range(value, "NX-OS key-chain slot", 0, SLOTS - 1)


def key_server_priority(value: int) -> int:
    return _int_in_range(value, "MKA key-server-priority", 0, 255)


def transmit_interval_ms(value: int) -> int:
    """No MKA hello interval is set through this tool on NX-OS: only the 2000 ms default is
    accepted (a link asking for another is refused before any device is touched)."""
    return _int_in_range(value, "MKA transmit-interval (ms) on NX-OS", 2000, 2000)


def slot_of_duration(duration_s: int) -> int:
    """The slot a lifetime duration carries."""
    return duration_s % SLOTS


def ended_duration(start: datetime, successor_start: datetime, slot_value: int) -> int:
    """The duration of a key that hands over to a successor: at least the gap between the two
    starts, plus 0..SLOTS-1 seconds so that it carries ``slot_value``."""
    gap = max(1, int((successor_start - start).total_seconds()))
    duration = gap + (slot(slot_value) - gap) % SLOTS
    if duration > MAX_DURATION_S:
        raise ConfigRenderError(f"a key lifetime of {duration} s exceeds {MAX_DURATION_S} s")
    return duration


def device_wall_clock(when: datetime) -> datetime:
    """A start-time as written (naive; aware → UTC, the lifetime zone NX-OS uses by default
    [S25]), whole seconds, checked against the year range."""
    if not isinstance(when, datetime):
        raise ConfigRenderError("start-time must be a datetime")
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ConfigRenderError(
            f"NX-OS lifetimes are written for {FIRST_YEAR}..{LAST_YEAR}; "
            f"cannot start a key in {when.year}"
        )
    return when.replace(microsecond=0)
