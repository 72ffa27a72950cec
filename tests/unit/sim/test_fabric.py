"""Link fabric: MKA liveness from derived keys, preceding-key hold, exact outage accounting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from qkd_macsec.macsec import key_check_value
from qkd_macsec.sim.config import Configuration
from qkd_macsec.sim.fabric import Fabric, LinkEnd

CKN_1 = "abcd1234abcd5678abcd1234abcd5678" + "11" * 16
CKN_2 = "abcd1234abcd5678abcd1234abcd5678" + "22" * 16
CAK_1 = "a1" * 32
CAK_2 = "b2" * 32
START = datetime(2026, 11, 26, 10, 15, tzinfo=UTC).timestamp()
CA = "set security macsec connectivity-association CA "
KC = "set security authentication-key-chains key-chain KC "
A = LinkEnd("mx-a", "et-0/0/9")
B = LinkEnd("mx-b", "et-0/0/1")


class Clock:
    """A settable wall clock for the fabric."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def static(ckn: str, cak: str, itf: str, suite: str = "gcm-aes-256") -> Configuration:
    return Configuration.from_set(
        f"{CA}cipher-suite {suite}\n{CA}pre-shared-key ckn {ckn}\n{CA}pre-shared-key cak {cak}\n"
        f"set security macsec interfaces {itf} connectivity-association CA\n"
    )


def chain(
    itf: str, *keys: tuple[int, str, str, str], tolerance: int | None = None
) -> Configuration:
    lines = [] if tolerance is None else [f"{KC}tolerance {tolerance}"]
    lines += [
        f"{CA}cipher-suite gcm-aes-256",
        f"{CA}pre-shared-key-chain KC",
        f"set security macsec interfaces {itf} connectivity-association CA",
    ]
    for key_id, ckn, cak, start in keys:
        lines += [
            f"{KC}key {key_id} key-name {ckn}",
            f"{KC}key {key_id} secret {cak}",
            f'{KC}key {key_id} start-time "{start}"',
        ]
    return Configuration.from_set("\n".join(lines))


def fabric(t0: float = START - 1000, hold: float = 30.0) -> tuple[Fabric, Clock, str]:
    clock = Clock(t0)
    fab = Fabric(preceding_hold_s=hold, clock=clock)
    fab.add_device("mx-a")
    fab.add_device("mx-b")
    return fab, clock, fab.add_link(A, B)


def test_same_keys_make_a_live_link_with_one_key_server() -> None:
    fab, _clock, link = fabric()
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    assert not fab.link_live(link)
    fab.on_commit("mx-b", static(CKN_1, CAK_1.upper(), B.interface))  # same key, other spelling
    assert fab.link_live(link)
    assert fab.link_ckn(link) == CKN_1
    (sa,) = fab.sessions("mx-a")
    (sb,) = fab.sessions("mx-b", B.interface)
    assert (sa.cak_type, sa.status, sa.cak_name) == ("primary", "live", CKN_1)
    assert (sb.cak_type, sb.status) == ("primary", "live")
    assert sa.kcv == sb.kcv == key_check_value(bytes.fromhex(CAK_1), bytes.fromhex(CKN_1))
    assert sa.key_server != sb.key_server
    assert len(sa.member_id) == 24
    assert sa.member_id != sb.member_id
    assert fab.links() == [link]
    assert fab.link_ends(link) == (A, B)
    assert fab.outage_seconds(link) == 0.0


def test_key_server_priority_decides_the_key_server() -> None:
    fab, _clock, _link = fabric()
    low = static(CKN_1, CAK_1, B.interface)
    low.load_set(f"{CA}mka key-server-priority 1")
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    fab.on_commit("mx-b", low)
    assert [s.key_server for s in fab.sessions("mx-b")] == [True]
    assert [s.key_server for s in fab.sessions("mx-a")] == [False]


def test_different_cak_same_ckn_is_down() -> None:
    fab, _clock, link = fabric()
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface))
    fab.on_commit("mx-b", static(CKN_1, CAK_2, B.interface))
    assert not fab.link_live(link)
    assert fab.link_ckn(link) is None
    assert [(s.cak_type, s.status) for s in fab.sessions("mx-a")] == [("primary", "in-progress")]
    assert fab.sessions("mx-a")[0].key_server is False


def test_short_cak_is_zero_filled_like_junos() -> None:
    fab, _clock, link = fabric()
    fab.on_commit("mx-a", static(CKN_1, "0123", A.interface))
    fab.on_commit("mx-b", static(CKN_1, "0123" + "0" * 60, B.interface))
    assert fab.link_live(link)


def test_same_key_with_different_cipher_suite_lengths_is_down() -> None:
    fab, _clock, link = fabric()
    fab.on_commit("mx-a", static(CKN_1, "a1" * 16, A.interface, "gcm-aes-128"))
    fab.on_commit("mx-b", static(CKN_1, "a1" * 16, B.interface, "gcm-aes-256"))  # zero-filled
    assert not fab.link_live(link)


