"""Durations: seconds or unit strings, refused when negative, non-finite, boolean or absurd."""

from __future__ import annotations

import math

import pytest

from qkd_macsec.inventory import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        (" 2D ", 172800.0),
        ("0", 0.0),
    ],
)
def test_accepted(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [True, None, -1, math.nan, math.inf, "", "10 minutes", "m10", "1h-5m", "5x", [], "400d"],
)
def test_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"), [(600, "10m"), (90, "1m30s"), (0.5, "0.5s"), (3600, "1h"), (5, "5s")]
)
def test_format_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
