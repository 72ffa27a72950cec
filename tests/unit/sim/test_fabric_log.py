"""MACsec syslog events derived from fabric transitions (what real dot1xd logs at a rollover,
shared/reference/junos-field-evidence.md §4), and the session details the text form prints."""

from __future__ import annotations

from tests.unit.sim.test_fabric import CAK_1, CAK_2, CKN_1, CKN_2, START, A, B, fabric, static

from qkd_macsec.sim.fabric import (
    CAK_ACTIVATED,
    CKN_LENGTH_WARNING,
    PRIMARY_CAK_IN_USE,
    UNKNOWN_CAK,
    LogEvent,
    sci,
)


def tags(events: list[LogEvent]) -> list[tuple[str, str, str]]:
    return [(e.tag, e.interface, e.ckn) for e in events]


def test_one_end_first_logs_unknown_ckn_on_the_other_then_activation() -> None:
    fab, clock, _link = fabric(t0=START)
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface))
    clock.now += 5
    fab.on_commit("mx-a", static(CKN_2, CAK_2, A.interface))  # A moves first
    clock.now += 5
    assert tags(fab.log_events("mx-b"))[-1] == (UNKNOWN_CAK, B.interface, CKN_2)
    fab.on_commit("mx-b", static(CKN_2, CAK_2, B.interface))
    clock.now += 1
    assert tags(fab.log_events("mx-b")) == [
        (PRIMARY_CAK_IN_USE, B.interface, CKN_1),
        (CAK_ACTIVATED, B.interface, CKN_1),
        (UNKNOWN_CAK, B.interface, CKN_2),
        (PRIMARY_CAK_IN_USE, B.interface, CKN_2),
        (CAK_ACTIVATED, B.interface, CKN_2),
    ]
    assert tags(fab.log_events("mx-a")) == [
        (PRIMARY_CAK_IN_USE, A.interface, CKN_1),
        (CAK_ACTIVATED, A.interface, CKN_1),
        (PRIMARY_CAK_IN_USE, A.interface, CKN_2),
        (CAK_ACTIVATED, A.interface, CKN_2),
    ]
    activated = fab.log_events("mx-a")[-1]
    assert activated.at == START + 10  # when B took the key: the link went live on it
    assert activated.sci_out == sci(A).replace(":", "").replace("/1", "0001")
    assert activated.sci_in == sci(B).replace(":", "").replace("/1", "0001")


def test_events_are_stable_and_bounded_by_until() -> None:
    fab, clock, _link = fabric(t0=START)
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    clock.now += 3
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface))
    clock.now += 3
    everything = fab.log_events("mx-a")
    assert fab.log_events("mx-a") == everything
    assert tags(fab.log_events("mx-a", until=START + 1)) == [
        (PRIMARY_CAK_IN_USE, A.interface, CKN_1)
    ]


def test_short_ckn_commit_logs_the_length_warning() -> None:
    fab, clock, _link = fabric(t0=START)
    fab.on_commit("mx-a", static("badc0ffe01", CAK_1, A.interface))
    clock.now += 1
    assert tags(fab.log_events("mx-a"))[0] == (CKN_LENGTH_WARNING, "", "")
    assert not [e for e in fab.log_events("mx-b") if e.tag == CKN_LENGTH_WARNING]


def test_live_sessions_carry_peer_and_live_since() -> None:
    fab, clock, _link = fabric(t0=START)
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    clock.now += 2
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface))
    clock.now += 7
    (session,) = fab.sessions("mx-a")
    assert session.live_since == START + 2
    assert session.sci == sci(A)
    assert [p.sci for p in session.peers] == [sci(B)]
