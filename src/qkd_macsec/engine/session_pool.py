"""Device sessions kept open across a wave's steps and waves, within the operator's limits.

A wave used to open a NETCONF session per step (stage, verify poll, undo, prune): SSH handshakes
were most of its time and CPU. The pool keeps one session per router, opened for staging and
reused for verification and pruning, and by the next wave after a cheap liveness check (no I/O:
the transport has not dropped; a dropped one is reopened). A second user of the same router at
the same time (an undo checking a late end whose stage session is still in its commit) gets an
extra session, closed after use: the configuration lock is per session, which is what makes that
check final.

A session is closed, not reused, after any failure that leaves it suspect (a timeout, a dropped
transport, an RPC refused past its deadline with the lock possibly held): only refusals the
device answered cleanly keep it. Limits (``policy.sessions``; Junos' own defaults are 75 NETCONF
sessions and 150 new connections a minute per source, ``system services netconf ssh
connection-limit`` / ``rate-limit``): sessions per router, new connections per router per
minute, and sessions in use at once per controller.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from qkd_macsec.devices.async_base import AsyncDriver, ThreadedDriver
from qkd_macsec.devices.base import (
    DeviceCommitError,
    DeviceError,
    DeviceLoadError,
    DeviceLockError,
    DevicePermissionError,
)
from qkd_macsec.obs.logging import get_logger

__all__ = ["ConnectionRate", "SessionLimits", "SessionPool", "SessionStats"]

log = get_logger("engine.sessions")

AsyncDriverFor = Callable[[str], AsyncDriver]
"""A new, unopened asynchronous driver for the named device."""

#: Refusals the device answered in full: the session is as good as before (when they came
#: before the session's deadline: past it, the driver may have left the lock to the session's
#: end). An exception class with ``keeps_session = True`` (refused before any I/O) also keeps it.
CLEAN_REFUSALS: tuple[type[DeviceError], ...] = (
    DeviceLockError,
    DeviceLoadError,
    DeviceCommitError,
    DevicePermissionError,
)
WINDOW_S = 60.0
CONNECT_SAMPLES = 8


@dataclass(frozen=True)
class SessionLimits:
    """Operator limits (``policy.sessions``)."""

    per_device: int = 75  # sessions open on one router at once (Junos connection-limit)
    connections_per_minute: int = 150  # new sessions per router per minute (Junos rate-limit)
    controller: int = 1024  # sessions in use at once across the controller
    reuse: bool = True  # keep sessions between steps and waves (False: one per step)

    def __post_init__(self) -> None:
        for name in ("per_device", "connections_per_minute", "controller"):
            if getattr(self, name) < 1:
                raise ValueError(f"sessions.{name} must be at least 1")


def _keeps_session(exc: BaseException) -> bool:
    return isinstance(exc, CLEAN_REFUSALS) or bool(getattr(exc, "keeps_session", False))


class ConnectionRate:
    """At most ``per_minute`` new connections in any ``WINDOW_S`` (a sliding window)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._opened: deque[float] = deque()

    def reserve(self) -> float:
        """Take the next slot; seconds to wait before using it (0: now)."""
        now = self._clock()
        while self._opened and self._opened[0] <= now - WINDOW_S:
            self._opened.popleft()
        if len(self._opened) < self.per_minute:
            self._opened.append(now)
            return 0.0
        at = self._opened[-self.per_minute] + WINDOW_S  # when the slot frees up
        self._opened.append(at)
        return at - now


@dataclass
class SessionStats:
    opened: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reused: int = 0
    discarded: int = 0