def test_key_chain_rollover_at_the_same_start_time_is_hitless() -> None:
    fab, _clock, link = fabric()
    keys = ((1, CKN_1, CAK_1, "2026-11-26.09:00:00"), (2, CKN_2, CAK_2, "2026-11-26.10:15:00"))
    fab.on_commit("mx-a", chain(A.interface, *keys))
    fab.on_commit("mx-b", chain(B.interface, *keys))
    assert fab.link_ckn(link, at=START - 1) == CKN_1
    assert fab.link_ckn(link, at=START) == CKN_2
    assert fab.outage_seconds(link, until=START + 3600) == 0.0
    assert fab.timeline(link, until=START + 3600) == [
        (START - 1000, True, CKN_1),
        (START, True, CKN_2),
    ]


def test_one_end_changing_long_before_the_other_loses_gap_minus_hold() -> None:
    fab, clock, link = fabric(hold=30.0)
    t0 = clock.now
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface), at=t0)
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface), at=t0)
    fab.on_commit("mx-a", static(CKN_2, CAK_2, A.interface), at=t0 + 100)
    # during the hold, the old key keeps the link up as A's preceding session
    sessions = fab.sessions("mx-a", at=t0 + 110)
    assert [(s.cak_type, s.status, s.cak_name) for s in sessions] == [
        ("primary", "in-progress", CKN_2),
        ("preceding", "live", CKN_1),
    ]
    assert fab.link_ckn(link, at=t0 + 129.5) == CKN_1
    assert not fab.link_live(link, at=t0 + 130)
    assert [s.cak_type for s in fab.sessions("mx-a", at=t0 + 200)] == ["primary"]
    fab.on_commit("mx-b", static(CKN_2, CAK_2, B.interface), at=t0 + 400)
    assert fab.outage_seconds(link, until=t0 + 1000) == 270.0  # gap 300 - hold 30
    assert fab.outage_seconds(link, until=t0 + 200) == 70.0
    assert fab.timeline(link, until=t0 + 1000) == [
        (t0, True, CKN_1),
        (t0 + 130, False, None),
        (t0 + 400, True, CKN_2),
    ]


def test_preceding_key_is_dropped_as_soon_as_the_new_key_is_live() -> None:
    fab, clock, link = fabric(hold=30.0)
    t0 = clock.now
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface), at=t0)
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface), at=t0)
    fab.on_commit("mx-a", static(CKN_2, CAK_2, A.interface), at=t0 + 10)
    fab.on_commit("mx-b", static(CKN_2, CAK_2, B.interface), at=t0 + 20)
    assert fab.outage_seconds(link, until=t0 + 100) == 0.0
    assert [(s.cak_type, s.status) for s in fab.sessions("mx-a", at=t0 + 21)] == [
        ("primary", "live")
    ]
    assert fab.timeline(link, until=t0 + 100) == [(t0, True, CKN_1), (t0 + 20, True, CKN_2)]


@pytest.mark.parametrize(("skew", "outage"), [(20.0, 0.0), (30.0, 0.0), (50.0, 20.0)])
def test_clock_skew_outage_is_skew_minus_hold(skew: float, outage: float) -> None:
    fab, _clock, link = fabric(hold=30.0)
    fab.set_clock_offset("mx-b", skew)  # mx-b's clock runs ahead: it switches early
    keys = ((1, CKN_1, CAK_1, "2026-11-26.09:00:00"), (2, CKN_2, CAK_2, "2026-11-26.10:15:00"))
    fab.on_commit("mx-a", chain(A.interface, *keys))
    fab.on_commit("mx-b", chain(B.interface, *keys))
    assert fab.outage_seconds(link, until=START + 600) == outage
    if outage:
        assert fab.timeline(link, until=START + 600) == [
            (START - 1000, True, CKN_1),
            (START - skew + 30.0, False, None),
            (START, True, CKN_2),
        ]


def test_outage_counts_only_after_the_link_was_first_live() -> None:
    fab, clock, link = fabric()
    t0 = clock.now
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface), at=t0)
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface), at=t0 + 50)
    assert fab.outage_seconds(link, until=t0 + 100) == 0.0
    assert fab.timeline(link, until=t0 + 100) == [(t0, False, None), (t0 + 50, True, CKN_1)]
    assert fab.outage_seconds(link, until=t0 + 10) == 0.0


def test_late_commit_in_the_past_is_accounted_for() -> None:
    fab, clock, link = fabric(hold=0.0)
    t0 = clock.now
    fab.on_commit("mx-a", static(CKN_1, CAK_1, A.interface), at=t0)
    fab.on_commit("mx-b", static(CKN_1, CAK_1, B.interface), at=t0)
    assert fab.outage_seconds(link, until=t0 + 1000) == 0.0  # evaluated up to t0 + 1000
    fab.on_commit("mx-a", static(CKN_2, CAK_2, A.interface), at=t0 + 500)
    assert fab.outage_seconds(link, until=t0 + 1000) == 500.0
    fab.on_commit("mx-b", static(CKN_2, CAK_2, B.interface), at=t0 + 600)
    assert fab.outage_seconds(link, until=t0 + 1000) == 100.0


