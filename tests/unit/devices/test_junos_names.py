"""The Junos naming rules: valid names pass (normalised), anything that could inject is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.devices.junos_names import (
    ConfigRenderError,
    format_start_time,
    is_valid,
    validate_ca_name,
    validate_cak_bytes,
    validate_cak_hex,
    validate_ckn,
    validate_ckn_prefix,
    validate_host,
    validate_hostname,
    validate_identifier,
    validate_interface_name,
    validate_ip_address,
    validate_key_server_priority,
    validate_macro_name,
    validate_macro_value,
    validate_protocol,
    validate_slot,
    validate_tolerance_s,
    validate_transmit_interval_ms,
)
from qkd_macsec.macsec import CipherSuite

INJECTIONS = [
    "",
    " ",
    "a b",
    "x;y",
    "x}",
    "{x",
    'x"',
    "x'",
    "x\ny",
    "x\r",
    "x\t",
    "x#y",
    "x[y]",
    "x|y",
    "x\\y",
    "x\x00",
    "delete security",
    "CA; delete security",
    "ée",
]


@pytest.mark.parametrize(
    "name", ["et-0/0/9", "xe-1/0/0:2", "ge-0/0/1.0", "ae0", "ae12.16385", "mge-0/1/2", "et-11/2/35"]
)
def test_valid_interface_names(name: str) -> None:
    assert validate_interface_name(name) == name


@pytest.mark.parametrize(
    "name",
    [*INJECTIONS, "et-0/0/9;", "et-0/0/9 ", "et-0/0", "lo0", "ae0.16386", "ET-0/0/9", "et-0/0/9.a"],
)
def test_invalid_interface_names(name: str) -> None:
    with pytest.raises(ConfigRenderError, match="interface"):
        validate_interface_name(name)


@pytest.mark.parametrize("name", ["CA_core_11_12", "KC1", "a", "0x.y-z", "A" * 32])
def test_valid_identifiers(name: str) -> None:
    assert validate_identifier(name) == name
    assert validate_ca_name(name) == name


@pytest.mark.parametrize("name", [*INJECTIONS, "-lead", "_lead", ".lead", "A" * 33])
def test_invalid_identifiers_name_what_is_wrong(name: str) -> None:
    with pytest.raises(ConfigRenderError, match="connectivity-association name"):
        validate_ca_name(name)


def test_non_string_is_refused_not_crashed() -> None:
    with pytest.raises(ConfigRenderError, match="must be a string"):
        validate_identifier(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigRenderError, match="must be an integer"):
        validate_slot("3")  # type: ignore[arg-type]
    with pytest.raises(ConfigRenderError, match="must be an integer"):
        validate_slot(True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("mx304-11", "mx304-11"), ("KME-A.example.NET", "kme-a.example.net"), ("SAE_A", "sae_a")],
)
def test_hostnames(name: str, expected: str) -> None:
    assert validate_hostname(name) == expected


@pytest.mark.parametrize(
    "name", [*INJECTIONS, "-a", "a-", "a..b", "1.2.3.4", "a" * 64, ("a" * 60 + ".") * 5]
)
def test_invalid_hostnames(name: str) -> None:
    with pytest.raises(ConfigRenderError, match="host name"):
        validate_hostname(name)


def test_ip_addresses_are_canonical() -> None:
    assert validate_ip_address("192.0.2.1") == "192.0.2.1"
    assert validate_ip_address("2001:DB8:0::1") == "2001:db8::1"
    for bad in ["192.0.2.256", "192.0.2.1/24", "fe80::1%eth0", "1.2.3.4;x", "::1 "]:
        with pytest.raises(ConfigRenderError):
            validate_ip_address(bad)


def test_host_is_address_or_name() -> None:
    assert validate_host("10.0.0.1") == "10.0.0.1"
    assert validate_host("kme.example") == "kme.example"
    with pytest.raises(ConfigRenderError, match="host name or IP address"):
        validate_host("kme example")


def test_macros() -> None:
    assert validate_macro_name("kme-host") == "kme-host"
    assert validate_macro_value("https://kme-a.example:443/api") == "https://kme-a.example:443/api"
    for bad in ["1x", "a b", "a;"]:
        with pytest.raises(ConfigRenderError):
            validate_macro_name(bad)
    for bad in INJECTIONS:
        with pytest.raises(ConfigRenderError, match="apply-macro value"):
            validate_macro_value(bad)


def test_ckn_rules() -> None:
    assert validate_ckn("ABCD") == "abcd"
    assert validate_ckn("ab" * 32) == "ab" * 32
    for bad in ["", "a", "abc", "ab" * 33, "zz", "ab cd", "ab;"]:
        with pytest.raises(ConfigRenderError, match="CKN"):
            validate_ckn(bad)


def test_ckn_prefix_leaves_room_for_a_uuid() -> None:
    assert validate_ckn_prefix("ABCD1234abcd5678abcd1234abcd5678") == "abcd1234abcd5678" * 2
    assert validate_ckn_prefix("") == ""
    for bad in ["a", "ab" * 17, "xy"]:
        with pytest.raises(ConfigRenderError, match="CKN prefix"):
            validate_ckn_prefix(bad)


def test_cak_length_is_enforced_and_never_echoed() -> None:
    canary = "c0ffee" * 10 + "abcd"  # 64 hex digits
    assert validate_cak_hex(canary, CipherSuite.GCM_AES_XPN_256) == canary
    with pytest.raises(ConfigRenderError) as info:
        validate_cak_hex(canary, CipherSuite.GCM_AES_128)
    assert canary not in str(info.value)
    assert "32 hex digits" in str(info.value)
    with pytest.raises(ConfigRenderError, match="hex digits"):
        validate_cak_hex("g" * 32, CipherSuite.GCM_AES_128)
    assert validate_cak_bytes(bytes(16)) == bytes(16)
    with pytest.raises(ConfigRenderError, match="32 bytes"):
        validate_cak_bytes(bytes(16), CipherSuite.GCM_AES_256)
    with pytest.raises(ConfigRenderError, match="16 or 32 bytes"):
        validate_cak_bytes(bytes(20))


def test_numbers_in_range() -> None:
    assert validate_slot(0) == 0
    assert validate_slot(63) == 63
    for bad in [-1, 64]:
        with pytest.raises(ConfigRenderError, match=r"0\.\.63"):
            validate_slot(bad)
    assert validate_key_server_priority(255) == 255
    with pytest.raises(ConfigRenderError):
        validate_key_server_priority(256)
    assert validate_transmit_interval_ms(2000) == 2000
    with pytest.raises(ConfigRenderError):
        validate_transmit_interval_ms(10)
    assert validate_tolerance_s(0) == 0
    with pytest.raises(ConfigRenderError):
        validate_tolerance_s(-1)


def test_protocols() -> None:
    assert validate_protocol("lldp") == "lldp"
    for bad in ["LLDP", "ll dp", "lldp;"]:
        with pytest.raises(ConfigRenderError):
            validate_protocol(bad)


def test_start_time_format() -> None:
    assert format_start_time(datetime(2026, 11, 26, 10, 15)) == "2026-11-26.10:15:00"
    cet = timezone(timedelta(hours=1))
    assert format_start_time(datetime(2026, 11, 26, 11, 15, 5, tzinfo=cet)) == (
        "2026-11-26.10:15:05"
    )
    assert format_start_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01.00:00:00"
    with pytest.raises(ConfigRenderError):
        format_start_time(datetime(2040, 1, 1))


def test_is_valid() -> None:
    assert is_valid(validate_interface_name, "et-0/0/9")
    assert not is_valid(validate_interface_name, "et-0/0/9;")


_UNSAFE = set(" \t\r\n\"';{}[]#|\\\x00")
_VALIDATORS = [
    validate_interface_name,
    validate_identifier,
    validate_hostname,
    validate_host,
    validate_macro_name,
    validate_macro_value,
    validate_ckn,
    validate_protocol,
]


@given(st.text(max_size=80), st.sampled_from(_VALIDATORS))
def test_any_string_is_accepted_safe_or_refused(text: str, validator: object) -> None:
    assert callable(validator)
    try:
        result = validator(text)
    except ConfigRenderError:
        return
    assert isinstance(result, str)
    assert result
    assert not _UNSAFE & set(result)
    assert result.isascii()
