"""The embedded KME against hostile or careless clients, over real mutual TLS (issue 11, part 5),
and the key source's group-size check against a real KME's ``max_SAE_ID_count``.

Raw TLS streams (with a valid SAE client certificate) send what httpx would never send: a body
that trickles in, a ``Content-Length`` far over the limit with no body behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from qkd_macsec.engine.keysource import GroupTooLargeError, KeySource
from qkd_macsec.engine.planner import KeyMode
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.errors import UnauthorizedError
from qkd_macsec.kme.app import MAX_BODY
from qkd_macsec.kme.wire import MAX_WIRE_INT
from qkd_macsec.macsec import CipherSuite, CknMode
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX

ENC = "/api/v1/keys/mx304-12/enc_keys"


def client(lab: Any, sae_id: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=lab.url_for_sae(sae_id), verify=lab.ssl_context(sae_id))


async def open_tls(lab: Any, sae_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(lab.url_for_sae(sae_id))
    assert url.hostname is not None
    return await asyncio.open_connection(
        url.hostname, url.port, ssl=lab.ssl_context(sae_id), server_hostname=url.hostname
    )


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
        async with asyncio.timeout(5.0):
            await writer.wait_closed()


async def read_until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fails after ``within`` s."""
    data = b""
    async with asyncio.timeout(within):
        while True:
            try:
                chunk = await reader.read(65536)
            except (ConnectionError, ssl.SSLError):
                return data
            if not chunk:
                return data
            data += chunk


def status_and_body(raw: bytes) -> tuple[int, dict[str, Any], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, json.loads(body) if body else None


def request_head(content_length: int | str, path: str = ENC) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: kme\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


async def test_401_carries_an_etsi_error_body(kme_lab: Any) -> None:
    # mx304-12 has a valid certificate but is attached to KME_B, not KME_A.
    async with httpx.AsyncClient(
        base_url=kme_lab.url("KME_A"), verify=kme_lab.ssl_context("mx304-12")
    ) as wrong_kme:
        answer = await wrong_kme.get("/api/v1/keys/mx304-11/status")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"message": "SAE mx304-12 is not served by KME_A"}
    # The project's own client turns it into a typed error quoting the KME's words.
    async with KmeClient(
        kme_lab.url("KME_A"), kme_lab.identity("mx304-12"), ClientOptions()
    ) as ours:
        with pytest.raises(UnauthorizedError, match="not served by KME_A"):
            await ours.get_status("mx304-11")


async def test_a_slowly_dribbled_body_is_cut_off(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(kme_options={"request_timeout_s": 0.5})
    body = json.dumps({"number": 1, "size": 256}).encode() + b" " * 200
    reader, writer = await open_tls(lab, "mx304-11")
    started = time.monotonic()
    writer.write(request_head(len(body)))
    await writer.drain()

    sent = 0

    async def dribble() -> None:
        nonlocal sent
        for byte in body[:-1]:  # never the last byte: only the timeout can end the request
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.05)

    dribbler = asyncio.create_task(dribble())
    try:
        raw = await read_until_closed(reader, within=10.0)
        sent_when_cut = sent
    finally:
        dribbler.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
            await dribbler
        await close(writer)
    elapsed = time.monotonic() - started
    status, headers, answer = status_and_body(raw)
    assert status == 408
    assert headers["connection"] == "close"
    assert answer == {"message": "request body not received within 0.5 s"}
    assert 0.5 <= elapsed < 5.0  # bounded by the timeout, not by the client's pace
    assert 0 < sent_when_cut < len(body) - 1  # cut off while the client was still dribbling
    # The KME goes on serving everyone else.
    async with client(lab, "mx304-11") as a:
        assert (await a.post(ENC, json={"number": 1, "size": 256})).status_code == 200


