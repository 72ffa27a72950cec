"""Certificate validity checks (pure: a certificate and a clock in, a verdict out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509

from qkd_macsec.pki.ca import common_name, remaining_validity


class Validity(StrEnum):
    OK = "ok"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"


@dataclass(frozen=True)
class CertCheck:
    """One certificate's verdict: who it is for, until when, and whether that is soon enough."""

    subject: str
    not_after: datetime
    remaining: timedelta
    validity: Validity

    @property
    def days_left(self) -> float:
        return self.remaining.total_seconds() / 86400

    @property
    def ok(self) -> bool:
        return self.validity is Validity.OK


def check_certificate(cert: x509.Certificate, warn_before: timedelta, now: datetime) -> CertCheck:
    """Classify ``cert`` at ``now``: EXPIRING once less than ``warn_before`` is left."""
    remaining = remaining_validity(cert, now)
    if now < cert.not_valid_before_utc:
        validity = Validity.NOT_YET_VALID
    elif remaining <= timedelta(0):
        validity = Validity.EXPIRED
    elif remaining < warn_before:
        validity = Validity.EXPIRING
    else:
        validity = Validity.OK
    return CertCheck(
        subject=common_name(cert) or cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        remaining=remaining,
        validity=validity,
    )
