"""ETSI GS QKD 014 client: mutual-TLS REST key delivery from a KME to an SAE."""

from qkd_macsec.etsi014.client import ClientOptions, KmeClient, RequestRecord
from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeBadRequestError,
    KmeError,
    KmeResponseError,
    KmeStatusError,
    KmeTimeoutError,
    KmeTlsError,
    KmeTransportError,
    KmeUnavailableError,
    UnauthorizedError,
)
from qkd_macsec.etsi014.models import KmeStatus, QkdKey
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity, TlsIdentityError

__all__ = [
    "ClientOptions",
    "KeyExpiredError",
    "KeyNotFoundError",
    "KeyPoolExhaustedError",
    "KmeBadRequestError",
    "KmeClient",
    "KmeError",
    "KmeResponseError",
    "KmeStatus",
    "KmeStatusError",
    "KmeTimeoutError",
    "KmeTlsError",
    "KmeTransportError",
    "KmeUnavailableError",
    "QkdKey",
    "RequestRecord",
    "RetryPolicy",
    "TlsIdentity",
    "TlsIdentityError",
    "UnauthorizedError",
]
