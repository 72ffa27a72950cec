"""The device's ``system time-zone`` and the key-chain ``start-time`` as Junos shows it (pure).

Junos reads a key-chain ``start-time`` as wall-clock time in the configured ``system time-zone``
and reads it back normalised, quoted, with that zone's UTC offset: ``"2026-12-1.09:30:58 +0100"``
(month and day without leading zeros, seconds always; field evidence §1). Zone names are IANA
names (``Europe/Berlin``) resolved with :mod:`zoneinfo`, plus ``UTC``/``GMT`` (Junos' default is
UTC).

Assumption (no public evidence either way): the offset shown is the one in force AT the
start-time (what ``localtime(3)`` of that instant gives), not the offset of the moment it is
printed; they differ only across a DST change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qkd_macsec.sim.config.tree import Node

_UTC_NAMES = frozenset({"UTC", "GMT", "UCT", "ZULU", "UNIVERSAL", "ETC/UTC", "ETC/GMT"})


def resolve_zone(name: str) -> tzinfo | None:
    """The zone named ``name``, or None when Junos would not know it."""
    if name.upper() in _UTC_NAMES:
        return UTC
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_of(root: Node) -> tzinfo:
    """The configured ``system time-zone`` (UTC when absent or unknown)."""
    system = root.get("system")
    name = system.leaf("time-zone") if system is not None else None
    zone = resolve_zone(name) if name else None
    return zone if zone is not None else UTC


def wall_to_utc(wall: datetime, zone: tzinfo) -> datetime:
    """Naive wall-clock time in ``zone`` → naive UTC (an ambiguous time takes the first
    occurrence, ``fold=0``; a time in a spring-forward gap is read with the offset before it)."""
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def utc_to_wall(when: datetime, zone: tzinfo) -> datetime:
    """An aware instant as naive wall-clock time in ``zone``."""
    return when.astimezone(zone).replace(tzinfo=None)


def offset_text(offset: timedelta) -> str:
    """``+0100`` / ``-0330``."""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{mins:02d}"


def normalised_start_time(wall: datetime, zone: tzinfo) -> str:
    """``2026-12-1.09:30:58 +0100``: how Junos reads back a start-time (evidence §1)."""
    offset = wall.replace(tzinfo=zone).utcoffset() or timedelta(0)
    return (
        f"{wall.year}-{wall.month}-{wall.day}."
        f"{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d} {offset_text(offset)}"
    )


def zone_abbreviation(when: datetime, zone: tzinfo) -> str:
    """``CET`` / ``CEST`` / ``UTC``: what ``show system uptime`` prints after the time."""
    return when.astimezone(zone).tzname() or "UTC"
