"""The embedded KME over real mutual TLS on 127.0.0.1, driven with raw httpx."""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.pki import create_ca, issue_client_cert, save_issued

THREE_SAES = {"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_B"}
KEYS_NOT_FOUND = {"message": "one or more keys specified are not found on KME"}


def client(lab: Any, sae_id: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=lab.url_for_sae(sae_id), verify=lab.ssl_context(sae_id))


async def enc(c: httpx.AsyncClient, slave: str, **body: Any) -> httpx.Response:
    return await c.post(f"/api/v1/keys/{slave}/enc_keys", json=body)


async def dec(c: httpx.AsyncClient, master: str, *key_ids: str) -> httpx.Response:
    return await c.post(
        f"/api/v1/keys/{master}/dec_keys", json={"key_IDs": [{"key_ID": k} for k in key_ids]}
    )


async def test_round_trip_equal_bytes_delivered_once(kme_lab: Any) -> None:
    async with client(kme_lab, "mx304-11") as a, client(kme_lab, "mx304-12") as b:
        issued = await enc(a, "mx304-12", number=3, size=256)
        assert issued.status_code == 200
        keys = issued.json()["keys"]
        assert len(keys) == 3
        ids = [k["key_ID"] for k in keys]
        got = await dec(b, "mx304-11", *ids)
        assert got.status_code == 200
        assert got.json()["keys"] == keys
        again = await dec(b, "mx304-11", ids[0])
        assert again.status_code == 400
        assert again.json() == KEYS_NOT_FOUND


async def test_get_forms(kme_lab: Any) -> None:
    async with client(kme_lab, "mx304-11") as a, client(kme_lab, "mx304-12") as b:
        issued = await a.get("/api/v1/keys/mx304-12/enc_keys", params={"number": 1, "size": 128})
        (key,) = issued.json()["keys"]
        got = await b.get("/api/v1/keys/mx304-11/dec_keys", params={"key_ID": key["key_ID"]})
        assert got.json()["keys"] == [key]


