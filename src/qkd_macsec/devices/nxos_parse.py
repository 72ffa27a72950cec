"""Cisco NX-OS replies → the vendor-neutral types (secrets are never read).

- key chain: ``show running-config`` text, or our own rendered configuration (fixture
  ``running_config_keychain.txt``, transcribed from the grammar of [S20][S21]). The slot is the
  lifetime ``duration % SLOTS`` (``nxos_names``); a key written otherwise (``infinite``, an
  absolute end, no lifetime) gets the lowest free slots in start order, so that a read and a
  removal resolved from the same read agree. Start-times are UTC, the zone NX-OS reads key
  lifetimes in by default [S25].
- MKA: ``show macsec mka session details`` (fixtures ``mka_session_details*.txt``, Cisco's
  genieparser captures [S27], verbatim): live = ``Session Status`` SECURED; or the brief table
  ``show macsec mka session`` (fixture ``mka_session.txt``; it prints no CKN).
- clock: ``show clock`` — ``HH:MM:SS.mmm ZONE Day Mon DD YYYY`` and ``Time source is …``, the
  time layout NX-OS prints in its MKA details too (``Latest Rx MKPDU : 15:47:12 PST Mon May 08
  2023`` [S27]); the zone is an abbreviation whose offset comes from the configuration's
  ``clock timezone NAME H M`` / ``clock summer-time NAME … MINUTES`` lines (research Q6).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from qkd_macsec.devices import nxos_names as names
from qkd_macsec.devices.base import CaConfigState, ChainEntryState, DeviceClock, MkaSessionState
from qkd_macsec.devices.nxos_config import (
    MONTHS,
    NxosKey,
    NxosReplyError,
    NxosRunning,
    parse_running,
)

__all__ = [
    "NxosReplyError",
    "chain_slots",
    "parse_bindings",
    "parse_clock",
    "parse_key_chain",
    "parse_mka_sessions",
    "parse_policies",
    "parse_time_source",
]

NO_START = datetime(1993, 1, 1)
_FIELD = re.compile(r"\s*([A-Za-z#() -]+?)\s*:\s*(.*?)\s*")
_CLOCK = re.compile(
    r"\*?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s+(\S+)\s+[A-Za-z]{3}\s+([A-Za-z]{3})\s+"
    r"(\d{1,2})\s+(\d{4})\s*"
)
_SOURCE = re.compile(r"\s*Time source is\s+(\S+?)\s*")
_TABLE_ROW = re.compile(
    r"(Ethernet\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(Yes|No)\s+(\S+)\s*", re.IGNORECASE
)


def chain_slots(keys: dict[str, NxosKey]) -> dict[str, int]:
    """Each key ID → its slot: carried by the duration, else the lowest free slot in start
    order (a second key carrying a slot already taken is placed like an uncarried one)."""
    slots: dict[str, int] = {}
    ordered = sorted(keys.values(), key=lambda k: (k.start or NO_START, k.key_id))
    for key in ordered:
        if key.duration_s is not None:
            carried = names.slot_of_duration(key.duration_s)
            if carried not in slots.values():
                slots[key.key_id] = carried
    free = (s for s in range(names.SLOTS) if s not in slots.values())
    for key in ordered:
        if key.key_id not in slots:
            slot = next(free, None)
            if slot is None:
                raise NxosReplyError(f"a key chain holds more than {names.SLOTS} keys")
            slots[key.key_id] = slot
    return slots


def parse_key_chain(text: str, chain: str) -> list[ChainEntryState]:
    """The keys of ``chain`` (CKN lower-case, as the engine keeps it), sorted by slot."""
    keys = parse_running(text).chains.get(chain, {})
    slots = chain_slots(keys)
    return sorted(
        (
            ChainEntryState(
                chain, slots[k.key_id], k.key_id.lower(), (k.start or NO_START).replace(tzinfo=UTC)
            )
            for k in keys.values()
        ),
        key=lambda e: e.slot,
    )


def _details(text: str) -> list[MkaSessionState]:
    sessions: list[MkaSessionState] = []
    fields: dict[str, str] = {}
    in_peer = False

    def flush() -> None:
        if "Interface Name" in fields:
            state = fields.get("Session Status", "")
            sessions.append(
                MkaSessionState(
                    interface=fields["Interface Name"],
                    cak_name=fields.get("CAK Name (CKN)", "").lower(),
                    cak_type=fields.get("CA Authentication Mode", "PSK"),
                    live=state.upper().startswith("SECURED"),
                    raw_state=state,
                    member_id=fields.get("Member Identifier (MI)", ""),
                    key_server=fields.get("Key Server", "").upper() == "YES",
                )
            )
        fields.clear()

    for line in text.splitlines():
        if line.startswith("Peer Status"):
            in_peer = True
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            continue
        label, value = match.group(1), match.group(2)
        if label == "Interface Name":
            flush()
            in_peer = False
        if not in_peer and label not in fields:
            fields[label] = value
    flush()
    return sessions


def _table(text: str) -> list[MkaSessionState]:
    sessions = []
    for line in text.splitlines():
        row = _TABLE_ROW.fullmatch(line)
        if row is not None:
            status = row.group(4)
            sessions.append(
                MkaSessionState(
                    interface=row.group(1),
                    cak_name="",
                    cak_type=row.group(6),
                    live=status.upper() == "SECURED",
                    raw_state=status,
                    key_server=row.group(5).upper() == "YES",
                )
            )
    return sessions


def parse_mka_sessions(text: str) -> list[MkaSessionState]:
    if "Interface Name" in text:
        return _details(text)
    sessions = _table(text)
    if not sessions and text.strip() and "MKA" not in text and "Interface" not in text:
        raise NxosReplyError("reply is not 'show macsec mka session [details]'")
    return sessions


def _zone_offset(abbreviation: str, running: NxosRunning) -> timedelta:
    if abbreviation.upper() in ("UTC", "GMT", "UCT"):
        return timedelta(0)
    if running.timezone is not None and running.timezone[0] == abbreviation:
        _, hours, minutes = running.timezone
        sign = -1 if hours < 0 else 1
        base = timedelta(hours=hours, minutes=sign * minutes)
        if running.summer_zone is not None and running.summer_zone[0] == abbreviation:
            return base + timedelta(minutes=running.summer_zone[1])  # same name for both
        return base
    if running.summer_zone is not None and running.summer_zone[0] == abbreviation:
        standard = timedelta(0)
        if running.timezone is not None:
            _, hours, minutes = running.timezone
            standard = timedelta(hours=hours, minutes=(-1 if hours < 0 else 1) * minutes)
        return standard + timedelta(minutes=running.summer_zone[1])
    raise NxosReplyError(
        f"clock zone {abbreviation!r} is not UTC nor the configured 'clock timezone' or "
        "'clock summer-time' name"
    )


def parse_clock(clock_text: str, running_text: str) -> DeviceClock:
    """``show clock`` read with the configuration's zone lines. ``now`` is the instant; the
    offset reported is 0 and the zone UTC, because NX-OS reads key lifetimes in UTC by default
    [S25] whatever the clock's display zone: the engine must write start-times in UTC."""
    match = next(
        (m for line in clock_text.splitlines() if (m := _CLOCK.fullmatch(line.strip()))), None
    )
    if match is None:
        raise NxosReplyError("reply is not 'show clock' (HH:MM:SS ZONE Day Mon DD YYYY)")
    hour, minute, second, fraction, zone, month, day, year = match.groups()
    if month not in MONTHS:
        raise NxosReplyError(f"clock month {month!r} is not Jan..Dec")
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        local = datetime(
            int(year), MONTHS.index(month) + 1, int(day), int(hour), int(minute),
            min(int(second), 59), micro,
        )  # fmt: skip
    except ValueError as exc:
        raise NxosReplyError(f"clock is not a date ({exc})") from None
    offset = _zone_offset(zone, parse_running(running_text))
    return DeviceClock(
        (local - offset).replace(tzinfo=UTC),
        timedelta(0),
        "UTC",
        resolution_s=0.001 if fraction else 1.0,
    )


def parse_time_source(clock_text: str) -> str | None:
    """``Time source is NTP`` → ``NTP`` (None when the line is absent)."""
    for line in clock_text.splitlines():
        match = _SOURCE.fullmatch(line)
        if match is not None:
            return match.group(1)
    return None


def parse_bindings(running_text: str) -> dict[str, str]:
    """Interface → macsec policy (the vendor-neutral connectivity association)."""
    return {
        itf: policy or chain
        for itf, (chain, policy) in parse_running(running_text).bindings.items()
    }


def parse_policies(running_text: str) -> dict[str, CaConfigState]:
    """Each macsec policy (the vendor-neutral CA) with its suite and the chain bound with it."""
    running = parse_running(running_text)
    chain_of = {policy: chain for chain, policy in running.bindings.values() if policy}
    return {
        name: CaConfigState(
            name,
            leaves["cipher-suite"].lower() if "cipher-suite" in leaves else None,
            None,
            chain_of.get(name),
        )
        for name, leaves in running.policies.items()
    }