def test_clock_offset_changes_and_device_time() -> None:
    fab, clock, link = fabric()
    assert fab.device_time("mx-a", at=START) == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    clock.now = START - 500
    fab.set_clock_offset("mx-a", 90.0)
    assert fab.device_time("mx-a", at=START) == datetime(2026, 11, 26, 10, 16, 30, tzinfo=UTC)
    assert fab.device_time("mx-a", at=START - 600) == datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    keys = ((1, CKN_1, CAK_1, "2026-11-26.09:00:00"), (2, CKN_2, CAK_2, "2026-11-26.10:15:00"))
    fab.on_commit("mx-a", chain(A.interface, *keys), at=START - 1000)
    fab.on_commit("mx-b", chain(B.interface, *keys), at=START - 1000)
    # from START-500 on, mx-a is 90 s ahead: it moves to key 2 at START-90, 60 s past the hold
    assert fab.outage_seconds(link, until=START + 100) == 60.0


def test_interface_without_a_peer_reports_in_progress_and_keeps_preceding_for_the_hold() -> None:
    fab, clock, _link = fabric(hold=30.0)
    t0 = clock.now
    fab.on_commit("mx-a", static(CKN_1, CAK_1, "et-0/0/5"), at=t0)
    fab.on_commit("mx-a", static(CKN_2, CAK_2, "et-0/0/5"), at=t0 + 10)
    assert [(s.cak_type, s.status) for s in fab.sessions("mx-a", at=t0 + 20)] == [
        ("primary", "in-progress"),
        ("preceding", "active"),
    ]
    assert [s.cak_type for s in fab.sessions("mx-a", at=t0 + 40)] == ["primary"]
    assert fab.sessions("mx-a", "et-0/0/6", at=t0 + 40) == []
    assert fab.sessions("mx-b", at=t0 + 40) == []


def test_topology_errors() -> None:
    fab, _clock, link = fabric()
    with pytest.raises(ValueError, match="already exists"):
        fab.add_link(A, B)
    with pytest.raises(ValueError, match="two different ends"):
        fab.add_link(A, A, name="loop")
    with pytest.raises(KeyError, match="unknown link"):
        fab.link_live("nope")
    with pytest.raises(KeyError, match="unknown device"):
        fab.device_time("nope")
    named = fab.add_link(LinkEnd("mx-c", "et-0/0/1"), LinkEnd("mx-d", "et-0/0/1"), name="c-d")
    assert named == "c-d"
    assert fab.links() == [link, "c-d"]
    assert not fab.link_live("c-d")
    assert fab.timeline("c-d") == []


def test_many_links_and_concurrent_queries_agree() -> None:
    fab = Fabric(preceding_hold_s=30.0, clock=lambda: START + 10_000)
    links = [
        fab.add_link(LinkEnd(f"r{i}", "et-0/0/0"), LinkEnd(f"s{i}", "et-0/0/0")) for i in range(40)
    ]
    for i in range(40):
        for step in range(6):
            ckn = f"{step + 1:02x}" * 32
            at = START + step * 100
            fab.on_commit(f"r{i}", static(ckn, CAK_1, "et-0/0/0"), at=at)
            fab.on_commit(f"s{i}", static(ckn, CAK_1, "et-0/0/0"), at=at + i)  # i s behind
    expected = {link: max(0.0, i - 30.0) * 5 for i, link in enumerate(links)}
    results: dict[str, float] = {}
    errors: list[BaseException] = []

    def worker(chunk: list[str]) -> None:
        try:
            for link in chunk:
                results[link] = fab.outage_seconds(link)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(links[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert results == expected


def test_chain_key_not_yet_started_leaves_the_link_down_until_its_start() -> None:
    fab, clock, link = fabric()
    keys = ((1, CKN_1, CAK_1, "2026-11-26.10:00:00"),)
    fab.on_commit("mx-a", chain(A.interface, *keys))
    fab.on_commit("mx-b", chain(B.interface, *keys))
    assert fab.sessions("mx-a") == []
    assert fab.timeline(link, until=START) == [
        (clock.now, False, None),
        (START - 900, True, CKN_1),
    ]
    assert fab.outage_seconds(link, until=START) == 0.0


@pytest.mark.parametrize(("tolerance", "outage"), [(60, 0.0), (40, 10.0)])
def test_chain_tolerance_absorbs_skew_beyond_the_hold(tolerance: int, outage: float) -> None:
    fab, _clock, link = fabric(hold=30.0)
    fab.set_clock_offset("mx-b", 50.0)
    keys = ((1, CKN_1, CAK_1, "2026-11-26.09:00:00"), (2, CKN_2, CAK_2, "2026-11-26.10:15:00"))
    fab.on_commit("mx-a", chain(A.interface, *keys, tolerance=tolerance))
    fab.on_commit("mx-b", chain(B.interface, *keys, tolerance=tolerance))
    assert fab.outage_seconds(link, until=START + 600) == outage