async def test_status_counts_follow_the_pool(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(link={"key_rate_bps": 1})  # no noticeable refill during the test
    async with client(lab, "mx304-11") as a:
        before = (await a.get("/api/v1/keys/mx304-12/status")).json()
        assert before["stored_key_count"] == before["max_key_count"] == 4096
        await enc(a, "mx304-12", number=10, size=256)
        after = (await a.get("/api/v1/keys/mx304-12/status")).json()
        assert after["stored_key_count"] == 4086


async def test_multicast_to_two_slaves(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(saes=THREE_SAES)
    async with client(lab, "sae-a") as a, client(lab, "sae-b") as b, client(lab, "sae-c") as c:
        issued = await enc(a, "sae-b", size=256, additional_slave_SAE_IDs=["sae-c"])
        (key,) = issued.json()["keys"]
        assert (await dec(b, "sae-a", key["key_ID"])).json()["keys"] == [key]
        assert (await dec(b, "sae-a", key["key_ID"])).status_code == 400  # b had its copy
        assert (await dec(c, "sae-a", key["key_ID"])).json()["keys"] == [key]
        assert (await dec(c, "sae-a", key["key_ID"])).status_code == 400


async def test_slave_not_named_gets_401(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(saes=THREE_SAES)
    async with client(lab, "sae-a") as a, client(lab, "sae-c") as c, client(lab, "sae-b") as b:
        (key,) = (await enc(a, "sae-b")).json()["keys"]
        refused = await dec(c, "sae-a", key["key_ID"])
        assert refused.status_code == 401
        # An ETSI Error body, not the spec's empty one: one independent client crashes on it.
        assert refused.headers["content-type"] == "application/json"
        assert refused.json() == {"message": f"SAE sae-c is not a slave of key {key['key_ID']}"}
        assert (await dec(b, "sae-a", key["key_ID"])).status_code == 200  # still there for b


@pytest.mark.parametrize(
    ("dialect", "status", "body"),
    [
        ("etsi", 400, KEYS_NOT_FOUND),
        ("lenient", 403, None),
    ],
)
async def test_expired_keys(
    kme_lab_factory: Any, dialect: str, status: int, body: dict[str, str] | None, wait_until: Any
) -> None:
    lab = kme_lab_factory(dialect=dialect, link={"key_ttl_s": 0.3})
    async with client(lab, "mx304-11") as a, client(lab, "mx304-12") as b:
        (key,) = (await enc(a, "mx304-12")).json()["keys"]

        async def expired() -> bool:
            return lab.network.service.held_key_count() == 0

        await wait_until(expired)
        answer = await dec(b, "mx304-11", key["key_ID"])
        assert answer.status_code == status
        if body is not None:
            assert answer.json() == body
        else:
            assert "expired" in answer.json()["detail"]


@pytest.mark.parametrize(("dialect", "status"), [("etsi", 503), ("lenient", 400)])
async def test_pool_exhaustion_then_refill(
    kme_lab_factory: Any, dialect: str, status: int, wait_until: Any
) -> None:
    lab = kme_lab_factory(dialect=dialect, link={"pool_capacity_bits": 512, "key_rate_bps": 1024})
    async with client(lab, "mx304-11") as a:
        assert (await enc(a, "mx304-12", number=2, size=256)).status_code == 200
        empty = await enc(a, "mx304-12", number=2, size=256)
        assert empty.status_code == status
        assert "Not enough key material" in empty.text

        async def refilled() -> bool:
            answer = await a.get("/api/v1/keys/mx304-12/status")
            return bool(answer.json()["stored_key_count"] >= 1)

        await wait_until(refilled)
        assert (await enc(a, "mx304-12", number=1, size=256)).status_code == 200


async def test_sync_delay_shows_not_found_first(kme_lab_factory: Any, wait_until: Any) -> None:
    lab = kme_lab_factory(link={"sync_delay_ms": 300})
    async with client(lab, "mx304-11") as a, client(lab, "mx304-12") as b:
        (key,) = (await enc(a, "mx304-12")).json()["keys"]
        assert (await dec(b, "mx304-11", key["key_ID"])).status_code == 400

        async def arrived() -> bool:
            return (await dec(b, "mx304-11", key["key_ID"])).status_code == 200

        await wait_until(arrived)


async def test_missing_client_certificate_is_refused_at_tls(kme_lab: Any) -> None:
    context = ssl.create_default_context(cafile=str(kme_lab.example.ca_cert))
    async with httpx.AsyncClient(verify=context) as anonymous:
        with pytest.raises(httpx.TransportError):
            await anonymous.get(kme_lab.url("KME_A") + "/api/v1/keys/mx304-12/status")


async def test_certificate_from_another_ca_is_refused(kme_lab: Any, tmp_path: Path) -> None:
    rogue = issue_client_cert(create_ca("rogue CA"), "mx304-11")
    save_issued(rogue, tmp_path / "rogue.pem", tmp_path / "rogue.key")
    identity = TlsIdentity(tmp_path / "rogue.pem", tmp_path / "rogue.key", kme_lab.example.ca_cert)
    async with httpx.AsyncClient(verify=identity.ssl_context()) as impostor:
        with pytest.raises(httpx.TransportError):
            await impostor.get(kme_lab.url("KME_A") + "/api/v1/keys/mx304-12/status")


async def test_sae_of_another_kme_is_unauthorized(kme_lab: Any) -> None:
    # mx304-12 holds a valid certificate but is attached to KME_B, not KME_A.
    async with httpx.AsyncClient(
        base_url=kme_lab.url("KME_A"), verify=kme_lab.ssl_context("mx304-12")
    ) as wrong_kme:
        answer = await wrong_kme.get("/api/v1/keys/mx304-11/status")
        assert answer.status_code == 401


async def test_injected_faults(kme_lab_factory: Any) -> None:
    flaky = kme_lab_factory(kme_options={"faults": {"error_503_rate": 1.0}})
    async with client(flaky, "mx304-11") as a:
        answer = await a.get("/api/v1/keys/mx304-12/status")
        assert answer.status_code == 503
    dropping = kme_lab_factory(kme_options={"faults": {"drop_rate": 1.0}})
    async with client(dropping, "mx304-11") as a:
        with pytest.raises(httpx.TransportError):
            await a.get("/api/v1/keys/mx304-12/status")


async def test_unknown_paths_and_methods(kme_lab: Any) -> None:
    async with client(kme_lab, "mx304-11") as a:
        assert (await a.get("/api/v1/keys/mx304-12/other")).status_code == 404
        assert (await a.put("/api/v1/keys/mx304-12/enc_keys")).status_code == 405
        bad = await a.post("/api/v1/keys/mx304-12/enc_keys", content=b"{oops")
        assert bad.status_code == 400
        assert bad.json() == {"message": "request body is not valid JSON"}


async def test_no_key_bytes_in_logs(kme_lab: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with client(kme_lab, "mx304-11") as a, client(kme_lab, "mx304-12") as b:
        keys = (await enc(a, "mx304-12", number=4, size=256)).json()["keys"]
        await dec(b, "mx304-11", *(k["key_ID"] for k in keys))
    text = caplog.text
    assert all(k["key_ID"] in text for k in keys)  # IDs are logged at DEBUG...
    for key in keys:  # ...key material never, in any encoding
        raw = base64.b64decode(key["key"])
        assert key["key"] not in text
        assert raw.hex() not in text.lower()
