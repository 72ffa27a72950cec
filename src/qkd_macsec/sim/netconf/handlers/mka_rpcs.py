"""MKA and MACsec operational state: ``show security mka sessions`` and
``show security macsec connections``, rendered from the link fabric; the MACsec lines of
``show log messages``.

MKA follows what real devices print (shared/reference/junos-field-evidence.md, recorded in
tests/unit/devices/fixtures/junos/): XML is one flat ``<mka-session-information
junos:style="brief">`` per interface, as siblings in the reply, with direct children and CKNs in
upper-case hex (§3; ``brief`` even in the detail form, as the real sample shows); the detail form
adds ``session-live`` (the live CAK) and ``session-cak`` (every CAK). The text forms are the
ACX7348's (§2). Elements and labels no public sample shows (the summary table, ``cak-type``,
``cak-status``, ``key-server``) are named after the text labels; counters, uptimes and PNs are
plausible values derived from when the key went live, not modelled MKA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from lxml import etree

from qkd_macsec.sim.config.macsec_view import (
    DEFAULT_KEY_SERVER_PRIORITY,
    InterfaceMacsec,
    macsec_interfaces,
)
from qkd_macsec.sim.fabric import (
    CAK_ACTIVATED,
    CKN_LENGTH_WARNING,
    PRIMARY_CAK_IN_USE,
    Fabric,
    LogEvent,
    MkaSession,
)
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import failure
from qkd_macsec.sim.netconf.handlers.common import flag, text_arg
from qkd_macsec.sim.netconf.xml import JUNOS_NS, Element, element, sub

NOT_LIVE_SAK = "000000000000000000000000/0"
TRANSMIT_INTERVAL_S = 2.0  # Junos default MKA transmit interval (2000 ms, evidence §2)
HOLD_TIME_MS = 6000
DEFAULT_VERSION = "23.4R2-S3.9"


def interface_state(sessions: Sequence[MkaSession], interface: str) -> str:
    """What Junos shows for the interface: secured on the primary or the preceding CAK, or not."""
    live = [s for s in sessions if s.interface == interface and s.status == "live"]
    if any(s.cak_type == "primary" for s in live):
        return "Secured - Primary"
    if live:
        return "Secured - Preceding"
    return "Not secured"


def _by_interface(sessions: Sequence[MkaSession]) -> dict[str, list[MkaSession]]:
    grouped: dict[str, list[MkaSession]] = {}
    for session in sessions:
        grouped.setdefault(session.interface, []).append(session)
    return grouped


def _head(sessions: Sequence[MkaSession]) -> MkaSession:
    """The session an interface-level line names: the primary CAK's (evidence §2 brief)."""
    return next((s for s in sessions if s.cak_type == "primary"), sessions[0])


def _latest_sak(session: MkaSession) -> str:
    """``Latest SAK KI``: the key server's member identifier / key number, zeros when down."""
    if session.status != "live":
        return NOT_LIVE_SAK
    server = session.member_id if session.key_server or not session.peers else None
    server = server or session.peers[0].member_id
    return f"{server.upper()}/1"


def _info(version: str) -> Element:
    namespace = JUNOS_NS.format(version=version)
    node = etree.Element("mka-session-information", nsmap={"junos": namespace})
    node.set(f"{{{namespace}}}style", "brief")
    return node


