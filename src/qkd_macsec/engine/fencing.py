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

from typing import Any, cast

from qkd_macsec.devices.base import ChangeSet, CommitResult, DeviceCommitError, Driver
from qkd_macsec.engine.lease import Lease, LeaseLostError


class CommitFencedError(DeviceCommitError, LeaseLostError):
    """The lease was gone before the commit: nothing was sent (so nothing landed)."""


class FencedDriver:
    """A driver whose changing verbs require the lease; everything else is the driver's."""

    def __init__(self, device: str, driver: Driver, lease: Lease) -> None:
        self._device = device
        self._driver = driver
        self._lease = lease
        self._deadline: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

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


def fenced(device: str, driver: Driver, lease: Lease) -> Driver:
    """``driver`` with its commits fenced by ``lease``."""
    return cast(Driver, FencedDriver(device, driver, lease))


__all__ = ["CommitFencedError", "FencedDriver", "fenced"]
