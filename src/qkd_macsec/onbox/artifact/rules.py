"""Planner rules shared with off-box (``qkd_macsec.engine.planner``): slots, due time, start-time,
retry back-off (including the "diverged: re-key within 5 s" cap) and the withdraw retry window.

Pure functions; unit tests check ``next_free_slot`` and ``retry_delay`` against the off-box planner.
"""

from __future__ import annotations

import datetime as _dt
import re

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


# Off-box ``PlanPolicy`` defaults, mirrored (a unit test compares them).
RETRY_BASE_S = 30.0
RETRY_MAX_S = 3600.0
DIVERGED_RETRY_S = 5.0
# Withdraw retries: first wait, cap per wait, attempts per peer, and the safety margin before the
# entry's start-time by which the master must have decided whether to keep its own entry.
WITHDRAW_FIRST_WAIT_S = 0.5
WITHDRAW_MAX_WAIT_S = 8.0
WITHDRAW_MAX_ATTEMPTS = 10
WITHDRAW_MARGIN_MAX_S = 5.0


def rotation_due(last_start: float | None, interval_s: float, now: float) -> bool:
    """A link is due when it has no key yet, or its current key started ``interval_s`` ago."""
    return last_start is None or now >= last_start + interval_s


def retry_delay(failures: int, interval_s: float, diverged: bool = False) -> float:
    """Back-off after ``failures`` consecutive failures (the planner's ``retry_delay``): doubling
    from 30 s, capped at the interval; capped at 5 s when the ends may hold different keys, because
    MKA keeps the preceding key only for a short hold and the link drops when it expires."""
    if failures <= 0:
        return 0.0
    delay = min(RETRY_BASE_S * float(2 ** (failures - 1)), interval_s, RETRY_MAX_S)
    return min(delay, DIVERGED_RETRY_S) if diverged else delay


def link_due(
    last_start: float | None,
    interval_s: float,
    now: float,
    failures: int = 0,
    last_failure: float | None = None,
    diverged: bool = False,
) -> tuple[bool, str, float | None]:
    """(due, why not, when) as the planner's ``plan_link`` decides it: due by interval, held back
    by the failure back-off, and due for a retry once the back-off ends even if not due by
    interval (a diverged link must be re-keyed, not left until its next interval)."""
    if failures > 0 and last_failure is not None:
        retry_at = last_failure + retry_delay(failures, interval_s, diverged)
        if now < retry_at:
            return False, f"backing off after {failures} failure(s)", retry_at
        return True, "", None
    if rotation_due(last_start, interval_s, now):
        return True, "", None
    assert last_start is not None
    return False, "not due", last_start + interval_s


def withdraw_deadline(start: float, delay_s: float) -> float:
    """The instant by which withdraw retries stop: before the entry's start-time by a margin (a
    third of the activation delay, at most 5 s) left for the master's own commit."""
    return start - min(WITHDRAW_MARGIN_MAX_S, delay_s / 3.0)


def withdraw_wait(attempt: int) -> float:
    """Seconds to wait before withdraw retry ``attempt`` (1-based): 0.5, 1, 2, 4, 8, 8, ..."""
    return min(WITHDRAW_FIRST_WAIT_S * float(2 ** max(0, attempt - 1)), WITHDRAW_MAX_WAIT_S)


def start_time_text(epoch: float) -> str:
    """Junos key-chain ``start-time`` for an epoch instant (device clock taken as UTC)."""
    utc = _dt.timezone.utc  # noqa: UP017 - the artifact also runs on Pythons before 3.11
    moment = _dt.datetime.fromtimestamp(int(epoch), tz=utc).replace(tzinfo=None)
    return moment.strftime(START_TIME_FORMAT)


#: A start-time as Junos reads it back: quoted or not, month/day with or without a leading
#: zero, seconds optional, then the device zone's offset (junos-field-evidence.md §1:
#: ``"2026-12-1.07:30:58 +0000"``). The same forms the off-box parser takes.
_START_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})\.(\d{2}):(\d{2})(?::(\d{2}))?(?:\s+([+-])(\d{2})(\d{2}))?"
)


def parse_start_time(text: str) -> float:
    """A written or read-back ``start-time`` as an epoch instant (no offset: UTC)."""
    match = _START_TIME.fullmatch(text.strip().strip('"').strip())
    if match is None or not text.isascii():
        raise ValueError(f"{text!r} is not a Junos start-time")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = 0
    if match.group(7):
        offset = (int(match.group(8)) * 60 + int(match.group(9))) * 60
        offset = -offset if match.group(7) == "-" else offset
    utc = _dt.timezone.utc  # noqa: UP017 - the artifact also runs on Pythons before 3.11
    try:
        moment = _dt.datetime(year, month, day, hour, minute, second, tzinfo=utc)
    except ValueError:
        raise ValueError(f"{text!r} is not a Junos start-time") from None
    return moment.timestamp() - offset


def slots_to_prune(present: list[int], keep: list[int]) -> list[int]:
    """Entries of a chain that are neither the new key nor kept (current + previous)."""
    return sorted(set(present) - set(keep))