def render_mka_sessions(
    sessions: Sequence[MkaSession], *, detail: bool = False, version: str = DEFAULT_VERSION
) -> list[Element]:
    """The reply body: one ``<mka-session-information>`` per interface (evidence §3); a single
    empty one when there is none (no sample shows that case: an empty element is what the
    driver reads as "no sessions")."""
    grouped = _by_interface(sessions)
    if not grouped:
        return [element("mka-session-information")]
    out: list[Element] = []
    for interface, rows in grouped.items():
        head = _head(rows)
        node = _info(version)
        sub(node, "interface-name", interface)
        sub(node, "interface-state", interface_state(rows, interface))
        sub(node, "member-identifier", head.member_id.upper())
        sub(node, "cak-name", head.cak_name.upper())
        if not detail:
            sub(node, "cak-type", head.cak_type)
        sub(node, "security-mode", "static")
        sub(node, "key-server", "yes" if head.key_server else "no")
        sub(node, "latest-sak-key-identifier", _latest_sak(head))
        sub(node, "previous-sak-key-identifier", NOT_LIVE_SAK)
        if detail:
            for row in rows:
                if row.status == "live":
                    live = sub(node, "session-live")
                    sub(live, "cak-name", row.cak_name.upper())
                    sub(live, "cak-type", row.cak_type)
                    sub(live, "member-identifier", row.member_id.upper())
            for row in rows:
                cak = sub(node, "session-cak")
                sub(cak, "cak-name", row.cak_name.upper())
                sub(cak, "cak-type", row.cak_type)
                sub(cak, "cak-status", row.status)
                sub(cak, "member-identifier", row.member_id.upper())
        out.append(node)
    return out


# -------------------------------------------------------------------------------- text forms
def _messages(session: MkaSession, now: float) -> int:
    """MKPDUs sent since the key went live, one per transmit interval (1 when not live)."""
    if session.live_since is None:
        return 1
    return 1 + int(max(0.0, now - session.live_since) / TRANSMIT_INTERVAL_S)


