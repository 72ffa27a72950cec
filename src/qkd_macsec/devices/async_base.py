"""The asynchronous device contract the engine runs on, and the adapter for synchronous drivers.

The engine keeps one session per router per wave and runs hundreds of them at once; an asyncio
driver (``devices/junos_async.py``) does that on the event loop without a thread per router.
A synchronous :class:`~qkd_macsec.devices.base.Driver` (PyEZ, IOS XR's ncclient) is adapted by
:class:`ThreadedDriver`, which runs each call in a thread pool: the executor has one code path
for both. Verbs, arguments, results and errors are those of ``Driver`` (see its docstrings).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceTarget,
    Driver,
    MkaSessionState,
)

__all__ = ["AsyncDriver", "AsyncDriverFactory", "ThreadedDriver"]

T = TypeVar("T")


class AsyncDriver(ABC):
    """What the engine needs from one device session, awaitable. One task at a time."""

    name: str

    @abstractmethod
    async def open(self) -> None:
        """Open the session (host key verified unless the target says otherwise)."""

    @abstractmethod
    async def close(self) -> None:
        """Close the session; never raises."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Cheap, no I/O: the session is open and its transport has not dropped."""

    @abstractmethod
    def set_deadline(self, deadline: float | None) -> None: ...

    @abstractmethod
    async def device_time(self) -> DeviceClock: ...

    @abstractmethod
    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult: ...

    @abstractmethod
    async def preview(self, changes: ChangeSet) -> int: ...

    @abstractmethod
    async def key_chain(self, chain: str) -> list[ChainEntryState]: ...

    @abstractmethod
    async def mka_sessions(
        self, interfaces: Sequence[str] | None = None
    ) -> list[MkaSessionState]: ...

    @abstractmethod
    async def macsec_bindings(self) -> dict[str, str]: ...


AsyncDriverFactory = Callable[[DeviceTarget], AsyncDriver]


class ThreadedDriver(AsyncDriver):
    """A synchronous driver run in ``pool``: each call is one pool job (never two at once)."""

    def __init__(self, driver: Driver, pool: Executor, name: str | None = None) -> None:
        self.driver = driver
        self._pool = pool
        self.name = name or str(getattr(driver, "name", "device"))

    def __repr__(self) -> str:
        return f"ThreadedDriver({self.driver!r})"

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def open(self) -> None:
        await self._run(self.driver.open)

    async def close(self) -> None:
        # close never raises (the contract); a pool already shut down is no error either
        with contextlib.suppress(Exception):
            await self._run(self.driver.close)

    def is_alive(self) -> bool:
        return bool(self.driver.is_alive())

    def set_deadline(self, deadline: float | None) -> None:
        self.driver.set_deadline(deadline)

    async def device_time(self) -> DeviceClock:
        return await self._run(self.driver.device_time)

    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        return await self._run(
            lambda: self.driver.apply(changes, comment=comment, confirm_minutes=confirm_minutes)
        )

    async def preview(self, changes: ChangeSet) -> int:
        return await self._run(lambda: self.driver.preview(changes))

    async def key_chain(self, chain: str) -> list[ChainEntryState]:
        return await self._run(lambda: self.driver.key_chain(chain))

    async def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        return await self._run(lambda: self.driver.mka_sessions(interfaces))

    async def macsec_bindings(self) -> dict[str, str]:
        return await self._run(self.driver.macsec_bindings)
