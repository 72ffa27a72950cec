"""Key pool accrual on a virtual clock: rate, capacity, refill, atomic withdrawal."""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.kme.pool import KeyPool


def test_starts_full_by_default(clock: Any) -> None:
    pool = KeyPool(1000, 4096, clock=clock)
    assert pool.available_bits == 4096


def test_accrues_at_rate_up_to_capacity(clock: Any) -> None:
    pool = KeyPool(1000, 4096, clock=clock, initial_bits=0)
    assert pool.available_bits == 0
    clock.advance(1.5)
    assert pool.available_bits == 1500
    clock.advance(100)
    assert pool.available_bits == 4096  # capped


def test_take_is_all_or_nothing_and_refills(clock: Any) -> None:
    pool = KeyPool(256, 1024, clock=clock)
    assert pool.take(768)
    assert pool.available_bits == 256
    assert not pool.take(512)
    assert pool.available_bits == 256  # a refused take leaves the pool untouched
    clock.advance(1.0)
    assert pool.available_bits == 512
    assert pool.take(512)
    assert pool.available_bits == 0


def test_seconds_until(clock: Any) -> None:
    pool = KeyPool(100, 1000, clock=clock, initial_bits=0)
    assert pool.seconds_until(250) == pytest.approx(2.5)
    assert pool.seconds_until(0) == 0
    assert pool.seconds_until(2000) == float("inf")


def test_clock_going_backwards_does_not_drain(clock: Any) -> None:
    pool = KeyPool(100, 1000, clock=clock, initial_bits=500)
    clock.advance(-10)
    assert pool.available_bits == 500


def test_invalid_parameters(clock: Any) -> None:
    with pytest.raises(ValueError, match="positive"):
        KeyPool(0, 10, clock=clock)
    with pytest.raises(ValueError, match="negative"):
        KeyPool(1, 10, clock=clock).take(-1)
