"""Link-level capability checks: a link whose ends cannot all do what it asks is refused by the
inventory check (before any device is touched), each refusal naming the field, link, host,
platform and the reason. Limits are the platform's declared :class:`PlatformLimits`; a narrow
variant of FakeOS stands for a platform that can do less than Junos."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.core.key_modes import KeyMode
from qkd_macsec.devices.limits import LinkAsk, PlatformLimits, ckn_digits
from qkd_macsec.devices.platform import PLATFORMS, get_platform, register_platform
from qkd_macsec.inventory import InventoryError, load_inventory
from qkd_macsec.macsec.keys import CknMode
from qkd_macsec.macsec.suites import CipherSuite
from support import fake_platform
from support.fake_platform.device import FakeOsNetwork

WriteInventory = Callable[[dict[str, Any] | str], Path]
NARROW = PlatformLimits(
    max_ckn_hex=48,
    cipher_suites=frozenset({CipherSuite.GCM_AES_128, CipherSuite.GCM_AES_256}),
    key_modes=frozenset({KeyMode.KEY_CHAIN}),
    exclude_protocols=False,
    transmit_interval_ms=None,
    key_server_priority=(0, 99),
    group_ca=False,
)


@pytest.fixture(autouse=True)
def narrow_fakeos() -> Iterator[None]:
    base = fake_platform.fakeos_platform(FakeOsNetwork())
    register_platform(dataclasses.replace(base, limits=NARROW))
    try:
        yield
    finally:
        PLATFORMS.unregister(fake_platform.NAME)


def mixed(doc: dict[str, Any]) -> dict[str, Any]:
    """mx304-12 is a (narrow) FakeOS box on port1: the first link Junos ↔ FakeOS."""
    doc["hosts"]["mx304-12"]["platform"] = fake_platform.NAME
    doc["links"] = doc["links"][:1]
    link = doc["links"][0]
    link["slaves"] = [{"host": "mx304-12", "interface": "port1"}]
    link["mka"] = {}
    link["cipher_suite"] = "gcm-aes-256"
    link["ckn_prefix"] = "abcd1234abcd5678"  # 16 + 32 = 48 digits: fits
    return doc


def problems(write_inventory: WriteInventory, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    text = str(caught.value)
    assert str(write_inventory(doc)) in text  # the message names the file
    return list(caught.value.problems)


def refusal(field: str, reason: str) -> str:
    return (
        f"links[0].{field}: link 'core-11-12' cannot run on host 'mx304-12' "
        f"(platform fakeos): {reason}"
    )


def test_a_link_within_the_limits_of_both_ends_loads(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    inventory = load_inventory(write_inventory(mixed(doc)))
    assert inventory.host("mx304-12").platform == fake_platform.NAME


def test_a_ckn_longer_than_the_platform_takes_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["ckn_prefix"] = "abcd1234abcd5678ab"  # 18 + 32 = 50 > 48
    assert problems(write_inventory, doc) == [
        refusal(
            "ckn_prefix",
            "its CKNs have 50 hex digits; the platform takes at most 48 (shorten ckn_prefix)",
        )
    ]


def test_a_sha256_ckn_is_64_digits(write_inventory: WriteInventory, doc: dict[str, Any]) -> None:
    doc = mixed(doc)
    doc["links"][0]["ckn_mode"] = "sha256"
    found = problems(write_inventory, doc)
    assert found == [
        refusal(
            "ckn_prefix",
            "its CKNs have 64 hex digits; the platform takes at most 48 (shorten ckn_prefix)",
        )
    ]


def test_an_unsupported_cipher_suite_and_mode_are_refused_together(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["cipher_suite"] = "gcm-aes-xpn-256"
    doc["links"][0]["mode"] = "pre-shared-key"
    doc["links"][0].pop("key_chain")
    assert problems(write_inventory, doc) == [
        refusal(
            "cipher_suite",
            "cipher suite gcm-aes-xpn-256 is not supported (supported: gcm-aes-128, gcm-aes-256)",
        ),
        refusal("mode", "mode pre-shared-key is not supported (supported: key-chain)"),
    ]


def test_mka_features_the_platform_lacks_are_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["mka"] = {
        "exclude_protocols": ["lldp"],
        "transmit_interval_ms": 2000,
        "key_server_priority": 120,
    }
    assert problems(write_inventory, doc) == [
        refusal("mka.exclude_protocols", "it cannot exclude protocols from MACsec (asked: lldp)"),
        refusal("mka.transmit_interval_ms", "it has no MKA transmit interval to set"),
        refusal("mka.key_server_priority", "key-server priority 120 is outside 0..99"),
    ]


def test_a_group_ca_is_refused_where_the_platform_has_none(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["slaves"].append({"host": "mx10008-23", "interface": "et-1/0/0"})
    assert problems(write_inventory, doc) == [
        refusal("slaves", "a group CA (3 ends) is not supported")
    ]


def test_the_junos_end_of_the_same_link_is_not_blamed(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc = mixed(doc)
    doc["links"][0]["cipher_suite"] = "gcm-aes-xpn-256"
    found = problems(write_inventory, doc)
    assert all("mx304-12" in line and "mx304-11" not in line for line in found), found


def test_iosxr_declares_upper_case_64_digit_ckns_and_no_exclusions() -> None:
    limits = get_platform("iosxr").limits
    assert limits.max_ckn_hex == 64
    assert limits.ckn_upper_case
    assert not limits.exclude_protocols
    assert limits.transmit_interval_ms == (2000, 2000)
    assert limits.cipher_suites == frozenset(CipherSuite)
    assert not get_platform("junos").limits.ckn_upper_case


def test_an_iosxr_end_refuses_a_transmit_interval_it_cannot_set(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["hosts"]["mx304-12"]["platform"] = "iosxr"
    doc["links"] = doc["links"][:1]
    doc["links"][0]["slaves"] = [{"host": "mx304-12", "interface": "HundredGigE0/0/0/1"}]
    doc["links"][0]["mka"] = {"transmit_interval_ms": 3000}
    found = problems(write_inventory, doc)
    assert len(found) == 1, found
    assert found[0].startswith("links[0].mka.transmit_interval_ms:")
    assert "2000..2000" in found[0]
    assert "host mx304-12, platform iosxr" in found[0]


def test_limits_refusals_directly() -> None:
    ask = LinkAsk(CipherSuite.GCM_AES_XPN_256, KeyMode.KEY_CHAIN, ckn_hex=64)
    assert PlatformLimits().refusals(ask) == []
    assert ckn_digits("abcd", CknMode.PREFIX_UUID) == 36
    assert ckn_digits("abcd", CknMode.SHA256) == 64
    with pytest.raises(ValueError, match="even"):
        PlatformLimits(max_ckn_hex=63)
    with pytest.raises(ValueError, match="at least one"):
        PlatformLimits(key_modes=frozenset())
