"""IOS XR names, rendering and parsing beyond the conformance test: the rules that are IOS XR's
own (key ID = upper-case CKN, slot in the lifetime duration, years to 2035, removals resolved
from the device, the clock's zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qkd_macsec.devices import iosxr_names as xr
from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.iosxr_parse import (
    IosxrReplyError,
    parse_bindings,
    parse_clock,
    parse_key_chain,
    parse_mka_sessions,
)
from qkd_macsec.devices.iosxr_render import render
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

FIXTURES = Path(__file__).parent / "fixtures" / "iosxr"
CAK32 = bytes(range(0x40, 0x60))
CAK16 = bytes(range(0x70, 0x80))
CKN = "ab12" * 16


def entry(slot: int, ckn: str = CKN, start: datetime | None = None) -> KeyChainEntry:
    return KeyChainEntry("KC1", slot, ckn, Secret(CAK32), start or datetime(2026, 12, 1, 7, 30))


# ---------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("long", "short"),
    [
        ("HundredGigE0/0/0/1", "Hu0/0/0/1"),
        ("FortyGigE0/0/0/1/0", "Fo0/0/0/1/0"),
        ("Bundle-Ether7", "BE7"),
    ],
)
def test_long_and_short_interface_names_denote_one_interface(long: str, short: str) -> None:
    assert xr.interface(short) == short
    assert xr.interface_identity(short) == xr.interface_identity(long) == long


@pytest.mark.parametrize(
    "bad", ["et-0/0/1", "HundredGigE", "Bundle-Ether0/0/0/1", "Hu0/0", "ge0/0/0/1 x"]
)
def test_foreign_interface_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigRenderError):
        xr.interface(bad)


def test_name_lengths_follow_the_model() -> None:
    assert xr.key_chain("K" * 32) == "K" * 32
    assert xr.policy("P" * 16) == "P" * 16
    with pytest.raises(ConfigRenderError):
        xr.key_chain("K" * 33)
    with pytest.raises(ConfigRenderError):
        xr.policy("P" * 17)


def test_unsupported_link_settings_are_refused_with_a_reason() -> None:
    with pytest.raises(ConfigRenderError, match="cannot exclude"):
        xr.protocol("lldp")
    with pytest.raises(ConfigRenderError, match="transmit-interval"):
        xr.transmit_interval_ms(3000)
    assert xr.transmit_interval_ms(2000) == 2000


def test_the_key_id_is_the_ckn_in_upper_case_and_even_length() -> None:
    assert xr.canonical_ckn("ab01") == "AB01"
    for bad in ("abc", "", "zz", "a" * 66):
        with pytest.raises(ConfigRenderError):
            xr.canonical_ckn(bad)


# ------------------------------------------------------------------------------------ rendering
def test_a_start_after_2035_cannot_be_written() -> None:
    render(ChangeSet(add_entries=[entry(0, start=datetime(2035, 12, 31, 23, 59, 59))]), False)
    with pytest.raises(ConfigRenderError, match="2035"):
        render(ChangeSet(add_entries=[entry(0, start=datetime(2036, 1, 1))]), False)


def test_the_slot_rides_in_the_lifetime_duration_and_reads_back() -> None:
    text = render(ChangeSet(add_entries=[entry(5)]), False)
    assert f"<life-time>{xr.SLOT_CARRIER_S + 5}</life-time>" in text
    assert f"<key-id>{CKN.upper()}</key-id>" in text
    assert CAK32.hex().upper() in text
    (read,) = parse_key_chain(text, "KC1")
    assert (read.slot, read.ckn) == (5, CKN)


def test_the_cmac_algorithm_follows_the_cak_length() -> None:
    short = KeyChainEntry("KC1", 0, CKN, Secret(CAK16), datetime(2026, 12, 1))
    assert "aes-128-cmac" in render(ChangeSet(add_entries=[short]), False)
    assert "aes-256-cmac" in render(ChangeSet(add_entries=[entry(0)]), False)


def test_a_cak_that_does_not_fit_the_suite_is_refused_without_showing_it() -> None:
    binding = MacsecBinding("Hu0/0/0/1", "POL", CipherSuite.GCM_AES_XPN_256, "KC1")
    short = KeyChainEntry("KC1", 0, CKN, Secret(CAK16), datetime(2026, 12, 1))
    with pytest.raises(ConfigRenderError) as caught:
        render(ChangeSet(bindings=[binding], add_entries=[short]), False)
    assert CAK16.hex() not in str(caught.value).lower()


def test_a_removal_deletes_the_key_id_read_from_the_device() -> None:
    changes = ChangeSet(remove_entries=[("KC1", 3), ("KC1", 4)])
    resolved = render(changes, False, {("KC1", 3): "cd" * 32})
    assert 'operation="remove"' in resolved
    assert "CD" * 32 in resolved
    assert resolved.count("<key ") + resolved.count("<key>") == 1  # slot 4 is already gone
    preview = render(changes, True)
    assert "remove key in slot 3" in preview
    assert "operation" not in preview


def test_pre_shared_key_mode_is_a_chain_named_after_the_policy_without_lifetime() -> None:
    binding = MacsecBinding("Hu0/0/0/1", "PSK_POL", CipherSuite.GCM_AES_256, None)
    text = render(
        ChangeSet(bindings=[binding], static_keys=[StaticKey("PSK_POL", CKN, Secret(CAK32))]), False
    )
    assert "<chain-name>PSK_POL</chain-name>" in text
    assert "<key-chain-name>PSK_POL</key-chain-name>" in text
    assert "lifetime" not in text
    assert "<cipher-suite>GCM-AES-256</cipher-suite>" in text


# -------------------------------------------------------------------------------------- parsing
def test_operator_keys_fill_the_free_slots_in_start_order() -> None:
    ours = render(ChangeSet(add_entries=[entry(0, "01" * 32)]), True)
    theirs = FIXTURES.joinpath("key_chain_cfg.xml").read_text().replace("QKD_KC1", "KC1")
    merged = theirs.replace("</keies>", ours.split("<keies>")[1].split("</keies>")[0] + "</keies>")
    slots = [(e.slot, e.ckn[-2:]) for e in parse_key_chain(merged, "KC1")]
    assert slots == [(0, "01"), (1, "00"), (2, "01")]


def test_a_key_id_that_is_no_ckn_is_a_reply_error() -> None:
    bad = render(ChangeSet(add_entries=[entry(0)]), True).replace(CKN.upper(), "NOT-HEX")
    with pytest.raises(IosxrReplyError):
        parse_key_chain(bad, "KC1")


def test_the_recorded_binding_reads_as_interface_to_policy() -> None:
    text = FIXTURES.joinpath("key_chain_cfg.xml").read_text()
    assert parse_bindings(text) == {"FortyGigE0/0/0/1/0": "scale-21"}


def test_the_recorded_mka_session_is_read_whole() -> None:
    (xml,) = parse_mka_sessions(FIXTURES.joinpath("mka_oper_reply.xml").read_text())
    (cli,) = parse_mka_sessions(FIXTURES.joinpath("mka_session_detail.txt").read_text())
    for session in (xml, cli):
        assert session.live
        assert session.key_server is True
        assert session.member_id == "A880BB45B9CE01584535F239"
    assert xml.cak_type == "PRIMARY-PSK"


def test_a_pending_session_is_not_live() -> None:
    text = FIXTURES.joinpath("mka_oper_reply.xml").read_text()
    pending = text.replace("SECURED - Secured MKA Session with MACsec", "PENDING - Waiting")
    assert [s.live for s in parse_mka_sessions(pending)] == [False]


def test_the_recorded_clock_reads_in_utc_to_the_millisecond() -> None:
    clock = parse_clock(FIXTURES.joinpath("system_time_reply.xml").read_text())
    assert clock.now == datetime(2026, 12, 1, 7, 30, 58, 250000, tzinfo=UTC)
    assert clock.utc_offset == timedelta(0)
    assert clock.resolution_s == pytest.approx(0.001)


def test_a_clock_in_an_iana_zone_gives_its_offset_and_an_abbreviation_is_refused() -> None:
    text = FIXTURES.joinpath("system_time_reply.xml").read_text()
    berlin = parse_clock(text.replace(">UTC<", ">Europe/Berlin<"))
    assert berlin.utc_offset == timedelta(hours=1)
    assert berlin.zone == "Europe/Berlin"
    assert berlin.now == datetime(2026, 12, 1, 6, 30, 58, 250000, tzinfo=UTC)
    with pytest.raises(IosxrReplyError, match="IANA"):
        parse_clock(text.replace(">UTC<", ">CEST<"))
