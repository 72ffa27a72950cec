"""The project's own ETSI 014 client (etsi014.KmeClient) against the embedded KME, per dialect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.etsi014 import (
    ClientOptions,
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeClient,
    KmeTransportError,
    RetryPolicy,
    UnauthorizedError,
)
from qkd_macsec.kme.demo import demo_key_exchange

NO_WAIT = ClientOptions(dec_keys_wait=0, retry=RetryPolicy(attempts=1))
THREE_SAES = {"sae-a": "KME_A", "sae-b": "KME_B", "sae:c@lab": "KME_B"}


def kme_client(lab: Any, sae_id: str, options: ClientOptions = NO_WAIT) -> KmeClient:
    return KmeClient(lab.url_for_sae(sae_id), lab.identity(sae_id), options)


async def test_round_trip_and_status(kme_lab: Any) -> None:
    async with kme_client(kme_lab, "mx304-11") as a, kme_client(kme_lab, "mx304-12") as b:
        status = await a.get_status("mx304-12")
        assert (status.source_kme_id, status.target_kme_id) == ("KME_A", "KME_B")
        keys = await a.get_keys("mx304-12", size=256, number=2)
        got = await b.get_keys_with_ids("mx304-11", [k.key_id for k in keys])
        assert [k.key for k in got] == [k.key for k in keys]
        assert all(len(k.key) == 32 for k in got)


@pytest.mark.parametrize("dialect", ["etsi", "lenient"])
async def test_typed_errors_per_dialect(
    kme_lab_factory: Any, wait_until: Any, dialect: str
) -> None:
    lab = kme_lab_factory(
        saes=THREE_SAES,
        dialect=dialect,
        link={"pool_capacity_bits": 512, "key_rate_bps": 1, "key_ttl_s": 0.3},
    )
    async with (
        kme_client(lab, "sae-a") as a,
        kme_client(lab, "sae-b") as b,
        kme_client(lab, "sae:c@lab") as c,
    ):
        (first,) = await a.get_keys("sae-b", size=256)
        with pytest.raises(UnauthorizedError):
            await c.get_keys_with_ids("sae-a", [first.key_id])  # not a named slave
        await b.get_keys_with_ids("sae-a", [first.key_id])
        with pytest.raises(KeyNotFoundError):
            await b.get_keys_with_ids("sae-a", [first.key_id])  # consumed
        (second,) = await a.get_keys("sae:c@lab", size=256)  # URL-encoded SAE ID in the path
        with pytest.raises(KeyPoolExhaustedError):
            await a.get_keys("sae-b", size=256)
        with pytest.raises(UnauthorizedError):
            await a.get_status("nobody")

        async def expired() -> bool:
            return lab.network.service.held_key_count() == 0

        await wait_until(expired)
        expected = KeyNotFoundError if dialect == "etsi" else KeyExpiredError
        with pytest.raises(expected):
            await c.get_keys_with_ids("sae-a", [second.key_id])


async def test_dec_keys_waits_for_synchronisation(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(link={"sync_delay_ms": 300})
    options = ClientOptions(dec_keys_wait=5.0, retry=RetryPolicy(backoff_base=0.05))
    async with kme_client(lab, "mx304-11") as a, kme_client(lab, "mx304-12", options) as b:
        (key,) = await a.get_keys("mx304-12", size=256)
        (got,) = await b.get_keys_with_ids("mx304-11", [key.key_id])
        assert got.key == key.key


async def test_dropped_connections_are_transport_errors(kme_lab_factory: Any) -> None:
    lab = kme_lab_factory(kme_options={"faults": {"drop_rate": 1.0}})
    async with kme_client(lab, "mx304-11") as a:
        with pytest.raises(KmeTransportError):
            await a.get_status("mx304-12")


async def test_demo_key_exchange(tmp_path: Path) -> None:
    lines = await demo_key_exchange(tmp_path / "demo")
    text = "\n".join(lines)
    assert "keys equal: yes (kcv " in text
    enc_id = next(line for line in lines if "enc_keys" in line).rsplit(" ", 1)[1]
    dec_id = next(line for line in lines if "dec_keys" in line).rsplit(" ", 1)[1]
    assert enc_id == dec_id
    assert "KME_A listening on https://127.0.0.1:" in text
    assert not re.search(r"[A-Za-z0-9+/]{43}=", text)  # no base64 key anywhere
