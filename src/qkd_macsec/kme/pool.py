"""A QKD link's key pool: secret bits accrue at the link's rate up to its capacity.

Accrual is computed lazily from the elapsed time on an injectable clock, so nothing runs in the
background and unit tests drive time by hand. The pool only counts bits: the actual key bytes
are drawn from the OS CSPRNG when a key is issued (both ends of a real link would hold the same
bits; here both KMEs share one process, so one count serves both ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class KeyPool:
    def __init__(
        self,
        rate_bps: float,
        capacity_bits: int,
        *,
        clock: Clock = time.monotonic,
        initial_bits: int | None = None,
    ) -> None:
        if rate_bps <= 0 or capacity_bits <= 0:
            raise ValueError("pool rate and capacity must be positive")
        self.rate_bps = rate_bps
        self.capacity_bits = capacity_bits
        self._clock = clock
        start = capacity_bits if initial_bits is None else min(initial_bits, capacity_bits)
        self._bits = float(start)
        self._at = clock()

    def _refresh(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._bits = min(float(self.capacity_bits), self._bits + elapsed * self.rate_bps)
        self._at = now

    @property
    def available_bits(self) -> int:
        self._refresh()
        return int(self._bits)

    def can_take(self, bits: int) -> bool:
        return bits <= self.available_bits

    def take(self, bits: int) -> bool:
        """Withdraw ``bits`` if the pool holds that many; otherwise leave it untouched."""
        if bits < 0:
            raise ValueError("cannot take a negative number of bits")
        self._refresh()
        if bits > self._bits:
            return False
        self._bits -= bits
        return True

    def seconds_until(self, bits: int) -> float:
        """How long until ``bits`` are available (0 if they are now, inf if above capacity)."""
        if bits > self.capacity_bits:
            return float("inf")
        missing = bits - self.available_bits
        return 0.0 if missing <= 0 else missing / self.rate_bps
