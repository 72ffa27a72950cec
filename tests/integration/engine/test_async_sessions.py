"""The default off-box path: the asyncio NETCONF driver (asyncssh) on the Junos simulator, one
session per router per wave, kept for the next wave, reopened when it dropped.

Every claim about links is checked on the simulator's fabric (MKA liveness from the key
derivation, outage measured); logins are counted where the simulator opens sessions.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from qkd_macsec.devices.base import DeviceHostKeyError
from qkd_macsec.devices.junos_async import AsyncJunosDriver
from qkd_macsec.engine.controller import Controller, ControllerOptions, device_target
from qkd_macsec.engine.fencing import FencedAsyncDriver
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, count_logins

ROUTER = "mx304-11"
GROUP_ONLY = "mx10008-24"  # an end of ca-basic, not of p2p-11-12


def assert_all_live_on_newest(testbed: Testbed, controller: Controller) -> None:
    for link in testbed.inventory.links:
        (newest,) = controller.journal.active_keys(link.name, 1)
        assert testbed.live_ckns(link.name) == [newest.ckn] * len(testbed.wires[link.name]), link
        assert testbed.outage_seconds(link.name) == 0.0, link.name


async def test_waves_on_the_async_path_log_in_once_per_router_and_keep_the_session(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(seed_doc)
    logins = count_logins(testbed, monkeypatch)
    routers = set(testbed.inventory.hosts)
    async with Controller(testbed.inventory) as controller:
        assert controller.device_client == "async"
        first = await controller.rotate()  # reconcile (reads), bootstrap, verify: one session
        assert first.ok, first.failed_links
        assert Counter(logins) == dict.fromkeys(routers, 1)
        kept = controller.executor.sessions._kept
        # the asyncio driver, its commits fenced by the controller's lease
        assert all(isinstance(kept[r], FencedAsyncDriver) for r in routers)
        assert all(isinstance(kept[r]._driver, AsyncJunosDriver) for r in routers)
        before = {d: len(testbed.lab.device(d).history) for d in routers}
        logins.clear()
        for _ in range(2):
            result = await controller.rotate(all_links=True)
            assert result.ok, result.failed_links
            assert_all_live_on_newest(testbed, controller)
        assert logins == []  # the next waves reused the sessions (liveness checked first)
        # one commit per router per wave
        assert {d: len(testbed.lab.device(d).history) - before[d] for d in routers} == (
            dict.fromkeys(routers, 2)
        )
    # closing the controller closes every kept session
    for router in routers:
        assert testbed.lab.device(router).sessions() == []


async def test_a_session_dropped_between_waves_is_noticed_and_reopened(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(seed_doc)
    logins = count_logins(testbed, monkeypatch)
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        pool = controller.executor.sessions
        assert pool.has_live(ROUTER)
        logins.clear()
        assert testbed.lab.drop_sessions(ROUTER) == 1  # the router's side went away
        deadline = time.monotonic() + 10.0
        while pool.has_live(ROUTER):  # asyncssh sees the connection close
            assert time.monotonic() < deadline, "the dropped session still looks alive"
            await _yield()
        result = await controller.rotate(all_links=True)
        assert result.ok, result.failed_links
        assert logins == [ROUTER]  # reopened once; every other router reused its session
        assert_all_live_on_newest(testbed, controller)


async def test_a_changed_host_key_is_refused_before_any_login(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(seed_doc)
    logins = count_logins(testbed, monkeypatch)
    testbed.lab.rotate_host_key(GROUP_ONLY)  # known_hosts still holds the old key
    driver = AsyncJunosDriver(device_target(testbed.inventory, GROUP_ONLY))
    with pytest.raises(DeviceHostKeyError, match="unknown or has CHANGED"):
        await driver.open()
    assert not driver.is_alive()
    assert logins == []  # the key exchange failed before authentication
    # the wave leaves that router's links alone (unreadable: not bootstrapped blind) and
    # rotates the others
    async with Controller(testbed.inventory) as controller:
        result = await controller.rotate()
        assert "ca-basic" not in result.rotations
        assert "host key" in result.conflicts["ca-basic"]
        assert result.rotations["p2p-11-12"].ok
        assert GROUP_ONLY not in logins


async def test_the_threaded_pyez_client_stays_selectable(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(seed_doc)
    logins = count_logins(testbed, monkeypatch)
    options = ControllerOptions(device_client="pyez")
    async with Controller(testbed.inventory, options) as controller:
        assert (await controller.rotate()).ok
        logins.clear()
        result = await controller.rotate(all_links=True)
        assert result.ok, result.failed_links
        assert logins == []  # PyEZ sessions are kept too (run in the thread pool)
        assert_all_live_on_newest(testbed, controller)


async def _yield() -> None:
    await asyncio.sleep(0.01)  # poll step of a deadline-bounded wait
