"""What went wrong inside a KME, independent of how a given dialect reports it over HTTP."""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    BAD_REQUEST = "bad-request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not-found"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    UNAVAILABLE = "unavailable"


#: The spec's message for unknown or consumed keys (ETSI GS QKD 014, dec_keys).
KEYS_NOT_FOUND = "one or more keys specified are not found on KME"
SIZE_NOT_MULTIPLE_OF_8 = "size shall be a multiple of 8"
EXTENSION_MANDATORY_UNSUPPORTED = "not all extension_mandatory parameters are supported"
NOT_ENOUGH_KEY_MATERIAL = "Not enough key material"


class KmeServiceError(Exception):
    """A request the KME refuses. ``message`` is safe to send to the caller (never key bytes)."""

    def __init__(self, fault: Fault, message: str) -> None:
        super().__init__(message)
        self.fault = fault
        self.message = message
