"""Junos key-chain ``start-time`` text, written and read back, and the device clock and zone
offset it is written in (standard library only: the on-box script bundles this module as it is).

Junos reads a start-time as wall-clock time in the device's ``system time-zone`` and prints it
back with month and day unpadded and the zone's offset appended (junos-field-evidence.md §1:
``"2026-12-1.07:30:58 +0000"``); seconds are optional on input (§5: ``2026-07-05.16:45``).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from qkd_macsec.devices.junos_xml import child, descendants, local_name

START_TIME_FORMAT = "%Y-%m-%d.%H:%M:%S"
FIRST_YEAR = 1970
LAST_YEAR = 2037
#: ``YYYY-M[M]-D[D].HH:MM[:SS][ ±hhmm]``, ASCII digits only (``\d`` would take '٣').
_START_TIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\.([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?"
    r"(?:\s+([+-])([0-9]{2})([0-9]{2}))?"
)
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})(?:\s+(\S+))?")
UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UCT"})
_UTC = _dt.timezone.utc  # noqa: UP017 - the on-box script also runs on Pythons before 3.11


class StartTimeError(ValueError):
    """A start-time or device time that cannot be written or read (the message repeats the
    text, never a key)."""


def wall_clock_text(moment: _dt.datetime) -> str:
    """``YYYY-MM-DD.HH:MM:SS`` for a naive device wall-clock time (years Junos accepts only)."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise StartTimeError(
            f"start-time {moment.isoformat()} is outside {FIRST_YEAR}..{LAST_YEAR}"
        )
    return moment.strftime(START_TIME_FORMAT)


def start_time_text(epoch: float, utc_offset_s: int = 0) -> str:
    """The start-time for an epoch instant (whole seconds) on a device whose zone is
    ``utc_offset_s`` ahead of UTC now."""
    moment = _dt.datetime.fromtimestamp(int(epoch) + int(utc_offset_s), tz=_UTC)
    return wall_clock_text(moment.replace(tzinfo=None))


def parse_start_time(text: str) -> float:
    """A written or read-back start-time as an epoch instant (no offset given: UTC), quoted or
    not."""
    match = _START_TIME.fullmatch(text.strip().strip('"').strip())
    if match is None:
        raise StartTimeError(f"{text!r} is not a Junos start-time")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = 0
    if match.group(7):
        offset = (int(match.group(8)) * 60 + int(match.group(9))) * 60
        offset = -offset if match.group(7) == "-" else offset
    try:
        moment = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_UTC)
    except ValueError:
        raise StartTimeError(f"{text!r} is not a Junos start-time (no such date)") from None
    return moment.timestamp() - offset


def utc_offset_s(wall: _dt.datetime, epoch: int) -> int:
    """The device zone's UTC offset now, in seconds: its naive wall-clock time minus the same
    instant as epoch seconds, rounded to the minute (every real zone offset is whole minutes)."""
    minutes = round((wall.replace(tzinfo=_UTC).timestamp() - epoch) / 60.0)
    if abs(minutes) >= 24 * 60:
        raise StartTimeError(f"wall clock {wall.isoformat()} is a day or more from epoch {epoch}")
    return minutes * 60


def read_device_clock(text: str, seconds: str | None) -> tuple[float, int]:
    """(now as epoch seconds, the zone's UTC offset in seconds) from ``get-system-uptime-
    information``'s ``current-time/date-time``.

    Junos prints it as LOCAL wall-clock time with the zone abbreviation (``2026-12-01 08:30:58
    CET``) and the same instant as epoch seconds in ``junos:seconds``: the difference is the
    offset of the device's ``system time-zone`` now. Without the attribute only a text in UTC is
    accepted (an abbreviation such as CET names no offset reliably).
    """
    epoch: int | None = None
    if seconds is not None:
        try:
            epoch = int(seconds)
            _dt.datetime.fromtimestamp(epoch, _UTC)
        except (ValueError, OverflowError, OSError):
            raise StartTimeError(f"bad seconds attribute {seconds!r}") from None
    match = _DATE_TIME.fullmatch(text)
    try:
        wall = _dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") if match else None
    except ValueError:
        wall = None
    if match is None or wall is None:
        raise StartTimeError(f"unparsable device time {text!r}")
    if epoch is None:
        zone = match.group(2)
        if zone is not None and zone.upper() not in UTC_NAMES:
            raise StartTimeError(f"device time in zone {zone!r} without seconds attribute")
        return wall.replace(tzinfo=_UTC).timestamp(), 0
    try:
        return float(epoch), utc_offset_s(wall, epoch)
    except StartTimeError:
        raise StartTimeError(f"device time {text!r} disagrees with its seconds attribute") from None


def clock_from_uptime(reply: Any) -> tuple[float, int]:
    """(now as epoch seconds, zone offset in seconds) from a ``get-system-uptime-information``
    reply: its first ``current-time/date-time`` (see :func:`read_device_clock`)."""
    for current in descendants(reply, "current-time"):
        date_time = child(current, "date-time")
        if date_time is None:
            continue
        seconds = None
        for attr, value in date_time.attrib.items():
            if local_name(attr) == "seconds":
                seconds = value
        return read_device_clock((date_time.text or "").strip(), seconds)
    raise StartTimeError("uptime reply without <current-time><date-time>")
