"""The embedded KME's hybrid TLS front (pyOpenSSL before uvicorn), over real sockets."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from qkd_macsec.hybrid_tls import hybrid_tls_available

pytestmark = pytest.mark.skipif(not hybrid_tls_available(), reason="no ML-KEM in pyOpenSSL")


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    data = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(4096):
            data += chunk
    return data


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])
async def test_a_connection_that_never_finishes_the_handshake_is_dropped(
    kme_lab_factory: Any, sent: bytes
) -> None:
    lab = kme_lab_factory(kme_options={"request_timeout_s": 0.5})
    where = urlsplit(lab.url("KME_A"))
    assert where.hostname is not None
    assert where.port is not None
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    started = time.monotonic()
    try:
        writer.write(sent)  # nothing, or the first bytes of a ClientHello
        await writer.drain()
        assert await closed_within(reader, 10.0) == b""
    finally:
        writer.close()
    assert 0.4 <= time.monotonic() - started < 5.0


async def test_a_runtime_ssl_client_still_gets_served(kme_lab: Any) -> None:
    """Clients on the runtime's ssl (OpenSSL 3.0: classical groups only) keep working,
    e.g. the on-box event script's requests; the KME offers the hybrid, they pick X25519."""
    context: ssl.SSLContext = kme_lab.ssl_context("mx304-11")
    async with httpx.AsyncClient(verify=context) as sae:
        answer = await sae.get(kme_lab.url("KME_A") + "/api/v1/keys/mx304-12/status")
    assert answer.status_code == 200
    assert answer.json()["master_SAE_ID"] == "mx304-11"
