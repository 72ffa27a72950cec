"""Durations as operators write them: ``90`` (seconds), ``"90s"``, ``"10m"``, ``"1h30m"``."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# ASCII digits only: \d would also take '٣' (and float() would read it).
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+")
_BARE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
MAX_SECONDS = 366 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds as a float; refuses negatives, NaN, booleans and anything above a year."""
    seconds: float
    if isinstance(value, bool):
        raise ValueError("a duration must be seconds or a string like '90s', not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if _BARE.fullmatch(text):
            seconds = float(text)
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
        else:
            raise ValueError(
                f"{value[:40]!r} is not a duration: use seconds (90) or '90s', '10m', '1h30m'"
            )
    else:
        raise ValueError(f"a duration must be seconds or a string, not {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite number of seconds, at least 0")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration must not exceed 366 days")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact display form: 600 → ``10m``, 90 → ``1m30s``, 0.5 → ``0.5s``."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    whole = int(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            out += f"{count}{unit}"
    return out
