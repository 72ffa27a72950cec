"""When a link is due: rotation interval, failure back-off (with the diverged cap) and the window
in which a master may still withdraw an entry it offered.

Times are plain numbers of seconds (epoch or any other origin), so the same rule serves the
planner, which works in datetimes, and the on-box runtime, which works in ``time.time()``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Withdraw retries: first wait, cap per wait, attempts per peer, and the safety margin before the
# entry's start-time by which the master must have decided whether to keep its own entry.
WITHDRAW_FIRST_WAIT_S = 0.5
WITHDRAW_MAX_WAIT_S = 8.0
WITHDRAW_MAX_ATTEMPTS = 10
WITHDRAW_MARGIN_MAX_S = 5.0


@dataclass(frozen=True)
class Backoff:
    """Failure back-off: doubling from ``base_s``, capped at the interval and at ``max_s``; at
    most ``diverged_cap_s`` while the ends may hold different keys (MKA keeps the preceding key
    only for a short hold, and the link drops when it expires)."""

    base_s: float = 30.0
    max_s: float = 3600.0
    diverged_cap_s: float = 5.0


DEFAULT_BACKOFF = Backoff()


def retry_delay(
    failures: int, interval_s: float, diverged: bool = False, backoff: Backoff = DEFAULT_BACKOFF
) -> float:
    """Seconds to wait after ``failures`` consecutive failures before the next attempt."""
    if failures <= 0:
        return 0.0
    delay = min(backoff.base_s * float(2 ** (failures - 1)), interval_s, backoff.max_s)
    return min(delay, backoff.diverged_cap_s) if diverged else delay


def rotation_due(last_start: float | None, interval_s: float, now: float) -> bool:
    """A link is due when it has no key yet, or its current key started ``interval_s`` ago."""
    return last_start is None or now >= last_start + interval_s


def link_due(
    last_start: float | None,
    interval_s: float,
    now: float,
    failures: int = 0,
    last_failure: float | None = None,
    diverged: bool = False,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> tuple[bool, str, float | None]:
    """(due, why not, when): due by interval, held back by the failure back-off, and due for a
    retry once the back-off ends even if not due by interval (a diverged link must be re-keyed,
    not left until its next interval)."""
    if failures > 0 and last_failure is not None:
        retry_at = last_failure + retry_delay(failures, interval_s, diverged, backoff)
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
