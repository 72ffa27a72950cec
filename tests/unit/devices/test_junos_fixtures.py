"""Every real-Junos fixture (fixtures/junos/, see its README) through the driver's parsers.

These are the forms real routers print (shared/reference/junos-field-evidence.md); the
simulator is held to the same fixtures by tests/integration/sim/test_sim_conformance.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.devices.base import MkaSessionState
from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    parse_key_chain,
    parse_key_chain_set,
    parse_macsec_log,
    parse_mka_sessions,
    parse_mka_sessions_text,
    parse_start_time,
)
from support.junos_evidence import assert_real_layout, fixture_reply, fixture_text, text_labels

CKN_2_0_2 = "3f5af4e5f616c6c7b35d5eab3652326ec51abe3d5654ddf2ce0112a4093ef8ff"
CKN_PREVIOUS = "328df9e4bcb778a3431137acbda28849357322377f3c48762c995ecc5b601cdf"
CKN_CA1_13 = "462d25550c40bf77dc7e7b9776867d4947520e31d9095ba76a4ceb79e7d23121"


def rows(sessions: list[MkaSessionState]) -> list[tuple[str, str, str, bool]]:
    return [(s.interface, s.cak_name, s.cak_type, s.live) for s in sessions]


# ----------------------------------------------------------------------------- MKA, XML (§3)
BRIEF_ROWS = [
    ("et-2/0/0", "badc0ffe01", "primary", True),
    ("et-2/0/2", CKN_2_0_2, "primary", True),
]


def test_the_fixtures_have_the_real_layout() -> None:
    assert_real_layout(fixture_reply("mka_brief.xml"), detail=False)
    assert_real_layout(fixture_reply("mka_detail.xml"), detail=True)


def test_flat_brief_reads_every_sibling_interface() -> None:
    # fixture_reply gives only the first <mka-session-information>, as PyEZ does
    sessions = parse_mka_sessions(fixture_reply("mka_brief.xml"))
    assert rows(sessions) == BRIEF_ROWS
    first = sessions[0]
    assert first.member_id == "D5151079AEE4B6EF9FF764A6"
    assert first.interface_state == "Secured - Primary"
    assert first.raw_state == "Secured - Primary"
    assert first.key_server is True


def test_flat_detail_lists_each_cak_live_from_session_live() -> None:
    sessions = parse_mka_sessions(fixture_reply("mka_detail.xml"))
    assert rows(sessions) == [
        ("et-2/0/0", "badc0ffe01", "primary", True),
        ("et-2/0/2", CKN_2_0_2, "primary", True),
        ("et-2/0/2", CKN_PREVIOUS, "preceding", False),
    ]
    assert [s.key_server for s in sessions] == [True, True, None]  # the interface's, if live
    assert sessions[2].member_id == "7D3EDBF6D8DAFB37BB4E005C"
    assert sessions[2].raw_state == "active"
    assert {s.interface_state for s in sessions} == {"Secured - Primary"}


def test_one_interface_reply_without_rpc_reply_wrapper() -> None:
    second = fixture_reply("mka_detail.xml").getparent()[1]
    alone = etree.fromstring(etree.tostring(second))  # as `… interface et-2/0/2` answers
    sessions = parse_mka_sessions(alone)
    assert [s.cak_name for s in sessions if s.live] == [CKN_2_0_2]


def xml(text: str) -> Any:
    return etree.fromstring(text)


def test_session_live_alone_is_enough_and_status_alone_is_enough() -> None:
    only_live = xml(
        "<mka-session-information><interface-name>et-0/0/1</interface-name>"
        "<interface-state>Secured - Primary</interface-state>"
        "<session-live><cak-name>ABCD</cak-name></session-live></mka-session-information>"
    )
    assert rows(parse_mka_sessions(only_live)) == [("et-0/0/1", "abcd", "primary", True)]
    by_status = xml(
        "<mka-session-information><interface-name>et-0/0/1</interface-name>"
        "<session-cak><cak-name>ABCD</cak-name><cak-status>live</cak-status></session-cak>"
        "<session-cak><cak-name>EF01</cak-name><cak-type>fallback</cak-type></session-cak>"
        "</mka-session-information>"
    )
    assert rows(parse_mka_sessions(by_status)) == [
        ("et-0/0/1", "abcd", "primary", True),
        ("et-0/0/1", "ef01", "fallback", False),
    ]


@pytest.mark.parametrize(
    ("state", "cak_type", "live"),
    [
        ("Secured - Primary", "primary", True),
        ("Secured - Preceding", "primary", False),  # the link runs on another CAK
        ("Secured - Preceding", "preceding", True),
        ("Secured", "primary", True),
        ("Not secured", "primary", False),
        ("Initializing", "primary", False),
    ],
)
def test_brief_live_iff_secured_on_that_cak(state: str, cak_type: str, live: bool) -> None:
    reply = xml(
        "<mka-session-information><interface-name>et-0/0/1</interface-name>"
        f"<interface-state>{state}</interface-state><cak-name>AB</cak-name>"
        f"<cak-type>{cak_type}</cak-type></mka-session-information>"
    )
    (session,) = parse_mka_sessions(reply)
    assert session.live is live


def test_nested_layout_still_accepted() -> None:
    reply = xml(
        "<mka-session-information><mka-session><interface-name>et-0/0/9</interface-name>"
        "<cak-name>ABCD</cak-name><session-status>live</session-status></mka-session>"
        "</mka-session-information>"
    )
    assert rows(parse_mka_sessions(reply)) == [("et-0/0/9", "abcd", "primary", True)]


def test_an_element_without_children_is_no_sessions() -> None:
    assert parse_mka_sessions(xml("<mka-session-information/>")) == []
    wrapped = xml("<rpc-reply><mka-session-information/></rpc-reply>")
    assert parse_mka_sessions(wrapped[0]) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<mka-session-information><mka-peer><x>1</x></mka-peer></mka-session-information>",
            r"without <interface-name> or <mka-session> \(has <mka-peer>\)",
        ),
        (
            "<mka-session-information><interface-name>et-0/0/1</interface-name>"
            "<interface-state>Secured - Primary</interface-state></mka-session-information>",
            "of et-0/0/1 without <cak-name>",
        ),
        (
            "<mka-session-information><interface-name>et-0/0/1</interface-name>"
            "<cak-name>AB</cak-name></mka-session-information>",
            "without <interface-state>",
        ),
        (
            "<mka-session-information><interface-name>et-0/0/1</interface-name>"
            "<session-live><cak-type>primary</cak-type></session-live>"
            "</mka-session-information>",
            "<session-live> of et-0/0/1 without <cak-name>",
        ),
        (
            "<mka-session-information><interface-name>et-0/0/1</interface-name>"
            "<session-cak/></mka-session-information>",
            "<session-cak> of et-0/0/1 without <cak-name>",
        ),
        ("<mka-session-information>error: busy</mka-session-information>", "holds text"),
        ("<macsec-connection-information/>", "expected <mka-session-information>"),
    ],
)
def test_unknown_shapes_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(MalformedReplyError, match=message):
        parse_mka_sessions(xml(text))


# ---------------------------------------------------------------------------- MKA, text (§2)
def test_text_brief_matches_the_xml_brief() -> None:
    sessions = parse_mka_sessions_text(fixture_text("mka_brief.txt"))
    assert rows(sessions) == BRIEF_ROWS
    assert sessions[1].member_id == "5845E15EBE7A646CA62B08BB"  # not the peer's
    assert sessions[1].key_server is True
    assert sessions[0].interface_state == "Secured - Primary"


def test_text_detail_reads_the_cak_list() -> None:
    (session,) = parse_mka_sessions_text(fixture_text("mka_detail.txt"))
    assert (session.interface, session.cak_name, session.cak_type, session.live) == (
        "et-2/0/0",
        "badc0ffe01",
        "primary",
        True,
    )
    assert session.raw_state == "live"
    assert session.member_id == "D5151079AEE4B6EF9FF764A6"
    assert session.interface_state == "Secured - Primary"  # "Interface state" in detail


def test_text_labels_of_the_fixtures() -> None:
    brief, detail = (
        text_labels(fixture_text("mka_brief.txt")),
        text_labels(fixture_text("mka_detail.txt")),
    )
    assert len(brief) == 2
    assert len(detail) == 1
    assert {"interface state", "cak name", "cak type", "member identifier"} <= brief[0]
    assert {"cak list", "status", "ether-type profile"} <= detail[0]


def test_text_without_interfaces() -> None:
    assert parse_mka_sessions_text("\n \n") == []
    with pytest.raises(MalformedReplyError, match="before any 'Interface name:'"):
        parse_mka_sessions_text("error: command is not valid on the acx7348\n")
    with pytest.raises(MalformedReplyError, match="without 'CAK name:'"):
        parse_mka_sessions_text("  Interface name: et-0/0/1\n     Interface State: Secured\n")


# --------------------------------------------------------------------- key chain (§1, §5)
CA9 = [
    (13, CKN_PREVIOUS, datetime(2026, 7, 5, 16, 43, tzinfo=UTC)),
    (14, CKN_2_0_2, datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC)),
]


def test_key_chain_display_set_read_back() -> None:
    text = fixture_text("key_chain_set.txt")
    entries = parse_key_chain_set(text, "QKD_CA9")
    assert [(e.slot, e.ckn, e.start_time) for e in entries] == [
        *CA9,
        (15, CKN_CA1_13, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ]
    assert "$9$" not in repr(entries)
    (ca1,) = parse_key_chain_set(text, "QKD_CA1")
    assert ca1.start_time == datetime(2017, 1, 1, tzinfo=UTC)
    assert parse_key_chain_set(text, "QKD_none") == []


def test_key_chain_xml_read_back() -> None:
    entries = parse_key_chain(fixture_reply("key_chain.xml"), "QKD_CA9")
    assert [(e.slot, e.ckn, e.start_time) for e in entries] == [
        *CA9,
        (15, CKN_CA1_13, datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
    ]
    assert "$9$" not in repr(entries)


def config_lines() -> str:
    """§5 as the device took it: each logged line ends in " '" (the test log's quoting)."""
    return "\n".join(
        line.removesuffix(" '") for line in fixture_text("config_set_lines.txt").splitlines()
    )


def test_config_lines_real_devices_took() -> None:
    text = config_lines()
    assert [(e.slot, e.ckn) for e in parse_key_chain_set(text, "QKD_CA9")] == [
        (13, CKN_PREVIOUS),
        (14, CKN_2_0_2),
    ]
    assert [e.start_time for e in parse_key_chain_set(text, "QKD_CA9")] == [
        datetime(2026, 7, 5, 16, 43, tzinfo=UTC),
        datetime(2026, 7, 5, 16, 44, tzinfo=UTC),
    ]
    # key 12's key-name is not among the lines shown: a read-back like that is refused
    with pytest.raises(MalformedReplyError, match="QKD_CA1 key 12 without key-name"):
        parse_key_chain_set(text, "QKD_CA1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"2026-12-1.07:30:58 +0000"', datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC)),
        ("2026-12-1.07:30:58 +0000", datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC)),
        ('"2017-1-1.00:00:00 +0000"', datetime(2017, 1, 1, tzinfo=UTC)),
        ("2026-07-05.16:45", datetime(2026, 7, 5, 16, 45, tzinfo=UTC)),
        ("2026-7-5.16:45 +0200", datetime(2026, 7, 5, 14, 45, tzinfo=UTC)),
        ('"2026-12-1.03:30:00 -0500"', datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2021-12-11.10:09:08", datetime(2021, 12, 11, 10, 9, 8, tzinfo=UTC)),
    ],
)
def test_start_time_real_forms(text: str, expected: datetime) -> None:
    assert parse_start_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-12-001.07:30:58", "2026-12-1.7:30:58", "2026-12-1 07:30:58", "2026-2-30.00:00", ""],
)
def test_start_time_refused(text: str) -> None:
    with pytest.raises(MalformedReplyError, match="start-time"):
        parse_start_time(text)


