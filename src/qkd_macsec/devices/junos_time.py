"""Junos key-chain ``start-time`` text, written and read back (standard library only: the on-box
script bundles this module as it is).

Junos reads a start-time as wall-clock time in the device's ``system time-zone`` and prints it
back with month and day unpadded and the zone's offset appended (junos-field-evidence.md §1:
``"2026-12-1.07:30:58 +0000"``); seconds are optional on input (§5: ``2026-07-05.16:45``).
"""

from __future__ import annotations

import datetime as _dt
import re

START_TIME_FORMAT = "%Y-%m-%d.%H:%M:%S"
FIRST_YEAR = 1970
LAST_YEAR = 2037
#: ``YYYY-M[M]-D[D].HH:MM[:SS][ ±hhmm]``, ASCII digits only (``\d`` would take '٣').
_START_TIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\.([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?"
    r"(?:\s+([+-])([0-9]{2})([0-9]{2}))?"
)
_UTC = _dt.timezone.utc  # noqa: UP017 - the on-box script also runs on Pythons before 3.11


class StartTimeError(ValueError):
    """A start-time that cannot be written or read (the message repeats the text, never a key)."""


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
