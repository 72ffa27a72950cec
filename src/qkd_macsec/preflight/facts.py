"""What the gatherer read from routers and KMEs: plain data, so the checks stay pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from qkd_macsec.devices.base import (
    ChainEntryState,
    DeviceError,
    DeviceFacts,
    InterfaceState,
    MacsecConfigState,
    NtpState,
)
from qkd_macsec.etsi014.errors import KmeError
from qkd_macsec.etsi014.models import KmeStatus


@dataclass(frozen=True)
class ClockReading:
    """The device clock against ours, as an interval: Junos reports whole seconds
    (``junos:seconds``), so the true offset lies in ``[low, high]`` (seconds, device - local),
    widened by the round trip of the RPC."""

    low: float
    high: float
    utc_offset: timedelta = timedelta(0)  # of the device's zone, now
    device_now: datetime | None = None  # the instant the device reported (aware UTC)
    zone: str | None = None  # configured ``system time-zone`` (None: unset, UTC)

    @property
    def estimate(self) -> float:
        return (self.low + self.high) / 2


@dataclass
class RouterFacts:
    """One router as read by preflight. A step that failed leaves its field None and its
    (safe) message in ``errors``; ``connect_error`` set means nothing else was read."""

    name: str
    connect_error: DeviceError | None = None
    platform: str = ""  # the inventory's platform name; "" when not known (tests)
    facts: DeviceFacts | None = None
    clock: ClockReading | None = None
    time_zone: str | None = None
    ntp: NtpState | None = None
    interfaces: dict[str, InterfaceState] = field(default_factory=dict)
    macsec_capable: bool | None = None
    macsec: MacsecConfigState | None = None
    chains: dict[str, list[ChainEntryState]] = field(default_factory=dict)
    commit_error: DeviceError | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusProbe:
    """``GET status`` as SAE ``sae`` (its client certificate) about ``peer``, at ``kme``."""

    sae: str
    peer: str
    kme: str
    status: KmeStatus | None = None
    error: KmeError | None = None


@dataclass(frozen=True)
class KeyProbe:
    """``--consume-key``: one enc_keys as the master, dec_keys as every slave (key never kept)."""

    link: str
    key_id: str | None
    outcome: Literal["ok", "mismatch", "failed"]
    error: KmeError | None = None
    detail: str = ""
