"""The KME ASGI app with hand-made scopes: routing, identity, dialect replies, fault injection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from qkd_macsec.kme.app import MAX_BODY, KmeApp
from qkd_macsec.kme.config import Faults, NetworkSpec
from qkd_macsec.kme.dialect import DIALECTS
from qkd_macsec.kme.service import KeyService
from qkd_macsec.kme.tls_protocol import CONNECTION_EXTENSION
from qkd_macsec.pki import create_ca, issue_client_cert

_CA = create_ca()


def pem_for(sae_id: str) -> str:
    cert = issue_client_cert(_CA, sae_id).cert
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Reply:
    def __init__(self) -> None:
        self.status: int | None = None
        self.body = b""
        self.headers: dict[bytes, bytes] = {}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
        else:
            self.body += message.get("body", b"")

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: KmeApp,
    method: str,
    path: str,
    *,
    sae: str | None = "sae-a",
    body: bytes = b"",
    query: bytes = b"",
    extensions: dict[str, Any] | None = None,
) -> Reply:
    ext: dict[str, Any] = dict(extensions or {})
    if sae is not None:
        ext["tls"] = {"client_cert_chain": [pem_for(sae)]}
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "extensions": ext,
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    reply = Reply()
    await app(scope, receive, reply.send)
    return reply


@pytest.fixture
def make_app(spec_factory: Callable[..., NetworkSpec], clock: Any) -> Callable[..., KmeApp]:
    def make(dialect: str = "etsi", faults: Faults | None = None, kme_id: str = "KME_A") -> KmeApp:
        service = KeyService(spec_factory(), clock=clock)
        return KmeApp(service, kme_id, dialect=DIALECTS[dialect], faults=faults)

    return make


async def test_status_and_round_trip_through_the_app(make_app: Callable[..., KmeApp]) -> None:
    app_a = make_app()
    app_b = KmeApp(app_a.service, "KME_B", dialect=DIALECTS["etsi"])
    status = await call(app_a, "GET", "/api/v1/keys/sae-b/status")
    assert status.status == 200
    assert status.json()["slave_SAE_ID"] == "sae-b"
    assert status.headers[b"content-type"] == b"application/json"
    enc = await call(app_a, "GET", "/api/v1/keys/sae-b/enc_keys", query=b"number=1&size=128")
    assert enc.status == 200
    (key,) = enc.json()["keys"]
    dec = await call(
        app_b,
        "GET",
        "/api/v1/keys/sae-a/dec_keys",
        sae="sae-b",
        query=f"key_ID={key['key_ID']}".encode(),
    )
    assert dec.json() == enc.json()


async def test_http_level_errors(make_app: Callable[..., KmeApp]) -> None:
    app = make_app()
    assert (await call(app, "GET", "/nope")).status == 404
    assert (await call(app, "POST", "/api/v1/keys/sae-b/status")).status == 405
    assert (await call(app, "DELETE", "/api/v1/keys/sae-b/enc_keys")).status == 405
    big = await call(app, "POST", "/api/v1/keys/sae-b/enc_keys", body=b" " * (2 << 20))
    assert big.status == 413


@pytest.mark.parametrize(("dialect", "status"), [("etsi", 401), ("lenient", 404)])
async def test_no_or_unknown_identity(
    make_app: Callable[..., KmeApp], dialect: str, status: int
) -> None:
    app = make_app(dialect)
    assert (await call(app, "GET", "/api/v1/keys/sae-b/status", sae=None)).status == status
    assert (await call(app, "GET", "/api/v1/keys/sae-b/status", sae="stranger")).status == status
    # An SAE of another KME, with a valid certificate, is not served here either.
    assert (await call(app, "GET", "/api/v1/keys/sae-a/status", sae="sae-b")).status == status


async def test_bad_body_is_400_with_message(make_app: Callable[..., KmeApp]) -> None:
    reply = await call(app := make_app(), "POST", "/api/v1/keys/sae-b/enc_keys", body=b'{"size":7}')
    assert reply.status == 400
    assert reply.json() == {"message": "size shall be a multiple of 8"}
    reply = await call(app, "POST", "/api/v1/keys/sae-a/dec_keys", body=b"{}")
    assert reply.status == 400


async def test_injected_503(make_app: Callable[..., KmeApp]) -> None:
    app = make_app("lenient", Faults(error_503_rate=1.0))
    reply = await call(app, "GET", "/api/v1/keys/sae-b/status")
    assert reply.status == 503
    assert "detail" in reply.json()


async def test_injected_drop_aborts_without_answer(make_app: Callable[..., KmeApp]) -> None:
    aborted: list[bool] = []
    app = make_app(faults=Faults(drop_rate=1.0))
    reply = await call(
        app,
        "GET",
        "/api/v1/keys/sae-b/status",
        extensions={CONNECTION_EXTENSION: {"abort": lambda: aborted.append(True)}},
    )
    assert aborted == [True]
    assert reply.status is None  # nothing was sent


async def test_drop_without_server_support_answers_normally(
    make_app: Callable[..., KmeApp],
) -> None:
    app = make_app(faults=Faults(drop_rate=1.0))
    assert (await call(app, "GET", "/api/v1/keys/sae-b/status")).status == 200


async def test_fault_rates_are_seeded(make_app: Callable[..., KmeApp]) -> None:
    app1 = make_app(faults=Faults(error_503_rate=0.5, seed=7))
    app2 = make_app(faults=Faults(error_503_rate=0.5, seed=7))
    runs = []
    for app in (app1, app2):
        runs.append(
            [(await call(app, "GET", "/api/v1/keys/sae-b/status")).status for _ in range(20)]
        )
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])


async def test_unauthorized_has_an_etsi_error_body(make_app: Callable[..., KmeApp]) -> None:
    reply = await call(make_app(), "GET", "/api/v1/keys/sae-b/status", sae=None)
    assert reply.status == 401
    assert reply.headers[b"content-type"] == b"application/json"
    assert reply.json() == {"message": "no client certificate"}


async def test_declared_oversize_body_is_refused_unread(make_app: Callable[..., KmeApp]) -> None:
    app = make_app()
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/keys/sae-b/enc_keys",
        "raw_path": b"/api/v1/keys/sae-b/enc_keys",
        "query_string": b"",
        "headers": [(b"content-length", str(MAX_BODY + 1).encode())],
        "extensions": {"tls": {"client_cert_chain": [pem_for("sae-a")]}},
    }
    reply = Reply()
    await app(scope, receive, reply.send)
    assert reply.status == 413
    assert received == 0
    assert reply.headers[b"connection"] == b"close"


async def test_a_body_that_never_ends_times_out(make_app: Callable[..., KmeApp]) -> None:
    service = make_app().service
    app = KmeApp(service, "KME_A", dialect=DIALECTS["etsi"], request_timeout_s=0.05)
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await never.wait()
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/keys/sae-b/enc_keys",
        "raw_path": b"/api/v1/keys/sae-b/enc_keys",
        "query_string": b"",
        "headers": [(b"content-length", b"10")],
        "extensions": {"tls": {"client_cert_chain": [pem_for("sae-a")]}},
    }
    reply = Reply()
    await asyncio.wait_for(app(scope, receive, reply.send), 5.0)
    assert reply.status == 408
    assert reply.headers[b"connection"] == b"close"


def test_body_timeout_must_be_positive(make_app: Callable[..., KmeApp]) -> None:
    with pytest.raises(ValueError, match="request_timeout_s"):
        KmeApp(make_app().service, "KME_A", dialect=DIALECTS["etsi"], request_timeout_s=0)
