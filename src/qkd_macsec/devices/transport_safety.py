"""What every NETCONF-over-SSH driver does to keep secrets out of what its transport libraries
log and raise, and to bound each RPC by the session deadline: one copy for the PyEZ (Junos) and
the ncclient (IOS XR) drivers.

- :func:`cap_transport_loggers`: the libraries' loggers (and their children, which are created
  on first use) capped at WARNING with the redaction filter, so full-RPC DEBUG lines, which
  carry CAKs, are never created.
- :class:`ErrorScrubber`: library or device exception text made safe to show (no CAK in
  either case, no password, plus a platform's own secret forms), on one line, bounded.
- :func:`exception_chain`: an exception with what it wraps (cause, context, PyEZ's ``_orig``).
- :func:`rpc_budget`: the seconds an RPC may take before the session deadline.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence

from qkd_macsec.devices.base import DeviceDeadlineError
from qkd_macsec.obs.logging import RedactionFilter, redact
from qkd_macsec.secret import Secret

MASK = "<masked>"
MIN_RPC_TIMEOUT_S = 0.05

_cap_lock = threading.Lock()


def cap_transport_loggers(roots: Sequence[str]) -> None:
    """Cap the ``roots`` loggers and every existing child at WARNING; attach the redaction
    filter to each (a filter only sees records logged on its own logger). Idempotent: run again
    after each connect. A child's explicit level below WARNING is raised; NOTSET children
    inherit the cap."""
    with _cap_lock:
        prefixes = tuple(f"{root}." for root in roots)
        # A snapshot first: other threads create loggers (under logging's own lock, not ours)
        # while this runs, and iterating the live dict then fails with "dictionary changed size
        # during iteration". ``tuple(dict)`` copies the keys in one step under the GIL.
        existing = tuple(logging.Logger.manager.loggerDict)
        names = [*roots, *(name for name in existing if name.startswith(prefixes))]
        for name in names:
            logger = logging.getLogger(name)
            own = logger.level  # NOTSET (0) on a root would inherit the application's level
            if own < logging.WARNING if name in roots else 0 < own < logging.WARNING:
                logger.setLevel(logging.WARNING)
            if not any(isinstance(f, RedactionFilter) for f in logger.filters):
                logger.addFilter(RedactionFilter())


class ErrorScrubber:
    """Turns device/library exception text into a message safe to show.

    ``secrets``: the CAKs of the change being made (masked in lower and upper case hex);
    ``patterns``: a platform's own secret forms (e.g. Junos ``$9$…``), each replaced by its
    replacement; then the general redaction (passwords, key-like runs); one line, at most
    ``max_chars``; CAKs become ``mask``."""

    def __init__(
        self,
        secrets: Sequence[Secret] = (),
        *,
        patterns: Sequence[tuple[re.Pattern[str], str]] = (),
        max_chars: int = 400,
        mask: str = MASK,
    ) -> None:
        self._hex: list[str] = []
        for secret in secrets:
            raw = secret.reveal()
            self._hex += [raw.hex(), raw.hex().upper()]
        self._patterns = tuple(patterns)
        self._max = max_chars
        self._mask = mask

    def __call__(self, text: object) -> str:
        cleaned = str(text)
        for value in self._hex:
            cleaned = cleaned.replace(value, self._mask)
        for pattern, replacement in self._patterns:
            cleaned = pattern.sub(replacement, cleaned)
        cleaned = redact(cleaned).replace("\n", " ").strip()
        return cleaned if len(cleaned) <= self._max else cleaned[: self._max - 3] + "..."


def exception_chain(err: BaseException) -> list[BaseException]:
    """The exception, what PyEZ stashes in ``_orig``, and its cause/context chain (each once)."""
    seen: list[BaseException] = []
    stack: list[object] = [err]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        stack += [getattr(current, "_orig", None), current.__cause__, current.__context__]
    return seen


def rpc_budget(device: str, phase: str, timeout: float, deadline: float | None) -> float:
    """Seconds the next RPC of ``phase`` may take: the device timeout, or less when the session
    deadline (epoch seconds) is nearer; refused before it is sent when too little is left."""
    if deadline is None:
        return timeout
    left = deadline - time.time()
    if left < MIN_RPC_TIMEOUT_S:
        raise DeviceDeadlineError(device, f"{phase}: not sent, the session deadline passed")
    return min(timeout, left)
