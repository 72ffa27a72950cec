"""Planner rules shared with off-box (``qkd_macsec.engine.planner``): slots, due time, start-time.

Pure functions; a unit test checks ``next_free_slot`` against the off-box planner's ``next_slot``.
"""

from __future__ import annotations

import datetime as _dt

KEY_CHAIN_SLOTS = 64  # Junos key-chain keys 0..63
START_TIME_FORMAT = "%Y-%m-%d.%H:%M:%S"


def next_free_slot(used: list[int] | set[int] | frozenset[int], after: int | None) -> int:
    """The first slot after ``after`` (cyclically) that is not in ``used``."""
    taken = set(used)
    if len(taken) >= KEY_CHAIN_SLOTS:
        raise ValueError("every key-chain slot is in use")
    start = 0 if after is None else (after + 1) % KEY_CHAIN_SLOTS
    for step in range(KEY_CHAIN_SLOTS):
        slot = (start + step) % KEY_CHAIN_SLOTS
        if slot not in taken:
            return slot
    raise AssertionError("unreachable")


def rotation_due(last_start: float | None, interval_s: float, now: float) -> bool:
    """A link is due when it has no key yet, or its current key started ``interval_s`` ago."""
    return last_start is None or now >= last_start + interval_s


def start_time_text(epoch: float) -> str:
    """Junos key-chain ``start-time`` for an epoch instant (device clock taken as UTC)."""
    utc = _dt.timezone.utc  # noqa: UP017 - the artifact also runs on Pythons before 3.11
    moment = _dt.datetime.fromtimestamp(int(epoch), tz=utc).replace(tzinfo=None)
    return moment.strftime(START_TIME_FORMAT)


def parse_start_time(text: str) -> float:
    """Inverse of :func:`start_time_text` (also accepts the ``HH:MM`` form Junos allows)."""
    text = text.strip().strip('"')
    for fmt in (START_TIME_FORMAT, "%Y-%m-%d.%H:%M"):
        try:
            moment = _dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=_dt.timezone.utc).timestamp()  # noqa: UP017
    raise ValueError(f"{text!r} is not a Junos start-time")


def slots_to_prune(present: list[int], keep: list[int]) -> list[int]:
    """Entries of a chain that are neither the new key nor kept (current + previous)."""
    return sorted(set(present) - set(keep))
