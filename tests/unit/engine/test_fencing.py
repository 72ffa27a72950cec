"""Fenced device commits and journal locations (no server needed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.devices.base import ChangeSet, DeviceCommitError
from qkd_macsec.engine.fencing import CommitFencedError, FencedAsyncDriver, FencedDriver
from qkd_macsec.engine.journal_url import (
    JournalUrlError,
    PostgresLocation,
    parse_journal_location,
)
from qkd_macsec.engine.lease import LeaseLostError


class RecordingDriver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def set_deadline(self, deadline: float | None) -> None:
        self.calls.append(("deadline", deadline))

    def apply(self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None) -> str:
        self.calls.append(("apply", comment))
        return "committed"

    def confirm_commit(self, *, comment: str) -> None:
        self.calls.append(("confirm", comment))

    def key_chain(self, chain: str) -> list[str]:
        self.calls.append(("read", chain))
        return []


class ExpiringLease:
    def __init__(self, lost: bool, deadline: float | None) -> None:
        self.lost, self.deadline = lost, deadline

    def check(self) -> None:
        if self.lost:
            raise LeaseLostError("lease gone")

    def commit_deadline(self) -> float | None:
        return self.deadline


def test_a_lost_lease_refuses_commits_before_anything_is_sent() -> None:
    driver = RecordingDriver()
    fenced = FencedDriver("r1", driver, ExpiringLease(lost=True, deadline=None))  # type: ignore[arg-type]
    with pytest.raises(CommitFencedError) as info:
        fenced.apply(ChangeSet(), comment="c")
    assert isinstance(info.value, DeviceCommitError)  # the engine knows nothing landed
    assert isinstance(info.value, LeaseLostError)
    assert info.value.device == "r1"
    with pytest.raises(CommitFencedError):
        fenced.confirm_commit(comment="c")
    assert fenced.key_chain("kc") == []  # reads pass through
    assert [c for c, _ in driver.calls] == ["read"]


def test_commits_are_capped_to_the_lease_and_the_callers_deadline_restored() -> None:
    driver = RecordingDriver()
    lease_deadline = time.time() + 3
    fenced = FencedDriver("r1", driver, ExpiringLease(lost=False, deadline=lease_deadline))  # type: ignore[arg-type]
    caller = time.time() + 60
    fenced.set_deadline(caller)
    assert fenced.apply(ChangeSet(), comment="c") == "committed"
    assert driver.calls == [
        ("deadline", caller),
        ("deadline", lease_deadline),
        ("apply", "c"),
        ("deadline", caller),
    ]


def test_journal_locations() -> None:
    assert parse_journal_location("state/j.sqlite") == Path("state/j.sqlite")
    assert parse_journal_location("sqlite:///var/lib/q/j.sqlite") == Path("/var/lib/q/j.sqlite")
    pg = parse_journal_location(
        "postgresql://qkd@db1:5433/qkd?sslmode=verify-full&password_file=/run/pw"
    )
    assert isinstance(pg, PostgresLocation)
    assert pg.display == "postgresql://qkd@db1:5433/qkd"
    assert pg.password_file == Path("/run/pw")
    assert "password_file" not in pg.conninfo
    assert "sslmode=verify-full" in pg.conninfo
    for bad, message in [
        ("sqlite://relative", "absolute path"),
        ("mysql://x/y", "unknown scheme"),
        ("postgresql://u:pw@h/d", "must not carry a password"),
        ("postgresql://u@h/d?password=pw", "no password="),
        ("postgresql://u@h/d?password_file=/a&password_env=B", "not both"),
        ("postgresql://u@h/d?bogus=1", "bogus"),
        ("", "empty"),
    ]:
        with pytest.raises(JournalUrlError, match=message) as info:
            parse_journal_location(bad)
        assert "pw" not in str(info.value).replace("password", ""), bad


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pg = parse_journal_location("postgresql://u@h/d?password_env=QKD_TEST_PG_PW")
    assert isinstance(pg, PostgresLocation)
    with pytest.raises(JournalUrlError, match="QKD_TEST_PG_PW is not set"):
        pg.password()
    monkeypatch.setenv("QKD_TEST_PG_PW", "hunter2")
    secret = pg.password()
    assert secret is not None
    assert secret.reveal_text() == "hunter2"
    assert "hunter2" not in repr(pg)


class RecordingAsyncDriver:
    """The asyncio driver shape: awaitable verbs (the wrapper delegates to them)."""

    name = "r1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def set_deadline(self, deadline: float | None) -> None:
        self.calls.append(("deadline", deadline))

    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> str:
        self.calls.append(("apply", comment))
        return "committed"

    async def key_chain(self, chain: str) -> list[str]:
        self.calls.append(("read", chain))
        return []


async def test_an_asyncio_driver_is_fenced_the_same_way() -> None:
    """The default off-box path (``device_client: async``) is fenced like the PyEZ one."""
    driver = RecordingAsyncDriver()
    lost = FencedAsyncDriver("r1", driver, ExpiringLease(lost=True, deadline=None))  # type: ignore[arg-type]
    with pytest.raises(CommitFencedError):
        await lost.apply(ChangeSet(), comment="c")
    assert await lost.key_chain("kc") == []
    assert [c for c, _ in driver.calls] == ["read"]  # nothing was sent to commit

    driver = RecordingAsyncDriver()
    lease_deadline = time.time() + 3
    held = FencedAsyncDriver("r1", driver, ExpiringLease(lost=False, deadline=lease_deadline))  # type: ignore[arg-type]
    caller = time.time() + 60
    held.set_deadline(caller)
    assert await held.apply(ChangeSet(), comment="c") == "committed"
    assert driver.calls == [
        ("deadline", caller),
        ("deadline", lease_deadline),
        ("apply", "c"),
        ("deadline", caller),
    ]
