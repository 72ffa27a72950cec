"""FakeOS replies (text) → the vendor-neutral types. Secrets are never part of a reply.

``show key-chain KC`` (the configuration's own lines, the secret left out; a ``cak`` word, as
in the configuration text, is skipped unread)::

    key-chain KC key 4 ckn <hex> start 2026-12-01T07:30:58Z

``show mka sessions``::

    session port1 ckn <hex> type primary state live
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from qkd_macsec.devices.base import ChainEntryState, MkaSessionState


class FakeReplyError(ValueError):
    """A FakeOS reply that does not read as one."""


_KEY = re.compile(
    r"key-chain (\S+) key ([0-9]{1,2}) ckn ([0-9a-f]{2,64}) (?:cak \S+ )?start "
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)"
)
_SESSION = re.compile(
    r"session (\S+) ckn ([0-9a-fA-F]{2,64}) type (primary|preceding) "
    r"state (live|active|in-progress)"
)


def parse_start(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise FakeReplyError(f"bad start-time {text!r}") from None


def parse_key_chain(text: str, chain: str) -> list[ChainEntryState]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _KEY.fullmatch(line.strip())
        if match is None:
            raise FakeReplyError(f"key-chain reply line {number} is not a key")
        name, key, ckn, start = match.groups()
        if name == chain:
            if not 1 <= int(key) <= 16:
                raise FakeReplyError(f"key {key} is outside 1..16")
            entries.append(ChainEntryState(chain, int(key) - 1, ckn, parse_start(start)))
    return sorted(entries, key=lambda e: e.slot)


def parse_mka_sessions(text: str) -> list[MkaSessionState]:
    sessions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SESSION.fullmatch(line.strip())
        if match is None:
            raise FakeReplyError(f"MKA reply line {number} is not a session")
        interface, ckn, kind, state = match.groups()
        live = kind == "primary" and state == "live"
        sessions.append(MkaSessionState(interface, ckn.lower(), kind, live, state))
    return sessions
