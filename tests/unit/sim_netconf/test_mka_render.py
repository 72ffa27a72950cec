"""MKA replies and MACsec log lines rendered from fabric state, in the real Junos layouts
(tests/unit/devices/fixtures/junos/), read back through the driver's parsers."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from qkd_macsec.devices.junos_parse import (
    parse_macsec_log,
    parse_mka_sessions,
    parse_mka_sessions_text,
)
from qkd_macsec.sim.fabric import CAK_ACTIVATED, Fabric, LogEvent, MkaPeer, MkaSession
from qkd_macsec.sim.netconf.handlers.mka_rpcs import (
    NOT_LIVE_SAK,
    interface_state,
    log_line,
    mka_sessions_text,
    render_mka_sessions,
)
from support.junos_evidence import (
    PEER_LABELS,
    assert_real_layout,
    assert_same_shape,
    fixture_reply,
    fixture_text,
    text_labels,
)

PEER = MkaPeer("fedcba9876543210fedcba98", "00:05:86:0A:0B:0C/1")


def session(
    ckn: str, cak_type: str, status: str, interface: str = "et-0/0/9", since: float = 100.0
) -> MkaSession:
    live = status == "live"
    return MkaSession(
        interface=interface,
        cak_name=ckn,
        cak_type=cak_type,
        status=status,
        member_id="0123456789abcdef01234567",
        key_server=cak_type == "primary",
        kcv="00" * 8,
        sci="00:05:86:01:02:03/1",
        peers=(PEER,) if live else (),
        live_since=since if live else None,
    )


ROLLOVER = [
    session("aa" * 32, "primary", "live"),
    session("bb" * 32, "preceding", "active"),
    session("cc" * 32, "primary", "in-progress", interface="et-0/0/10"),
]


def as_reply(body: list[object]) -> object:
    """Wrap the body as the wire does and hand back the first child, as PyEZ does."""
    wire = etree.Element("rpc-reply")
    for node in body:
        wire.append(node)
    return etree.fromstring(etree.tostring(wire))[0]


def test_brief_one_flat_element_per_interface() -> None:
    body = render_mka_sessions(ROLLOVER)
    assert len(body) == 2
    reply = as_reply(body)
    assert_real_layout(reply, detail=False)
    assert_same_shape(reply, fixture_reply("mka_brief.xml"))
    first = body[0]
    assert first.findtext("cak-name") == "AA" * 32
    assert first.findtext("latest-sak-key-identifier") == "0123456789ABCDEF01234567/1"
    assert body[1].findtext("latest-sak-key-identifier") == NOT_LIVE_SAK
    assert [(s.interface, s.cak_name, s.live) for s in parse_mka_sessions(reply)] == [
        ("et-0/0/9", "aa" * 32, True),
        ("et-0/0/10", "cc" * 32, False),
    ]


def test_detail_lists_every_cak_and_the_live_one() -> None:
    reply = as_reply(render_mka_sessions(ROLLOVER, detail=True))
    assert_real_layout(reply, detail=True)
    assert_same_shape(reply, fixture_reply("mka_detail.xml"))
    parsed = parse_mka_sessions(reply)
    assert [(s.interface, s.cak_name, s.cak_type, s.live) for s in parsed] == [
        ("et-0/0/9", "aa" * 32, "primary", True),
        ("et-0/0/9", "bb" * 32, "preceding", False),
        ("et-0/0/10", "cc" * 32, "primary", False),
    ]


def test_no_sessions_is_one_empty_element() -> None:
    (empty,) = render_mka_sessions([])
    assert empty.tag == "mka-session-information"
    assert len(empty) == 0
    assert parse_mka_sessions(empty) == []


def test_interface_state_prefers_primary_then_preceding() -> None:
    preceding_live = [session("a", "primary", "in-progress"), session("b", "preceding", "live")]
    assert interface_state(preceding_live, "et-0/0/9") == "Secured - Preceding"
    assert interface_state(preceding_live, "et-0/0/1") == "Not secured"
    assert interface_state([session("a", "primary", "in-progress")], "et-0/0/9") == "Not secured"


def test_text_forms_print_the_real_labels_and_parse_back() -> None:
    brief = mka_sessions_text(ROLLOVER, now=130.0)
    detail = mka_sessions_text(ROLLOVER, form="detail", now=130.0)
    for text, fixture in ((brief, "mka_brief.txt"), (detail, "mka_detail.txt")):
        want = set().union(*text_labels(fixture_text(fixture)))
        live, down = text_labels(text)
        assert live >= want, sorted(want - live)
        assert down >= want - PEER_LABELS, sorted(want - PEER_LABELS - down)
    assert "Uptime: 00:00:30" in brief
    assert [(s.cak_name, s.live) for s in parse_mka_sessions_text(brief)] == [
        ("aa" * 32, True),
        ("cc" * 32, False),
    ]
    assert [(s.cak_name, s.cak_type, s.live) for s in parse_mka_sessions_text(detail)] == [
        ("aa" * 32, "primary", True),
        ("bb" * 32, "preceding", False),
        ("cc" * 32, "primary", False),
    ]


def test_summary_table_has_tx_and_rx() -> None:
    header, *rows = mka_sessions_text(ROLLOVER, form="summary", now=130.0).splitlines()
    assert header.split() == ["Interface", "Member-ID", "Type", "Status", "Tx", "Rx", "CAK", "Name"]
    assert rows[0].split() == [
        "et-0/0/9",
        "0123456789ABCDEF01234567",
        "primary",
        "live",
        "16",
        "16",
        "AA" * 32,
    ]


def test_log_line_has_the_real_layout() -> None:
    fabric = Fabric(clock=lambda: 0.0)
    fabric.add_device("r1")
    at = datetime(2026, 7, 5, 18, 40, 5, tzinfo=UTC).timestamp()
    event = LogEvent(
        at, CAK_ACTIVATED, "et-2/0/2", "ab" * 32, "20ED47F6516C0001", "8452341E74200001"
    )
    line = log_line(fabric, "r1", "r1-host", event)
    assert line.startswith("Jul  5 18:40:05  r1-host dot1xd[")
    (parsed,) = parse_macsec_log(line)
    assert (parsed.tag, parsed.interface, parsed.ckn) == (CAK_ACTIVATED, "et-2/0/2", "ab" * 32)
    assert (parsed.sci_out, parsed.sci_in) == ("20ED47F6516C0001", "8452341E74200001")
    real = parse_macsec_log(fixture_text("syslog_rollover.txt"))
    assert {e.tag for e in real} >= {parsed.tag}
