"""Whatever a router answers to the engine's reads, the step fails cleanly and links stay put.

1. The Junos driver's reads (device time, key chain, MKA sessions) over hypothesis-built XML:
   each returns well-typed values or raises ``DeviceReplyError`` — nothing else escapes.
2. In a wave, a router whose reply cannot be read (what the driver raises above) fails only its
   own staging: every link through it is undone on the other ends before its start-time, so
   every chain is as it was and nothing is left open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from qkd_macsec.devices.base import (
    ChainEntryState,
    DeviceClock,
    DeviceReplyError,
    DeviceTarget,
    MacsecBinding,
    MkaSessionState,
)
from qkd_macsec.devices.junos import JunosDriver
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.secret import Secret
from support.engine_fakes import FakeDriver, FakeKeys, FakeNetwork, make_link

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TAGS = [
    "configuration",
    "security",
    "authentication-key-chains",
    "key-chain",
    "name",
    "key",
    "key-name",
    "start-time",
    "secret",
    "system-uptime-information",
    "current-time",
    "date-time",
    "mka-session-information",
    "mka-session",
    "session-live",
    "session-cak",
    "interface-state",
    "interface-name",
    "cak-name",
    "session-status",
    "member-identifier",
    "key-server",
]
texts = st.one_of(
    st.none(),
    st.sampled_from(["0", "1", "-5", "live", "primary", "yes", "KC1", "et-0/0/1", "ab" * 32]),
    st.sampled_from(["2026-11-26 06:00:00 UTC", "2026-13-45.99:99:99", "1999-01-01.00:00:00"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20),
)
Tree = tuple[str, str | None, list[Any]]
trees: st.SearchStrategy[Tree] = st.recursive(
    st.tuples(st.sampled_from(TAGS), texts, st.just([])),
    lambda inner: st.tuples(st.sampled_from(TAGS), texts, st.lists(inner, max_size=4)),
    max_leaves=25,
)


def build(tree: Tree) -> Any:
    tag, text, children = tree
    element = etree.Element(tag)
    element.text = text
    for child in children:
        element.append(build(child))
    return element


def reply(tree: Tree, wrap: str | None) -> Any:
    """The tree, optionally under the element a real reply would start with."""
    element = build(tree)
    if wrap is None:
        return element
    outer = etree.Element(wrap)
    outer.append(element)
    return outer


class GarbageRpc:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def __getattr__(self, name: str) -> Any:
        return lambda **_: self.answer


class GarbageDevice:
    answer: Any = None

    def __init__(self, **kwargs: Any) -> None:
        self.connected = False
        self.timeout = 30
        self.rpc = GarbageRpc(GarbageDevice.answer)

    def open(self) -> GarbageDevice:
        self.connected = True
        return self

    def close(self) -> None:
        self.connected = False


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[JunosDriver]:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:830 ssh-ed25519 AAAA\n")
    target = DeviceTarget(
        name="r1",
        host="127.0.0.1",
        user="netconf",
        password=Secret(b"pw-canary-123"),
        known_hosts=known_hosts,
    )
    built = JunosDriver(target, device_factory=GarbageDevice)
    yield built
    built.close()


@PROPERTY
@given(
    tree=trees,
    wrap=st.sampled_from([None, "rpc-reply", "configuration", "data"]),
    read=st.sampled_from(["time", "chain", "mka"]),
)
def test_driver_reads_return_typed_values_or_a_reply_error(
    driver: JunosDriver, tree: Tree, wrap: str | None, read: str
) -> None:
    GarbageDevice.answer = reply(tree, wrap)
    driver.close()
    driver.open()
    reads = {
        "time": driver.device_time,
        "chain": lambda: driver.key_chain("KC1"),
        "mka": lambda: driver.mka_sessions(["et-0/0/1"]),
    }
    outcome = attempt(reads[read])
    if isinstance(outcome, DeviceReplyError):
        assert "r1" in str(outcome)
        assert "pw-canary-123" not in str(outcome)
    elif read == "time":
        assert isinstance(outcome, DeviceClock)
    elif read == "chain":
        assert isinstance(outcome, list)
        assert all(isinstance(e, ChainEntryState) for e in outcome)
        assert all(isinstance(e.slot, int) and isinstance(e.ckn, str) for e in outcome)
    else:
        assert isinstance(outcome, list)
        assert all(isinstance(s, MkaSessionState) for s in outcome)


def attempt(read: Callable[[], object]) -> object:
    """The read's value, or the DeviceReplyError it raised (any other exception escapes)."""
    try:
        return read()
    except DeviceReplyError as exc:
        return exc


