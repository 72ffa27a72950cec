"""How a KME reports errors: the spec's way (``etsi``) or the way many real KMEs do (``lenient``).

| fault                      | etsi                          | lenient                         |
|----------------------------|-------------------------------|---------------------------------|
| unknown / consumed key     | 400 ``message`` (spec text)   | 404 ``detail``                  |
| expired key                | 400, same as not found        | 403 ``detail``                  |
| pool empty                 | 503 "Not enough key material" | 400 "Not enough key material"   |
| SAE not allowed / unknown  | 401 ``message``               | 404 ``detail``                  |
| bad request                | 400 ``message``               | 400 ``detail``                  |
| injected outage            | 503 ``message``               | 503 ``detail``                  |

Each row is a field of :class:`Dialect`, so a new KME's habits are data, not code. The spec
sends 401 without a body; the ``etsi`` dialect adds an ETSI Error body all the same, because at
least one independent client crashes on an empty 401 and a spec-following client ignores it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from qkd_macsec.kme.errors import KEYS_NOT_FOUND, Fault, KmeServiceError


@dataclass(frozen=True)
class Dialect:
    name: str
    not_found_status: int
    expired_status: int
    #: Expired keys reported with the not-found message (the spec has no notion of expiry).
    expired_as_not_found: bool
    exhausted_status: int
    unauthorized_status: int
    unauthorized_has_body: bool
    error_field: Literal["message", "detail"]

    def status_for(self, fault: Fault) -> int:
        return {
            Fault.BAD_REQUEST: 400,
            Fault.UNAUTHORIZED: self.unauthorized_status,
            Fault.NOT_FOUND: self.not_found_status,
            Fault.EXPIRED: self.expired_status,
            Fault.EXHAUSTED: self.exhausted_status,
            Fault.UNAVAILABLE: 503,
        }[fault]

    def render(self, error: KmeServiceError) -> tuple[int, bytes | None]:
        """HTTP status and JSON body (None = empty body) for a refused request."""
        status = self.status_for(error.fault)
        if error.fault is Fault.UNAUTHORIZED and not self.unauthorized_has_body:
            return status, None
        message = error.message
        if error.fault is Fault.EXPIRED and self.expired_as_not_found:
            message = KEYS_NOT_FOUND
        return status, json.dumps({self.error_field: message}).encode()


ETSI = Dialect(
    name="etsi",
    not_found_status=400,
    expired_status=400,
    expired_as_not_found=True,
    exhausted_status=503,
    unauthorized_status=401,
    unauthorized_has_body=True,
    error_field="message",
)

LENIENT = Dialect(
    name="lenient",
    not_found_status=404,
    expired_status=403,
    expired_as_not_found=False,
    exhausted_status=400,
    unauthorized_status=404,
    unauthorized_has_body=True,
    error_field="detail",
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (ETSI, LENIENT)}
