"""Reconciliation is pure: every verdict from readings and the journal's view, no devices."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qkd_macsec.devices.base import ChainEntryState
from qkd_macsec.engine.reconcile import (
    CaReading,
    ChainReading,
    JournalView,
    Reading,
    Verdict,
    blocked,
    decide_chain,
    decide_static,
    key_id_from_ckn,
)

NOW = datetime(2026, 12, 1, 9, 0, 0)
PREFIX = "abcd1234abcd5678abcd1234abcd5678"
K1, K2, K3 = (PREFIX + f"{n:032x}" for n in (1, 2, 3))


def entry(slot: int, ckn: str, seconds: float) -> ChainEntryState:
    """An entry that started ``seconds`` before NOW (negative: still to come)."""
    return ChainEntryState("KC", slot, ckn, NOW - timedelta(seconds=seconds))


def chain(*entries: ChainEntryState, skew: float = 0.0) -> ChainReading:
    return ChainReading(tuple(entries), NOW + timedelta(seconds=skew))


def view(current: str | None, *known: str) -> JournalView:
    return JournalView(current, frozenset({*known, *([current] if current else [])}))


def test_ends_on_the_journals_key_are_in_sync() -> None:
    readings: dict[str, Reading] = {
        "a": chain(entry(0, K1, 600), entry(1, K2, 10)),
        "b": chain(entry(0, K1, 600), entry(1, K2, 10)),
    }
    assert decide_chain("l", view(K2, K1), readings).verdict is Verdict.IN_SYNC


def test_lost_journal_adopts_the_key_every_end_runs_on() -> None:
    readings: dict[str, Reading] = {
        "a": chain(entry(3, K1, 600), entry(4, K2.upper(), 10)),  # Junos may print upper case
        "b": chain(entry(4, K2, 10.4), entry(3, K1, 600), skew=0.3),
    }
    decision = decide_chain("l", view(None), readings)
    assert decision.verdict is Verdict.ADOPT
    assert (decision.ckn, decision.slot) == (K2, 4)
    assert decision.start_time == NOW - timedelta(seconds=10)  # the later of the two ends


def test_restored_journal_adopts_the_newer_key_in_force() -> None:
    readings: dict[str, Reading] = {
        d: chain(entry(1, K2, 600), entry(2, K3, 10)) for d in ("a", "b", "c")
    }
    decision = decide_chain("l", view(K1), readings)
    assert decision.verdict is Verdict.ADOPT
    assert (decision.ckn, decision.slot) == (K3, 2)
    assert "has not as current" in decision.message


def test_empty_chains_without_history_bootstrap() -> None:
    readings: dict[str, Reading] = {"a": chain(), "b": chain()}
    assert decide_chain("l", view(None), readings).verdict is Verdict.BOOTSTRAP


@pytest.mark.parametrize(
    "readings",
    [
        {"a": chain(entry(0, K1, 60)), "b": chain()},  # one end configured, one not
        {"a": chain(entry(0, K1, 60)), "b": chain(entry(0, K2, 60))},  # different keys
        {"a": chain(entry(0, K1, 60)), "b": chain(entry(1, K1, 60))},  # same key, other slot
        {"a": chain(entry(0, K1, -30)), "b": chain(entry(0, K1, -30))},  # nothing in force yet
    ],
)
def test_disagreeing_ends_without_history_are_a_conflict(readings: dict[str, Reading]) -> None:
    decision = decide_chain("l", view(None), readings)
    assert decision.verdict is Verdict.CONFLICT
    assert decision.verdict.blocks


def test_an_entry_newer_than_the_journal_knows_is_a_conflict() -> None:
    """Another controller's pending rotation: agreeing in-force keys do not make it adoptable."""
    pending = entry(2, K3, -20)
    readings: dict[str, Reading] = {
        "a": chain(entry(1, K2, 600), pending),
        "b": chain(entry(1, K2, 600), pending),
    }
    for journal in (view(K2, K1), view(None)):
        decision = decide_chain("l", journal, readings)
        assert decision.verdict is Verdict.CONFLICT
        assert "newer than the journal knows" in decision.message
        assert "slot 2" in decision.message


def test_the_journals_own_pending_key_is_not_a_conflict() -> None:
    readings: dict[str, Reading] = {
        d: chain(entry(1, K1, 600), entry(2, K2, -5)) for d in ("a", "b")
    }
    assert decide_chain("l", view(K2, K1), readings).verdict is Verdict.IN_SYNC


def test_journal_key_on_no_end_is_a_conflict() -> None:
    readings: dict[str, Reading] = {"a": chain(), "b": chain()}
    assert decide_chain("l", view(K1), readings).verdict is Verdict.CONFLICT


def test_unreadable_end_blocks_only_a_blind_bootstrap() -> None:
    readings: dict[str, Reading] = {"a": chain(), "b": "DeviceConnectError: refused"}
    blind = decide_chain("l", view(None), readings)
    assert blind.verdict is Verdict.UNREADABLE
    assert "DeviceConnectError" in blind.message
    assert decide_chain("l", view(K1), readings).verdict is Verdict.IN_SYNC
    assert blocked([blind]) == {"l": f"unreadable: {blind.message}"}


def test_aware_device_clock_compares_in_utc() -> None:
    from datetime import UTC, timezone

    cet = timezone(timedelta(hours=1))
    reading = ChainReading(
        (entry(0, K1, 600), entry(1, K2, 10)), (NOW + timedelta(hours=1)).replace(tzinfo=cet)
    )
    assert reading.in_force is not None
    assert reading.in_force.ckn == K2
    assert ChainReading((entry(1, K2, -5),), NOW.replace(tzinfo=UTC)).in_force is None


def test_pre_shared_key_ca_configured_is_never_a_bootstrap() -> None:
    live = CaReading(True, frozenset({K2}))
    adopted = decide_static("l", view(None), {"a": live, "b": live})
    assert (adopted.verdict, adopted.ckn) == (Verdict.ADOPT, K2)
    unnamed = decide_static(
        "l", view(None), {"a": CaReading(True, frozenset()), "b": CaReading(True, frozenset())}
    )
    assert (unnamed.verdict, unnamed.ckn) == (Verdict.ADOPT, "")
    assert decide_static("l", view(K2), {"a": live, "b": live}).verdict is Verdict.IN_SYNC
    half = decide_static("l", view(None), {"a": live, "b": CaReading(False, frozenset())})
    assert half.verdict is Verdict.CONFLICT
    none = CaReading(False, frozenset())
    assert decide_static("l", view(None), {"a": none, "b": none}).verdict is Verdict.BOOTSTRAP


def test_key_id_from_seed_ckn() -> None:
    ckn = PREFIX + "d9b6fa63dd8847d28afe94fcecf40d19"
    assert key_id_from_ckn(ckn, PREFIX) == "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
    assert key_id_from_ckn(ckn.upper(), PREFIX) == "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
    assert key_id_from_ckn(ckn, "ffff") is None
    assert key_id_from_ckn(ckn, None) is None
