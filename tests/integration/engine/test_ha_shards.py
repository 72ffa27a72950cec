"""Sharding on one PostgreSQL journal: N active controllers, each owning a partition of the
routers (and so of the links) by its own lease. Shards of disjoint routers run at once; a
controller whose routers overlap a live shard's — or an unsharded one, which covers every
router — is refused."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.engine.backends import lease_holder
from qkd_macsec.engine.journal_pg import PostgresJournal
from qkd_macsec.engine.journal_url import JOURNAL_ENV, PostgresLocation, parse_journal_location
from support.controllers import background, wait_for
from support.testbed import StartTestbed, cli_command, cli_env

pytestmark = pytest.mark.xdist_group("ha")

EAST = ("mx304-11", "mx304-12")
WEST = ("mx10008-23", "mx10008-24")


def two_islands(document: dict[str, Any]) -> dict[str, Any]:
    """The seed lab as two router pairs with one link each (no link crosses them)."""
    for link in document["links"]:
        if link["name"] == "ca-basic":
            link["master"] = {"host": WEST[0], "interface": "et-0/0/1"}
            link["slaves"] = [{"host": WEST[1], "interface": "et-0/0/1"}]
    return document


def test_disjoint_shards_run_at_once_and_overlaps_are_refused(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], pg_url: str, tmp_path: Path
) -> None:
    testbed = testbed_factory(two_islands(seed_doc))
    location = parse_journal_location(pg_url)
    assert isinstance(location, PostgresLocation)
    env = {**cli_env(), JOURNAL_ENV: pg_url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli_command(testbed, *args), env=env, capture_output=True, text=True, timeout=120
        )

    def holder(shard: str) -> int | None:
        found = lease_holder(location, shard)
        return found.pid if found is not None else None

    run = ("run", "--check-interval", "1", "--wait")
    with (
        background(testbed, tmp_path, env, *run, "--shard", "east", *EAST) as east,
        background(testbed, tmp_path, env, *run, "--shard", "west", *WEST) as west,
    ):
        wait_for(lambda: holder("east") == east.pid and holder("west") == west.pid, "both shards")
        for args in (("--shard", "mixed", EAST[0], WEST[0]), ()):
            refused = cli("rotate", *args)
            assert refused.returncode == 4, refused.stderr
            assert "another controller holds the journal" in refused.stderr
        overlap = cli("rotate", "--shard", "x", *EAST).stderr
        assert "its lease shard:east covers routers of shard:x" in overlap
        assert f"pid {east.pid} " in overlap

        def settled() -> bool:
            journal = PostgresJournal(location)
            try:
                newest = {r.link: r.phase.value for r in reversed(journal.rotations())}
            finally:
                journal.close()
            return newest == {"p2p-11-12": "ACTIVE", "ca-basic": "ACTIVE"}

        wait_for(settled, "each shard's wave", 120)
        for proc in (east, west):
            proc.send_signal(signal.SIGTERM)
        assert east.wait(60) == 0, east.log()
        assert west.wait(60) == 0, west.log()
    journal = PostgresJournal(location)
    try:
        for link in testbed.wires:
            (newest,) = journal.active_keys(link, 1)
            assert testbed.live_ckns(link) == [newest.ckn] * len(testbed.wires[link]), link
            assert testbed.outage_seconds(link) == 0.0, link
    finally:
        journal.close()
    sqlite = subprocess.run(
        cli_command(testbed, "rotate", "--shard", "east", *EAST),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sqlite.returncode == 2, sqlite.stderr
    assert "shards need a PostgreSQL journal" in sqlite.stderr