class SessionPool:
    """Sessions by device (see the module docstring). Single event loop, not thread-safe."""

    def __init__(
        self,
        factory: AsyncDriverFor,
        limits: SessionLimits | None = None,
        *,
        sync_sessions: int | None = None,
    ) -> None:
        """``sync_sessions``: how many sessions of synchronous drivers (:class:`ThreadedDriver`)
        may be in use at once — the thread pool's size: a PyEZ session holds an ncclient
        thread while it is open, so one waiting for a pool thread would only burn CPU."""
        self._factory = factory
        self.limits = limits or SessionLimits()
        self._sync = asyncio.Semaphore(sync_sessions) if sync_sessions else None
        self._threaded: dict[str, bool] = {}
        self._spare: dict[str, AsyncDriver] = {}  # made to learn its kind; opened next
        self._kept: dict[str, AsyncDriver] = {}
        self._busy: set[str] = set()
        self._open_count: dict[str, int] = defaultdict(int)
        self._rates: dict[str, ConnectionRate] = {}
        self._controller = asyncio.Semaphore(self.limits.controller)
        self._freed = asyncio.Condition()
        self.stats = SessionStats()
        self._connects: dict[str, deque[float]] = {}

    @asynccontextmanager
    async def session(
        self, device: str, *, deadline: float | None = None
    ) -> AsyncIterator[AsyncDriver]:
        """An open session on ``device`` whose RPCs (and opening) end by ``deadline``."""
        async with self._controller:
            slot = self._sync if self._sync is not None and self._is_threaded(device) else None
            if slot is not None:
                await slot.acquire()
            try:
                driver, kept = await self._checkout(device, deadline)
                ok = False
                try:
                    yield driver
                    ok = True
                except Exception as exc:
                    ok = _keeps_session(exc) and (deadline is None or time.time() < deadline)
                    raise
                finally:
                    driver.set_deadline(None)
                    await self._checkin(device, driver, kept, ok and driver.is_alive())
            finally:
                if slot is not None:
                    slot.release()

    def _is_threaded(self, device: str) -> bool:
        kind = self._threaded.get(device)
        if kind is None:
            driver = self._spare[device] = self._factory(device)  # no I/O until opened
            kind = self._threaded[device] = isinstance(driver, ThreadedDriver)
        return kind

    async def _checkout(self, device: str, deadline: float | None) -> tuple[AsyncDriver, bool]:
        kept = self.limits.reuse and device not in self._busy
        if kept:
            self._busy.add(device)
            driver = self._kept.get(device)
            if driver is not None and driver.is_alive():
                self.stats.reused += 1
                driver.set_deadline(deadline)
                return driver, True
            if driver is not None:  # dropped since its last use
                log.info("%s: session dropped since last use; reopening", device)
                del self._kept[device]
                await self._close(device, driver)
        try:
            driver = await self._open(device, deadline)
        except BaseException:
            if kept:
                self._busy.discard(device)
            raise
        if kept:
            self._kept[device] = driver
        return driver, kept

    async def _open(self, device: str, deadline: float | None) -> AsyncDriver:
        async with self._freed:
            await self._freed.wait_for(lambda: self._open_count[device] < self.limits.per_device)
            self._open_count[device] += 1
        try:
            rate = self._rates.get(device)
            if rate is None:
                rate = self._rates[device] = ConnectionRate(self.limits.connections_per_minute)
            wait = rate.reserve()
            if wait > 0:
                log.info("%s: connection rate limit; opening in %.1fs", device, wait)
                await asyncio.sleep(wait)  # the rate limit's own instant, not a guess
            driver = self._spare.pop(device, None) or self._factory(device)
            driver.set_deadline(deadline)
            began = time.monotonic()
            await driver.open()
        except BaseException:
            await self._release(device)
            raise
        self.stats.opened[device] += 1
        took = time.monotonic() - began
        samples = self._connects.setdefault(device, deque(maxlen=CONNECT_SAMPLES))
        samples.append(took)
        return driver

    def has_live(self, device: str) -> bool:
        """A kept session on ``device`` that the next step would reuse (no I/O)."""
        driver = self._kept.get(device)
        return self.limits.reuse and driver is not None and driver.is_alive()

    def connect_estimate(self, device: str, default: float) -> float:
        """What opening a session on ``device`` costs: the slowest of its recent connections
        (``default`` before the first)."""
        samples = self._connects.get(device)
        return max(samples) if samples else default

    async def _checkin(self, device: str, driver: AsyncDriver, kept: bool, healthy: bool) -> None:
        if kept:
            self._busy.discard(device)
            if healthy:
                return
            self._kept.pop(device, None)
            self.stats.discarded += 1
        await self._close(device, driver)

    async def _close(self, device: str, driver: AsyncDriver) -> None:
        try:
            await driver.close()
        finally:
            await self._release(device)

    async def _release(self, device: str) -> None:
        async with self._freed:
            self._open_count[device] -= 1
            self._freed.notify_all()

    def open_sessions(self) -> int:
        return sum(self._open_count.values())

    async def discard(self, device: str) -> None:
        """Close the device's kept session (it is suspect); the next use opens a new one."""
        driver = self._kept.get(device)
        if driver is not None and device not in self._busy:
            del self._kept[device]
            self.stats.discarded += 1
            await self._close(device, driver)

    async def aclose(self) -> None:
        """Close every kept session (the controller is closing)."""
        kept, self._kept = self._kept, {}
        await asyncio.gather(*(self._close(d, drv) for d, drv in kept.items()))
