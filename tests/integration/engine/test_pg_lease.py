"""PostgreSQL leases against a real server: tokens grow, TTL on the database's clock, a holder
that cannot renew steps down before expiry, and the database refuses a deposed holder's write."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from qkd_macsec.core.phases import Phase
from qkd_macsec.engine.journal_pg import PostgresJournal
from qkd_macsec.engine.journal_url import PostgresLocation, parse_journal_location
from qkd_macsec.engine.lease import LeaseHeldError, LeaseLostError
from qkd_macsec.engine.lease_pg import LeaseTiming, PostgresLease, PostgresLeaseBackend
from support.postgres import PostgresServer

pytestmark = pytest.mark.xdist_group("postgres")

FAST = LeaseTiming(ttl=3.0, renew_every=0.3, commit_margin=1.5, poll=0.05)


@pytest.fixture
def location(pg_url: str) -> PostgresLocation:
    parsed = parse_journal_location(pg_url)
    assert isinstance(parsed, PostgresLocation)
    return parsed


@pytest.fixture
def leases() -> Iterator[list[PostgresLease]]:
    held: list[PostgresLease] = []
    yield held
    for lease in held:
        lease.release()


def expire_in_database(server: PostgresServer, location: PostgresLocation) -> None:
    """The lease's TTL ran out on the database's clock (its holder was frozen or cut off)."""
    dbname = location.conninfo.rsplit("/", 1)[1].split("?")[0]
    with server.connect(dbname) as conn:
        conn.execute("UPDATE qkd_lease SET expires_at = clock_timestamp() - interval '1 second'")


def test_one_holder_tokens_grow_and_release_hands_over_at_once(
    location: PostgresLocation, leases: list[PostgresLease]
) -> None:
    backend = PostgresLeaseBackend(location, timing=FAST)
    first = backend.acquire("run")
    leases.append(first)
    holder = backend.current_holder()
    assert holder is not None
    assert (holder.pid, holder.command, holder.token) == (os.getpid(), "run", first.token)
    with pytest.raises(LeaseHeldError, match=f"pid {os.getpid()} .*\\(run, since"):
        backend.acquire("rotate")
    first.check()
    first.release()
    started = time.monotonic()
    second = backend.acquire("rotate", wait=30)
    leases.append(second)
    assert time.monotonic() - started < FAST.ttl, "a released lease is free at once"
    assert second.token == first.token + 1
    with pytest.raises(LeaseLostError, match="released"):
        first.check()


def test_a_holder_that_cannot_renew_steps_down_before_the_standby_takes_over(
    location: PostgresLocation, leases: list[PostgresLease]
) -> None:
    backend = PostgresLeaseBackend(location, timing=FAST)
    frozen = backend.acquire("run")
    leases.append(frozen)
    frozen._stop.set()  # its renewer stops, as in a process cut off from the database
    frozen._thread.join(10)
    stopped = time.monotonic()
    deadline = stopped + FAST.ttl
    failure: LeaseLostError | None = None
    while failure is None:
        try:
            frozen.check()
        except LeaseLostError as exc:
            failure = exc
        assert time.monotonic() < deadline, "check() must fail before the TTL runs out"
        time.sleep(0.02)
    stepped_down = time.monotonic()
    assert "stepping down" in str(failure)
    standby = backend.acquire("run", wait=30)
    leases.append(standby)
    taken = time.monotonic()
    assert standby.token == frozen.token + 1
    # the old holder had stopped committing at least the margin's worth before the takeover
    assert taken - stepped_down >= FAST.commit_margin - FAST.renew_every - 0.1
    with pytest.raises(LeaseLostError):
        frozen.check()  # for good, even though nobody asked it to release


def test_the_database_refuses_a_deposed_holders_write_even_if_its_clock_says_held(
    location: PostgresLocation,
    leases: list[PostgresLease],
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = PostgresLeaseBackend(location, timing=FAST)
    old = backend.acquire("run")
    leases.append(old)
    old_journal = PostgresJournal(location, old)
    rid = old_journal.begin("l1", "w1", [("r1", "x")])
    expire_in_database(postgres_server, location)
    new = backend.acquire("run", wait=30)
    leases.append(new)
    new_journal = PostgresJournal(location, new)
    # the deposed controller was stopped between its local check and its write
    monkeypatch.setattr(old, "check", lambda: None)
    before = new_journal.events()
    for write in (
        lambda: old_journal.begin("l1", "w2", [("r1", "x")]),
        lambda: old_journal.set_phase(rid, Phase.ABORTED),
        lambda: old_journal.set_meta("k", 1),
    ):
        with pytest.raises(LeaseLostError, match="write refused"):
            write()
    assert new_journal.events() == before, "nothing of a refused write lands"
    assert [r.id for r in new_journal.rotations()] == [rid]
    new_journal.set_meta("k", 2)  # the new holder writes
    assert old_journal.get_meta("k") == 2  # reads stay open to everyone
    old_journal.close()
    new_journal.close()


def test_a_journal_without_a_lease_reads_only(location: PostgresLocation) -> None:
    journal = PostgresJournal(location)
    try:
        assert journal.rotations() == []
        with pytest.raises(LeaseLostError, match="read-only"):
            journal.begin("l1", "w", [("r1", "x")])
    finally:
        journal.close()


def test_a_password_in_the_url_is_refused_and_a_bad_reference_named(
    postgres_server: PostgresServer,
) -> None:
    from qkd_macsec.engine.journal_url import JournalUrlError

    with pytest.raises(JournalUrlError, match="must not carry a password") as info:
        parse_journal_location(f"postgresql://u:s3cret-pw@127.0.0.1:{postgres_server.port}/x")
    assert "s3cret-pw" not in str(info.value)
    missing = parse_journal_location(
        f"postgresql://u@127.0.0.1:{postgres_server.port}/x?password_file=/nonexistent/pw"
    )
    assert isinstance(missing, PostgresLocation)
    with pytest.raises(JournalUrlError, match="password_file /nonexistent/pw"):
        PostgresJournal(missing)


def test_cut_database_connections_are_replaced_without_losing_the_lease(
    location: PostgresLocation,
    leases: list[PostgresLease],
    postgres_server: PostgresServer,
) -> None:
    """The database drops every connection of the controller (a restart, a proxy's idle cut):
    the renewer and the journal reconnect, the lease and its token stay, writes go on."""
    lease = PostgresLeaseBackend(location, timing=FAST).acquire("run")
    leases.append(lease)
    journal = PostgresJournal(location, lease)
    try:
        rid = journal.begin("l1", "w1", [("r1", "x")])
        dbname = location.conninfo.rsplit("/", 1)[1].split("?")[0]
        with postgres_server.connect(dbname) as admin:
            cut = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name LIKE 'qkd-macsec%%' AND datname = %s",
                (dbname,),
            ).fetchone()
        assert cut is not None
        assert cut[0] >= 1, "the journal's connection was cut"
        journal.set_phase(rid, Phase.ABORTED, error="cut")  # a new connection, same lease
        deadline = time.monotonic() + FAST.ttl * 2
        while time.monotonic() < deadline:  # past a TTL: the renewer reconnected and renewed
            lease.check()
            time.sleep(0.1)
        assert journal.get(rid).error == "cut"
        holder = PostgresLeaseBackend(location).current_holder()
        assert holder is not None
        assert holder.token == lease.token
    finally:
        journal.close()
