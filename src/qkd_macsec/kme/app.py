"""One KME as a plain ASGI application: routing, SAE identity from the client certificate,
fault injection, and the dialect's error replies around :class:`KeyService`.

The calling SAE is the subject CN of the client certificate, read from the ASGI ``tls``
extension (``client_cert_chain[0]``). The TLS layer has already verified the certificate
against the KME's CA; a request without one is refused with the dialect's "unauthorized".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cryptography import x509

from qkd_macsec.kme.config import Faults
from qkd_macsec.kme.dialect import Dialect
from qkd_macsec.kme.errors import Fault, KmeServiceError
from qkd_macsec.kme.service import KeyService
from qkd_macsec.kme.store import IssuedKey
from qkd_macsec.kme.tls_protocol import CONNECTION_EXTENSION
from qkd_macsec.kme.wire import (
    key_container,
    parse_key_ids_body,
    parse_key_ids_query,
    parse_key_request_body,
    parse_key_request_query,
    parse_path,
)
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.pki.ca import common_name

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = get_logger("kme")

MAX_BODY = 1 << 20
_JSON = [(b"content-type", b"application/json")]
_DROP_WAIT_S = 2.0


class _HttpError(Exception):
    """A plain HTTP error outside the ETSI API (unknown path, wrong method, body too big)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@functools.lru_cache(maxsize=1024)
def _sae_from_pem(pem: str) -> str:
    return common_name(x509.load_pem_x509_certificate(pem.encode()))


def caller_sae_id(scope: Scope) -> str | None:
    """The SAE ID (client certificate CN) of the connection, if any."""
    tls = scope.get("extensions", {}).get("tls")
    chain = tls.get("client_cert_chain") if isinstance(tls, dict) else None
    if not chain:
        return None
    try:
        return _sae_from_pem(chain[0]) or None
    except ValueError:
        return None


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _HttpError(400, "client disconnected")
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise _HttpError(413, "request body too large")
        if not message.get("more_body", False):
            return bytes(body)


class KmeApp:
    """ASGI app for KME ``kme_id`` of a network whose state lives in ``service``."""

    def __init__(
        self,
        service: KeyService,
        kme_id: str,
        *,
        dialect: Dialect,
        faults: Faults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.kme_id = kme_id
        self.dialect = dialect
        self.faults = faults or Faults()
        self._rng = rng or random.Random(self.faults.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to do
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        dropping = self.faults.drop_rate and self._rng.random() < self.faults.drop_rate
        if dropping and await self._drop(scope, receive):
            return
        if self.faults.error_503_rate and self._rng.random() < self.faults.error_503_rate:
            error = KmeServiceError(Fault.UNAVAILABLE, "service temporarily unavailable")
            await self._send_error(send, error)
            return
        try:
            status, body = await self._handle(scope, receive)
        except KmeServiceError as error:
            log.debug("%s %s %s -> %s", self.kme_id, scope["method"], scope["path"], error.fault)
            await self._send_error(send, error)
            return
        except _HttpError as error:
            body = json.dumps({self.dialect.error_field: str(error)}).encode()
            await _send(send, error.status, body)
            return
        await _send(send, status, body)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        route = parse_path(scope.get("raw_path") or scope["path"].encode())
        if route is None:
            raise _HttpError(404, "no such resource")
        sae_in_path, endpoint = route
        method = scope["method"]
        allowed = ("GET",) if endpoint == "status" else ("GET", "POST")
        if method not in allowed:
            raise _HttpError(405, f"{method} not allowed on {endpoint}")
        body = await _read_body(receive) if method == "POST" else b""
        caller = caller_sae_id(scope)
        if caller is None:
            raise KmeServiceError(Fault.UNAUTHORIZED, "no client certificate")
        query = scope.get("query_string", b"")
        log.debug("%s %s %s by SAE %s", self.kme_id, method, endpoint, caller)
        if endpoint == "status":
            status = self.service.status(self.kme_id, caller=caller, slave=sae_in_path)
            return 200, json.dumps(status).encode()
        keys: list[IssuedKey]
        if endpoint == "enc_keys":
            request = (
                parse_key_request_body(body) if method == "POST" else parse_key_request_query(query)
            )
            keys = self.service.enc_keys(
                self.kme_id, caller=caller, slave=sae_in_path, request=request
            )
        else:
            key_ids = parse_key_ids_body(body) if method == "POST" else parse_key_ids_query(query)
            keys = self.service.dec_keys(
                self.kme_id, caller=caller, master=sae_in_path, key_ids=key_ids
            )
        return 200, key_container(keys)

    async def _send_error(self, send: Send, error: KmeServiceError) -> None:
        status, body = self.dialect.render(error)
        await _send(send, status, body)

    async def _drop(self, scope: Scope, receive: Receive) -> bool:
        """Close the connection without an answer; False if the server cannot do that."""
        connection = scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        if not isinstance(connection, dict) or "abort" not in connection:
            return False
        log.debug(
            "%s dropping a %s %s (fault injection)", self.kme_id, scope["method"], scope["path"]
        )
        connection["abort"]()
        # Wait until the server has noticed, so it does not try to answer on our behalf.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DROP_WAIT_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
        return True


async def _send(send: Send, status: int, body: bytes | None) -> None:
    payload = body or b""
    headers = [
        *(_JSON if body is not None else []),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
