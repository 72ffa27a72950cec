"""Effective per-interface MACsec keys, including Junos' silent zero-fill of short CAKs."""

from __future__ import annotations

from datetime import datetime

from qkd_macsec.sim.config import (
    ChainKey,
    Configuration,
    InterfaceMacsec,
    StaticKey,
    macsec_interfaces,
)

CA = "set security macsec connectivity-association "
KC = "set security authentication-key-chains key-chain KC "


def test_static_key_is_zero_filled_to_the_suite_length() -> None:
    cfg = Configuration.from_set(
        f"{CA}A cipher-suite gcm-aes-xpn-256\n"
        f"{CA}A pre-shared-key ckn ABCD\n"
        f"{CA}A pre-shared-key cak 0123\n"
        f"{CA}A mka key-server-priority 3\n"
        f"{CA}B pre-shared-key ckn 01\n"
        f"{CA}B pre-shared-key cak 0f\n"
        "set security macsec interfaces et-0/0/1 connectivity-association A\n"
        "set security macsec interfaces et-0/0/2 connectivity-association B\n"
    )
    view = macsec_interfaces(cfg)
    assert view["et-0/0/1"] == InterfaceMacsec(
        interface="et-0/0/1",
        ca="A",
        cipher_suite="gcm-aes-xpn-256",
        static=StaticKey("abcd", bytes.fromhex("0123") + bytes(30)),
        chain=(),
        chain_name=None,
        key_server_priority=3,
    )
    b = view["et-0/0/2"]
    assert b.cipher_suite == "gcm-aes-128"  # the Junos default
    assert b.static is not None
    assert b.static.cak == bytes.fromhex("0f") + bytes(15)
    assert b.key_server_priority == 16


def test_key_chain_keys_sorted_by_start_and_zero_filled() -> None:
    cfg = Configuration.from_set(
        f"{CA}C cipher-suite gcm-aes-256\n"
        f"{CA}C pre-shared-key-chain KC\n"
        "set security macsec interfaces et-0/0/9 connectivity-association C\n"
        f"{KC}key 2 key-name 02\n{KC}key 2 secret {'22' * 32}\n"
        f'{KC}key 2 start-time "2026-11-26.10:25:00"\n'
        f"{KC}key 1 key-name 01\n{KC}key 1 secret 11\n"
        f"{KC}key 1 start-time 2026-11-26.10:15\n"
        f"{KC}tolerance 45\n"
    )
    itf = macsec_interfaces(cfg)["et-0/0/9"]
    assert itf.static is None
    assert itf.chain_name == "KC"
    assert itf.tolerance_s == 45
    assert itf.chain == (
        ChainKey(1, "01", bytes.fromhex("11") + bytes(31), datetime(2026, 11, 26, 10, 15)),
        ChainKey(2, "02", bytes.fromhex("22" * 32), datetime(2026, 11, 26, 10, 25)),
    )


def test_unbound_or_broken_interfaces_are_skipped() -> None:
    cfg = Configuration.from_set(
        f"{CA}A pre-shared-key ckn 0a\n"
        f"{CA}A pre-shared-key cak xyz\n"
        "set security macsec interfaces et-0/0/1 connectivity-association A\n"
        "set security macsec interfaces et-0/0/2 connectivity-association MISSING\n"
        "set security macsec interfaces et-0/0/3 apply-macro qkd kme-host h\n"
    )
    view = macsec_interfaces(cfg)
    assert list(view) == ["et-0/0/1"]
    assert view["et-0/0/1"].static is None  # bad CAK: no usable key
    assert macsec_interfaces(Configuration.empty()) == {}


def test_repr_hides_key_bytes() -> None:
    key = StaticKey("0a", bytes.fromhex("c0ffee") + bytes(13))
    assert "c0ffee" not in repr(key)
    assert "\\xc0" not in repr(key)
    chain = ChainKey(1, "0a", bytes.fromhex("c0ffee") + bytes(13), datetime(2026, 1, 1))
    assert "\\xc0" not in repr(chain)
