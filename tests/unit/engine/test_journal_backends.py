"""One suite, both journal backends: SQLite (embedded) and PostgreSQL (a real server).

Every behaviour the engine relies on must hold alike on both: phases and ends survive
reopening, ids grow, ends keep their order, meta round-trips JSON, adopted rows, counts, events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qkd_macsec.engine.backends import open_journal
from qkd_macsec.engine.journal import Journal, JournalBackend, Phase
from qkd_macsec.engine.journal_url import PostgresLocation, parse_journal_location
from qkd_macsec.engine.lease import Lease
from qkd_macsec.engine.lease_pg import PostgresLeaseBackend

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

Opener = Callable[[], JournalBackend]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.xdist_group("postgres")),
    ]
)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same journal anew on each call (all closed at the end)."""
    opened: list[JournalBackend] = []
    leases: list[Lease] = []
    if request.param == "sqlite":
        location = parse_journal_location(str(tmp_path / "j.sqlite"))

        def opener() -> JournalBackend:
            opened.append(open_journal(location))
            return opened[-1]

    else:
        location = parse_journal_location(request.getfixturevalue("pg_url"))
        assert isinstance(location, PostgresLocation)
        leases.append(PostgresLeaseBackend(location).acquire("test"))

        def opener() -> JournalBackend:
            opened.append(open_journal(location, leases[0]))
            return opened[-1]

    yield opener
    for journal in opened:
        journal.close()
    for lease in leases:
        lease.release()


def test_rotation_lifecycle_survives_reopening(reopen: Opener) -> None:
    journal = reopen()
    rid = journal.begin("l1", "w1", [("r1", "et-0/0/1"), ("r2", "et-0/0/2")], reason="due", now=T0)
    journal.record_keys(rid, key_id="kid-1", ckn="ab" * 32, kcv="0011aabb", now=T0)
    start = T0 + timedelta(seconds=30)
    journal.record_staging(rid, slot=3, start_time=start, now=T0)
    journal.mark_end(rid, "r2", staged=True)
    journal.close()

    again = reopen()
    (record,) = again.open_rotations()
    assert (record.phase, record.key_id, record.ckn, record.kcv) == (
        Phase.STAGING,
        "kid-1",
        "ab" * 32,
        "0011aabb",
    )
    assert (record.slot, record.start_time, record.created, record.reason) == (3, start, T0, "due")
    assert [(e.device, e.interface, e.staged) for e in record.ends] == [
        ("r1", "et-0/0/1", False),
        ("r2", "et-0/0/2", True),
    ]
    again.mark_end(rid, "r1", staged=True)
    again.set_phase(rid, Phase.STAGED)
    again.set_phase(rid, Phase.ACTIVE)
    assert again.open_rotations() == []
    (active,) = again.active_keys("l1")
    assert (active.key_id, active.ckn, active.slot, active.activated) == (
        "kid-1",
        "ab" * 32,
        3,
        start,
    )
    assert again.counts() == {"ACTIVE": 1}
    kinds = [kind for _, kind, _ in again.events(rid)]
    assert kinds == ["PLANNED", "KEYS", "STAGING", "END", "END", "STAGED", "ACTIVE"]


def test_ids_grow_and_rotations_come_newest_first(reopen: Opener) -> None:
    journal = reopen()
    ids = [journal.begin("l1", f"w{i}", [("r1", "x")]) for i in range(3)]
    other = journal.begin("l2", "w", [("r9", "y")])
    assert ids == sorted(ids)
    assert other > ids[-1]
    assert [r.id for r in journal.rotations("l1")] == ids[::-1]
    assert [r.id for r in journal.rotations(limit=2)] == [other, ids[-1]]
    assert journal.last_attempt("l2") is not None
    assert journal.last_attempt("nowhere") is None
    with pytest.raises(KeyError):
        journal.get(other + 100)


def test_failures_errors_and_notes(reopen: Opener) -> None:
    journal = reopen()
    ok = journal.begin("l1", "w1", [("r1", "x")])
    journal.set_phase(ok, Phase.ACTIVE)
    for wave in ("w2", "w3"):
        rid = journal.begin("l1", wave, [("r1", "x")])
        journal.set_phase(rid, Phase.ABORTED, error="boom")
        journal.set_phase(rid, Phase.ABORTED)  # no error: the first one is kept
    assert journal.consecutive_failures("l1") == 2
    assert journal.get(rid).error == "boom"
    journal.note(rid, "LATE", {"outcome": "undone", "n": 2})
    assert journal.events(rid)[-1][1:] == ("LATE", {"outcome": "undone", "n": 2})
    assert journal.counts() == {"ACTIVE": 1, "ABORTED": 2}


def test_meta_round_trips_json(reopen: Opener) -> None:
    journal = reopen()
    assert journal.get_meta("missing", "dflt") == "dflt"
    journal.set_meta("k", {"a": [1, 2], "b": None})
    journal.set_meta("k", {"a": [3]})  # overwritten, not duplicated
    journal.set_meta_many({"x": 1, "y": "two"})
    again = reopen()
    assert again.get_meta("k") == {"a": [3]}
    assert again.get_meta_many(["x", "y", "z"]) == {"x": 1, "y": "two"}