def _uptime(seconds: float) -> str:
    """``2d 06:30:56`` / ``00:00:26``, as the peer list prints it (evidence §2)."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _lowest_pn(session: MkaSession, now: float) -> int:
    return 128 * _messages(session, now)


def _common_lines(head: MkaSession, priority: int, now: float) -> list[str]:
    key_server = "yes" if head.key_server else "no"
    return [
        "     Security mode: static",
        "     MKA suspended: 0(s)",
        f"     Transmit interval: {int(TRANSMIT_INTERVAL_S * 1000)}(ms)",
        "     SAK rekey interval: 0(s)",
        "     Preceding Key: enabled",
        "     Bounded Delay: disabled",
        f"     Outbound SCI: {head.sci}",
        f"     Message number: {_messages(head, now):<10} Key number: 1",
        "     MKA ICV Indicator: enabled",
        f"     Key server: {key_server:<14} Key server priority: {priority}",
        f"     Latest SAK AN: 0           Latest SAK KI: {_latest_sak(head)}",
        f"     Previous SAK AN: 0         Previous SAK KI: {NOT_LIVE_SAK}",
        "     MKA Suspend For: disabled  MKA Suspend On Request: disabled",
    ]


def _peer_lines(session: MkaSession, now: float, indent: str) -> list[str]:
    lines = []
    uptime = _uptime(now - session.live_since) if session.live_since is not None else "00:00:00"
    for number, peer in enumerate(session.peers, start=1):
        lines += [
            f"{indent}{number}. Member identifier: {peer.member_id.upper()} (live)",
            f"{indent}   Message number: {_messages(session, now):<11} Hold time: "
            f"{HOLD_TIME_MS} (ms)",
            f"{indent}   SCI: {peer.sci:<22} Uptime: {uptime}",
            f"{indent}   Lowest acceptable PN: {_lowest_pn(session, now)}",
        ]
    return lines


def mka_sessions_text(
    sessions: Sequence[MkaSession],
    *,
    form: str = "brief",
    now: float = 0.0,
    priorities: Mapping[str, int] | None = None,
) -> str:
    """``show security mka sessions [summary|detail]`` as the ACX7348 prints it (evidence §2);
    the summary is a table (no public sample)."""
    if form == "summary":
        return _summary_text(sessions, now)
    blocks: list[str] = []
    for interface, rows in _by_interface(sessions).items():
        head = _head(rows)
        priority = (priorities or {}).get(interface, DEFAULT_KEY_SERVER_PRIORITY)
        state = interface_state(rows, interface)
        lines = [f"  Interface name: {interface}"]
        if form == "detail":
            lines += [
                f"     Interface state: {state}",
                "     Ether-type profile: default - 0x888e",
                f"     Member identifier: {head.member_id.upper()}",
                f"     CAK name: {head.cak_name.upper()}",
            ]
            lines += _common_lines(head, priority, now)
            lines.append(f"     CAK list: ({len(rows)})")
            for number, row in enumerate(rows, start=1):
                live_peers = row.peers if row.status == "live" else ()
                lines += [
                    f"        {number}. CAK name: {row.cak_name.upper()}",
                    f"           CAK type: {row.cak_type:<35} Status: {row.status}",
                    f"           Member identifier: {row.member_id.upper():<26}"
                    f" Message number: {_messages(row, now)}",
                    f"           Peer list: ({len(live_peers)})",
                ]
                if live_peers:
                    lines += _peer_lines(row, now, "              ")
        else:
            lines += [
                f"     Interface State: {state}",
                f"     Member identifier: {head.member_id.upper()}",
                f"     CAK name: {head.cak_name.upper()}",
                f"     CAK type: {head.cak_type}",
            ]
            lines += _common_lines(head, priority, now)
            lines.append("     Peer list")
            if head.status == "live":
                lines += _peer_lines(head, now, "          ")
        blocks.append("\n".join(lines) + "\n \n")
    return "".join(blocks)


def _summary_text(sessions: Sequence[MkaSession], now: float) -> str:
    header = (
        f"{'Interface':<14}{'Member-ID':<26}{'Type':<11}{'Status':<13}"
        f"{'Tx':<10}{'Rx':<10}{'CAK Name'}"
    )
    lines = [header]
    for s in sessions:
        sent = _messages(s, now)
        received = sent if s.peers and s.status == "live" else 0
        lines.append(
            f"{s.interface:<14}{s.member_id.upper():<26}{s.cak_type:<11}{s.status:<13}"
            f"{sent:<10}{received:<10}{s.cak_name.upper()}"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ syslog lines
def _pid(name: str, salt: str) -> int:
    return 1000 + int.from_bytes(hashlib.sha256(f"{salt}|{name}".encode()).digest()[:2]) % 9000


def log_line(fabric: Fabric, device: str, hostname: str, event: LogEvent) -> str:
    """One syslog line in the real layout (evidence §4):
    ``Jul  5 18:39:43  host dot1xd[9256]: TAG: message``, stamped with the device's clock."""
    moment = fabric.device_time(device, at=event.at)
    stamp = f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"
    ckn = event.ckn.upper()
    if event.tag == CKN_LENGTH_WARNING:
        process = f"mgd[{_pid(f'{device}|{event.at}', 'mgd')}]"
        text = (
            "To maximize security, recommend configuring all 64 hexadecimal digits of "
            "pre-shared-key ckn"
        )
    else:
        process = f"dot1xd[{_pid(device, 'dot1xd')}]"
        if event.tag == PRIMARY_CAK_IN_USE:
            text = f"ifd: {event.interface} primary ckn: {ckn} is in-use"
        elif event.tag == CAK_ACTIVATED:
            text = (
                f"ifd: {event.interface} sci-out:{event.sci_out} sci-in:{event.sci_in} ckn: {ckn}"
            )
        else:
            text = f"intf: {event.interface} received CKN {ckn} is unknown"
    return f"{stamp}  {hostname} {process}: {event.tag}: {text}"


def log_messages_text(ctx: RpcContext) -> str:
    """``show log messages``: the MACsec events of this device, oldest first."""
    fabric = ctx.fabric
    if fabric is None:
        return ""
    name = ctx.device.name
    try:
        events = fabric.log_events(name)
    except KeyError:
        return ""
    return "".join(f"{log_line(fabric, name, ctx.device.hostname, e)}\n" for e in events)


