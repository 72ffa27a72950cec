"""ChangeSet → Junos set lines: every change kind, masking, and injection attempts refused."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.junos_options import JunosOptions
from qkd_macsec.devices.junos_render import (
    MASK,
    ConfigRenderError,
    render_set,
    render_set_masked,
)
from qkd_macsec.macsec import CipherSuite
from qkd_macsec.secret import Secret

CAK256 = bytes.fromhex("c0ffee" * 10 + "abcd")
CAK128 = bytes.fromhex("feedface" * 4)
CKN = "abcd1234abcd5678abcd1234abcd5678d9b6fa63dd8847d28afe94fcecf40d19"
START = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
XPN256 = CipherSuite.GCM_AES_XPN_256


def binding(**overrides: object) -> MacsecBinding:
    """A binding; ``macros``/``host_mappings`` go into its Junos options."""
    macros = overrides.pop("macros", ())
    mappings = overrides.pop("host_mappings", ())
    options = JunosOptions(macros=macros, host_mappings=mappings)  # type: ignore[arg-type]
    base = MacsecBinding("et-0/0/9", "CA_core", XPN256, "KC_core", options=options)
    return replace(base, **overrides)  # type: ignore[arg-type]


def entry(**overrides: object) -> KeyChainEntry:
    base = KeyChainEntry("KC_core", 3, CKN, Secret(CAK256), START)
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_key_chain_entry_lines() -> None:
    text = render_set(ChangeSet(add_entries=[entry()]))
    assert text.split("\n") == [
        f"set security authentication-key-chains key-chain KC_core key 3 key-name {CKN}",
        f"set security authentication-key-chains key-chain KC_core key 3 secret {CAK256.hex()}",
        "set security authentication-key-chains key-chain KC_core key 3 start-time "
        '"2026-11-26.10:15:00"',
    ]


def test_removal_comes_first_so_a_slot_can_be_reused() -> None:
    text = render_set(ChangeSet(add_entries=[entry()], remove_entries=[("KC_core", 3)]))
    lines = text.split("\n")
    assert lines[0] == "delete security authentication-key-chains key-chain KC_core key 3"
    assert len(lines) == 4


def test_static_key_lines() -> None:
    key = StaticKey("CA_basic", "ABCD", Secret(CAK128), CipherSuite.GCM_AES_128)
    assert render_set(ChangeSet(static_keys=[key])).split("\n") == [
        "set security macsec connectivity-association CA_basic pre-shared-key ckn abcd",
        f"set security macsec connectivity-association CA_basic pre-shared-key cak {CAK128.hex()}",
    ]


def test_key_chain_binding_with_every_option() -> None:
    b = binding(
        should_secure=True,
        exclude_protocols=("lldp", "lacp"),
        key_server_priority=16,
        transmit_interval_ms=3000,
        macros=(("kme-host", "kme-a.example.net"), ("kme-port", "443"), ("kme-ca", "false")),
        host_mappings=(("kme-a.example.net", "192.0.2.10"), ("mx304-12", "2001:db8::12")),
        chain_tolerance_s=30,
    )
    ca = "set security macsec connectivity-association CA_core"
    interface = "set security macsec interfaces et-0/0/9"
    assert render_set(ChangeSet(bindings=[b])).split("\n") == [
        f"{ca} cipher-suite gcm-aes-xpn-256",
        f"{ca} security-mode static-cak",
        f"{ca} pre-shared-key-chain KC_core",
        "set security authentication-key-chains key-chain KC_core tolerance 30",
        f"{ca} mka should-secure",
        f"{ca} mka key-server-priority 16",
        f"{ca} mka transmit-interval 3000",
        f"{ca} exclude-protocol lldp",
        f"{ca} exclude-protocol lacp",
        f"{interface} connectivity-association CA_core",
        f"{interface} apply-macro qkd kme-host kme-a.example.net",
        f"{interface} apply-macro qkd kme-port 443",
        f"{interface} apply-macro qkd kme-ca false",
        "set system static-host-mapping kme-a.example.net inet 192.0.2.10",
        "set system static-host-mapping mx304-12 inet6 2001:db8::12",
    ]


def test_pre_shared_key_binding_has_no_chain_and_shared_ca_lines_once() -> None:
    b1 = binding(key_chain=None)
    b2 = binding(interface="et-0/0/10", key_chain=None)
    lines = render_set(ChangeSet(bindings=[b1, b2])).split("\n")
    assert not any("pre-shared-key-chain" in line for line in lines)
    assert sum("cipher-suite" in line for line in lines) == 1
    assert sum("interfaces et-0/0/10 connectivity-association" in line for line in lines) == 1


def test_masked_rendering_hides_every_cak() -> None:
    changes = ChangeSet(
        add_entries=[entry()],
        static_keys=[StaticKey("CA_b", "ab", Secret(CAK128))],
    )
    masked = render_set_masked(changes)
    assert CAK256.hex() not in masked
    assert CAK128.hex() not in masked
    assert masked.count(MASK) == 2
    assert masked.replace(MASK, "X") != render_set(changes).replace(CAK256.hex(), "X")


def test_cak_length_must_match_the_chain_suite() -> None:
    short = entry(cak=Secret(CAK128))
    with pytest.raises(ConfigRenderError, match="32 bytes") as info:
        render_set(ChangeSet(bindings=[binding()], add_entries=[short]))
    assert CAK128.hex() not in str(info.value)
    with pytest.raises(ConfigRenderError, match="32 bytes"):
        render_set(ChangeSet(add_entries=[entry(cak=Secret(CAK128), suite=XPN256)]))
    with pytest.raises(ConfigRenderError, match="16 or 32"):
        render_set(ChangeSet(add_entries=[entry(cak=Secret(b"\x01" * 24))]))
    # Without a binding or suite, either length is accepted.
    assert CAK128.hex() in render_set(ChangeSet(add_entries=[entry(cak=Secret(CAK128))]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (ChangeSet(add_entries=[entry(), entry()]), "added twice"),
        (ChangeSet(add_entries=[entry(), entry(slot=4)]), "two keys starting"),
        (ChangeSet(bindings=[binding(), binding()]), "bound twice"),
        (
            ChangeSet(
                bindings=[binding(), binding(interface="et-0/0/1", cipher_suite="gcm-aes-128")]
            ),
            "two cipher suites",
        ),
        (ChangeSet(bindings=[binding(cipher_suite="aes-cbc")]), "not a MACsec cipher suite"),
        (ChangeSet(bindings=[binding(key_chain=None, chain_tolerance_s=5)]), "without a key"),
        (ChangeSet(add_entries=[entry(slot=64)]), "0..63"),
        (ChangeSet(add_entries=[entry(ckn="abc")]), "CKN"),
        (ChangeSet(remove_entries=[("KC x", 1)]), "key-chain name"),
        (
            ChangeSet(static_keys=[StaticKey("C", "ab", Secret(CAK128))] * 2),
            "two pre-shared keys",
        ),
        (ChangeSet(bindings=[binding(host_mappings=(("h", "1.2.3.4 x"),))]), "IP address"),
    ],
)
def test_inconsistent_change_sets_are_refused(changes: ChangeSet, message: str) -> None:
    with pytest.raises(ConfigRenderError, match=message):
        render_set(changes)


def test_empty_change_set_renders_nothing() -> None:
    assert ChangeSet().is_empty()
    assert render_set(ChangeSet()) == ""
    assert not ChangeSet(remove_entries=[("KC", 1)]).is_empty()


# --------------------------------------------------------------------------- injection property
_TOKEN = re.compile(r'[A-Za-z0-9_.:/@%+=,~<>-]+|"\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d"')
INJECTIONS = ['x"; delete security', "x;", "x}", "x\ndelete security", "a b", "#", "{", "'"]
text_or_injection = st.one_of(st.text(max_size=40), st.sampled_from(INJECTIONS))


def _assert_each_line_is_one_statement(text: str, expected_lines: int) -> None:
    lines = text.split("\n")
    assert len(lines) == expected_lines
    for line in lines:
        tokens = line.split(" ")
        assert tokens[0] in {"set", "delete"}
        assert tokens[1] in {"security", "system"}
        assert all(_TOKEN.fullmatch(token) for token in tokens), line


@settings(max_examples=300)
@given(
    field=st.sampled_from(["interface", "ca", "key_chain", "macro_name", "macro_value", "host"]),
    value=text_or_injection,
)
def test_random_names_are_valid_or_refused_never_injected(field: str, value: str) -> None:
    macro_name, macro_value, host = "kme-host", "kme.example", "kme.example"
    b = binding(
        interface=value if field == "interface" else "et-0/0/9",
        ca=value if field == "ca" else "CA",
        key_chain=value if field == "key_chain" else "KC",
        macros=(
            (
                value if field == "macro_name" else macro_name,
                value if field == "macro_value" else macro_value,
            ),
        ),
        host_mappings=((value if field == "host" else host, "192.0.2.1"),),
    )
    changes = ChangeSet(bindings=[b], add_entries=[entry(chain=b.key_chain or "KC")])
    try:
        text = render_set(changes)
    except ConfigRenderError:
        return
    _assert_each_line_is_one_statement(text, 6 + 3)
    assert {value, value.lower()} & set(text.split())


@given(ckn=text_or_injection, slot=st.integers(-5, 70))
def test_random_ckn_and_slot_valid_or_refused(ckn: str, slot: int) -> None:
    try:
        text = render_set(ChangeSet(add_entries=[entry(ckn=ckn, slot=slot)]))
    except ConfigRenderError:
        return
    _assert_each_line_is_one_statement(text, 3)
    assert 0 <= slot <= 63