class UnreadableRouter(FakeDriver):
    """A router whose answer to one read cannot be parsed (as the driver reports it)."""

    broken: tuple[str, str] = ("", "")

    def device_time(self) -> DeviceClock:
        self._maybe_fail("time")
        return super().device_time()

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        self._maybe_fail("chain")
        return super().key_chain(chain)

    def _maybe_fail(self, read: str) -> None:
        if (self.router.name, read) == UnreadableRouter.broken:
            raise DeviceReplyError(self.router.name, f"{read}: malformed reply")


def binding(link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    return [MacsecBinding(i, link.ca, link.suite, link.key_chain) for i in end.interfaces]


FAST = ExecutorOptions(
    max_workers=4,
    min_activation_delay=0.3,
    clock_tolerance=0.0,
    verify_grace=0.05,
    verify_timeout=3.0,
    verify_interval=0.05,
    initial_session_estimate=0.05,
)


@settings(max_examples=12, deadline=None)
@given(router=st.sampled_from(["r1", "r2", "r3"]), read=st.sampled_from(["time", "chain"]))
def test_an_unreadable_router_fails_its_links_and_leaves_every_chain_as_it_was(
    tmp_path_factory: pytest.TempPathFactory, router: str, read: str
) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    links = [
        make_link("l1", "r1", "r2"),
        make_link("l2", "r1", "r3", chain="KC2", interface="et-0/0/2"),
        make_link("l3", "r2", "r3", chain="KC3", interface="et-0/0/3"),
    ]
    directory = tmp_path_factory.mktemp("netconf-garbage")
    executor = RotationExecutor(
        links,
        Journal(directory / "journal.sqlite"),
        keys,
        lambda name: UnreadableRouter(net, net.router(name)),
        binding_for=binding,
        options=FAST,
    )
    try:
        UnreadableRouter.broken = ("", "")
        assert asyncio.run(executor.run_wave(executor.plan())).ok
        before = {n: {c: dict(e) for c, e in r.chains.items()} for n, r in net.routers.items()}
        live = {(d, i): net.active_ckn(d, i) for d in before for i in net.routers[d].iface_chain}

        UnreadableRouter.broken = (router, read)
        result = asyncio.run(executor.run_wave(executor.plan(force=["l1", "l2", "l3"])))
    finally:
        UnreadableRouter.broken = ("", "")
        executor.close()
    through = {link.name for link in links if router in link.devices}
    assert set(result.failed_links) == through
    for name in through:
        assert result.rotations[name].phase is Phase.ABORTED
        assert "malformed reply" in (result.rotations[name].error or "")
    assert not result.devices[router].ok
    # every link through the router kept its chain on every end; the others rotated
    for name, state in before.items():
        for chain, entries in state.items():
            link = next(link for link in links if link.key_chain == chain)
            if link.name in through:
                assert net.routers[name].chains[chain] == entries, (name, chain)
    for (device, interface), ckn in live.items():
        chain = net.routers[device].iface_chain[interface]
        link = next(link for link in links if link.key_chain == chain)
        if link.name in through:
            assert net.active_ckn(device, interface) == ckn
    assert executor.journal.open_rotations() == []
    executor.journal.close()
