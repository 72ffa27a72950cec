"""MKA and MACsec operational state: ``show security mka sessions`` and
``show security macsec connections``, rendered from the link fabric.

The XML shape is the simulator's documented contract (docs/simulator.md, SIM-CONTRACT.md); Junos
publishes no sample for the summary columns, so the element names are plain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qkd_macsec.sim.config.macsec_view import InterfaceMacsec, macsec_interfaces
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.handlers.common import text_arg
from qkd_macsec.sim.netconf.xml import Element, element, sub

if TYPE_CHECKING:
    from qkd_macsec.sim.fabric import MkaSession

NOT_LIVE_SAK = "000000000000000000000000/0"


def interface_state(sessions: Sequence[MkaSession], interface: str) -> str:
    """What Junos shows for the interface: secured on the primary or the preceding CAK, or not."""
    live = [s for s in sessions if s.interface == interface and s.status == "live"]
    if any(s.cak_type == "primary" for s in live):
        return "Secured - Primary"
    if live:
        return "Secured - Preceding"
    return "Not secured"


def render_mka_sessions(sessions: Sequence[MkaSession]) -> Element:
    root = element("mka-session-information")
    for session in sessions:
        node = sub(root, "mka-session")
        sub(node, "interface-name", session.interface)
        sub(node, "member-identifier", session.member_id)
        sub(node, "cak-name", session.cak_name)
        sub(node, "cak-type", session.cak_type)
        sub(node, "session-status", session.status)
        sub(node, "interface-state", interface_state(sessions, session.interface))
        sub(node, "key-server", "yes" if session.key_server else "no")
        sak = f"{session.member_id.upper()}/1" if session.status == "live" else NOT_LIVE_SAK
        sub(node, "latest-sak-key-identifier", sak)
    return root


def mka_sessions_text(sessions: Sequence[MkaSession]) -> str:
    """``show security mka sessions summary`` as text."""
    header = f"{'Interface':<14}{'Member-ID':<26}{'Type':<11}{'Status':<13}{'CAK Name'}"
    lines = [header]
    for s in sessions:
        lines.append(
            f"{s.interface:<14}{s.member_id:<26}{s.cak_type:<11}{s.status:<13}{s.cak_name}"
        )
    return "\n".join(lines) + "\n"


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


@rpc("get-mka-session-information")
async def get_mka_session_information(ctx: RpcContext, op: Element) -> Reply:
    sessions = fabric_sessions(ctx, _interface_arg(op))
    if (op.get("format") or "").lower() == "text":
        return Reply([element("output", mka_sessions_text(sessions))])
    # summary and detail render the same elements (the documented contract shape)
    return Reply([render_mka_sessions(sessions)])


@rpc("get-macsec-connection-information")
async def get_macsec_connection_information(ctx: RpcContext, op: Element) -> Reply:
    interface = _interface_arg(op)
    views = selected_views(ctx, interface)
    sessions = fabric_sessions(ctx, interface)
    if (op.get("format") or "").lower() == "text":
        return Reply([element("output", macsec_connections_text(views, sessions))])
    return Reply([render_macsec_connections(views, sessions)])
