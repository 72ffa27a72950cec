"""NX-OS configuration text (``show running-config`` and what the renderer writes) as data.

NX-OS prints its configuration as the commands that create it, nested by two spaces per mode
(``key chain NAME macsec`` → ``key ID`` → ``key-octet-string …`` / ``send-lifetime …``; the
grammar is Cisco's NX-OS configuration builder [S20] and the MACsec data model [S19], research
§2.1). This module reads the parts the tool cares about — MACsec key chains, macsec policies,
interface bindings and admin state, the clock's zone lines — and ignores everything else.
Secrets are never kept: a key's octet string is only noted as present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "MONTHS",
    "NxosKey",
    "NxosReplyError",
    "NxosRunning",
    "Stanza",
    "format_start",
    "parse_running",
    "parse_start",
    "stanzas",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LIFETIME = re.compile(
    r"send-lifetime\s+(?:local\s+)?(\d{1,2}):(\d{2}):(\d{2})\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{4})"
    r"(?:\s+(infinite|duration\s+(\d+)|.+))?\s*"
)
_TIMEZONE = re.compile(r"clock timezone\s+(\S+)\s+(-?\d{1,2})\s+(\d{1,2})\s*")
_BINDING = re.compile(r"macsec keychain\s+(\S+)(?:\s+policy\s+(\S+))?.*")


class NxosReplyError(ValueError):
    """An NX-OS reply that does not read as what was asked for."""


@dataclass
class Stanza:
    """One configuration line and the lines nested under it."""

    line: str
    children: list[Stanza] = field(default_factory=list)


def stanzas(text: str) -> list[Stanza]:
    """Configuration text as a tree by indentation; ``!`` comments and blank lines dropped."""
    roots: list[Stanza] = []
    stack: list[tuple[int, Stanza]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("!", "#")):
            continue
        depth = len(raw) - len(raw.lstrip(" "))
        node = Stanza(stripped)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((depth, node))
    return roots


@dataclass(frozen=True)
class NxosKey:
    """A MACsec key as configured: its ID (the CKN, as written), its send-lifetime start (naive,
    in the lifetime's zone) and duration (None: ``infinite``, an absolute end, or no lifetime)."""

    key_id: str
    start: datetime | None = None
    duration_s: int | None = None
    has_secret: bool = False
    infinite: bool = False


@dataclass
class NxosRunning:
    chains: dict[str, dict[str, NxosKey]] = field(default_factory=dict)
    policies: dict[str, dict[str, str]] = field(default_factory=dict)
    bindings: dict[str, tuple[str, str]] = field(default_factory=dict)  # iface → (chain, policy)
    interfaces: dict[str, bool] = field(default_factory=dict)  # iface → administratively up
    timezone: tuple[str, int, int] | None = None  # ``clock timezone NAME H M``
    summer_zone: tuple[str, int] | None = None  # ``clock summer-time NAME … OFFSET-MINUTES``
    features: set[str] = field(default_factory=set)


def parse_start(match: re.Match[str]) -> datetime:
    hour, minute, second, month, day, year = match.group(1, 2, 3, 4, 5, 6)
    if month.capitalize() not in MONTHS:
        raise NxosReplyError(f"send-lifetime month {month!r} is not Jan..Dec")
    try:
        return datetime(
            int(year), MONTHS.index(month.capitalize()) + 1, int(day), int(hour), int(minute),
            int(second),
        )  # fmt: skip
    except ValueError as exc:
        raise NxosReplyError(f"send-lifetime start is not a date ({exc})") from None


def format_start(when: datetime) -> str:
    """``07:30:58 Dec 01 2026`` (the ``send-lifetime`` start form [S20][S21])."""
    return f"{when:%H:%M:%S} {MONTHS[when.month - 1]} {when:%d} {when.year}"


def _key(node: Stanza) -> NxosKey:
    key_id = node.line.split()[1] if len(node.line.split()) == 2 else ""
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2}){1,32}", key_id):
        raise NxosReplyError(f"key {node.line[4:40]!r} is not a CKN key ID")
    start: datetime | None = None
    duration: int | None = None
    infinite = False
    secret = False
    for child in node.children:
        if child.line.startswith("key-octet-string"):
            secret = True
        elif child.line.startswith("send-lifetime"):
            match = _LIFETIME.fullmatch(child.line)
            if match is None:
                raise NxosReplyError(f"send-lifetime of key {key_id} does not read")
            start = parse_start(match)
            infinite = match.group(7) == "infinite"
            duration = int(match.group(8)) if match.group(8) else None
    return NxosKey(key_id, start, duration, secret, infinite)


def parse_running(text: str) -> NxosRunning:
    """The parts of a configuration the tool reads (see the module docstring)."""
    running = NxosRunning()
    for node in stanzas(text):
        words = node.line.split()
        if words[:2] == ["key", "chain"] and len(words) == 4 and words[3] == "macsec":
            keys = running.chains.setdefault(words[2], {})
            for child in node.children:
                if child.line.startswith("key ") and not child.line.startswith("key-"):
                    key = _key(child)
                    keys[key.key_id] = key
        elif words[:2] == ["macsec", "policy"] and len(words) == 3:
            leaves = running.policies.setdefault(words[2], {})
            for child in node.children:
                name, _, value = child.line.partition(" ")
                leaves[name] = value.strip()
        elif words[0] == "interface" and len(words) == 2:
            up = True
            for child in node.children:
                binding = _BINDING.fullmatch(child.line)
                if binding is not None:
                    running.bindings[words[1]] = (binding.group(1), binding.group(2) or "")
                if child.line == "shutdown":
                    up = False
            running.interfaces[words[1]] = up
        elif (zone := _TIMEZONE.fullmatch(node.line)) is not None:
            running.timezone = (zone.group(1), int(zone.group(2)), int(zone.group(3)))
        elif node.line.startswith("clock summer-time "):
            offset = int(words[-1]) if len(words) > 3 and words[-1].isdigit() else 60
            running.summer_zone = (words[2], offset) if len(words) > 2 else None
        elif words[0] == "feature" and len(words) == 2:
            running.features.add(words[1])
    return running