def test_adopted_rows_and_known_ckns(reopen: Opener) -> None:
    journal = reopen()
    rid = journal.begin("l1", "w", [("r1", "x"), ("r2", "y")])
    journal.record_keys(rid, key_id="k1", ckn="AA" * 32, kcv="00")
    journal.set_phase(rid, Phase.ABORTED)
    start = T0 + timedelta(minutes=5)
    adopted = journal.record_adopted(
        "l1", [("r1", "x"), ("r2", "y")], key_id="k2", ckn="bb" * 32, slot=7,
        start_time=start, detail="both ends", now=T0,
    )  # fmt: skip
    record = journal.get(adopted)
    assert (record.phase, record.reason, record.wave, record.kcv) == (
        Phase.ACTIVE,
        "adopted",
        "adopt",
        None,
    )
    assert all(end.staged for end in record.ends)
    assert journal.active_keys("l1")[0].activated == start
    assert journal.known_ckns("l1") == {"aa" * 32, "bb" * 32}
    assert journal.known_ckns("l2") == set()
    assert journal.events(adopted)[0][1] == "ADOPTED"


def test_removed_flags_and_events_in_order(reopen: Opener) -> None:
    journal = reopen()
    rid = journal.begin("l1", "w", [("r1", "x"), ("r2", "y")])
    journal.mark_end(rid, "r1", staged=True)
    journal.mark_end(rid, "r1", removed=True)
    (r1, r2) = journal.get(rid).ends
    assert (r1.staged, r1.removed, r2.staged, r2.removed) == (True, True, False, False)
    details = [detail for _, kind, detail in journal.events() if kind == "END"]
    assert details == [
        {"device": "r1", "staged": True, "removed": None},
        {"device": "r1", "staged": None, "removed": True},
    ]


def test_sqlite_is_still_the_journal_class(tmp_path: Path) -> None:
    """Existing callers construct ``Journal(path)``: the SQLite backend, unchanged."""
    journal = Journal(tmp_path / "j.sqlite")
    try:
        assert isinstance(open_journal(tmp_path / "j.sqlite"), Journal)
        assert journal.location == str(tmp_path / "j.sqlite")
    finally:
        journal.close()


def test_a_batch_is_one_transaction_that_reads_its_own_writes(reopen: Opener) -> None:
    journal = reopen()
    with journal.batch():
        rids = [journal.begin(f"l{i}", "w1", [("r1", "et-0/0/1")], now=T0) for i in range(3)]
        for rid in rids:
            journal.record_keys(rid, key_id=f"k{rid}", ckn=f"c{rid}", kcv="abc", now=T0)
        with journal.batch():  # nested: joins the outer one
            journal.record_staging(rids[0], slot=2, start_time=T0 + timedelta(seconds=30))
        assert journal.get(rids[0]).phase is Phase.STAGING  # its own writes, before commit
    again = reopen()
    assert [again.get(rid).phase for rid in rids] == [Phase.STAGING, Phase.KEYS, Phase.KEYS]
    assert again.get(rids[1]).key_id == f"k{rids[1]}"


def test_a_failing_batch_stores_none_of_its_writes(reopen: Opener) -> None:
    journal = reopen()
    rid = journal.begin("l1", "w1", [("r1", "et-0/0/1")], now=T0)

    def fail_in_batch() -> None:
        with journal.batch():
            journal.record_keys(rid, key_id="k1", ckn="c1", kcv="abc", now=T0)
            journal.begin("l2", "w1", [("r1", "et-0/0/2")], now=T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_in_batch()
    again = reopen()
    assert again.get(rid).phase is Phase.PLANNED
    assert again.get(rid).key_id is None
    assert [r.link for r in again.rotations()] == ["l1"]
    # the journal is usable afterwards: the next write is a transaction of its own
    journal.record_keys(rid, key_id="k2", ckn="c2", kcv="abc", now=T0)
    assert reopen().get(rid).key_id == "k2"


def test_another_threads_write_waits_for_a_batch_and_is_not_part_of_it(reopen: Opener) -> None:
    journal = reopen()
    rid = journal.begin("l1", "w1", [("r1", "et-0/0/1")], now=T0)
    other = journal.begin("l2", "w1", [("r1", "et-0/0/2")], now=T0)
    writer = threading.Thread(
        target=journal.record_keys,
        args=(other,),
        kwargs={"key_id": "k-other", "ckn": "c-other", "kcv": "abc", "now": T0},
    )

    def fail_in_batch() -> None:
        with journal.batch():
            journal.record_keys(rid, key_id="k1", ckn="c1", kcv="abc", now=T0)
            writer.start()
            writer.join(timeout=0.5)
            assert writer.is_alive()  # it waits for the batch's transaction
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_in_batch()
    writer.join(timeout=30)
    assert not writer.is_alive()
    again = reopen()
    assert again.get(rid).key_id is None  # the batch rolled back ...
    assert again.get(other).key_id == "k-other"  # ... the other thread's write did not
