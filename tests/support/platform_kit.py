"""What the platform conformance test needs to know about a platform beyond the registry: how to
have it registered, a binding valid on it, and its recorded replies with what they say."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.devices.platform import Platform


@dataclass(frozen=True)
class RecordedKeyChain:
    """A recorded key-chain reply and the slots of ``chain`` it holds."""

    path: Path
    chain: str
    slots: tuple[int, ...]


@dataclass(frozen=True)
class RecordedMka:
    """A recorded MKA reply and its live sessions as (interface, lower-case CKN)."""

    path: Path
    live: set[tuple[str, str]]


@dataclass(frozen=True)
class PlatformKit:
    platform: Callable[[], contextlib.AbstractContextManager[Platform]]
    binding: MacsecBinding
    key_chains: tuple[RecordedKeyChain, ...]
    mka: tuple[RecordedMka, ...]
    malformed_key_chain: str
    #: A device name the platform's driver reaches without a network (None: none in unit tests).
    reachable_device: str | None = None
    #: A start-time far in the future that the platform can still write (IOS XR: up to 2035).
    far_start: datetime = datetime(2037, 1, 2, 3)
