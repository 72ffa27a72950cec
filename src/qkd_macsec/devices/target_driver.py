"""What every driver for one target shares: its name and port, the password registered for
redaction before any I/O, the posture of its newest session, and the wave deadline its RPC
budgets are cut to (``transport_safety.rpc_budget``)."""

from __future__ import annotations

from typing import ClassVar

from qkd_macsec.devices.base import DeviceTarget
from qkd_macsec.devices.transport_safety import rpc_budget
from qkd_macsec.obs.logging import SECRETS
from qkd_macsec.posture import HopPosture

__all__ = ["TargetDriver"]


class TargetDriver:
    """Base of the IOS XR and NX-OS drivers; ``DEFAULT_PORT`` is the platform's."""

    DEFAULT_PORT: ClassVar[int]

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        #: What the current (or last) session negotiated; None before the first open.
        self.posture: HopPosture | None = None
        self._deadline: float | None = None
        if target.password is not None:
            SECRETS.add(target.password.reveal_text())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target.name}@{self.target.host}:{self.port})"

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def port(self) -> int:
        return self.target.port if self.target.port is not None else self.DEFAULT_PORT

    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    def _budget(self, phase: str) -> float:
        return rpc_budget(self.name, phase, self.target.timeout, self._deadline)
