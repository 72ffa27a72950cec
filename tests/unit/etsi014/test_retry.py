"""Backoff arithmetic and which errors are worth another attempt."""

from __future__ import annotations

import random

import pytest

from qkd_macsec.etsi014.errors import (
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeError,
    KmeResponseError,
    KmeTimeoutError,
    KmeTlsError,
    KmeTransportError,
    KmeUnavailableError,
    UnauthorizedError,
)
from qkd_macsec.etsi014.retry import RetryPolicy, is_retryable


def test_delay_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.2, backoff_max=1.0, jitter=0.0)
    rng = random.Random(1)
    assert [policy.delay(n, rng) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_huge_retry_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.2, backoff_max=5.0, jitter=0.0)
    assert policy.delay(10_000, random.Random(1)) == 5.0


@pytest.mark.parametrize("jitter", [0.25, 0.5, 1.0])
def test_jitter_stays_within_its_fraction(jitter: float) -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=1.0, jitter=jitter)
    rng = random.Random(3)
    delays = [policy.delay(0, rng) for _ in range(500)]
    assert min(delays) >= 1.0 - jitter
    assert max(delays) <= 1.0
    assert len(set(delays)) > 400  # actually randomised


def test_seeded_rng_makes_delays_reproducible() -> None:
    policy = RetryPolicy()
    first = [policy.delay(n, random.Random(42)) for n in range(4)]
    again = [policy.delay(n, random.Random(42)) for n in range(4)]
    assert first == again


@pytest.mark.parametrize(
    "changes",
    [{"attempts": 0}, {"backoff_base": -1.0}, {"backoff_max": -0.1}, {"jitter": 1.5}],
)
def test_invalid_policies_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**changes)  # type: ignore[arg-type]


def status(kind: type[KmeError]) -> KmeError:
    return kind(status_code=0, message="", method="GET", path="/")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (KmeTransportError("dropped"), True),
        (KmeTimeoutError("slow"), True),
        (KmeTlsError("bad cert"), False),
        (KmeResponseError("garbage"), False),
        (status(KmeUnavailableError), True),
        (status(KeyPoolExhaustedError), False),
        (status(KeyNotFoundError), False),
        (status(UnauthorizedError), False),
    ],
)
def test_only_transient_failures_are_retryable(error: KmeError, retryable: bool) -> None:
    assert is_retryable(error) is retryable
