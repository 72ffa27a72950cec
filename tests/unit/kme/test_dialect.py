"""Each KME fault maps to the status and body its dialect prescribes (ETSI014.md divergences)."""

from __future__ import annotations

import json

import pytest

from qkd_macsec.kme.dialect import DIALECTS, ETSI, LENIENT
from qkd_macsec.kme.errors import KEYS_NOT_FOUND, NOT_ENOUGH_KEY_MATERIAL, Fault, KmeServiceError


def render(dialect_name: str, fault: Fault, message: str = "msg") -> tuple[int, object]:
    status, body = DIALECTS[dialect_name].render(KmeServiceError(fault, message))
    return status, (json.loads(body) if body is not None else None)


@pytest.mark.parametrize(
    ("fault", "message", "etsi", "lenient"),
    [
        (
            Fault.NOT_FOUND,
            KEYS_NOT_FOUND,
            (400, {"message": KEYS_NOT_FOUND}),
            (404, {"detail": KEYS_NOT_FOUND}),
        ),
        (
            Fault.EXPIRED,
            "key k1 has expired",
            (400, {"message": KEYS_NOT_FOUND}),
            (403, {"detail": "key k1 has expired"}),
        ),
        (
            Fault.EXHAUSTED,
            NOT_ENOUGH_KEY_MATERIAL,
            (503, {"message": NOT_ENOUGH_KEY_MATERIAL}),
            (400, {"detail": NOT_ENOUGH_KEY_MATERIAL}),
        ),
        (
            Fault.UNAUTHORIZED,
            "unknown SAE x",
            (401, {"message": "unknown SAE x"}),  # the spec says no body; see dialect.py
            (404, {"detail": "unknown SAE x"}),
        ),
        (
            Fault.BAD_REQUEST,
            "size shall be a multiple of 8",
            (400, {"message": "size shall be a multiple of 8"}),
            (400, {"detail": "size shall be a multiple of 8"}),
        ),
        (Fault.UNAVAILABLE, "down", (503, {"message": "down"}), (503, {"detail": "down"})),
    ],
)
def test_mapping(
    fault: Fault, message: str, etsi: tuple[int, object], lenient: tuple[int, object]
) -> None:
    assert render("etsi", fault, message) == etsi
    assert render("lenient", fault, message) == lenient


def test_registry() -> None:
    assert DIALECTS == {"etsi": ETSI, "lenient": LENIENT}
