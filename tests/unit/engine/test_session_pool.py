"""The session pool: one session per router reused across steps, suspect ones closed, limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from qkd_macsec.devices.async_base import AsyncDriver, ThreadedDriver
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceConnectError,
    DeviceLockError,
    DeviceTimeoutError,
    MkaSessionState,
)
from qkd_macsec.engine.session_pool import ConnectionRate, SessionLimits, SessionPool
from qkd_macsec.engine.sessions import StageTooLateError


class FakeSession(AsyncDriver):
    """Counts opens and closes; ``alive`` can be cut from the outside (a dropped transport)."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.alive = False
        self.deadline: float | None = None

    async def open(self) -> None:
        self.log.append(f"open {self.name}")
        self.alive = True

    async def close(self) -> None:
        self.log.append(f"close {self.name}")
        self.alive = False

    def is_alive(self) -> bool:
        return self.alive

    def set_deadline(self, deadline: float | None) -> None:
        self.deadline = deadline

    async def device_time(self) -> DeviceClock:
        raise NotImplementedError

    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        raise NotImplementedError

    async def preview(self, changes: ChangeSet) -> int:
        raise NotImplementedError

    async def key_chain(self, chain: str) -> list[ChainEntryState]:
        return []

    async def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        return []

    async def macsec_bindings(self) -> dict[str, str]:
        return {}


def pool_with_log(**limits: object) -> tuple[SessionPool, list[str], list[FakeSession]]:
    log: list[str] = []
    made: list[FakeSession] = []

    def factory(name: str) -> FakeSession:
        made.append(FakeSession(name, log))
        return made[-1]

    return SessionPool(factory, SessionLimits(**limits)), log, made  # type: ignore[arg-type]


async def test_one_session_serves_every_step_and_the_next_wave() -> None:
    pool, log, _ = pool_with_log()
    for _ in range(5):  # stage, verify polls, prune, next wave
        async with pool.session("r1", deadline=None) as driver:
            await driver.key_chain("KC")
    assert log == ["open r1"]
    assert pool.stats.reused == 4
    assert pool.has_live("r1")
    await pool.aclose()
    assert log == ["open r1", "close r1"]
    assert not pool.has_live("r1")


async def test_the_deadline_holds_for_one_use_only() -> None:
    pool, _, made = pool_with_log()
    async with pool.session("r1", deadline=123.0):
        assert made[0].deadline == 123.0
    assert made[0].deadline is None
    await pool.aclose()


async def test_a_dropped_session_is_noticed_and_reopened() -> None:
    pool, log, made = pool_with_log()
    async with pool.session("r1"):
        pass
    made[0].alive = False  # the router or the network dropped it between waves
    assert not pool.has_live("r1")
    async with pool.session("r1") as driver:
        assert driver is made[1]
    assert log == ["open r1", "close r1", "open r1"]
    await pool.aclose()


@pytest.mark.parametrize("error", [DeviceTimeoutError("r1", "commit: no reply"), OSError("x")])
async def test_a_suspect_session_is_closed_after_a_failure(error: Exception) -> None:
    pool, log, _ = pool_with_log()
    with pytest.raises(type(error)):
        async with pool.session("r1"):
            raise error
    assert log == ["open r1", "close r1"]
    assert pool.stats.discarded == 1
    async with pool.session("r1"):
        pass
    assert log[-1] == "open r1"
    await pool.aclose()


@pytest.mark.parametrize(
    "error",
    [DeviceLockError("r1", "locked by another user"), StageTooLateError("r1", "too late")],
)
async def test_a_clean_refusal_keeps_the_session(error: Exception) -> None:
    pool, log, _ = pool_with_log()
    with pytest.raises(type(error)):
        async with pool.session("r1"):
            raise error
    async with pool.session("r1"):
        pass
    assert log == ["open r1"]
    await pool.aclose()


async def test_a_refusal_past_the_deadline_closes_the_session() -> None:
    """Past its deadline a driver may have left the lock to the session's end."""
    pool, log, _ = pool_with_log()
    with pytest.raises(DeviceLockError):
        async with pool.session("r1", deadline=1.0):  # long past
            raise DeviceLockError("r1", "lock refused")
    assert log == ["open r1", "close r1"]
    await pool.aclose()


