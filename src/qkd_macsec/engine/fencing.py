"""Device commits fenced by the controller's lease.

Routers take no fencing token, so the controller fences itself: every verb that changes a
device (``apply``, ``confirm_commit``) first checks the lease, and runs with its RPCs capped to
the lease's :meth:`~qkd_macsec.engine.lease.Lease.commit_deadline` — a commit that has passed
the check is answered (or given up on) before the lease can expire and a standby take over.
Reads pass through unchanged. What this cannot close: a process frozen in the microseconds
between the check and the commit RPC leaving the host (docs/ha.md, "what failover does not
guarantee").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from qkd_macsec.devices.async_base import AsyncDriver
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceCommitError,
    Driver,
    MkaSessionState,
)
from qkd_macsec.engine.lease import Lease, LeaseLostError


class CommitFencedError(DeviceCommitError, LeaseLostError):
    """The lease was gone before the commit: nothing was sent (so nothing landed)."""


class _Fence:
    """The lease check and deadline cap both driver kinds share (``_driver`` has
    ``set_deadline``)."""

    _driver: Driver | AsyncDriver

    def __init__(self, device: str, lease: Lease) -> None:
        self._device = device
        self._lease = lease
        self._deadline: float | None = None

    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline
        self._driver.set_deadline(deadline)

    def _fence(self) -> None:
        try:
            self._lease.check()
        except LeaseLostError as exc:
            raise CommitFencedError(self._device, f"not committed: {exc}") from None
        lease_deadline = self._lease.commit_deadline()
        if lease_deadline is not None:
            caps = [d for d in (self._deadline, lease_deadline) if d is not None]
            self._driver.set_deadline(min(caps))

    def _unfence(self) -> None:
        self._driver.set_deadline(self._deadline)


class FencedDriver(_Fence):
    """A driver whose changing verbs require the lease; everything else is the driver's."""

    def __init__(self, device: str, driver: Driver, lease: Lease) -> None:
        super().__init__(device, lease)
        self._driver: Driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        self._fence()
        try:
            return self._driver.apply(changes, comment=comment, confirm_minutes=confirm_minutes)
        finally:
            self._unfence()

    def confirm_commit(self, *, comment: str) -> None:
        self._fence()
        try:
            self._driver.confirm_commit(comment=comment)
        finally:
            self._unfence()


class FencedAsyncDriver(_Fence, AsyncDriver):
    """An asyncio driver whose commits require the lease; reads pass through."""

    def __init__(self, device: str, driver: AsyncDriver, lease: Lease) -> None:
        _Fence.__init__(self, device, lease)
        self._driver: AsyncDriver = driver
        self.name = driver.name

    def __repr__(self) -> str:
        return f"FencedAsyncDriver({self._driver!r})"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    async def open(self) -> None:
        await self._driver.open()

    async def close(self) -> None:
        await self._driver.close()

    def is_alive(self) -> bool:
        return self._driver.is_alive()

    async def device_time(self) -> DeviceClock:
        return await self._driver.device_time()

    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        self._fence()
        try:
            return await self._driver.apply(
                changes, comment=comment, confirm_minutes=confirm_minutes
            )
        finally:
            self._unfence()

    async def preview(self, changes: ChangeSet) -> int:
        return await self._driver.preview(changes)

    async def key_chain(self, chain: str) -> list[ChainEntryState]:
        return await self._driver.key_chain(chain)

    async def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        return await self._driver.mka_sessions(interfaces)

    async def macsec_bindings(self) -> dict[str, str]:
        return await self._driver.macsec_bindings()


def fenced(device: str, driver: Driver, lease: Lease) -> Driver:
    """``driver`` with its commits fenced by ``lease``."""
    return cast(Driver, FencedDriver(device, driver, lease))


def fenced_async(device: str, driver: AsyncDriver, lease: Lease) -> AsyncDriver:
    """An asyncio ``driver`` with its commits fenced by ``lease``."""
    return FencedAsyncDriver(device, driver, lease)


__all__ = ["CommitFencedError", "FencedAsyncDriver", "FencedDriver", "fenced", "fenced_async"]
