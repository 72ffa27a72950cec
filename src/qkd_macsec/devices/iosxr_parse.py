"""Cisco IOS XR replies → the vendor-neutral types (secrets are never read).

- key chain: a ``get-config`` reply (or our own rendered ``<config>``) of the native
  ``Cisco-IOS-XR-lib-keychain-macsec-cfg`` (fixture ``key_chain_cfg.xml``). The slot is the
  lifetime duration less ``SLOT_CARRIER_S`` (``iosxr_names``); a key written otherwise (an
  operator's, say with ``infinite``) gets the lowest free slots in start-time order, so that a
  read and a removal resolved from the same read agree. Start-times are the device's wall clock,
  labelled UTC (as every platform reports them; the engine converts with the device clock).
- MKA: ``Cisco-IOS-XR-crypto-macsec-mka-oper`` ``macsec/mka/interfaces/interface[name]/session/
  ca`` (fixture ``mka_oper_reply.xml``), or the CLI's ``show macsec mka session detail`` text
  (fixture ``mka_session_detail.txt``, Cisco's ASR 9000 guide); live = status SECURED.
- clock: ``Cisco-IOS-XR-shellutil-oper:system-time/clock`` (fixture ``system_time_reply.xml``):
  local wall-clock fields plus a ``time-zone`` name.
- bindings: ``interface-configurations/.../macsec/psk-key-chain`` → interface → policy name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

from qkd_macsec.devices import iosxr_names as names
from qkd_macsec.devices.base import CaConfigState, ChainEntryState, DeviceClock, MkaSessionState

__all__ = [
    "IosxrReplyError",
    "parse_bindings",
    "parse_clock",
    "parse_configured_interfaces",
    "parse_key_chain",
    "parse_mka_sessions",
    "parse_policies",
    "parse_time_source",
]

_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2}){1,32}")
_DETAIL_FIELD = re.compile(r"\s*([A-Za-z# ()-]+?)\s*:\s*(.*?)\s*")


class IosxrReplyError(ValueError):
    """An IOS XR reply that does not read as what was asked for."""


def _xml(text: str) -> etree._Element:
    try:
        return etree.fromstring(text.encode(), _XML)
    except etree.XMLSyntaxError as exc:
        raise IosxrReplyError(f"reply is not well-formed XML ({exc.msg})") from None


def _all(node: etree._Element, name: str) -> list[etree._Element]:
    return list(node.iter(f"{{*}}{name}"))


def _child(node: etree._Element, name: str) -> etree._Element | None:
    found = node.find(f"{{*}}{name}")
    return found


def _text(node: etree._Element, name: str) -> str | None:
    found = _child(node, name)
    return None if found is None or found.text is None else found.text.strip()


def _int(node: etree._Element, name: str, low: int, high: int, default: int | None = None) -> int:
    text = _text(node, name)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit() or not low <= int(text) <= high:
        raise IosxrReplyError(f"{name} {text!r} is not a number in {low}..{high}")
    return int(text)


def _start(lifetime: etree._Element) -> datetime:
    month = _text(lifetime, "start-month")
    if month not in _MONTHS:
        raise IosxrReplyError(f"start-month {month!r} is not jan..dec")
    try:
        return datetime(
            _int(lifetime, "start-year", names.FIRST_YEAR, names.LAST_YEAR),
            _MONTHS.index(month) + 1,
            _int(lifetime, "start-date", 1, 31),
            _int(lifetime, "start-hour", 0, 23),
            _int(lifetime, "start-minutes", 0, 59),
            _int(lifetime, "start-seconds", 0, 59, default=0),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise IosxrReplyError(f"start-time is not a date ({exc})") from None


def _carried_slot(lifetime: etree._Element) -> int | None:
    text = _text(lifetime, "life-time")
    if text is None or not text.isdigit():
        return None
    slot = int(text) - names.SLOT_CARRIER_S
    return slot if 0 <= slot < names.SLOTS else None


def parse_key_chain(text: str, chain: str) -> list[ChainEntryState]:
    """The keys of ``chain`` (CKN lower-case, as the engine keeps it), sorted by slot."""
    root = _xml(text)
    carried: list[ChainEntryState] = []
    foreign: list[tuple[datetime, str]] = []
    for node in _all(root, "mac-sec-keychain"):
        if _text(node, "chain-name") != chain:
            continue
        for key in _all(node, "key"):
            ckn = _text(key, "key-id")
            if ckn is None or not _HEX.fullmatch(ckn):
                raise IosxrReplyError(f"key-id {ckn!r} of {chain} is not a CKN")
            if key.get("{urn:ietf:params:xml:ns:netconf:base:1.0}operation") == "remove":
                continue
            lifetime = _child(key, "lifetime")
            start = _start(lifetime) if lifetime is not None else datetime(1993, 1, 1, tzinfo=UTC)
            slot = _carried_slot(lifetime) if lifetime is not None else None
            if slot is None:
                foreign.append((start, ckn.lower()))
            else:
                carried.append(ChainEntryState(chain, slot, ckn.lower(), start))
    taken = {e.slot for e in carried}
    free = (s for s in range(names.SLOTS) if s not in taken)
    for start, ckn in sorted(foreign):
        slot = next(free, None)
        if slot is None:
            raise IosxrReplyError(f"{chain} holds more than {names.SLOTS} keys")
        carried.append(ChainEntryState(chain, slot, ckn, start))
    return sorted(carried, key=lambda e: e.slot)


def _mka_xml(root: etree._Element) -> list[MkaSessionState]:
    sessions = []
    for interface in _all(root, "interface"):
        name = _text(interface, "name")
        session = _child(interface, "session")
        if name is None or session is None:
            continue
        for ca in session.iter("{*}ca"):
            ckn = _text(ca, "ckn") or ""
            state = _text(ca, "status-description") or ""
            sessions.append(
                MkaSessionState(
                    interface=name,
                    cak_name=ckn.lower(),
                    cak_type=_text(ca, "authentication-mode") or "",
                    live=state.upper().startswith("SECURED"),
                    raw_state=state,
                    member_id=_text(ca, "my-mi") or "",
                    key_server=_text(ca, "is-key-server") == "true",
                )
            )
    return sessions


def _mka_detail_text(text: str) -> list[MkaSessionState]:
    """``show macsec mka session detail``: one block per session, ``Label : value`` lines."""
    sessions: list[MkaSessionState] = []
    fields: dict[str, str] = {}

    def flush() -> None:
        if "Interface Name" in fields:
            state = fields.get("Status", "")
            sessions.append(
                MkaSessionState(
                    interface=fields["Interface Name"],
                    cak_name=fields.get("CAK Name (CKN)", "").lower(),
                    cak_type="PSK",
                    live=state.upper().startswith("SECURED"),
                    raw_state=state,
                    member_id=fields.get("Member Identifier (MI)", ""),
                    key_server=fields.get("Key Server", "").upper() == "YES",
                )
            )
        fields.clear()

    for line in text.splitlines():
        if line.startswith("MKA Detailed Status"):
            flush()
        match = _DETAIL_FIELD.fullmatch(line)
        if match is not None and match.group(1) not in fields:
            fields[match.group(1)] = match.group(2)
    flush()
    if not sessions and text.strip() and "MKA" not in text:
        raise IosxrReplyError("MKA reply is neither XML nor 'show macsec mka session detail'")
    return sessions


def parse_mka_sessions(text: str) -> list[MkaSessionState]:
    if text.lstrip().startswith("<"):
        return _mka_xml(_xml(text))
    return _mka_detail_text(text)


def _zone_offset(zone: str, local: datetime) -> tuple[timedelta, str | None]:
    """The offset of a clock's ``time-zone`` at its local reading. UTC/GMT, or an IANA name;
    an abbreviation such as ``CET`` names no rule we can apply, so it is refused."""
    if zone.upper() in ("UTC", "GMT", "UCT", "Z"):
        return timedelta(0), "UTC"
    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise IosxrReplyError(
            f"clock time-zone {zone!r} is not UTC or an IANA zone name; set "
            "'clock timezone' to one (key lifetimes are read in it)"
        ) from None
    offset = local.replace(tzinfo=info).utcoffset()
    assert offset is not None
    return offset, zone


def parse_clock(text: str) -> DeviceClock:
    root = _xml(text)
    found = _all(root, "clock")
    if not found:
        raise IosxrReplyError("reply has no system-time/clock")
    clock = found[0]
    try:
        local = datetime(
            _int(clock, "year", 1993, 9999),
            _int(clock, "month", 1, 12),
            _int(clock, "day", 1, 31),
            _int(clock, "hour", 0, 23),
            _int(clock, "minute", 0, 59),
            min(_int(clock, "second", 0, 60), 59),
            _int(clock, "millisecond", 0, 999, default=0) * 1000,
        )
    except ValueError as exc:
        raise IosxrReplyError(f"clock is not a date ({exc})") from None
    offset, zone = _zone_offset(_text(clock, "time-zone") or "UTC", local)
    has_ms = _text(clock, "millisecond") is not None
    return DeviceClock(
        (local - offset).replace(tzinfo=UTC),
        offset,
        zone,
        resolution_s=0.001 if has_ms else 1.0,
    )


def parse_bindings(text: str) -> dict[str, str]:
    """Interface → macsec-policy (the vendor-neutral connectivity association)."""
    bindings: dict[str, str] = {}
    for node in _all(_xml(text), "interface-configuration"):
        name = _text(node, "interface-name")
        psk = next(iter(_all(node, "psk-key-chain")), None)
        if name is None or psk is None:
            continue
        bindings[name] = _text(psk, "policy-name") or _text(psk, "key-chain-name") or ""
    return bindings


def parse_configured_interfaces(text: str) -> dict[str, bool]:
    """``interface-configurations``: each configured interface → administratively up (no
    ``shutdown`` leaf)."""
    return {
        name: _child(node, "shutdown") is None
        for node in _all(_xml(text), "interface-configuration")
        if (name := _text(node, "interface-name"))
    }


def parse_time_source(text: str) -> str | None:
    """``system-time/clock/time-source`` (ntp, manual, calendar, none, error) [S14]."""
    for clock in _all(_xml(text), "clock"):
        return _text(clock, "time-source")
    return None


def parse_policies(policies: str, bindings: str) -> dict[str, CaConfigState]:
    """Each macsec-policy (the vendor-neutral CA) with its suite and the chain bound with it."""
    chain_of: dict[str, str] = {}
    for psk in _all(_xml(bindings), "psk-key-chain"):
        policy = _text(psk, "policy-name")
        if policy:
            chain_of[policy] = _text(psk, "key-chain-name") or ""
    cas: dict[str, CaConfigState] = {}
    for node in _all(_xml(policies), "policy-name"):
        name = _text(node, "policy-name")
        if name is None or len(node) == 0:
            continue  # the key leaf itself
        suite = _text(node, "cipher-suite")
        cas[name] = CaConfigState(name, suite.lower() if suite else None, None, chain_of.get(name))
    return cas
