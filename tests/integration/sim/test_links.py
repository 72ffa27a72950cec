"""Two routers, one link: MKA goes live only on shared keys; rollover and outage accounting.

Keys are loaded and committed through the real PyEZ client; the fabric's link state and the
MKA RPC (what the tool reads) must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from jnpr.junos import Device
from jnpr.junos.utils.config import Config

from qkd_macsec.devices.base import MkaSessionState
from qkd_macsec.devices.junos_parse import parse_mka_sessions
from qkd_macsec.sim.lab import LabThread

OpenDevice = Callable[..., Device]
WaitFor = Callable[..., None]

A, B = "mx304-11", "mx304-12"
CA = "set security macsec connectivity-association CA1"
BIND = (
    f"{CA} security-mode static-cak\n{CA} cipher-suite gcm-aes-xpn-256\n"
    "set security macsec interfaces et-0/0/9 connectivity-association CA1\n"
)
KC = "set security authentication-key-chains key-chain KC1 key {slot}"


def static_key(ckn: str, cak: str) -> str:
    return BIND + f"{CA} pre-shared-key ckn {ckn}\n{CA} pre-shared-key cak {cak}"


def chain_key(slot: int, ckn: str, cak: str, start: str) -> str:
    head = KC.format(slot=slot)
    return (
        BIND
        + f"{CA} pre-shared-key-chain KC1\n{head} key-name {ckn}\n{head} secret {cak}\n"
        + f'{head} start-time "{start}"'
    )


def commit(dev: Device, lines: str) -> None:
    cu = Config(dev)
    cu.lock()
    try:
        cu.load(lines, format="set")
        cu.commit(comment="test")
    finally:
        cu.unlock()


def mka(dev: Device) -> list[MkaSessionState]:
    """Every CAK's session, read as the driver reads it (real detail layout)."""
    return parse_mka_sessions(dev.rpc.get_mka_session_information(detail=True))


@pytest.fixture
def link(lab: LabThread) -> str:
    return lab.fabric.links()[0]


def test_same_keys_go_live(
    open_device: OpenDevice, lab: LabThread, link: str, wait_for: WaitFor
) -> None:
    ckn, cak = "a1" * 32, "5e" * 32
    a, b = open_device(A), open_device(B)
    commit(a, static_key(ckn, cak))
    assert not lab.fabric.link_live(link)
    commit(b, static_key(ckn, cak))
    wait_for(lambda: lab.fabric.link_live(link))
    assert lab.fabric.link_ckn(link) == ckn
    for dev in (a, b):
        sessions = mka(dev)
        live = [s for s in sessions if s.live]
        assert len(live) == 1
        assert live[0].cak_name == ckn
        assert live[0].cak_type == "primary"
        assert live[0].interface_state == "Secured - Primary"
        assert live[0].interface == "et-0/0/9"


def test_different_caks_stay_down(open_device: OpenDevice, lab: LabThread, link: str) -> None:
    ckn = "b2" * 32
    commit(open_device(A), static_key(ckn, "11" * 32))
    b = open_device(B)
    commit(b, static_key(ckn, "22" * 32))
    assert not lab.fabric.link_live(link)
    sessions = mka(b)
    assert sessions
    assert all(not s.live for s in sessions)
    assert all(s.interface_state == "Not secured" for s in sessions)
    brief = b.rpc.get_mka_session_information()
    assert brief.findtext("latest-sak-key-identifier").endswith("/0")


def test_key_chain_rollover_at_same_start_time_has_no_outage(
    open_device: OpenDevice, lab: LabThread, link: str, wait_for: WaitFor
) -> None:
    a, b = open_device(A), open_device(B)
    old_ckn, new_ckn = "c3" * 32, "d4" * 32
    for dev in (a, b):
        commit(dev, chain_key(1, old_ckn, "33" * 32, "2020-01-01.00:00:00"))
    wait_for(lambda: lab.fabric.link_ckn(link) == old_ckn)
    device_now = lab.device(A).device_time()
    start = (device_now + timedelta(seconds=3)).strftime("%Y-%m-%d.%H:%M:%S")
    for dev in (a, b):
        commit(dev, chain_key(2, new_ckn, "44" * 32, start))
    assert lab.fabric.link_ckn(link) == old_ckn  # not yet
    wait_for(lambda: lab.fabric.link_ckn(link) == new_ckn, within=15)
    assert lab.fabric.outage_seconds(link) == 0.0
    live = [s for s in mka(a) if s.live]
    assert [s.cak_name for s in live] == [new_ckn]


def test_one_end_changing_key_early_shows_measured_outage(
    open_device: OpenDevice, lab: LabThread, link: str, wait_for: WaitFor
) -> None:
    a, b = open_device(A), open_device(B)
    old_ckn, new_ckn = "e5" * 32, "f6" * 32
    commit(a, static_key(old_ckn, "55" * 32))
    commit(b, static_key(old_ckn, "55" * 32))
    wait_for(lambda: lab.fabric.link_live(link))
    commit(a, static_key(new_ckn, "66" * 32))
    a_switched = lab.device(A).history[0].at
    # A keeps the old key as "preceding" for the hold time, then the link drops.
    wait_for(lambda: not lab.fabric.link_live(link))
    commit(b, static_key(new_ckn, "66" * 32))
    b_switched = lab.device(B).history[0].at
    wait_for(lambda: lab.fabric.link_ckn(link) == new_ckn)
    hold = lab.running.spec.preceding_hold_s
    expected = b_switched - (a_switched + hold)
    assert expected > 0
    assert lab.fabric.outage_seconds(link) == pytest.approx(expected, abs=1e-6)