async def test_a_body_sent_in_time_in_pieces_is_accepted(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(kme_options={"request_timeout_s": 5.0})
    body = json.dumps({"number": 1, "size": 256}).encode()
    reader, writer = await open_tls(lab, "mx304-11")
    try:
        writer.write(request_head(len(body)))
        for piece in (body[:5], body[5:12], body[12:]):
            writer.write(piece)
            await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        assert head.startswith(b"HTTP/1.1 200")
    finally:
        await close(writer)


@pytest.mark.parametrize("declared", [MAX_BODY + 1, 2_000_000_000, 10**18])
async def test_an_over_limit_content_length_is_refused_before_the_body(
    kme_lab_factory: Any, declared: int | str
) -> None:
    # A long body timeout: a prompt answer proves the KME did not wait for the body.
    lab = kme_lab_factory(kme_options={"request_timeout_s": 60.0})
    reader, writer = await open_tls(lab, "mx304-11")
    started = time.monotonic()
    try:
        writer.write(request_head(declared))  # and no body at all
        await writer.drain()
        raw = await read_until_closed(reader, within=10.0)
    finally:
        await close(writer)
    status, headers, answer = status_and_body(raw)
    assert status == 413
    assert headers["connection"] == "close"
    assert answer == {"message": f"request body larger than {MAX_BODY} bytes"}
    assert time.monotonic() - started < 10.0


async def test_a_content_length_beyond_64_bits_is_refused_by_the_http_parser(
    kme_lab: Any,
) -> None:
    reader, writer = await open_tls(kme_lab, "mx304-11")
    try:
        writer.write(request_head("9" * 30))
        await writer.drain()
        raw = await read_until_closed(reader, within=10.0)
    finally:
        await close(writer)
    assert raw.startswith(b"HTTP/1.1 400 ")  # uvicorn's parser, before the app: never a 500


async def test_a_content_length_at_the_limit_is_read(kme_lab: Any) -> None:
    body = json.dumps({"number": 1, "size": 256}).encode()
    padded = body + b" " * (MAX_BODY - len(body))
    async with client(kme_lab, "mx304-11") as a:
        answer = await a.post(ENC, content=padded, headers={"content-type": "application/json"})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("send", "message"),
    [
        ({"json": {"number": 10**100}}, f"number must be at most {MAX_WIRE_INT}"),
        ({"json": {"size": 10**100}}, f"size must be at most {MAX_WIRE_INT}"),
        ({"json": {"size": 2**63, "number": 2**64}}, f"number must be at most {MAX_WIRE_INT}"),
        ({"content": b'{"size": ' + b"9" * 5000 + b"}"}, "request body is not valid JSON"),
        ({"params": {"size": str(10**100)}}, f"size must be at most {MAX_WIRE_INT}"),
        ({"params": {"number": "9" * 5000}}, f"number must be at most {MAX_WIRE_INT}"),
        ({"params": {"size": "\u00b2"}}, "size must be a positive integer"),
        ({"params": {"size": "\u0663\u0662"}}, "size must be a positive integer"),
    ],
)
async def test_oversized_integers_are_400_not_500(
    kme_lab: Any, send: dict[str, Any], message: str
) -> None:
    async with client(kme_lab, "mx304-11") as a:
        if "params" in send:
            answer = await a.get(ENC, params=send["params"])
        else:
            answer = await a.post(ENC, **send)
    assert answer.status_code == 400
    assert answer.json() == {"message": message}


def group_link(slaves: list[str]) -> LinkSpec:
    return LinkSpec(
        name="ca-group",
        master=EndSpec("r-a", ("et-0/0/1",), "sae-a", "KME_A"),
        slaves=tuple(EndSpec(f"r-{s}", ("et-0/0/1",), s, "KME_B") for s in slaves),
        ca="CA_group",
        key_chain="KC1",
        suite=CipherSuite.GCM_AES_256,
        mode=KeyMode.KEY_CHAIN,
        rotation_interval=600,
        ckn_prefix=DEFAULT_CKN_PREFIX,
        ckn_mode=CknMode.PREFIX_UUID,
    )


async def test_group_ca_is_checked_against_the_kmes_max_sae_id_count(
    kme_lab_factory: Any,
) -> None:
    saes = {"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_B", "sae-d": "KME_B"}
    lab = kme_lab_factory(saes=saes, kme_options={"max_sae_id_count": 1})
    clients: dict[str, KmeClient] = {}

    def client_for(sae_id: str) -> KmeClient:
        if sae_id not in clients:
            clients[sae_id] = KmeClient(lab.url_for_sae(sae_id), lab.identity(sae_id))
        return clients[sae_id]

    keys = KeySource(client_for, dec_keys_wait=2.0)
    try:
        stored_before = lab.network.service.pool_bits("KME_A", "KME_B")
        with pytest.raises(GroupTooLargeError, match=r"accepts at most 1 \(max_SAE_ID_count\)"):
            await keys.fetch(group_link(["sae-b", "sae-c", "sae-d"]))
        assert lab.network.service.held_key_count() == 0  # nothing was issued
        assert lab.network.service.pool_bits("KME_A", "KME_B") >= stored_before
        fetched = await keys.fetch(group_link(["sae-b", "sae-c"]))  # one additional slave: fine
        assert fetched.link == "ca-group"
    finally:
        for one in clients.values():
            await one.aclose()


@pytest.mark.parametrize("sent", [b"", b"GET /api/v1/keys/mx304-12/status HTTP/1.1\r\nHost: k"])
async def test_slow_or_missing_headers_are_cut_off(kme_lab_factory: Any, sent: bytes) -> None:
    lab = kme_lab_factory(kme_options={"request_timeout_s": 0.5})
    reader, writer = await open_tls(lab, "mx304-11")
    started = time.monotonic()
    try:
        writer.write(sent)
        await writer.drain()
        raw = await read_until_closed(reader, within=10.0)
    finally:
        await close(writer)
    assert raw == b""  # closed without an answer: there is no request to answer
    assert 0.4 <= time.monotonic() - started < 5.0


async def test_kept_alive_connections_keep_working_past_the_header_timeout(
    kme_lab_factory: Any,
) -> None:
    lab = kme_lab_factory(kme_options={"request_timeout_s": 0.3})
    async with client(lab, "mx304-11") as a:
        deadline = time.monotonic() + 1.0
        answers = 0
        while time.monotonic() < deadline:  # one connection, requests back to back for 1 s
            assert (await a.get("/api/v1/keys/mx304-12/status")).status_code == 200
            answers += 1
    assert answers > 3
