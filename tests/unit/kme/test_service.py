"""The network's key service: status numbers, enc/dec rules, pools, multicast, local delivery."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from qkd_macsec.kme.config import NetworkSpec
from qkd_macsec.kme.errors import (
    EXTENSION_MANDATORY_UNSUPPORTED,
    SIZE_NOT_MULTIPLE_OF_8,
    Fault,
    KmeServiceError,
)
from qkd_macsec.kme.service import KeyRequest, KeyService

SpecFactory = Callable[..., NetworkSpec]


def refused(call: Callable[[], object]) -> KmeServiceError:
    with pytest.raises(KmeServiceError) as caught:
        call()
    return caught.value


def test_status_numbers_are_true(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(
        link={"key_rate_bps": 512, "pool_capacity_bits": 4096, "initial_bits": 1024},
        kme={"max_key_per_request": 10, "max_sae_id_count": 2},
    )
    service = KeyService(spec, clock=clock)
    status = service.status("KME_A", caller="sae-a", slave="sae-b")
    assert status == {
        "source_KME_ID": "KME_A",
        "target_KME_ID": "KME_B",
        "master_SAE_ID": "sae-a",
        "slave_SAE_ID": "sae-b",
        "key_size": 256,
        "stored_key_count": 4,
        "max_key_count": 16,
        "max_key_per_request": 10,
        "max_key_size": 8192,
        "min_key_size": 64,
        "max_SAE_ID_count": 2,
    }
    service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest(number=3))
    assert service.status("KME_A", caller="sae-a", slave="sae-b")["stored_key_count"] == 1
    clock.advance(1.0)  # 512 more bits = 2 keys
    assert service.status("KME_A", caller="sae-a", slave="sae-b")["stored_key_count"] == 3


def test_round_trip_same_bytes_once(spec_factory: SpecFactory, clock: Any) -> None:
    service = KeyService(spec_factory(), clock=clock)
    keys = service.enc_keys(
        "KME_A", caller="sae-a", slave="sae-b", request=KeyRequest(number=2, size=512)
    )
    assert [len(k.key) for k in keys] == [64, 64]
    assert keys[0].key != keys[1].key
    got = service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[keys[1].key_id])
    assert got[0].key == keys[1].key
    error = refused(
        lambda: service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[keys[1].key_id])
    )
    assert error.fault is Fault.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (KeyRequest(size=100), SIZE_NOT_MULTIPLE_OF_8),
        (KeyRequest(size=32), "between min_key_size (64) and max_key_size (8192)"),
        (KeyRequest(size=16384), "between min_key_size"),
        (KeyRequest(number=129), "max_key_per_request (128)"),
        (KeyRequest(extension_mandatory=({"x": 1},)), EXTENSION_MANDATORY_UNSUPPORTED),
        (KeyRequest(additional_slave_sae_ids=("sae-b",)), "distinct"),
        (KeyRequest(additional_slave_sae_ids=("sae-a",)), "distinct"),
    ],
)
def test_bad_requests(
    spec_factory: SpecFactory, clock: Any, request_: KeyRequest, message: str
) -> None:
    service = KeyService(spec_factory(), clock=clock)
    error = refused(
        lambda: service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=request_)
    )
    assert error.fault is Fault.BAD_REQUEST
    assert message in error.message


def test_pool_exhaustion_then_refill(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(link={"key_rate_bps": 256, "pool_capacity_bits": 512})
    service = KeyService(spec, clock=clock)
    service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest(number=2))
    error = refused(
        lambda: service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    )
    assert error.fault is Fault.EXHAUSTED
    clock.advance(0.99)
    assert (
        refused(
            lambda: service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
        ).fault
        is Fault.EXHAUSTED
    )
    clock.advance(0.01)
    assert service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())


def test_identity_rules(spec_factory: SpecFactory, clock: Any) -> None:
    service = KeyService(spec_factory(), clock=clock)
    # The caller must be attached to the KME it calls.
    assert (
        refused(lambda: service.status("KME_B", caller="sae-a", slave="sae-b")).fault
        is Fault.UNAUTHORIZED
    )
    assert (
        refused(lambda: service.status("KME_A", caller="stranger", slave="sae-b")).fault
        is Fault.UNAUTHORIZED
    )
    assert (
        refused(lambda: service.status("KME_A", caller="sae-a", slave="nobody")).fault
        is Fault.UNAUTHORIZED
    )


def test_slave_not_named_gets_unauthorized(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(saes={"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_B"})
    service = KeyService(spec, clock=clock)
    (key,) = service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    error = refused(
        lambda: service.dec_keys("KME_B", caller="sae-c", master="sae-a", key_ids=[key.key_id])
    )
    assert error.fault is Fault.UNAUTHORIZED


def test_no_link_is_a_bad_request(spec_factory: SpecFactory, clock: Any) -> None:
    service = KeyService(spec_factory(linked=False), clock=clock)
    error = refused(
        lambda: service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    )
    assert error.fault is Fault.BAD_REQUEST
    assert "no QKD link between KME_A and KME_B" in error.message


def test_local_delivery_on_one_kme(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(saes={"sae-a": "KME_A", "sae-a2": "KME_A"}, linked=False)
    service = KeyService(spec, clock=clock)
    status = service.status("KME_A", caller="sae-a", slave="sae-a2")
    assert status["target_KME_ID"] == "KME_A"
    (key,) = service.enc_keys("KME_A", caller="sae-a", slave="sae-a2", request=KeyRequest())
    (got,) = service.dec_keys("KME_A", caller="sae-a2", master="sae-a", key_ids=[key.key_id])
    assert got.key == key.key
    assert service.pool("KME_A", "KME_A").available_bits == 1_048_576 - 256


def test_multicast_draws_from_every_link_and_delivers_to_each(
    spec_factory: SpecFactory, clock: Any
) -> None:
    data_saes = {"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_C", "sae-a2": "KME_A"}
    spec = spec_factory(
        saes=data_saes,
        kmes=("KME_A", "KME_B", "KME_C"),
        pairs=[("KME_A", "KME_B"), ("KME_A", "KME_C")],
    )
    service = KeyService(spec, clock=clock)
    (key,) = service.enc_keys(
        "KME_A",
        caller="sae-a",
        slave="sae-b",
        request=KeyRequest(size=128, additional_slave_sae_ids=("sae-c", "sae-a2")),
    )
    for kme_a, kme_b in (("KME_A", "KME_B"), ("KME_A", "KME_C"), ("KME_A", "KME_A")):
        assert service.pool(kme_a, kme_b).available_bits == 1_048_576 - 128
    for kme, slave in (("KME_B", "sae-b"), ("KME_C", "sae-c"), ("KME_A", "sae-a2")):
        (got,) = service.dec_keys(kme, caller=slave, master="sae-a", key_ids=[key.key_id])
        assert got.key == key.key
    assert len(service.store) == 0


def test_multicast_needs_a_link_to_every_slave(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(
        saes={"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_C"},
        kmes=("KME_A", "KME_B", "KME_C"),
    )
    service = KeyService(spec, clock=clock)
    error = refused(
        lambda: service.enc_keys(
            "KME_A",
            caller="sae-a",
            slave="sae-b",
            request=KeyRequest(additional_slave_sae_ids=("sae-c",)),
        )
    )
    assert "no QKD link between KME_A and KME_C" in error.message
    assert service.pool("KME_A", "KME_B").available_bits == 1_048_576  # nothing taken


def test_too_many_additional_slaves(spec_factory: SpecFactory, clock: Any) -> None:
    spec = spec_factory(
        saes={"sae-a": "KME_A", "sae-b": "KME_B", "sae-c": "KME_B"}, kme={"max_sae_id_count": 0}
    )
    service = KeyService(spec, clock=clock)
    error = refused(
        lambda: service.enc_keys(
            "KME_A",
            caller="sae-a",
            slave="sae-b",
            request=KeyRequest(additional_slave_sae_ids=("sae-c",)),
        )
    )
    assert "max_SAE_ID_count is 0" in error.message


def test_expiry_uses_the_link_ttl(spec_factory: SpecFactory, clock: Any) -> None:
    service = KeyService(spec_factory(link={"key_ttl_s": 5}), clock=clock)
    (key,) = service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    clock.advance(5)
    error = refused(
        lambda: service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[key.key_id])
    )
    assert error.fault is Fault.EXPIRED


def test_sync_delay_from_the_link(spec_factory: SpecFactory, clock: Any) -> None:
    service = KeyService(spec_factory(link={"sync_delay_ms": 200}), clock=clock)
    (key,) = service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    assert (
        refused(
            lambda: service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[key.key_id])
        ).fault
        is Fault.NOT_FOUND
    )
    clock.advance(0.2)
    assert service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[key.key_id])


def test_key_bytes_never_logged(
    spec_factory: SpecFactory, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    canary = bytes.fromhex("c0ffee" * 11)  # 33 bytes: every key starts with it
    service = KeyService(spec_factory(), clock=clock, random_bytes=lambda n: canary[:n])
    caplog.set_level("DEBUG", logger="qkd_macsec")
    (key,) = service.enc_keys("KME_A", caller="sae-a", slave="sae-b", request=KeyRequest())
    service.dec_keys("KME_B", caller="sae-b", master="sae-a", key_ids=[key.key_id])
    text = caplog.text
    assert key.key_id in text  # key IDs are logged...
    assert "c0ffee" not in text.lower()  # ...key bytes never, in no encoding
    assert base64.b64encode(key.key.reveal())[:16].decode() not in text
