"""NX-OS names, rendering and parsing beyond the conformance test: the rules that are NX-OS's
own (key ID = upper-case CKN, slot in the lifetime duration, the old key ends where the new one
starts, only what differs from running is written, the clock's zone from its config lines)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qkd_macsec.devices import nxos_names as nx
from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.devices.nxos_config import NxosReplyError, parse_running
from qkd_macsec.devices.nxos_parse import parse_clock, parse_key_chain, parse_mka_sessions
from qkd_macsec.devices.nxos_render import render, render_plan
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

FIXTURES = Path(__file__).parent / "fixtures" / "nxos"
CAK32 = bytes(range(0x40, 0x60))
CAK16 = bytes(range(0x70, 0x80))
T = datetime(2026, 12, 1, 7, 30, 58)
BINDING = MacsecBinding("Ethernet1/1", "POL", CipherSuite.GCM_AES_XPN_256, "KC1")


def entry(slot: int, ckn_byte: int, start: datetime = T, cak: bytes = CAK32) -> KeyChainEntry:
    return KeyChainEntry("KC1", slot, f"{ckn_byte:02x}" * 32, Secret(cak), start)


def test_interface_names_and_their_identity() -> None:
    assert nx.interface_identity("Eth1/97/2") == "Ethernet1/97/2"
    assert nx.interface("Ethernet1/1") == "Ethernet1/1"
    for bad in ("HundredGigE0/0/0/1", "Ethernet1", "port-channel1", "Ethernet1/1.5"):
        with pytest.raises(ConfigRenderError):
            nx.interface(bad)


@pytest.mark.parametrize("slot", range(nx.SLOTS))
def test_an_ended_duration_carries_its_slot_and_ends_within_the_overlap(slot: int) -> None:
    successor = T + timedelta(days=1, seconds=17)
    duration = nx.ended_duration(T, successor, slot)
    assert nx.slot_of_duration(duration) == slot
    end = T + timedelta(seconds=duration)
    assert successor <= end < successor + timedelta(seconds=nx.SLOTS)


def test_a_stage_ends_the_old_key_where_the_new_one_starts() -> None:
    current = parse_running(render(ChangeSet(bindings=[BINDING], add_entries=[entry(3, 1)]), True))
    later = T + timedelta(hours=2)
    plan = render_plan(ChangeSet(add_entries=[entry(4, 2, later)]), False, current)
    text = plan.text
    assert "key-octet-string" in text
    assert CAK32.hex().upper() in text
    after = parse_running(text)
    old = after.chains["KC1"]["01" * 32]
    new = after.chains["KC1"]["02" * 32]
    assert not old.has_secret  # the old key's octet string is never written again
    assert old.duration_s is not None
    assert later <= T + timedelta(seconds=old.duration_s) < later + timedelta(seconds=8)
    assert new.duration_s == nx.SLOT_CARRIER_S + 4
    assert plan.changed == 3  # the old key's lifetime, the new key's two lines
    # read back, each key keeps its slot
    merged = render(ChangeSet(add_entries=[entry(3, 1), entry(4, 2, later)]), True)
    assert [(e.slot, e.ckn[:2]) for e in parse_key_chain(merged, "KC1")] == [(3, "01"), (4, "02")]


def test_unchanged_configuration_is_not_written_again() -> None:
    changes = ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1)])
    current = parse_running(render(changes, True))
    plan = render_plan(changes, False, current)
    assert plan.changed == 0
    assert plan.lines == []


def test_a_removal_resolves_its_key_and_restores_the_lifetime_of_the_one_before() -> None:
    both = render(ChangeSet(add_entries=[entry(0, 1), entry(1, 2, T + timedelta(hours=1))]), True)
    plan = render_plan(ChangeSet(remove_entries=[("KC1", 1)]), False, parse_running(both))
    assert f"  no key {'02' * 32}" in plan.lines
    assert f"    send-lifetime 07:30:58 Dec 01 2026 duration {nx.SLOT_CARRIER_S}" in plan.lines
    assert plan.changed == 2


def test_a_preview_shows_removals_as_comments() -> None:
    text = render(ChangeSet(remove_entries=[("KC1", 5)]), True)
    assert "! remove the key in slot 5" in text
    assert "no key" not in text


def test_pre_shared_key_mode_replaces_the_chain() -> None:
    old = StaticKey("CA1", "aa" * 32, Secret(CAK32))
    current = parse_running(render(ChangeSet(static_keys=[old]), True))
    new = StaticKey("CA1", "bb" * 32, Secret(CAK32))
    plan = render_plan(ChangeSet(static_keys=[new]), False, current)
    assert f"  no key {'AA' * 32}" in plan.lines
    assert f"  key {'BB' * 32}" in plan.lines
    assert not any("send-lifetime" in line for line in plan.lines)  # no lifetime: no expiry


def test_a_cak_that_does_not_fit_the_suite_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigRenderError) as caught:
        render(ChangeSet(bindings=[BINDING], add_entries=[entry(0, 1, cak=CAK16)]), False)
    assert CAK16.hex() not in str(caught.value).lower()


def test_refused_link_settings() -> None:
    with pytest.raises(ConfigRenderError, match="exclude"):
        render(ChangeSet(bindings=[replace(BINDING, exclude_protocols=("lldp",))]), False)
    with pytest.raises(ConfigRenderError, match="2037"):
        render(ChangeSet(add_entries=[entry(0, 1, datetime(2040, 1, 1))]), False)


def test_the_clock_is_read_with_the_configured_zone() -> None:
    clock = parse_clock(
        (FIXTURES / "show_clock.txt").read_text(),
        (FIXTURES / "running_config_keychain.txt").read_text(),
    )
    assert clock.now == datetime(2026, 12, 1, 6, 31, 10, 512000, tzinfo=UTC)  # CET = UTC+1
    assert clock.utc_offset == timedelta(0)  # lifetimes are UTC
    summer = parse_clock(
        "07:31:10 CEST Wed Jul 01 2026\n", (FIXTURES / "running_config_keychain.txt").read_text()
    )
    assert summer.now == datetime(2026, 7, 1, 5, 31, 10, tzinfo=UTC)
    assert summer.resolution_s == 1.0
    with pytest.raises(NxosReplyError, match="clock zone"):
        parse_clock("07:31:10 EST Tue Dec 01 2026\n", "")


def test_the_mka_details_read_every_session() -> None:
    sessions = parse_mka_sessions((FIXTURES / "mka_session_details_two.txt").read_text())
    assert [(s.interface, s.cak_name, s.live) for s in sessions] == [
        ("Ethernet1/97/1", "10000000", False),
        ("Ethernet1/97/2", "10100000", True),
    ]
    assert sessions[1].member_id == "783DEDF82AF6A5D3CBA13CB6"  # not the peer's MI
    assert sessions[1].key_server is True
