"""Parsing Junos XML replies into the driver's typed state (pure, namespace-agnostic).

Tolerant of what it does not know (extra elements are ignored, wrappers such as
``multi-routing-engine-results`` are looked through) and strict about what it needs: a missing
required element raises :class:`MalformedReplyError`, which the driver re-raises as
:class:`~qkd_macsec.devices.base.DeviceReplyError`. Secrets in a reply are never copied out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lxml import etree

from qkd_macsec.devices.base import ChainEntryState, DeviceClock, MkaSessionState

__all__ = [
    "MalformedReplyError",
    "key_chain_filter",
    "macsec_interfaces_filter",
    "parse_device_clock",
    "parse_device_time",
    "parse_key_chain",
    "parse_macsec_bindings",
    "parse_mka_sessions",
    "parse_start_time",
    "parse_time_zone",
    "time_zone_filter",
]

Element = Any  # lxml.etree._Element (lxml ships no stubs here)

_START_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})\.(\d{2}):(\d{2})(?::(\d{2}))?(?:\s+([+-])(\d{2})(\d{2}))?"
)
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\s+(\S+))?")
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UCT"})


class MalformedReplyError(ValueError):
    """A reply lacks an element the driver needs, or holds an unparsable value."""


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _descendants(element: Element, name: str) -> Iterator[Element]:
    for child in element.iter():
        if _local(child.tag) == name:
            yield child


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: Element, name: str) -> Iterator[Element]:
    for child in element:
        if _local(child.tag) == name:
            yield child


def _text(element: Element, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.text is None:
        return None
    return str(child.text).strip()


def _required(element: Element, name: str, where: str) -> str:
    text = _text(element, name)
    if not text:
        raise MalformedReplyError(f"{where} without <{name}>")
    return text


# ------------------------------------------------------------------------------------ MKA state
def parse_mka_sessions(reply: Element) -> list[MkaSessionState]:
    """``get-mka-session-information`` → one state per ``<mka-session>`` (see SIM-CONTRACT)."""
    if reply is None:
        raise MalformedReplyError("empty MKA reply")
    root_name = _local(reply.tag)
    if root_name != "mka-session-information" and not any(
        True for _ in _descendants(reply, "mka-session-information")
    ):
        raise MalformedReplyError(f"expected <mka-session-information>, got <{root_name}>")
    sessions: list[MkaSessionState] = []
    for session in _descendants(reply, "mka-session"):
        interface = _required(session, "interface-name", "<mka-session>")
        cak_name = _required(session, "cak-name", f"<mka-session> of {interface}")
        status = _text(session, "session-status")
        interface_state = _text(session, "interface-state") or ""
        if status is None and not interface_state:
            raise MalformedReplyError(
                f"<mka-session> of {interface} has neither <session-status> nor <interface-state>"
            )
        live = status == "live" if status is not None else interface_state.startswith("Secured")
        key_server = _text(session, "key-server")
        sessions.append(
            MkaSessionState(
                interface=interface,
                cak_name=cak_name.lower(),
                cak_type=_text(session, "cak-type") or "primary",
                live=live,
                raw_state=status if status is not None else interface_state,
                member_id=_text(session, "member-identifier") or "",
                key_server=None if key_server is None else key_server == "yes",
                interface_state=interface_state,
            )
        )
    return sessions


# ----------------------------------------------------------------------------------- device time
def parse_device_clock(reply: Element) -> DeviceClock:
    """``get-system-uptime-information`` → the device clock and its zone offset.

    Junos prints ``current-time/date-time`` as LOCAL wall-clock time with the zone abbreviation
    (``2026-12-01 08:30:58 CET``) and the same instant as epoch seconds in ``junos:seconds``: the
    difference between the two is the offset of the device's ``system time-zone`` now. Without
    the attribute only a text in UTC is accepted (an abbreviation such as CET names no offset
    reliably). Offsets are rounded to the minute (every real zone offset is whole minutes).
    """
    for current in _descendants(reply, "current-time"):
        date_time = _child(current, "date-time")
        if date_time is None:
            continue
        text = (date_time.text or "").strip()
        match = _DATE_TIME.fullmatch(text)
        epoch: int | None = None
        for attr, value in date_time.attrib.items():
            if _local(attr) == "seconds":
                try:
                    epoch = int(value)
                    now = datetime.fromtimestamp(epoch, UTC)
                except (ValueError, OverflowError, OSError):
                    raise MalformedReplyError(f"bad seconds attribute {value!r}") from None
        if match is None:
            raise MalformedReplyError(f"unparsable device time {text!r}")
        wall = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
        if epoch is None:
            zone = match.group(2)
            if zone is not None and zone.upper() not in _UTC_NAMES:
                raise MalformedReplyError(f"device time in zone {zone!r} without seconds attribute")
            return DeviceClock(wall.replace(tzinfo=UTC), timedelta(0))
        offset_s = (wall.replace(tzinfo=UTC) - now).total_seconds()
        offset = timedelta(minutes=round(offset_s / 60))
        if abs(offset) >= timedelta(hours=24):
            raise MalformedReplyError(f"device time {text!r} disagrees with its seconds attribute")
        return DeviceClock(now, offset)
    raise MalformedReplyError("uptime reply without <current-time><date-time>")


def time_zone_filter() -> Element:
    """``get-configuration`` subtree filter for ``system time-zone``."""
    configuration = etree.Element("configuration")
    etree.SubElement(etree.SubElement(configuration, "system"), "time-zone")
    return configuration


def parse_time_zone(reply: Element) -> str | None:
    """The configured ``system time-zone`` name, None when not configured (Junos: UTC)."""
    zone = _path(_configuration(reply), "system", "time-zone")
    text = (zone.text or "").strip() if zone is not None else ""
    return text or None


def parse_device_time(reply: Element) -> datetime:
    """``get-system-uptime-information`` → the device clock (aware, UTC)."""
    return parse_device_clock(reply).now


# ------------------------------------------------------------------------------- configuration
def key_chain_filter(chain: str) -> Element:
    """``get-configuration`` subtree filter for one key chain (``chain`` must be validated)."""
    configuration = etree.Element("configuration")
    chains = etree.SubElement(
        etree.SubElement(configuration, "security"), "authentication-key-chains"
    )
    etree.SubElement(etree.SubElement(chains, "key-chain"), "name").text = chain
    return configuration


def macsec_interfaces_filter() -> Element:
    configuration = etree.Element("configuration")
    macsec = etree.SubElement(etree.SubElement(configuration, "security"), "macsec")
    etree.SubElement(macsec, "interfaces")
    return configuration


def _configuration(reply: Element) -> Element:
    if reply is None:
        raise MalformedReplyError("empty configuration reply")
    if _local(reply.tag) == "configuration":
        return reply
    for found in _descendants(reply, "configuration"):
        return found
    raise MalformedReplyError(f"expected <configuration>, got <{_local(reply.tag)}>")


def _path(element: Element, *names: str) -> Element | None:
    for name in names:
        element = _child(element, name)
        if element is None:
            return None
    return element


def parse_start_time(text: str) -> datetime:
    """Junos ``start-time`` (``YYYY-MM-DD.HH:MM[:SS]``, optionally `` +HHMM``) → aware UTC."""
    match = _START_TIME.fullmatch(text.strip().strip('"'))
    if match is None:
        raise MalformedReplyError(f"unparsable start-time {text!r}")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = timedelta(0)
    if match.group(7):
        offset = timedelta(hours=int(match.group(8)), minutes=int(match.group(9)))
        offset = -offset if match.group(7) == "-" else offset
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        raise MalformedReplyError(f"invalid start-time {text!r}") from None
    return local.astimezone(UTC)


def parse_key_chain(reply: Element, chain: str) -> list[ChainEntryState]:
    """The keys of ``chain`` in a ``<configuration>`` reply, sorted by slot (no secrets)."""
    chains = _path(_configuration(reply), "security", "authentication-key-chains")
    if chains is None:
        return []
    entries: list[ChainEntryState] = []
    for key_chain in _children(chains, "key-chain"):
        if _text(key_chain, "name") != chain:
            continue
        for key in _children(key_chain, "key"):
            where = f"key chain {chain} key"
            slot_text = _required(key, "name", where)
            if not slot_text.isdigit():
                raise MalformedReplyError(f"{where} id {slot_text!r} is not a number")
            where = f"key chain {chain} key {slot_text}"
            entries.append(
                ChainEntryState(
                    chain=chain,
                    slot=int(slot_text),
                    ckn=_required(key, "key-name", where).lower(),
                    start_time=parse_start_time(_required(key, "start-time", where)),
                )
            )
    return sorted(entries, key=lambda entry: entry.slot)


def parse_macsec_bindings(reply: Element) -> dict[str, str]:
    """``security macsec interfaces`` → interface → connectivity-association (bound ones only)."""
    macsec = _path(_configuration(reply), "security", "macsec")
    if macsec is None:
        return {}
    bindings: dict[str, str] = {}
    for interface in _children(macsec, "interfaces"):
        name = _required(interface, "name", "<interfaces>")
        ca = _text(interface, "connectivity-association")
        if ca:
            bindings[name] = ca
    return bindings
