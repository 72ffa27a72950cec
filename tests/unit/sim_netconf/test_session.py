"""NetconfSession against a real SimDevice and Configuration, without SSH."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from qkd_macsec.sim.device import SimDevice
from qkd_macsec.sim.netconf.xml import BASE_10, BASE_11, NC_NS

Connect = Callable[..., Any]
MakeDevice = Callable[..., SimDevice]


def nc(path: str) -> str:
    """An XPath in the NETCONF namespace: 'a/b' -> '{ns}a/{ns}b'."""
    return "/".join(f"{{{NC_NS}}}{part}" for part in path.split("/"))


LOCK = "<lock-configuration/>"
LOAD_SET = (
    '<load-configuration action="set" format="text"><configuration-set>{}'
    "</configuration-set></load-configuration>"
)


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def errors(reply: Any) -> list[str]:
    return [e.findtext(nc("error-message")) or "" for e in reply.iter(nc("rpc-error"))]


async def test_hello_names_session_and_base_capabilities(
    connect: Connect, make_device: MakeDevice
) -> None:
    wire = connect(make_device())
    hello = wire.replies[0]
    assert hello.tag == nc("hello")
    caps = [c.text for c in hello.iter(nc("capability"))]
    assert BASE_10 in caps
    assert BASE_11 not in caps
    assert int(hello.findtext(nc("session-id"))) == wire.session.info.session_id


async def test_base11_device_switches_to_chunked_when_client_agrees(
    connect: Connect, make_device: MakeDevice
) -> None:
    wire = connect(make_device(base11=True), caps=(BASE_10, BASE_11))
    assert BASE_11 in [c.text for c in wire.replies[0].iter(nc("capability"))]
    assert wire.session.chunked
    reply = await wire.call("<get-software-information/>", chunked=True)
    assert reply.findtext(nc("software-information/host-name")) == "r1"


async def test_base11_device_keeps_eom_for_base10_client(
    connect: Connect, make_device: MakeDevice
) -> None:
    wire = connect(make_device(base11=True))
    assert not wire.session.chunked
    reply = await wire.call("<get-software-information/>")
    assert reply.find(nc("software-information")) is not None


async def test_unknown_rpc_is_an_rpc_error_naming_it(
    connect: Connect, make_device: MakeDevice
) -> None:
    wire = connect(make_device())
    reply = await wire.call("<get-frobnicator-information/>")
    assert reply.findtext(nc("rpc-error/error-info/bad-element")) == "get-frobnicator-information"


async def test_malformed_request_gets_an_error_not_a_crash(
    connect: Connect, make_device: MakeDevice
) -> None:
    wire = connect(make_device())
    wire.session.data_received(b"<rpc message-id='9'><oops></rpc>]]>]]>")
    await wait_until(lambda: len(wire.replies) == 2)
    assert wire.replies[1].findtext(nc("rpc-error/error-tag")) == "malformed-message"
    reply = await wire.call("<get-software-information/>")  # still usable
    assert reply.find(nc("software-information")) is not None


async def test_lock_denied_names_holder_and_is_released_when_holder_drops(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device()
    a, b = connect(device), connect(device)
    assert (await a.call(LOCK)).find(nc("ok")) is not None
    denied = await b.call(LOCK)
    assert denied.findtext(nc("rpc-error/error-tag")) == "lock-denied"
    holder = int(denied.findtext(nc("rpc-error/error-info/session-id")))
    assert holder == a.session.info.session_id
    load = await b.call(LOAD_SET.format("set system location building x"))
    assert "locked" in errors(load)[0]
    assert load.find(nc("load-configuration-results")) is not None
    a.session.connection_lost()
    assert (await b.call(LOCK)).find(nc("ok")) is not None


async def test_dropped_lock_holder_loses_uncommitted_changes(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device()
    a = connect(device)
    await a.call(LOCK)
    await a.call(LOAD_SET.format("set system location building x"))
    assert "building" in device.candidate().to_set()
    a.session.connection_lost()
    assert "building" not in device.candidate().to_set()


async def test_drop_fault_aborts_without_reply(connect: Connect, make_device: MakeDevice) -> None:
    device = make_device()
    wire = connect(device)
    device.set_faults(drop_session_on="get-software-information")
    wire.send_rpc("<get-software-information/>")
    await wait_until(lambda: wire.aborted)
    assert len(wire.replies) == 1  # only the hello
    assert device.faults.drop_session_on is None  # one-shot


async def test_hang_fault_never_answers_that_rpc_only(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device()
    wire = connect(device)
    device.set_faults(hang_rpcs={"get-system-uptime-information"})
    silent = wire.send_rpc("<get-system-uptime-information/>")
    answered = await wire.call("<get-software-information/>")
    assert answered.find(nc("software-information")) is not None
    assert all(r.get("message-id") != silent for r in wire.replies)


async def test_commit_errors_from_checks_and_from_injection(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device()
    wire = connect(device)
    bad = "set security macsec connectivity-association CA pre-shared-key ckn abc"
    await wire.call(LOAD_SET.format(bad))
    reply = await wire.call("<commit-configuration/>")
    messages = errors(reply)
    assert reply.find(nc("commit-results/routing-engine/rpc-error")) is not None
    assert "configuration check-out failed" in messages
    assert reply.find(nc("ok")) is None
    await wire.call("<load-configuration rollback='0'/>")
    device.set_faults(failing_commits=1)
    injected = await wire.call("<commit-configuration/>")
    assert "injected" in errors(injected)[0]
    ok = await wire.call("<commit-configuration/>")
    assert ok.find(nc("commit-results/routing-engine/commit-success")) is not None


async def test_commit_confirmed_rolls_back_unless_confirmed(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device(minute_s=0.05)
    wire = connect(device)
    await wire.call(LOAD_SET.format("set system location building x"))
    await wire.call(
        "<commit-configuration><confirmed/><confirm-timeout>1</confirm-timeout>"
        "</commit-configuration>"
    )
    assert "building" in device.committed.to_set()
    await wait_until(lambda: "building" not in device.committed.to_set())
    assert device.history[0].comment == "commit confirmed rollback complete"
    # confirmed in time: a plain commit keeps it
    await wire.call(LOAD_SET.format("set system location building y"))
    await wire.call(
        "<commit-configuration><confirmed/><confirm-timeout>1000"
        "</confirm-timeout></commit-configuration>"
    )
    assert device.confirm_pending
    await wire.call("<commit-configuration/>")
    assert not device.confirm_pending
    assert "building y" in device.committed.to_set()


async def test_rollback_and_compare(connect: Connect, make_device: MakeDevice) -> None:
    device = make_device()
    wire = connect(device)
    for place in ("a", "b"):
        await wire.call(LOAD_SET.format(f"set system location building {place}"))
        await wire.call(f"<commit-configuration><log>to {place}</log></commit-configuration>")
    assert [r.comment for r in device.history[:2]] == ["to b", "to a"]
    await wire.call("<load-configuration compare='rollback' rollback='1'/>")
    diff = await wire.call("<get-configuration compare='rollback' rollback='0' format='text'/>")
    text = diff.findtext(nc("configuration-information/configuration-output"))
    assert "building a" in text
    assert "building b" in text
    missing = await wire.call("<load-configuration compare='rollback' rollback='49'/>")
    assert "does not exist" in errors(missing)[0]


async def test_get_configuration_formats(connect: Connect, make_device: MakeDevice) -> None:
    wire = connect(make_device())
    text = await wire.call("<get-configuration database='committed' format='text'/>")
    assert "host-name r1" in text.findtext(nc("configuration-text"))
    sets = await wire.call("<get-configuration format='set'/>")
    assert "set system host-name r1" in sets.findtext(nc("configuration-set"))
    js = await wire.call("<get-configuration format='json'/>")
    assert json.loads(js.text)["configuration"]
    xml = await wire.call("<get-configuration/>")
    assert xml.findtext(nc("configuration/system/host-name")) == "r1"


async def test_kill_session_and_close_session(connect: Connect, make_device: MakeDevice) -> None:
    device = make_device()
    a, b = connect(device), connect(device)
    await a.call(LOCK)
    killed = await b.call(
        f"<kill-session><session-id>{a.session.info.session_id}</session-id></kill-session>"
    )
    assert killed.find(nc("ok")) is not None
    assert a.aborted
    assert device.lock_holder is None
    bye = await b.call("<close-session/>")
    assert bye.find(nc("ok")) is not None
    await wait_until(lambda: b.closed)


async def test_commit_latency_delays_activation_but_not_other_sessions(
    connect: Connect, make_device: MakeDevice
) -> None:
    device = make_device()
    device.set_faults(commit_latency_s=0.5)
    slow, other = connect(device), connect(device)
    await slow.call(LOAD_SET.format("set system location building slow"))
    requested = device.now()
    pending = slow.send_rpc("<commit-configuration/>")
    # another session is served while the commit is still "running"
    answer = await other.call("<get-software-information/>")
    assert answer.find(nc("software-information")) is not None
    assert "building slow" not in device.committed.to_set()
    await slow.reply_to(pending)
    assert device.history[0].at - requested >= 0.5  # a lower bound: the commit waited
    assert "building slow" in device.committed.to_set()
