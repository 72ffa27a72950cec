"""Retry policy (pure): which failures are worth another attempt, and how long to wait first.

Retried: 5xx/429 (:class:`KmeUnavailableError`), timeouts and dropped or refused connections.
Never retried: TLS failures, 4xx (bad request, unknown/expired key, refused SAE, empty pool) and
malformed answers — another attempt would get the same answer, or consume more keys for nothing.

enc_keys is not idempotent: when the answer to a POST is lost (read timeout, dropped connection)
the KME may already have handed out a key. It is retried anyway: the orphaned key only costs key
material (its slave copy is never fetched and expires on the KME), while giving up would stall the
rotation. dec_keys whose answer was lost may have consumed the key; the retry then reports
:class:`KeyNotFoundError` and the caller starts over with a fresh key.

Within its wait window, dec_keys also asks again after answers that may only mean "that key has
not reached this KME yet" (:func:`dec_keys_may_succeed_later`): a failed dec_keys consumes
nothing, so asking again costs only time, and foreign KMEs phrase that race many ways.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KmeError,
    KmeStatusError,
    KmeTlsError,
    KmeTransportError,
    KmeUnavailableError,
)
from qkd_macsec.etsi014.status_errors import about_keys_not_certificates, names_other_parties


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first try. Backoff doubles from ``backoff_base`` up to
    ``backoff_max`` seconds; ``jitter`` (0..1) is the fraction of each delay that is randomised
    (1.0 = full jitter: uniform in [0, delay])."""

    attempts: int = 4
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("RetryPolicy backoff times must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0 = the first retry)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(retry, 62))
        return ceiling * (1.0 - self.jitter * rng.random())


def is_retryable(error: KmeError) -> bool:
    if isinstance(error, KmeTlsError):
        return False
    return isinstance(error, KmeTransportError | KmeUnavailableError)


def dec_keys_may_succeed_later(error: KmeError) -> bool:
    """A dec_keys failure the same request may outgrow once the key reaches the slave's KME.

    Unknown key (any dialect), any other 400 but an expired key (KMEs answer an unsynchronised
    key with "bad request", or "SAE not involved in any key exchange"), and a 401 that speaks
    of keys rather than of the client certificate. A 401 without a message, or about the
    certificate, is a wrong identity, and "not a slave of key ..." means the KME knows the key
    and its slaves: asking again cannot help.
    """
    if isinstance(error, KeyNotFoundError):
        return True
    if not isinstance(error, KmeStatusError) or isinstance(error, KeyExpiredError):
        return False
    if names_other_parties(error.message):
        return False
    if error.status_code == 400:
        return True
    return error.status_code == 401 and about_keys_not_certificates(error.message)
