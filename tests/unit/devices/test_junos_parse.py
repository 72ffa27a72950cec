"""Parsing recorded Junos replies (tests/unit/devices/replies/) into typed state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    key_chain_filter,
    macsec_interfaces_filter,
    parse_device_time,
    parse_key_chain,
    parse_macsec_bindings,
    parse_mka_sessions,
    parse_start_time,
)

REPLIES = Path(__file__).parent / "replies"


def reply(name: str) -> Any:
    return etree.fromstring((REPLIES / name).read_bytes())


def test_mka_sessions_in_the_simulator_shape() -> None:
    sessions = parse_mka_sessions(reply("mka_sessions.xml"))
    assert [(s.interface, s.cak_type, s.live, s.raw_state) for s in sessions] == [
        ("et-0/0/9", "primary", True, "live"),
        ("et-0/0/9", "preceding", False, "active"),
        ("et-0/0/10", "primary", False, "in-progress"),
    ]
    first = sessions[0]
    assert first.cak_name == "abcd1234abcd5678abcd1234abcd5678d9b6fa63dd8847d28afe94fcecf40d19"
    assert first.key_server is True
    assert first.member_id == "A1B2C3D4E5F6A1B2C3D4E5F6"
    assert first.interface_state == "Secured - Primary"
    assert sessions[1].key_server is False


def test_mka_sessions_wrapped_namespaced_and_state_only() -> None:
    (session,) = parse_mka_sessions(reply("mka_sessions_state_only.xml"))
    assert session.interface == "xe-1/0/0:2"
    assert session.live is True
    assert session.cak_type == "primary"
    assert session.raw_state == "Secured - Primary"
    assert session.key_server is None


def test_no_sessions() -> None:
    assert parse_mka_sessions(reply("mka_sessions_empty.xml")) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mka_sessions_no_cak_name.xml", "cak-name"),
        ("mka_sessions_no_state.xml", "session-status"),
        ("mka_wrong_root.xml", "mka-session-information"),
    ],
)
def test_malformed_mka_replies(name: str, message: str) -> None:
    with pytest.raises(MalformedReplyError, match=message):
        parse_mka_sessions(reply(name))


@pytest.mark.parametrize("name", ["uptime.xml", "uptime_text_only.xml"])
def test_device_time(name: str) -> None:
    assert parse_device_time(reply(name)) == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def test_device_time_multi_re_and_unprefixed_seconds() -> None:
    assert parse_device_time(reply("uptime_multi_re.xml")) == datetime(
        2026, 11, 26, 10, 15, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [("uptime_local_zone.xml", "zone 'CET'"), ("uptime_missing.xml", "current-time")],
)
def test_device_time_refused(name: str, message: str) -> None:
    with pytest.raises(MalformedReplyError, match=message):
        parse_device_time(reply(name))


def test_key_chain_sorted_by_slot_without_secrets() -> None:
    entries = parse_key_chain(reply("key_chain.xml"), "KC_core")
    assert [(e.slot, e.ckn, e.start_time) for e in entries] == [
        (3, "abcd", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
        (
            4,
            "abcd1234abcd5678abcd1234abcd5678d9b6fa63dd8847d28afe94fcecf40d19",
            datetime(2026, 11, 26, 10, 25, tzinfo=UTC),
        ),
    ]
    assert all(e.chain == "KC_core" for e in entries)
    assert "CANARYCAK" not in repr(entries)


def test_key_chain_absent() -> None:
    assert parse_key_chain(reply("key_chain_empty.xml"), "KC_core") == []
    assert parse_key_chain(reply("key_chain.xml"), "KC_none") == []


@pytest.mark.parametrize(
    ("name", "message"),
    [("key_chain_bad_start.xml", "start-time"), ("key_chain_no_key_name.xml", "key-name")],
)
def test_malformed_key_chain(name: str, message: str) -> None:
    with pytest.raises(MalformedReplyError, match=message):
        parse_key_chain(reply(name), "KC_core")


def test_start_time_forms() -> None:
    assert parse_start_time('"2026-11-26.10:15:00"') == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert parse_start_time("2026-11-26.10:15") == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert parse_start_time("2026-11-26.05:15:00 -0500") == datetime(
        2026, 11, 26, 10, 15, tzinfo=UTC
    )
    with pytest.raises(MalformedReplyError):
        parse_start_time("2026-13-40.10:15:00")


def test_macsec_bindings() -> None:
    assert parse_macsec_bindings(reply("macsec_interfaces.xml")) == {
        "et-0/0/9": "CA_core",
        "ae0": "CA_ae",
    }
    assert parse_macsec_bindings(reply("key_chain_empty.xml")) == {}
    with pytest.raises(MalformedReplyError, match="configuration"):
        parse_macsec_bindings(reply("uptime.xml"))


def test_filters() -> None:
    assert etree.tostring(key_chain_filter("KC_core")) == (
        b"<configuration><security><authentication-key-chains><key-chain><name>KC_core</name>"
        b"</key-chain></authentication-key-chains></security></configuration>"
    )
    assert etree.tostring(macsec_interfaces_filter()) == (
        b"<configuration><security><macsec><interfaces/></macsec></security></configuration>"
    )