def render_macsec_connections(
    views: Sequence[InterfaceMacsec], sessions: Sequence[MkaSession]
) -> Element:
    root = element("macsec-connection-information")
    for view in views:
        live = interface_state(sessions, view.interface) != "Not secured"
        common = sub(root, "macsec-interface-common-information")
        sub(common, "interface-name", view.interface)
        sub(common, "connectivity-association-name", view.ca)
        sub(common, "cipher-suite", view.cipher_suite)
        sub(common, "encryption", "on")
        sub(common, "offset", "0")
        sub(common, "include-sci", "no")
        sub(common, "replay-protect", "off")
        sub(common, "key-server-offset", "0")
        for direction in ("outbound", "inbound"):
            channel = sub(root, f"{direction}-secure-channel")
            sub(channel, "secure-channel-identifier", _sci(view.interface, direction))
            sub(channel, "sa-state", "inuse" if live else "notinuse")
            sub(channel, "association-number", "1" if live else "0")
    return root


def macsec_connections_text(
    views: Sequence[InterfaceMacsec], sessions: Sequence[MkaSession]
) -> str:
    lines = []
    for view in views:
        state = interface_state(sessions, view.interface)
        lines.append(
            f"Interface name: {view.interface}\n"
            f"  CA name: {view.ca}\n  Cipher suite: {view.cipher_suite}   Encryption: on\n"
            f"  State: {state}\n"
        )
    return "\n".join(lines)


def _sci(interface: str, direction: str) -> str:
    digest = sum(interface.encode()) + (1 if direction == "inbound" else 0)
    return f"00:05:86:{digest % 256:02x}:{(digest // 256) % 256:02x}:00/1"


def fabric_sessions(ctx: RpcContext, interface: str | None) -> list[MkaSession]:
    if ctx.fabric is None:
        return []
    try:
        return list(ctx.fabric.sessions(ctx.device.name, interface))
    except KeyError:
        return []


def selected_views(ctx: RpcContext, interface: str | None) -> list[InterfaceMacsec]:
    views = macsec_interfaces(ctx.device.committed)
    return [v for name, v in sorted(views.items()) if interface is None or name == interface]


def _interface_arg(op: Element) -> str | None:
    return text_arg(op, "interface") or text_arg(op, "interface-name") or None


def mka_form(op: Element) -> str:
    """brief (default), summary or detail, from the RPC's ``<summary/>`` / ``<detail/>``."""
    if flag(op, "detail"):
        return "detail"
    return "summary" if flag(op, "summary") else "brief"


def mka_text(ctx: RpcContext, interface: str | None, form: str) -> str:
    priorities = {
        name: view.key_server_priority
        for name, view in macsec_interfaces(ctx.device.committed).items()
    }
    now = ctx.fabric.now() if ctx.fabric is not None else 0.0
    sessions = fabric_sessions(ctx, interface)
    return mka_sessions_text(sessions, form=form, now=now, priorities=priorities)


@rpc("get-mka-session-information")
async def get_mka_session_information(ctx: RpcContext, op: Element) -> Reply:
    interface = _interface_arg(op)
    form = mka_form(op)
    if (op.get("format") or "").lower() == "text":
        return Reply([element("output", mka_text(ctx, interface, form))])
    # no public XML sample of the summary form: it answers the brief layout
    sessions = fabric_sessions(ctx, interface)
    return Reply(render_mka_sessions(sessions, detail=form == "detail", version=ctx.device.version))


@rpc("get-log")
async def get_log(ctx: RpcContext, op: Element) -> Reply:
    """``show log messages`` (``<get-log><filename>messages</filename>``): text in ``<output>``."""
    filename = text_arg(op, "filename") or ""
    if filename != "messages":
        raise failure(f"could not resolve file: {filename}", type="application")
    return Reply([element("output", log_messages_text(ctx))])


@rpc("get-macsec-connection-information")
async def get_macsec_connection_information(ctx: RpcContext, op: Element) -> Reply:
    interface = _interface_arg(op)
    views = selected_views(ctx, interface)
    sessions = fabric_sessions(ctx, interface)
    if (op.get("format") or "").lower() == "text":
        return Reply([element("output", macsec_connections_text(views, sessions))])
    return Reply([render_macsec_connections(views, sessions)])
