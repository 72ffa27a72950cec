"""The ``<command>`` RPC: the CLI show commands the tool and PyEZ use.

``dev.cli("show …")`` first probes ``show … | display xml rpc`` and then sends the command with
``format="text"``; fact gathering sends some commands for XML. Each known command maps to the
RPC that implements it, so text, XML and the probe stay consistent.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, handler_for, rpc
from qkd_macsec.sim.netconf.errors import failure
from qkd_macsec.sim.netconf.handlers import mka_rpcs, system_rpcs
from qkd_macsec.sim.netconf.xml import Element, element, sub


@dataclass(frozen=True)
class CliCommand:
    """A show command: its words, the equivalent RPC and a text rendering."""

    words: tuple[str, ...]
    rpc_name: str
    args: tuple[str, ...] = ()  # RPC arguments: flags, or ``name=value`` for a text one
    text: Callable[[RpcContext, str | None], str] | None = None
    takes_interface: bool = False


def _mka_text(form: str) -> Callable[[RpcContext, str | None], str]:
    def render(ctx: RpcContext, interface: str | None) -> str:
        return mka_rpcs.mka_text(ctx, interface, form)

    return render


def _log_text(ctx: RpcContext, _: str | None) -> str:
    return mka_rpcs.log_messages_text(ctx)


def _macsec_text(ctx: RpcContext, interface: str | None) -> str:
    views = mka_rpcs.selected_views(ctx, interface)
    return mka_rpcs.macsec_connections_text(views, mka_rpcs.fabric_sessions(ctx, interface))


def _version_text(ctx: RpcContext, _: str | None) -> str:
    d = ctx.device
    return f"Hostname: {d.hostname}\nModel: {d.model.lower()}\nJunos: {d.version}\n"


def _uptime_text(ctx: RpcContext, _: str | None) -> str:
    return system_rpcs.uptime_text(ctx.device)


COMMANDS: tuple[CliCommand, ...] = (
    CliCommand(
        ("show", "security", "mka", "sessions", "summary"),
        "get-mka-session-information",
        ("summary",),
        _mka_text("summary"),
        True,
    ),
    CliCommand(
        ("show", "security", "mka", "sessions", "detail"),
        "get-mka-session-information",
        ("detail",),
        _mka_text("detail"),
        True,
    ),
    CliCommand(
        ("show", "security", "mka", "sessions"),
        "get-mka-session-information",
        (),
        _mka_text("brief"),
        True,
    ),
    CliCommand(("show", "log", "messages"), "get-log", ("filename=messages",), _log_text),
    CliCommand(
        ("show", "security", "macsec", "connections"),
        "get-macsec-connection-information",
        (),
        _macsec_text,
        True,
    ),
    CliCommand(
        ("show", "version", "invoke-on", "all-routing-engines"),
        "get-software-information",
        ("invoke-on-all",),
        _version_text,
    ),
    CliCommand(("show", "version"), "get-software-information", (), _version_text),
    CliCommand(("show", "system", "uptime"), "get-system-uptime-information", (), _uptime_text),
    CliCommand(("show", "system", "information"), "get-system-information"),
    CliCommand(("show", "system", "commit"), "get-commit-information"),
    CliCommand(("show", "chassis", "hardware"), "get-chassis-inventory"),
    CliCommand(("show", "chassis", "routing-engine"), "get-route-engine-information"),
    CliCommand(("show", "bridge", "mac-table", "count"), "get-bridge-mac-table-count"),
)


def parse_command(line: str) -> tuple[list[str], list[str]]:
    """Split a CLI line into its words and its pipe modifiers."""
    base, *pipes = line.split("|")
    try:
        words = shlex.split(base)
    except ValueError:
        raise failure(f"syntax error: {line.strip()}") from None
    return words, [" ".join(p.split()) for p in pipes if p.strip()]


def match_command(words: list[str]) -> tuple[CliCommand, str | None] | None:
    """The command these words name, and the interface argument if any."""
    for command in COMMANDS:
        n = len(command.words)
        if tuple(words[:n]) != command.words:
            continue
        rest = words[n:]
        if not rest:
            return command, None
        if command.takes_interface and len(rest) == 2 and rest[0] == "interface":
            return command, rest[1]
    return None


@rpc("get-bridge-mac-table-count")
async def get_bridge_mac_table_count(ctx: RpcContext, op: Element) -> Reply:
    count = element("l2ald-rtb-mac-count")
    entry = sub(count, "l2ald-rtb-mac-count-entry")
    sub(entry, "mac-count-global", "0")
    return Reply([count])


@rpc("command")
async def command(ctx: RpcContext, op: Element) -> Reply:
    line = (op.text or "").strip()
    words, pipes = parse_command(line)
    fmt = (op.get("format") or "xml").lower()
    if words[:2] == ["show", "configuration"]:
        return _show_configuration(ctx, words[2:], pipes, fmt)
    found = match_command(words)
    if found is None:
        raise failure(
            f"syntax error, expecting <command>: {line}", bad_element=" ".join(words[-1:])
        )
    cmd, interface = found
    if "display xml rpc" in pipes:
        return _rpc_probe(cmd, interface)
    wants_text = fmt == "text" and "display xml" not in pipes
    if wants_text and cmd.text is not None:
        return Reply([element("output", cmd.text(ctx, interface))])
    if cmd.words[:2] == ("show", "version") and "invoke-on-all" in cmd.args:
        return Reply([system_rpcs.software_information_all(ctx.device)])
    reply = await handler_for(cmd.rpc_name)(ctx, _rpc_element(cmd, interface))
    if wants_text:
        text = "".join(xml_as_text(node) for node in reply.body if not isinstance(node, bytes))
        return Reply([element("output", text)])
    return reply


def xml_as_text(node: Element, depth: int = 0) -> str:
    """A plain indented rendering for commands without a hand-made text form."""
    label = str(node.tag).replace("-", " ")
    value = (node.text or "").strip()
    line = "  " * depth + (f"{label}: {value}" if value else f"{label}:") + "\n"
    return line + "".join(
        xml_as_text(child, depth + 1) for child in node if isinstance(child.tag, str)
    )


def _rpc_element(cmd: CliCommand, interface: str | None) -> Element:
    node = element(cmd.rpc_name)
    for arg in cmd.args:
        name, _, value = arg.partition("=")
        if arg != "invoke-on-all":
            sub(node, name, value or None)
    if interface is not None:
        sub(node, "interface-name", interface)
    return node


def _rpc_probe(cmd: CliCommand, interface: str | None) -> Reply:
    wrapper = element("rpc")
    wrapper.append(_rpc_element(cmd, interface))
    cli = element("cli")
    sub(cli, "banner", "")
    return Reply([wrapper, cli])


def _show_configuration(ctx: RpcContext, path: list[str], pipes: list[str], fmt: str) -> Reply:
    if "display xml rpc" in pipes:
        raise failure("display xml rpc is not available for show configuration")
    config = ctx.device.committed.presented()  # $9$ secrets, normalised start-times
    if path:
        config = config.filtered(path_filter(path))
    if "display set" in pipes:
        text = config.to_set()
    elif "display xml" in pipes or fmt == "xml":
        return Reply([config.to_xml()])
    else:
        text = config.to_text()
    info = element("configuration-information")
    sub(info, "configuration-output", text)
    return Reply([info])


# Statements whose next word names a list entry (`connectivity-association CA`).
LIST_KEYWORDS = frozenset(
    {
        "connectivity-association",
        "key-chain",
        "key",
        "interface",
        "unit",
        "policy",
        "generate-event",
        "apply-macro",
        "static-host-mapping",
        "file",
        "group",
        "user",
    }
)


def path_filter(path: list[str]) -> Element:
    """A get-configuration subtree filter for a ``show configuration`` path."""
    selector = etree.Element("configuration")
    parent = selector
    entry_next = False
    for depth, word in enumerate(path):
        if entry_next or not _is_tag(word):
            if depth == 1 and path[0] == "interfaces":
                parent = etree.SubElement(parent, "interface")
            etree.SubElement(parent, "name").text = word
            entry_next = False
            continue
        parent = etree.SubElement(parent, word)
        entry_next = word in LIST_KEYWORDS
    return selector


def _is_tag(word: str) -> bool:
    try:
        etree.Element(word)
    except ValueError:
        return False
    return True
