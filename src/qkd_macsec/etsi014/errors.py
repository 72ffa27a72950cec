"""Typed errors of the ETSI GS QKD 014 client, translated once at the client boundary.

::

    KmeError
     ├── KmeTransportError            connect refused, TLS failure, connection dropped
     │    ├── KmeTimeoutError         connect/read/write/pool timeout
     │    └── KmeTlsError             handshake or certificate refused (never retried)
     │         └── KmePostureError    classical key exchange under pq-required (never retried)
     ├── KmeResponseError             malformed answer (bad JSON, bad base64, short key, wrong
     │                                count, dec_keys IDs != asked, duplicate IDs, wrong types)
     └── KmeStatusError               HTTP error status (.status_code, .message, .method, .path)
          ├── KeyNotFoundError         unknown or already consumed key (400 "not found", or 404)
          ├── KeyExpiredError          403 on dec_keys (hosted simulators expire undelivered keys)
          ├── KeyPoolExhaustedError    400 "Not enough key material" ..., or 503 saying so
          ├── UnauthorizedError        401 (maybe no body), 404 about an unknown SAE, other 403
          ├── KmeUnavailableError      5xx (retryable)
          └── KmeBadRequestError       any other 4xx

Exception texts name the operation, the path (which carries SAE IDs) and key IDs at most; a
server's message is truncated and redacted. Key bytes and raw bodies never appear.
"""

from __future__ import annotations


class KmeError(Exception):
    """Anything that went wrong talking to a KME."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class KmeTransportError(KmeError):
    """The request did not complete: connection refused or dropped, TLS failure."""


class KmeTimeoutError(KmeTransportError):
    """Connecting, sending or waiting for the answer took longer than allowed."""


class KmeTlsError(KmeTransportError):
    """The TLS handshake failed or a certificate was refused; retrying cannot help."""


class KmePostureError(KmeTlsError):
    """The KME connection was classically key-exchanged and ``policy.transport.tls`` is
    ``pq-required``: closed before any request was sent. ``posture`` says what it negotiated."""

    def __init__(
        self, message: str, *, posture: object, method: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.posture = posture


class KmeResponseError(KmeError):
    """The KME answered 2xx but the answer breaks the protocol; no key from it is used."""


class KmeStatusError(KmeError):
    """The KME answered with an HTTP error status."""

    def __init__(self, *, status_code: int, message: str, method: str, path: str) -> None:
        text = f"{method} {path}: HTTP {status_code}"
        if message:
            text += f": {message}"
        super().__init__(text, method=method, path=path)
        self.status_code = status_code
        self.message = message


class KeyNotFoundError(KmeStatusError):
    """The key ID is unknown to this KME, already delivered, or not synchronised yet."""


class KeyExpiredError(KmeStatusError):
    """The key was dropped by the KME before it was fetched."""


class KeyPoolExhaustedError(KmeStatusError):
    """Not enough key material right now; the pool refills at the QKD link's key rate."""


class UnauthorizedError(KmeStatusError):
    """The KME refused the calling SAE, or does not know the SAE named in the path."""


class KmeUnavailableError(KmeStatusError):
    """Server-side failure (5xx); worth retrying."""


class KmeBadRequestError(KmeStatusError):
    """Any other 4xx: the KME rejected the request as invalid."""
