"""Certificate validity verdicts at a given time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qkd_macsec.pki import Validity, check_certificate, create_ca, issue_client_cert

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WARN = timedelta(days=30)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (NOW, Validity.OK),
        (NOW + timedelta(days=31), Validity.EXPIRING),
        (NOW + timedelta(days=60), Validity.EXPIRED),
        (NOW + timedelta(days=61), Validity.EXPIRED),
        (NOW - timedelta(days=1), Validity.NOT_YET_VALID),
    ],
)
def test_verdicts(at: datetime, expected: Validity) -> None:
    cert = issue_client_cert(create_ca(now=NOW), "sae-x", 60, now=NOW).cert
    result = check_certificate(cert, WARN, at)
    assert result.validity is expected
    assert result.ok is (expected is Validity.OK)
    assert result.subject == "sae-x"


def test_days_left() -> None:
    cert = issue_client_cert(create_ca(now=NOW), "sae-x", 60, now=NOW).cert
    assert check_certificate(cert, WARN, NOW + timedelta(days=15)).days_left == pytest.approx(45)
