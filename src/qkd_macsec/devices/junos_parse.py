"""Parsing Junos replies into the driver's typed state (pure, namespace-agnostic).

Tolerant of what it does not know (extra elements are ignored, wrappers such as
``multi-routing-engine-results`` are looked through) and strict about what it needs: a missing
required element, or a shape none of the known layouts explains, raises
:class:`MalformedReplyError` naming the element; the driver re-raises it as
:class:`~qkd_macsec.devices.base.DeviceReplyError`. Secrets in a reply are never copied out.

The forms accepted are the ones real devices print, recorded in
``tests/unit/devices/fixtures/junos/`` with their sources (see its README and
``shared/reference/junos-field-evidence.md``):

- MKA state (``get-mka-session-information``): the real flat layout, one
  ``<mka-session-information>`` per interface with direct children, brief or detail
  (``session-live`` / ``session-cak``) (evidence §3); the text of
  ``show security mka sessions [detail]`` (§2); and the simulator's former nested
  ``<mka-session>`` layout, still accepted.
- Key-chain read-back, XML or ``display set``: ``start-time`` quoted or not, month/day with or
  without a leading zero, seconds optional, ``+hhmm``/``-hhmm`` offset (§1, §5).
- The dot1xd MACsec syslog lines logged at a CAK rollover (§4).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from qkd_macsec.devices.base import (
    CaConfigState,
    ChainEntryState,
    DeviceClock,
    DeviceFacts,
    InterfaceState,
    MacsecConfigState,
    MkaSessionState,
    NtpState,
)
from qkd_macsec.devices.junos_time import StartTimeError, clock_from_uptime
from qkd_macsec.devices.junos_time import parse_start_time as parse_start_time_epoch
from qkd_macsec.devices.junos_xml import child as _child
from qkd_macsec.devices.junos_xml import child_text as _text
from qkd_macsec.devices.junos_xml import children as _children
from qkd_macsec.devices.junos_xml import descendants as _descendants
from qkd_macsec.devices.junos_xml import local_name as _local
from qkd_macsec.devices.junos_xml import path as _path

__all__ = [
    "MacsecLogEvent",
    "MalformedReplyError",
    "key_chain_filter",
    "macsec_filter",
    "macsec_interfaces_filter",
    "parse_commit_confirm_pending",
    "parse_device_clock",
    "parse_device_time",
    "parse_interface_information",
    "parse_key_chain",
    "parse_key_chain_set",
    "parse_macsec_bindings",
    "parse_macsec_config",
    "parse_macsec_log",
    "parse_mka_sessions",
    "parse_mka_sessions_text",
    "parse_ntp_status",
    "parse_software_information",
    "parse_start_time",
    "parse_time_zone",
    "time_zone_filter",
]

Element = Any  # lxml.etree._Element (lxml ships no stubs here)


def _is_ascii_number(text: str) -> bool:
    """``str.isdigit`` also accepts '²' or '٣', which ``int()`` then refuses or misreads."""
    return text.isascii() and text.isdigit()


class MalformedReplyError(ValueError):
    """A reply lacks an element the driver needs, or holds an unparsable value."""


def _required(element: Element, name: str, where: str) -> str:
    text = _text(element, name)
    if not text:
        raise MalformedReplyError(f"{where} without <{name}>")
    return text


# ------------------------------------------------------------------------------------ MKA state
#: Where a CAK's status can be named in a detail ``session-cak`` (no public sample names it; the
#: text form labels it "Status", evidence §2). The first present wins.
_STATUS_TAGS = ("cak-status", "session-status", "status")


def _reply_root(reply: Element) -> Element:
    """The whole ``<rpc-reply>`` when PyEZ handed back only its first child.

    PyEZ returns ``rpc-reply[0]``; real Junos answers one ``<mka-session-information>`` per
    interface as *siblings* (evidence §3: a top-level list), so the others are only reachable
    through the parent.
    """
    parent = reply.getparent() if hasattr(reply, "getparent") else None
    if parent is not None and _local(parent.tag) == "rpc-reply":
        return parent
    return reply


def parse_mka_sessions(reply: Element) -> list[MkaSessionState]:
    """``get-mka-session-information`` → one state per (interface, CAK), CKNs lower-case.

    Layouts, told apart per ``<mka-session-information>`` element (``junos:style`` is not
    trusted: the real detail sample says ``brief``, evidence §3):

    - flat detail: direct ``interface-name`` plus ``session-live`` / ``session-cak`` children;
      a CAK is live if it is named under ``session-live`` or its own status says ``live``;
    - flat brief: direct ``interface-name`` and ``cak-name``; that CAK is live iff
      ``interface-state`` says it is secured on it (:func:`_secured_on`);
    - nested (the simulator's former contract): ``<mka-session>`` children.

    An element with no child elements means "no sessions" (a deliberate choice: the RPC on a
    device without MACsec interfaces has nothing to list); any other shape is refused, naming
    what it holds.
    """
    if reply is None or not isinstance(getattr(reply, "tag", None), str):
        raise MalformedReplyError("empty MKA reply")
    root = _reply_root(reply)
    infos = (
        [root]
        if _local(root.tag) == "mka-session-information"
        else list(_descendants(root, "mka-session-information"))
    )
    if not infos:
        raise MalformedReplyError(f"expected <mka-session-information>, got <{_local(root.tag)}>")
    sessions: list[MkaSessionState] = []
    for info in infos:
        sessions += _info_sessions(info)
    return sessions


def _info_sessions(info: Element) -> list[MkaSessionState]:
    nested = list(_children(info, "mka-session"))
    if nested:
        return [_nested_session(session) for session in nested]
    if _child(info, "interface-name") is not None:
        if _child(info, "session-live") is not None or _child(info, "session-cak") is not None:
            return _flat_detail(info)
        return [_flat_brief(info)]
    names = sorted({_local(child.tag) for child in info if _local(child.tag)})
    if names:
        listed = ", ".join(f"<{name}>" for name in names)
        raise MalformedReplyError(
            f"<mka-session-information> without <interface-name> or <mka-session> (has {listed})"
        )
    if (info.text or "").strip():
        raise MalformedReplyError("<mka-session-information> holds text, not elements")
    return []


def _secured_on(interface_state: str, cak_type: str) -> bool:
    """Whether "Secured - Primary" style state means the session runs on a CAK of this type.

    The brief form names one CAK (the primary, with its "CAK type", evidence §2); a state of
    "Secured - Preceding" means the link runs on another CAK, so the named one is not live.
    A bare "Secured" (no type) counts as secured on it.
    """
    head, _, secured_type = interface_state.partition(" - ")
    if head.strip().lower() != "secured":
        return False
    return not secured_type.strip() or secured_type.strip().lower() == cak_type.lower()


def _key_server(element: Element) -> bool | None:
    text = _text(element, "key-server")
    return None if text is None else text.lower() == "yes"


def _flat_brief(info: Element) -> MkaSessionState:
    interface = _required(info, "interface-name", "<mka-session-information>")
    where = f"<mka-session-information> of {interface}"
    cak_name = _required(info, "cak-name", where)
    interface_state = _required(info, "interface-state", where)
    cak_type = (_text(info, "cak-type") or "primary").lower()
    return MkaSessionState(
        interface=interface,
        cak_name=cak_name.lower(),
        cak_type=cak_type,
        live=_secured_on(interface_state, cak_type),
        raw_state=interface_state,
        member_id=_text(info, "member-identifier") or "",
        key_server=_key_server(info),
        interface_state=interface_state,
    )


def _cak_status(element: Element) -> str | None:
    for tag in _STATUS_TAGS:
        value = _text(element, tag)
        if value:
            return value
    return None


def _cak_key_server(cak: Element, info: Element, live: bool) -> bool | None:
    """The CAK's own ``key-server``, else the interface's when this is the live CAK (the
    interface-level fields describe the session in use)."""
    own = _key_server(cak)
    return own if own is not None or not live else _key_server(info)


def _flat_detail(info: Element) -> list[MkaSessionState]:
    interface = _required(info, "interface-name", "<mka-session-information>")
    interface_state = _text(info, "interface-state") or ""
    member = _text(info, "member-identifier") or ""
    live_names = {
        _required(live, "cak-name", f"<session-live> of {interface}").lower()
        for live in _children(info, "session-live")
    }
    sessions: list[MkaSessionState] = []
    seen: set[str] = set()
    for cak in _children(info, "session-cak"):
        name = _required(cak, "cak-name", f"<session-cak> of {interface}").lower()
        if name in seen:
            continue
        seen.add(name)
        status = _cak_status(cak)
        live = name in live_names or (status or "").lower() == "live"
        sessions.append(
            MkaSessionState(
                interface=interface,
                cak_name=name,
                cak_type=(_text(cak, "cak-type") or "primary").lower(),
                live=live,
                raw_state=status or ("live" if live else interface_state),
                member_id=_text(cak, "member-identifier") or member,
                key_server=_cak_key_server(cak, info, live),
                interface_state=interface_state,
            )
        )
    for live in _children(info, "session-live"):
        name = _required(live, "cak-name", f"<session-live> of {interface}").lower()
        if name in seen:
            continue
        seen.add(name)
        sessions.append(
            MkaSessionState(
                interface=interface,
                cak_name=name,
                cak_type=(_text(live, "cak-type") or "primary").lower(),
                live=True,
                raw_state="live",
                member_id=_text(live, "member-identifier") or member,
                key_server=_cak_key_server(live, info, True),
                interface_state=interface_state,
            )
        )
    return sessions


def _nested_session(session: Element) -> MkaSessionState:
    interface = _required(session, "interface-name", "<mka-session>")
    cak_name = _required(session, "cak-name", f"<mka-session> of {interface}")
    status = _text(session, "session-status")
    interface_state = _text(session, "interface-state") or ""
    if status is None and not interface_state:
        raise MalformedReplyError(
            f"<mka-session> of {interface} has neither <session-status> nor <interface-state>"
        )
    live = status == "live" if status is not None else interface_state.startswith("Secured")
    return MkaSessionState(
        interface=interface,
        cak_name=cak_name.lower(),
        cak_type=_text(session, "cak-type") or "primary",
        live=live,
        raw_state=status if status is not None else interface_state,
        member_id=_text(session, "member-identifier") or "",
        key_server=_key_server(session),
        interface_state=interface_state,
    )


# ------------------------------------------------------------------------------- MKA as text
_TEXT_FIELD_SPLIT = re.compile(r"\s{2,}")
_TEXT_FIELD = re.compile(r"(?:\d+\.\s+)?([A-Za-z][A-Za-z -]*?):\s*(.*)")
_CAK_LIST = re.compile(r"CAK list:\s*\(\d+\)")
_CAK_ENTRY = re.compile(r"\d+\.\s+CAK name:")
_PEER_LIST = re.compile(r"Peer list\b")


def _text_fields(line: str) -> list[tuple[str, str]]:
    """``Key server: yes            Key server priority: 16`` → [(label, value), …]."""
    out: list[tuple[str, str]] = []
    for part in _TEXT_FIELD_SPLIT.split(line.strip()):
        match = _TEXT_FIELD.fullmatch(part)
        if match is not None:
            out.append((match.group(1).strip().lower(), match.group(2).strip()))
    return out


@dataclass
class _TextBlock:
    interface: str
    fields: dict[str, str]
    caks: list[dict[str, str]]


def _text_blocks(text: str) -> list[_TextBlock]:
    blocks: list[_TextBlock] = []
    section = "interface"  # or "cak", or "peers" (peer lines carry their own member ids)
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        fields = _text_fields(stripped)
        if fields and fields[0][0] == "interface name":
            blocks.append(_TextBlock(fields[0][1], {}, []))
            section = "interface"
            continue
        if not blocks:
            raise MalformedReplyError(f"MKA text before any 'Interface name:' line: {stripped!r}")
        block = blocks[-1]
        if _CAK_LIST.match(stripped):
            section = "cak-list"
            continue
        if section in ("cak-list", "cak", "cak-peers") and _CAK_ENTRY.match(stripped):
            block.caks.append({})
            section = "cak"
        elif _PEER_LIST.match(stripped):
            section = "cak-peers" if section == "cak" else "peers"
            continue
        if section in ("peers", "cak-peers"):
            continue
        target = block.caks[-1] if section == "cak" else block.fields
        for label, value in fields:
            target.setdefault(label, value)
    return blocks


def parse_mka_sessions_text(text: str) -> list[MkaSessionState]:
    """``show security mka sessions [detail]`` as text → the same states as the XML parser.

    Brief (evidence §2): one CAK per interface ("CAK name", "CAK type"), live as in the brief
    XML form. Detail: every entry of the "CAK list", live iff its "Status" is ``live``. Labels
    are matched case-insensitively ("Interface State" in brief, "Interface state" in detail).
    Blank text means no sessions; anything else must start with "Interface name:".
    """
    sessions: list[MkaSessionState] = []
    for block in _text_blocks(text):
        interface = block.interface
        interface_state = block.fields.get("interface state", "")
        member = block.fields.get("member identifier", "")
        key_server_text = block.fields.get("key server")
        key_server = None if key_server_text is None else key_server_text.lower() == "yes"
        if block.caks:
            for cak in block.caks:
                name = cak.get("cak name")
                if not name:
                    raise MalformedReplyError(f"MKA text of {interface}: CAK entry without name")
                status = cak.get("status", "")
                sessions.append(
                    MkaSessionState(
                        interface=interface,
                        cak_name=name.lower(),
                        cak_type=cak.get("cak type", "primary").lower(),
                        live=status.lower() == "live",
                        raw_state=status or interface_state,
                        member_id=cak.get("member identifier", member),
                        key_server=key_server,
                        interface_state=interface_state,
                    )
                )
            continue
        name = block.fields.get("cak name")
        if not name:
            raise MalformedReplyError(f"MKA text of {interface} without 'CAK name:'")
        if not interface_state:
            raise MalformedReplyError(f"MKA text of {interface} without 'Interface State:'")
        cak_type = block.fields.get("cak type", "primary").lower()
        sessions.append(
            MkaSessionState(
                interface=interface,
                cak_name=name.lower(),
                cak_type=cak_type,
                live=_secured_on(interface_state, cak_type),
                raw_state=interface_state,
                member_id=member,
                key_server=key_server,
                interface_state=interface_state,
            )
        )
    return sessions


# ------------------------------------------------------------------------------ MACsec syslog
_SYSLOG_LINE = re.compile(
    r"(?P<stamp>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s+"
    r"(?P<process>[\w.-]+)\[(?P<pid>\d+)\]:\s+(?P<tag>[A-Z][A-Z0-9_]+):\s?(?P<message>.*)"
)
_HEX_WORD = r"[0-9A-Fa-f]+"
#: The dot1xd / mgd messages of a CAK rollover (evidence §4) and what each one carries.
_MACSEC_MESSAGES: dict[str, re.Pattern[str]] = {
    "DOT1XD_MACSEC_SC_PRIMARY_CAK_IN_USE": re.compile(
        rf"ifd: (?P<interface>\S+) primary ckn: (?P<ckn>{_HEX_WORD}) is in-use"
    ),
    "DOT1XD_MACSEC_SC_CAK_ACTIVATED": re.compile(
        r"ifd: (?P<interface>\S+) sci-out:(?P<sci_out>[0-9A-Fa-f]{16}) "
        rf"sci-in:(?P<sci_in>[0-9A-Fa-f]{{16}}) ckn: (?P<ckn>{_HEX_WORD})"
    ),
    "DOT1XD_MACSEC_SC_UNKNOWN_CAK_ERR": re.compile(
        rf"intf: (?P<interface>\S+) received CKN (?P<ckn>{_HEX_WORD}) is unknown"
    ),
    "MACSEC_CKN_LENGTH_WARNING": re.compile(r"(?P<text>.+)"),
}


@dataclass(frozen=True)
class MacsecLogEvent:
    """One MACsec syslog line. ``ckn`` is lower-case and may be a *prefix*: the real
    ``CAK_ACTIVATED`` lines in evidence §4 end mid-CKN (cut at 200 characters)."""

    stamp: str  # "Jul  5 18:39:43", device local time, no year (syslog)
    host: str
    process: str
    tag: str
    interface: str = ""
    ckn: str = ""
    sci_out: str = ""
    sci_in: str = ""

    def names(self, ckn: str) -> bool:
        """Whether this event is about ``ckn`` (a truncated CKN matches its full form)."""
        return bool(self.ckn) and ckn.lower().startswith(self.ckn)


def parse_macsec_log(text: str) -> list[MacsecLogEvent]:
    """The MACsec rollover events in ``show log messages`` text; other lines are skipped.

    A line whose tag is one of the known MACsec messages but whose text does not read as that
    message is refused, naming the tag (a changed message format must not pass unseen).
    """
    events: list[MacsecLogEvent] = []
    for line in text.splitlines():
        match = _SYSLOG_LINE.fullmatch(line.strip())
        if match is None:
            continue
        tag = match.group("tag")
        grammar = _MACSEC_MESSAGES.get(tag)
        if grammar is None:
            continue
        body = grammar.fullmatch(match.group("message").strip())
        if body is None:
            raise MalformedReplyError(f"{tag} line not in the known format")
        fields = body.groupdict()
        events.append(
            MacsecLogEvent(
                stamp=match.group("stamp"),
                host=match.group("host"),
                process=match.group("process"),
                tag=tag,
                interface=fields.get("interface") or "",
                ckn=(fields.get("ckn") or "").lower(),
                sci_out=(fields.get("sci_out") or "").upper(),
                sci_in=(fields.get("sci_in") or "").upper(),
            )
        )
    return events


# ----------------------------------------------------------------------------------- device time
def parse_device_clock(reply: Element) -> DeviceClock:
    """``get-system-uptime-information`` → the device clock and its zone offset.

    The rule (LOCAL ``date-time`` text vs the ``junos:seconds`` epoch, rounded to the minute;
    only UTC text without the attribute) is ``junos_time.clock_from_uptime``, which the on-box
    runtime uses too.
    """
    try:
        epoch, offset = clock_from_uptime(reply)
    except StartTimeError as exc:
        raise MalformedReplyError(str(exc)) from None
    # Junos reports whole seconds
    return DeviceClock(
        datetime.fromtimestamp(epoch, UTC), timedelta(seconds=offset), resolution_s=1.0
    )


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


def parse_start_time(text: str) -> datetime:
    """Junos ``start-time`` → aware UTC.

    ``YYYY-M[M]-D[D].HH:MM[:SS]``, quoted or not, optionally followed by the device's offset
    ``+hhmm`` / ``-hhmm``: read back as ``"2026-12-1.07:30:58 +0000"`` (evidence §1). Without an
    offset the time is taken as UTC (the caller converts from the device's zone if it knows it).
    The rule is ``junos_time.parse_start_time``, the one the on-box runtime uses.
    """
    try:
        epoch = parse_start_time_epoch(text)
    except StartTimeError:
        raise MalformedReplyError(f"unparsable start-time {text!r}") from None
    return datetime.fromtimestamp(epoch, UTC)


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
            if not _is_ascii_number(slot_text):
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


_SET_KEY_PREFIX = ("set", "security", "authentication-key-chains", "key-chain")


def parse_key_chain_set(text: str, chain: str) -> list[ChainEntryState]:
    """The keys of ``chain`` in ``show configuration … | display set`` text, sorted by slot.

    Reads ``key N key-name``, ``key N start-time`` (quoted or not, any form
    :func:`parse_start_time` takes) and nothing else: ``secret`` reads back ``$9$``-encrypted
    (evidence §1) or as ``/* SECRET-DATA */`` (§5) and is never needed. Lines that are not
    ``set`` lines of this chain are skipped; a key missing its key-name or start-time is refused.
    """
    keys: dict[str, dict[str, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip().startswith("set "):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            raise MalformedReplyError(f"display set line {number} is not quoted evenly") from None
        head = len(_SET_KEY_PREFIX)
        if tuple(words[:head]) != _SET_KEY_PREFIX or words[head : head + 1] != [chain]:
            continue
        rest = words[head + 1 :]
        if len(rest) < 2 or rest[0] != "key":
            continue  # chain-level statements such as tolerance
        slot_text, statement = rest[1], rest[2:]
        key = keys.setdefault(slot_text, {})
        if len(statement) == 2 and statement[0] in ("key-name", "start-time"):
            key[statement[0]] = statement[1]
    entries: list[ChainEntryState] = []
    for slot_text, statements in keys.items():
        if not _is_ascii_number(slot_text):
            raise MalformedReplyError(f"key chain {chain} key id {slot_text!r} is not a number")
        where = f"key chain {chain} key {slot_text}"
        for required in ("key-name", "start-time"):
            if not statements.get(required):
                raise MalformedReplyError(f"{where} without {required}")
        entries.append(
            ChainEntryState(
                chain=chain,
                slot=int(slot_text),
                ckn=statements["key-name"].lower(),
                start_time=parse_start_time(statements["start-time"]),
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


# ------------------------------------------------------------------- preflight (read-only facts)
# Added for ``qkd-macsec preflight``; kept together at the end of the file to ease merging.
_VERSION_IN_COMMENT = re.compile(r"\[([^\]]+)\]")
_NTP_STATUS_WORDS = re.compile(r"\b(leap_\w+)\s*,\s*(sync_\w+)")
_NTP_FIELD = re.compile(r"\b(stratum|offset)=\s*(-?[\d.]+)")
#: ``sync_unspec``: no source selected; ``sync_local``: the local clock driver (not UTC).
_NTP_UNSYNCED_SOURCES = frozenset({"sync_unspec", "sync_local"})


def parse_software_information(reply: Element) -> DeviceFacts:
    """``get-software-information`` → host name, model, version (first routing engine).

    Newer releases carry ``<junos-version>``; older ones only the package comment
    ``JUNOS Software Release [12.3R1.7]``, which is used as the fallback.
    """
    if reply is None:
        raise MalformedReplyError("empty software-information reply")
    info = reply if _local(reply.tag) == "software-information" else None
    if info is None:
        info = next(iter(_descendants(reply, "software-information")), None)
    if info is None:
        raise MalformedReplyError(f"expected <software-information>, got <{_local(reply.tag)}>")
    version = _text(info, "junos-version")
    if not version:
        for package in _children(info, "package-information"):
            match = _VERSION_IN_COMMENT.search(_text(package, "comment") or "")
            if match:
                version = match.group(1).strip()
                break
    if not version:
        raise MalformedReplyError("<software-information> without a Junos version")
    return DeviceFacts(
        hostname=_text(info, "host-name") or "",
        model=_text(info, "product-model") or _text(info, "product-name") or "",
        version=version,
    )


def parse_interface_information(reply: Element, name: str) -> InterfaceState:
    """``get-interface-information`` for one interface → its state (absent when not listed)."""
    if reply is None:
        raise MalformedReplyError("empty interface-information reply")
    for physical in _descendants(reply, "physical-interface"):
        if _text(physical, "name") != name:
            continue
        admin, oper = _text(physical, "admin-status"), _text(physical, "oper-status")
        return InterfaceState(
            name=name,
            exists=True,
            admin_up=None if admin is None else admin.lower() == "up",
            oper_up=None if oper is None else oper.lower() == "up",
        )
    return InterfaceState(name=name, exists=False)


def parse_ntp_status(reply: Element) -> NtpState:
    """``get-ntp-status`` → synchronisation state, from either reply shape Junos uses.

    Older releases put ntpq's ``rv`` text inside ``<output>`` (``status=0644 leap_none,
    sync_ntp, ... stratum=4, ... offset=1.847``); 24.4 answers ``<ntp-status>`` with
    ``<status>0618 leap_none, sync_ntp, ...</status>``, ``<stratum>``, ``<offset>``
    (czerwonk/junos_exporter issue #315, EX4300 18.4R3 and EX4100 24.4R2). Anything without
    a status line (ntpd not running, NTP not configured) is reported as not synchronised.
    """
    if reply is None:
        raise MalformedReplyError("empty NTP reply")
    structured = reply if _local(reply.tag) == "ntp-status" else None
    if structured is None:
        structured = next(iter(_descendants(reply, "ntp-status")), None)
    fields: dict[str, str] = {}
    if structured is not None:
        status = _text(structured, "status") or ""
        for name in ("stratum", "offset"):
            value = _text(structured, name)
            if value:
                fields[name] = value
    else:
        texts = [str(node.text) for node in _descendants(reply, "output") if node.text]
        if not texts and reply.text:
            texts = [str(reply.text)]
        status = " ".join(" ".join(texts).split())
        for match in _NTP_FIELD.finditer(status):
            fields.setdefault(match.group(1), match.group(2))
    words = _NTP_STATUS_WORDS.search(status)
    leap, source = (words.group(1), words.group(2)) if words else (None, None)
    stratum = int(float(fields["stratum"])) if "stratum" in fields else None
    offset = float(fields["offset"]) if "offset" in fields else None
    synchronised = (
        leap is not None
        and leap != "leap_alarm"
        and source not in _NTP_UNSYNCED_SOURCES
        and stratum is not None
        and stratum < 16
    )
    if words:
        line = status[max(0, words.start() - 5) :].split(",")
        raw = ", ".join(part.strip() for part in line[:2])
    else:
        raw = status[:120] or "no NTP status line"
    return NtpState(
        synchronised=synchronised,
        leap=leap,
        sync_source=source,
        stratum=stratum,
        offset_ms=offset,
        raw_status=raw,
    )


def macsec_filter() -> Element:
    """``get-configuration`` subtree filter for the whole ``security macsec`` hierarchy."""
    configuration = etree.Element("configuration")
    etree.SubElement(etree.SubElement(configuration, "security"), "macsec")
    return configuration


def parse_macsec_config(reply: Element) -> MacsecConfigState:
    """Connectivity associations (suite, pre-shared-key CKN, key chain) and bindings.

    The CAK of a ``pre-shared-key`` is never read out of the reply.
    """
    macsec = _path(_configuration(reply), "security", "macsec")
    if macsec is None:
        return MacsecConfigState(cas={}, bindings={})
    cas: dict[str, CaConfigState] = {}
    for ca in _children(macsec, "connectivity-association"):
        name = _required(ca, "name", "<connectivity-association>")
        psk = _child(ca, "pre-shared-key")
        cas[name] = CaConfigState(
            name=name,
            cipher_suite=_text(ca, "cipher-suite"),
            pre_shared_key_ckn=None if psk is None else (_text(psk, "ckn") or "").lower(),
            pre_shared_key_chain=_text(ca, "pre-shared-key-chain"),
        )
    return MacsecConfigState(cas=cas, bindings=parse_macsec_bindings(reply))


_CONFIRM_PENDING = re.compile(r"commit confirmed, rollback in", re.IGNORECASE)


def parse_commit_confirm_pending(reply: Element) -> bool:
    """``get-commit-information`` → does the newest commit carry "commit confirmed, rollback in
    Nmins" (``<comment>``; ``<log>`` is the user's comment)? The shape NAPALM's Junos driver
    tests record (napalm ``test/junos`` commit-pending fixtures). Junos keeps that text on the
    entry after it is confirmed by ``commit check``, so True means "may be pending"."""
    if reply is None:
        raise MalformedReplyError("empty commit-information reply")
    entries = list(_descendants(reply, "commit-history"))
    if not entries:
        return False

    def sequence(entry: Element) -> int:
        text = _text(entry, "sequence-number") or ""
        return int(text) if text.isdigit() else 1 << 30

    newest = min(entries, key=sequence)
    return bool(_CONFIRM_PENDING.search(_text(newest, "comment") or ""))


def count_diff_lines(diff: object) -> int:
    """Changed lines (``+``/``-``) in a ``show | compare`` text; None/blank means no change."""
    if not isinstance(diff, str):
        return 0
    return sum(1 for line in diff.splitlines() if line[:1] in ("+", "-"))