def test_display_set_errors_are_named() -> None:
    head = "set security authentication-key-chains key-chain KC key"
    with pytest.raises(MalformedReplyError, match="KC key 3 without start-time"):
        parse_key_chain_set(f"{head} 3 key-name ab\n", "KC")
    with pytest.raises(MalformedReplyError, match="not quoted evenly"):
        parse_key_chain_set(f'{head} 3 start-time "2026-1-1.00:00\n', "KC")
    with pytest.raises(MalformedReplyError, match="start-time"):
        parse_key_chain_set(f"{head} 3 key-name ab\n{head} 3 start-time soon\n", "KC")


# ------------------------------------------------------------------------------ syslog (§4)
def test_rollover_syslog_lines() -> None:
    events = parse_macsec_log(fixture_text("syslog_rollover.txt"))
    assert [(e.tag, e.interface) for e in events] == [
        ("MACSEC_CKN_LENGTH_WARNING", ""),
        ("DOT1XD_MACSEC_SC_PRIMARY_CAK_IN_USE", "et-2/0/4"),
        ("DOT1XD_MACSEC_SC_CAK_ACTIVATED", "et-2/0/4"),
        ("MACSEC_CKN_LENGTH_WARNING", ""),
        ("DOT1XD_MACSEC_SC_PRIMARY_CAK_IN_USE", "et-2/0/2"),
        ("DOT1XD_MACSEC_SC_CAK_ACTIVATED", "et-2/0/2"),
        ("DOT1XD_MACSEC_SC_UNKNOWN_CAK_ERR", "et-2/0/4"),
        ("MACSEC_CKN_LENGTH_WARNING", ""),
    ]
    in_use, activated = events[4], events[5]
    assert in_use.ckn == CKN_PREVIOUS
    assert activated.ckn != CKN_PREVIOUS
    assert activated.names(CKN_PREVIOUS)
    assert (activated.sci_out, activated.sci_in) == ("20ED47F6516C0001", "8452341E74200001")
    assert events[6].ckn == CKN_CA1_13
    assert (events[6].stamp, events[6].host, events[6].process) == (
        "Jul  5 18:40:35",
        "acx7348-p1-re0",
        "dot1xd",
    )


def test_syslog_other_lines_skipped_changed_format_refused() -> None:
    other = "Jul  5 18:39:36  r1 sshd[1]: SSHD_LOGIN_FAILED: Login failed for user 'x'\n"
    assert parse_macsec_log(other + "garbage\n") == []
    changed = "Jul  5 18:39:36  r1 dot1xd[9]: DOT1XD_MACSEC_SC_CAK_ACTIVATED: ifd et-0/0/1\n"
    with pytest.raises(MalformedReplyError, match="DOT1XD_MACSEC_SC_CAK_ACTIVATED"):
        parse_macsec_log(changed)


def test_key_ids_with_unicode_digits_are_malformed() -> None:
    from lxml import etree

    from qkd_macsec.devices.junos_parse import MalformedReplyError, parse_key_chain

    reply = etree.fromstring(
        "<configuration><security><authentication-key-chains><key-chain><name>KC</name>"
        "<key><name>\u00b2</name><key-name>ab</key-name><start-time>2026-1-1.00:00:00</start-time>"
        "</key></key-chain></authentication-key-chains></security></configuration>"
    )
    with pytest.raises(MalformedReplyError, match="is not a number"):
        parse_key_chain(reply, "KC")