async def test_a_second_user_of_a_busy_router_gets_its_own_session() -> None:
    """An undo checking a late end under the lock while its stage session is in its commit."""
    pool, log, _ = pool_with_log()
    async with pool.session("r1") as stage:
        async with pool.session("r1") as check:
            assert check is not stage
        assert log == ["open r1", "open r1", "close r1"]  # the extra one is closed after use
    async with pool.session("r1") as again:
        assert again is stage
    await pool.aclose()


async def test_sessions_per_router_are_capped() -> None:
    pool, _, _ = pool_with_log(per_device=2)
    entered: list[int] = []
    two_in = asyncio.Event()
    release = asyncio.Event()

    async def hold(index: int) -> None:
        async with pool.session("r1"):
            entered.append(index)
            if len(entered) == 2:
                two_in.set()
            await release.wait()

    tasks = [asyncio.create_task(hold(i)) for i in range(3)]
    await asyncio.wait_for(two_in.wait(), 5)
    for _ in range(20):  # let the third run as far as it can: it must stay out
        await asyncio.sleep(0)
    assert len(entered) == 2
    assert pool.open_sessions() == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sorted(entered) == [0, 1, 2]
    await pool.aclose()
    assert pool.open_sessions() == 0


async def test_sessions_in_use_per_controller_are_capped() -> None:
    pool, _, _ = pool_with_log(controller=3)
    busy = 0
    peak = 0

    async def use(device: str) -> None:
        nonlocal busy, peak
        async with pool.session(device):
            busy += 1
            peak = max(peak, busy)
            await asyncio.sleep(0.01)
            busy -= 1

    await asyncio.wait_for(asyncio.gather(*(use(f"r{i}") for i in range(10))), 10)
    assert peak == 3
    await pool.aclose()


async def test_without_reuse_every_step_opens_its_own_session() -> None:
    pool, log, _ = pool_with_log(reuse=False)
    for _ in range(3):
        async with pool.session("r1"):
            pass
    assert log == ["open r1", "close r1"] * 3
    assert not pool.has_live("r1")


async def test_a_failed_open_leaves_no_session_counted() -> None:
    class Refusing(FakeSession):
        async def open(self) -> None:
            raise DeviceConnectError(self.name, "refused")

    pool = SessionPool(lambda name: Refusing(name, []))
    with pytest.raises(DeviceConnectError):
        async with pool.session("r1"):
            pass
    assert pool.open_sessions() == 0
    assert not pool.has_live("r1")


def test_the_connection_rate_is_a_sliding_minute() -> None:
    now = [1000.0]
    rate = ConnectionRate(3, clock=lambda: now[0])
    assert [rate.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.reserve() == pytest.approx(60.0)  # the 4th waits for the 1st to age out
    assert rate.reserve() == pytest.approx(60.0)
    now[0] += 61.0  # the first three aged out; the 4th and 5th (at 1060) are in the window
    assert rate.reserve() == 0.0
    assert rate.reserve() == pytest.approx(59.0)  # until the 4th ages out at 1120


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="per_device"):
        SessionLimits(per_device=0)


class SyncRouter:
    """A synchronous driver (as PyEZ): each session holds a thread of its own while open."""

    open_now = 0
    peak = 0

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = False

    def open(self) -> None:
        self.alive = True
        SyncRouter.open_now += 1
        SyncRouter.peak = max(SyncRouter.peak, SyncRouter.open_now)

    def close(self) -> None:
        if self.alive:
            SyncRouter.open_now -= 1
        self.alive = False

    def is_alive(self) -> bool:
        return self.alive

    def set_deadline(self, deadline: float | None) -> None: ...

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        time.sleep(0.01)
        return []


async def test_sessions_of_synchronous_drivers_stay_within_the_thread_pool() -> None:
    """Before a wave's 500 PyEZ sessions all open and wait for 64 threads, ticking."""
    with ThreadPoolExecutor(2) as threads:
        pool = SessionPool(
            lambda name: ThreadedDriver(SyncRouter(name), threads),  # type: ignore[arg-type]
            SessionLimits(reuse=False),
            sync_sessions=2,
        )

        async def use(device: str) -> None:
            async with pool.session(device) as driver:
                await driver.key_chain("KC")
                await driver.key_chain("KC")

        await asyncio.wait_for(asyncio.gather(*(use(f"r{i}") for i in range(12))), 30)
    assert SyncRouter.peak == 2
    assert SyncRouter.open_now == 0
