"""Shared constants and helpers for the driver integration tests (imported, not collected)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from qkd_macsec.devices.base import Driver, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.junos_options import JunosOptions
from qkd_macsec.macsec import CipherSuite
from qkd_macsec.secret import Secret

SUITE = CipherSuite.GCM_AES_XPN_256
CANARY = bytes.fromhex("ca4a11" * 10 + "beef")
CKN_A = "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "a"
CKN_B = "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "b"
BINDING = MacsecBinding(
    "et-0/0/9",
    "CA_core",
    SUITE,
    "KC_core",
    options=JunosOptions(
        macros=(("kme-host", "kme-a.example.net"), ("kme-port", "443")),
        host_mappings=(("kme-a.example.net", "192.0.2.10"),),
    ),
)
#: Pre-shared-key mode: binding + static key commit on their own (no chain to stage first).
PSK_BINDING = replace(BINDING, key_chain=None)
PSK_KEY = StaticKey("CA_core", CKN_A, Secret(bytes(range(32))), SUITE)
MakeDriver = Callable[..., Driver]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def entry(slot: int, ckn: str, cak: bytes, start: datetime) -> KeyChainEntry:
    return KeyChainEntry("KC_core", slot, ckn, Secret(cak), start)


def live_ckn(driver: Driver) -> str | None:
    live = [s.cak_name for s in driver.mka_sessions(["et-0/0/9"]) if s.live]
    return live[0] if len(live) == 1 else None


def opened(make_driver: MakeDriver, *names: str) -> list[Driver]:
    drivers = [make_driver(name) for name in names]
    for driver in drivers:
        driver.open()
    return drivers


def assert_clean(err: BaseException, secret: bytes = CANARY) -> None:
    text = "".join(traceback.format_exception(err)) + repr(err)
    assert secret.hex() not in text
    assert secret.hex().upper() not in text
