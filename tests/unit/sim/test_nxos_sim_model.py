"""The NX-OS simulator's own rules: configuration sessions (one open at a time, commit atomic,
abort drops), what the switch refuses, and the documented rollover (a key stays in use until
its lifetime ends) as the instants the fabric is given."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qkd_macsec.sim.nxos.device import NEVER, BatchContext, CommandError, NxosSimDevice
from qkd_macsec.sim.nxos.model import NxKey

CAK = "AB" * 32
KEY_A, KEY_B = "0A" * 32, "0B" * 32


def switch() -> NxosSimDevice:
    return NxosSimDevice("nx", user="u", password="p")


def run(device: NxosSimDevice, *lines: str, context: BatchContext | None = None) -> BatchContext:
    context = context or BatchContext()
    for line in lines:
        device.run_config(context, line)
    return context


CHAIN = (
    "key chain KC macsec",
    f"key {KEY_A}",
    f"key-octet-string {CAK} cryptographic-algorithm AES_256_CMAC",
    "send-lifetime 07:00:00 Dec 01 2026 duration 3600",
    "macsec policy P",
    "cipher-suite GCM-AES-XPN-256",
    "interface Ethernet1/1",
    "macsec keychain KC policy P",
)


def test_a_session_commits_everything_at_once() -> None:
    device = switch()
    context = run(device, "configure session s1", *CHAIN)
    assert device.running.chains == {}  # nothing lands before commit
    run(device, "verify", "commit", context=context)
    assert device.running.bindings == {"Ethernet1/1": ("KC", "P")}
    assert device.running.chains["KC"][KEY_A].duration_s == 3600
    assert device.session_name is None


def test_one_session_at_a_time_and_abort_drops_it() -> None:
    device = switch()
    run(device, "configure session s1", "interface Ethernet1/2")
    with pytest.raises(CommandError, match="in progress"):
        run(device, "configure session s2")
    run(device, "configure session s1", "abort")
    assert device.session_name is None
    assert "Ethernet1/2" not in device.running.interfaces


def test_a_failed_verify_at_commit_commits_nothing() -> None:
    device = switch()
    context = run(device, "configure session s1", *CHAIN[:4], "interface Ethernet1/1")
    run(device, "macsec keychain KC policy MISSING", context=context)
    with pytest.raises(CommandError, match="does not exist"):
        run(device, "commit", context=context)
    assert device.running.chains == {}
    assert device.counters.commits == 0


def test_what_the_switch_refuses() -> None:
    device = switch()
    context = run(device, "configure session s1", *CHAIN)
    with pytest.raises(CommandError, match="overwrite"):
        run(device, "key chain KC macsec", f"key {KEY_A}", CHAIN[2], context=context)
    for bad in ("key 0A0", "send-lifetime 07:00 Dec 01 2026 infinite", "cipher-suite ROT13"):
        with pytest.raises(CommandError):
            run(device, bad, context=context)
    with pytest.raises(CommandError, match="Not in a configuration session"):
        run(device, "interface Ethernet1/3")


def test_a_key_comes_into_use_when_the_one_before_it_ends() -> None:
    t = datetime(2026, 12, 1, 7)
    keys = {
        KEY_A: NxKey(CAK, "AES_256_CMAC", t, 7200),  # ends at t + 2 h
        KEY_B: NxKey(CAK, "AES_256_CMAC", t + timedelta(hours=1), 126144001),
    }
    active = {key_id: when for when, key_id, _ in NxosSimDevice._activations(keys)}
    assert active == {KEY_A: t, KEY_B: t + timedelta(hours=2)}  # not at its own start
    keys[KEY_A] = NxKey(CAK, "AES_256_CMAC", t, None)  # infinite: the next is never used
    active = {key_id: when for when, key_id, _ in NxosSimDevice._activations(keys)}
    assert active[KEY_B] == NEVER
