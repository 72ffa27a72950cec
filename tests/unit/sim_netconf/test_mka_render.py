"""MKA RPC replies rendered from fabric sessions (the shape the driver parses)."""

from __future__ import annotations

from qkd_macsec.sim.fabric import MkaSession
from qkd_macsec.sim.netconf.handlers.mka_rpcs import (
    NOT_LIVE_SAK,
    interface_state,
    mka_sessions_text,
    render_mka_sessions,
)


def session(ckn: str, cak_type: str, status: str, interface: str = "et-0/0/9") -> MkaSession:
    return MkaSession(
        interface=interface,
        cak_name=ckn,
        cak_type=cak_type,
        status=status,
        member_id="0123456789abcdef01234567",
        key_server=cak_type == "primary",
        kcv="00" * 8,
    )


def test_one_element_per_session_with_contract_fields() -> None:
    sessions = [session("aa" * 32, "primary", "live"), session("bb" * 32, "preceding", "active")]
    root = render_mka_sessions(sessions)
    assert root.tag == "mka-session-information"
    rows = root.findall("mka-session")
    assert [r.findtext("cak-name") for r in rows] == ["aa" * 32, "bb" * 32]
    assert [r.findtext("cak-type") for r in rows] == ["primary", "preceding"]
    assert [r.findtext("session-status") for r in rows] == ["live", "active"]
    assert {r.findtext("interface-state") for r in rows} == {"Secured - Primary"}
    assert rows[0].findtext("key-server") == "yes"
    assert rows[0].findtext("latest-sak-key-identifier").endswith("/1")
    assert rows[1].findtext("latest-sak-key-identifier") == NOT_LIVE_SAK


def test_interface_state_prefers_primary_then_preceding() -> None:
    preceding_live = [session("a", "primary", "in-progress"), session("b", "preceding", "live")]
    assert interface_state(preceding_live, "et-0/0/9") == "Secured - Preceding"
    assert interface_state(preceding_live, "et-0/0/1") == "Not secured"
    assert interface_state([session("a", "primary", "in-progress")], "et-0/0/9") == "Not secured"


def test_text_summary_lists_each_session() -> None:
    text = mka_sessions_text([session("cc" * 32, "primary", "live")])
    assert "CAK Name" in text.splitlines()[0]
    assert "cc" * 32 in text
