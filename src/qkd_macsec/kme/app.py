"""One KME as a plain ASGI application: routing, SAE identity from the client certificate,
fault injection, and the dialect's error replies around :class:`KeyService`.

The calling SAE is the subject CN of the client certificate, read from the ASGI ``tls``
extension (``client_cert_chain[0]``). The TLS layer has already verified the certificate
against the KME's CA; a request without one is refused with the dialect's "unauthorized".

Request bodies are bounded in size and in time: a declared ``Content-Length`` above
:data:`MAX_BODY` is refused (413) before a byte of the body is read, and a body that has not
fully arrived ``request_timeout_s`` after the headers (a client that sends its headers and then
dribbles the body) is cut off (408). Both answers close the connection, since the rest of the
body is never read. Slow headers are the HTTP protocol's job (:mod:`.tls_protocol`).
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
#: Seconds a request body may take to arrive in full (``KmeSpec.request_timeout_s``).
REQUEST_TIMEOUT_S = 10.0
_JSON = [(b"content-type", b"application/json")]
_CLOSE = [(b"connection", b"close")]
_DROP_WAIT_S = 2.0


class _HttpError(Exception):
    """A plain HTTP error outside the ETSI API (unknown path, wrong method, body too big).

    ``close``: the request body was not (fully) read, so the connection cannot be reused.
    """

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


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


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` when it is plain ASCII digits (else None: the server's
    HTTP parser has already refused malformed values, and chunked bodies declare none)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = bytes(value).strip()
            if text.isdigit():  # bytes.isdigit() is ASCII-only
                return MAX_BODY + 1 if len(text) > 18 else int(text)
    return None


async def _read_body(scope: Scope, receive: Receive, timeout_s: float) -> bytes:
    declared = declared_length(scope)
    if declared is not None and declared > MAX_BODY:
        raise _HttpError(413, f"request body larger than {MAX_BODY} bytes", close=True)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _HttpError(400, "client disconnected", close=True)
                body += message.get("body", b"")
                if len(body) > MAX_BODY:
                    raise _HttpError(413, f"request body larger than {MAX_BODY} bytes", close=True)
                if not message.get("more_body", False):
                    return bytes(body)
    except TimeoutError:
        raise _HttpError(
            408, f"request body not received within {timeout_s:g} s", close=True
        ) from None


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
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        if request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")
        self.service = service
        self.kme_id = kme_id
        self.dialect = dialect
        self.request_timeout_s = request_timeout_s
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
            log.debug("%s %s %s -> %d", self.kme_id, scope["method"], scope["path"], error.status)
            body = json.dumps({self.dialect.error_field: str(error)}).encode()
            await _send(send, error.status, body, close=error.close)
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
        body = await _read_body(scope, receive, self.request_timeout_s) if method == "POST" else b""
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


async def _send(send: Send, status: int, body: bytes | None, *, close: bool = False) -> None:
    payload = body or b""
    headers = [
        *(_JSON if body is not None else []),
        (b"content-length", str(len(payload)).encode()),
        *(_CLOSE if close else []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
