"""Two `qkd-macsec run` controllers on one PostgreSQL journal (a real server), the real CLI as
processes, simulated routers and real KMEs: one active, one standby waiting on the lease.

- The active one is SIGKILLed mid-wave (a commit in flight): the standby takes the lease within
  15 s, recovers the interrupted rotations by the device-as-truth rules and finishes the wave —
  every link live on a key both ends share, outage 0, no rotation done twice, none lost (the
  journal and the routers' commit histories agree).
- The active one is frozen (SIGSTOP: a partition, as the database and routers see it — it holds
  its sockets but says nothing, which is what a cut cable looks like from the other side, and
  unlike a network namespace it needs no privileges or routing) just before its commits; the
  standby takes over; the old one is resumed and can neither commit to a router nor write the
  journal: it exits 4, "stepping down".
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.engine.journal_model import RotationRecord
from qkd_macsec.engine.journal_pg import PostgresJournal
from qkd_macsec.engine.journal_url import JOURNAL_ENV, PostgresLocation, parse_journal_location
from qkd_macsec.engine.lease_pg import PostgresLeaseBackend
from qkd_macsec.testbed.builder import Testbed
from support.controllers import background, ckns_added, wait_for
from support.postgres import PostgresServer
from support.testbed import StartTestbed, cli_command, cli_env, count_logins

pytestmark = pytest.mark.xdist_group("ha")  # real processes racing real start-times: one at a time

FAILOVER_SECONDS = 15.0
EXIT_LEASE_HELD = 4


def location_of(url: str) -> PostgresLocation:
    parsed = parse_journal_location(url)
    assert isinstance(parsed, PostgresLocation)
    return parsed


def holder_pid(location: PostgresLocation) -> int | None:
    holder = PostgresLeaseBackend(location).current_holder()
    return holder.pid if holder is not None else None


def newest(location: PostgresLocation) -> dict[str, RotationRecord]:
    journal = PostgresJournal(location)  # no lease: reads only
    try:
        out: dict[str, RotationRecord] = {}
        for record in reversed(journal.rotations(limit=1000)):
            out[record.link] = record
        return out
    finally:
        journal.close()


def all_rotations(location: PostgresLocation) -> list[RotationRecord]:
    journal = PostgresJournal(location)
    try:
        return journal.rotations(limit=1000)
    finally:
        journal.close()


def settled(location: PostgresLocation, testbed: Testbed) -> bool:
    records = newest(location)
    return set(records) == set(testbed.wires) and all(
        r.phase.value == "ACTIVE" for r in records.values()
    )


def assert_every_link_live_once(location: PostgresLocation, testbed: Testbed) -> None:
    """Every link live on its newest ACTIVE key on every wire, outage 0; each link rotated
    exactly once to that key, and the routers' commits added exactly the journal's keys."""
    rotations = all_rotations(location)
    assert not [r for r in rotations if r.phase.is_open], "no rotation left open"
    for link in testbed.wires:
        active = [r for r in rotations if r.link == link and r.phase.value == "ACTIVE"]
        assert len(active) == 1, (link, [(r.id, r.phase, r.reason) for r in active])
        assert testbed.live_ckns(link) == [active[0].ckn] * len(testbed.wires[link]), link
        assert testbed.outage_seconds(link) == 0.0, link
    for device in testbed.inventory.hosts:
        added = ckns_added(testbed, device)
        assert len(added) == len(set(added)), f"{device}: a key was staged twice: {added}"
        journal_keys = {
            (r.ckn or "").lower()
            for r in rotations
            if r.ckn
            and any(e.device == device for e in r.ends)
            and (r.phase.value == "ACTIVE" or any(e.staged or e.removed for e in r.ends))
        }
        active_here = {
            (r.ckn or "").lower()
            for r in rotations
            if r.phase.value == "ACTIVE" and any(e.device == device for e in r.ends)
        }
        assert active_here <= set(added), f"{device}: an active key never committed"
        assert set(added) <= journal_keys, f"{device}: a commit the journal does not know"


def controller_env(url: str, **extra: str) -> dict[str, str]:
    return {**cli_env(), JOURNAL_ENV: url, **extra}


def test_sigkill_of_the_active_mid_wave_fails_over_within_15s_without_outage(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], pg_url: str, tmp_path: Path
) -> None:
    # T leaves room for the takeover (TTL 8 s + recovery) before it: the killed wave is the
    # bootstrap, whose first key has no older key to fall back on, so a partially staged first
    # key must be undone before it starts (undone after it, the ends that held it would drop).
    testbed = testbed_factory(
        seed_doc, commit_latency_s=2.0, policy={"min_activation_delay": "20s"}
    )
    location = location_of(pg_url)
    run = ("run", "--check-interval", "1", "--wait")
    with (
        background(testbed, tmp_path, controller_env(pg_url), *run) as active,
        background(testbed, tmp_path, controller_env(pg_url), *run) as standby,
    ):
        wait_for(lambda: holder_pid(location) in (active.pid, standby.pid), "an active one")
        first, second = (
            (active, standby) if holder_pid(location) == active.pid else (standby, active)
        )
        wait_for(lambda: second.said("note: waiting: another controller"), "a waiting standby")
        wait_for(
            lambda: any(r.phase.value == "STAGING" for r in newest(location).values()),
            "the first wave's commits in flight",
            timeout=90,
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        killed = time.monotonic()
        in_flight = {r.id for r in all_rotations(location) if r.phase.is_open}
        assert in_flight, "killed mid-wave: rotations were open"
        wait_for(lambda: holder_pid(location) == second.pid, "the standby's takeover", 60)
        took = time.monotonic() - killed
        assert took < FAILOVER_SECONDS, f"failover took {took:.1f}s"
        wait_for(lambda: settled(location, testbed), "the new owner to finish the wave", 120)
        assert second.poll() is None, second.log()
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, second.log()
    assert_every_link_live_once(location, testbed)
    # the new owner finished or undid every rotation the dead one had in flight
    closed = {r.id: r.phase.value for r in all_rotations(location) if r.id in in_flight}
    assert set(closed.values()) <= {"ACTIVE", "ABORTED"}, closed
    assert len(closed) == len(in_flight)
    print(f"failover: lease taken {took:.1f}s after SIGKILL; in flight: {closed}")


def test_a_frozen_old_leader_resumed_after_takeover_cannot_commit_or_write(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], pg_url: str, tmp_path: Path
) -> None:
    # a start-time far enough out that the old leader, resumed, still tries its commits
    testbed = testbed_factory(seed_doc, policy={"min_activation_delay": "30s"})
    location = location_of(pg_url)
    run = ("run", "--check-interval", "1", "--wait")
    # it stops itself once the wave's start-time is journalled, just before its commits
    with background(
        testbed, tmp_path, controller_env(pg_url, QKD_MACSEC_PAUSE_AT="staging"), *run
    ) as old:
        wait_for(lambda: holder_pid(location) == old.pid, "the old leader's lease")
        wait_for(
            lambda: any(r.phase.value == "STAGING" for r in newest(location).values()),
            "the old leader's wave",
            timeout=90,
        )
        old_keys = {(r.ckn or "").lower() for r in all_rotations(location) if r.ckn}
        assert old_keys, "the old leader fetched its keys"
        with background(testbed, tmp_path, controller_env(pg_url), *run) as new:
            stopped = time.monotonic()
            wait_for(lambda: holder_pid(location) == new.pid, "the takeover", 60)
            assert time.monotonic() - stopped < FAILOVER_SECONDS
            old.send_signal(signal.SIGCONT)  # back before its start-time: it goes on staging
            assert old.wait(60) == EXIT_LEASE_HELD, old.log()
            log = old.log()
            assert "not committed: lease" in log, log  # its commits were fenced
            # whichever noticed first: its renewer (taken over) or its own clock (stepping down)
            assert "was taken over or expired" in log or "stepping down" in log, log
            assert "Traceback" not in log
            wait_for(lambda: settled(location, testbed), "the new leader's wave", 120)
            assert holder_pid(location) == new.pid
            new.send_signal(signal.SIGTERM)
            assert new.wait(60) == 0, new.log()
    for device in testbed.inventory.hosts:
        landed = set(ckns_added(testbed, device)) & old_keys
        assert not landed, f"{device}: the deposed leader committed {landed}"
    rotations = all_rotations(location)
    old_rows = [r for r in rotations if (r.ckn or "").lower() in old_keys]
    assert {r.phase.value for r in old_rows} == {"ABORTED"}  # by the new leader's recovery
    assert all("recovered" in (r.error or "") for r in old_rows), old_rows
    assert_every_link_live_once(location, testbed)


def test_the_cli_on_a_postgresql_journal_and_its_bad_urls(
    testbed_factory: StartTestbed,
    seed_doc: dict[str, Any],
    pg_url: str,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    testbed = testbed_factory(seed_doc)
    opened = count_logins(testbed, monkeypatch)
    port = postgres_server.port
    for url, code, says in [
        (f"postgresql://qkd:s3cret-pw@127.0.0.1:{port}/x", 2, "must not carry a password"),
        (f"postgresql://qkd@127.0.0.1:{port}/x?password_file=/nonexistent", 2, "password_file"),
        ("postgresql://qkd@127.0.0.1:1/x?password_env=NOPE_UNSET", 2, "NOPE_UNSET is not set"),
        (f"postgresql://qkd@127.0.0.1:{port}/x?password_env=WRONG_PW", 3, "journal postgresql"),
    ]:
        done = subprocess.run(
            cli_command(testbed, "rotate", "--journal", url),
            env={**cli_env(), "WRONG_PW": "not-it"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code, (url, done.stderr)
        assert len(lines) == 1, done.stderr  # one line, no traceback
        assert says in lines[0], lines
        assert "s3cret-pw" not in done.stdout + done.stderr
        assert "not-it" not in done.stdout + done.stderr
    assert opened == [], "no router was contacted"
    env = controller_env(pg_url)
    for args in (("rotate",), ("status",), ("report", "--out", str(tmp_path / "report"))):
        done = subprocess.run(
            cli_command(testbed, *args), env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert not testbed.inventory.policy.journal.exists(), "the SQLite journal stayed unused"
    assert settled(location_of(pg_url), testbed)
    assert (tmp_path / "report" / "timeline.html").exists()
