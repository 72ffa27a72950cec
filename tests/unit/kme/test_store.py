"""Held keys: one-time delivery, TTL expiry, multicast bookkeeping, authorization."""

from __future__ import annotations

from typing import Any

import pytest

from qkd_macsec.kme.errors import Fault, KmeServiceError
from qkd_macsec.kme.store import IssuedKey, KeyStore
from qkd_macsec.secret import Secret


def key(n: int) -> IssuedKey:
    return IssuedKey(f"id-{n}", Secret(bytes([n]) * 32))


def fault_of(store: KeyStore, **kwargs: Any) -> Fault:
    with pytest.raises(KmeServiceError) as caught:
        store.fetch(**kwargs)
    return caught.value.fault


def test_delivered_once(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    (got,) = store.fetch("KME_B", slave="B", master="A", key_ids=["id-1"])
    assert got.key == key(1).key
    assert len(store) == 0
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-1"]) is (
        Fault.NOT_FOUND
    )


def test_unknown_key_and_wrong_master_are_not_found(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["nope"]) is (
        Fault.NOT_FOUND
    )
    assert fault_of(store, kme_id="KME_B", slave="B", master="X", key_ids=["id-1"]) is (
        Fault.NOT_FOUND
    )
    assert len(store) == 1  # still there for the right caller


def test_slave_not_named_is_unauthorized(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    assert fault_of(store, kme_id="KME_B", slave="C", master="A", key_ids=["id-1"]) is (
        Fault.UNAUTHORIZED
    )


def test_wrong_kme_is_not_found(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    assert fault_of(store, kme_id="KME_A", slave="B", master="A", key_ids=["id-1"]) is (
        Fault.NOT_FOUND
    )


def test_expiry_after_ttl(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=10)
    clock.advance(9.9)
    assert len(store) == 1
    clock.advance(0.2)
    assert len(store) == 0
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-1"]) is (
        Fault.EXPIRED
    )


def test_multicast_each_slave_once_then_gone(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(7), master="A", slaves={"B": "KME_B", "C": "KME_C"}, ttl_s=60)
    (b,) = store.fetch("KME_B", slave="B", master="A", key_ids=["id-7"])
    assert len(store) == 1  # C has not fetched yet
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-7"]) is (
        Fault.NOT_FOUND
    )
    (c,) = store.fetch("KME_C", slave="C", master="A", key_ids=["id-7"])
    assert b.key == c.key == key(7).key
    assert len(store) == 0


def test_all_or_nothing(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-1", "x"]) is (
        Fault.NOT_FOUND
    )
    assert len(store) == 1  # id-1 was not consumed by the failed request
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-1", "id-1"]) is (
        Fault.BAD_REQUEST
    )


def test_sync_delay(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60, sync_delay_s=0.5)
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-1"]) is (
        Fault.NOT_FOUND
    )
    clock.advance(0.5)
    assert store.fetch("KME_B", slave="B", master="A", key_ids=["id-1"])


def test_tombstones_are_bounded(clock: Any) -> None:
    store = KeyStore(clock=clock, tombstones=2)
    for n in range(3):
        store.hold(key(n), master="A", slaves={"B": "KME_B"}, ttl_s=1)
    clock.advance(2)
    assert len(store) == 0
    # The oldest tombstone was dropped: its ID now reads as plain "not found".
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-0"]) is (
        Fault.NOT_FOUND
    )
    assert fault_of(store, kme_id="KME_B", slave="B", master="A", key_ids=["id-2"]) is (
        Fault.EXPIRED
    )


def test_key_ids_are_never_reused(clock: Any) -> None:
    store = KeyStore(clock=clock)
    store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
    with pytest.raises(ValueError, match="already used"):
        store.hold(key(1), master="A", slaves={"B": "KME_B"}, ttl_s=60)
