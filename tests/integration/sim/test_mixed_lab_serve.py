"""A lab serving several platforms on one loop and one fabric: Junos and IOS XR devices with one
known_hosts, IOS XR faults (unreachable on its own port, commit latency that blocks no other
device), Junos-only fields refused on IOS XR, and a third platform registered by one call (an
HTTPS one, its certificate from the lab's CA) — the hook a data-centre platform plugs into."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncssh
import httpx
import pytest
from asyncssh.kex import get_default_kex_algs

from qkd_macsec.posture import is_pq_key_exchange
from qkd_macsec.sim.device import SimDevice
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.sim.lab import DeviceSpec, Lab, LabError
from qkd_macsec.sim.lab_servers import (
    LabContext,
    lab_platforms,
    register_lab_server,
    unregister_lab_server,
)

PASSWORD = "pw-mixed-123456"
MIXED = {
    "devices": [
        {"name": "mx1", "password": PASSWORD},
        {"name": "xr1", "platform": "iosxr", "password": PASSWORD, "time_zone": "Asia/Tokyo"},
    ],
    "links": [{"a": "mx1:et-0/0/1", "b": "xr1:HundredGigE0/0/0/1", "name": "mx1-xr1"}],
}
NETCONF_HELLO = (
    b'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    b"<capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities>"
    b"</hello>]]>]]>"
)
COMMIT = (
    b'<?xml version="1.0" encoding="UTF-8"?><rpc message-id="1" '
    b'xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><commit/></rpc>]]>]]>'
)


def is_ok(reply: bytes) -> bool:
    return re.search(rb"<(?:\w+:)?ok[\s/>]", reply) is not None


def answered(reply: bytes) -> bool:
    return reply.startswith(b"<") and b"rpc-reply" in reply


async def netconf_rpc(port: int, known_hosts: Path, rpc: bytes) -> bytes:
    """Open NETCONF over SSH (host key checked against the lab's known_hosts), send one RPC,
    return its reply."""
    async with asyncssh.connect(
        "127.0.0.1", port, username="lab", password=PASSWORD, known_hosts=str(known_hosts)
    ) as conn:
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        buffer = b""
        while b"]]>]]>" not in buffer:  # the server's hello
            buffer += await reader.read(65536)
        writer.write(NETCONF_HELLO + rpc)
        buffer = buffer.split(b"]]>]]>", 1)[1]
        while b"]]>]]>" not in buffer:
            buffer += await reader.read(65536)
        return buffer.split(b"]]>]]>", 1)[0]


async def test_junos_and_iosxr_share_one_loop_one_fabric_and_one_known_hosts() -> None:
    async with Lab.from_dict(MIXED).serve() as running:
        assert running.platform("mx1") == "junos"
        assert running.platform("xr1") == "iosxr"
        assert isinstance(running.device("mx1"), SimDevice)
        xr = running.device_of("xr1", IosxrSimDevice)
        assert xr.time_zone == "Asia/Tokyo"
        with pytest.raises(LabError, match="iosxr device"):
            running.device("xr1")
        lines = running.known_hosts_path.read_text().splitlines()
        assert len(lines) == 2
        for name in ("mx1", "xr1"):  # both verified against the one known_hosts
            reply = await netconf_rpc(running.port(name), running.known_hosts_path, COMMIT)
            assert answered(reply)
        assert running.fabric.link_ends("mx1-xr1")[1].interface == "HundredGigE0/0/0/1"
        assert not running.fabric.link_live("mx1-xr1")  # no keys yet


async def test_an_unreachable_iosxr_router_comes_back_on_its_port() -> None:
    async with Lab.from_dict(MIXED).serve() as running:
        port = running.port("xr1")
        await running.refuse_connections("xr1")
        with pytest.raises(OSError, match=r"refused|Connect call failed"):
            await netconf_rpc(port, running.known_hosts_path, COMMIT)
        await netconf_rpc(running.port("mx1"), running.known_hosts_path, COMMIT)  # mx1 is up
        await running.refuse_connections("xr1", False)
        assert running.port("xr1") == port
        assert is_ok(await netconf_rpc(port, running.known_hosts_path, COMMIT))


async def test_iosxr_commit_latency_blocks_no_other_device() -> None:
    async with Lab.from_dict(MIXED).serve() as running:
        running.server("xr1").set_commit_latency(1.5)
        started = time.monotonic()
        slow = asyncio.ensure_future(
            netconf_rpc(running.port("xr1"), running.known_hosts_path, COMMIT)
        )
        await asyncio.sleep(0.3)
        await netconf_rpc(running.port("mx1"), running.known_hosts_path, COMMIT)
        assert not slow.done()  # the Junos router answered while the IOS XR commit waits
        assert is_ok(await slow)
        assert time.monotonic() - started >= 1.5


async def test_refused_commits_are_counted_down_and_commits_are_recorded() -> None:
    async with Lab.from_dict(MIXED).serve() as running:
        server = running.server("xr1")
        server.fail_commits(1)
        assert server.commits_to_fail() == 1
        reply = await netconf_rpc(running.port("xr1"), running.known_hosts_path, COMMIT)
        assert b"rpc-error" in reply
        assert server.commits_to_fail() == 0
        reply = await netconf_rpc(running.port("xr1"), running.known_hosts_path, COMMIT)
        assert is_ok(reply)
        assert server.commit_times() == []  # an unchanged candidate commits nothing
        assert not server.lock_held()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("config", "set system host-name xr1"),
        ("authorized_keys", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 x"]),
        ("faults", {"hang_rpcs": ["commit"]}),
    ],
)
async def test_junos_only_fields_are_refused_on_iosxr(field: str, value: object) -> None:
    device = {"name": "xr1", "platform": "iosxr", "password": PASSWORD, field: value}
    with pytest.raises(LabError, match=f"xr1 \\(iosxr\\): not supported: {field}"):
        async with Lab.from_dict({"devices": [device]}).serve():
            pass


async def test_a_classical_iosxr_router_offers_no_pq_key_exchange() -> None:
    lab = Lab.from_dict(
        {"devices": [{"name": "xr1", "platform": "iosxr", "password": PASSWORD, "pq_kex": False}]}
    )
    async with lab.serve() as running:
        options = {"known_hosts": str(running.known_hosts_path), "username": "lab"}
        pq = [a.decode() for a in get_default_kex_algs() if is_pq_key_exchange(a.decode())]
        assert pq  # this asyncssh has PQ hybrids to refuse
        with pytest.raises(asyncssh.KeyExchangeFailed):
            await asyncssh.connect(
                "127.0.0.1", running.port("xr1"), password=PASSWORD, kex_algs=pq, **options
            )
        async with asyncssh.connect(
            "127.0.0.1", running.port("xr1"), password=PASSWORD, **options
        ) as conn:
            assert not is_pq_key_exchange(str(conn.get_extra_info("kex_alg") or ""))


async def test_an_external_device_is_on_the_fabric_but_not_served() -> None:
    lab = Lab.from_dict(
        {
            "devices": [{"name": "mx1", "password": PASSWORD}],
            "external_devices": ["box1"],
            "links": [{"a": "mx1:et-0/0/1", "b": "box1:port1", "name": "mx1-box1"}],
        }
    )
    async with lab.serve() as running:
        assert running.fabric.link_ends("mx1-box1")[1].device == "box1"
        with pytest.raises(LabError, match="no device named 'box1'"):
            running.server("box1")


async def test_an_nxos_switch_is_served_with_a_lab_ca_certificate_and_can_go_down() -> None:
    lab = Lab.from_dict(
        {
            "devices": [
                {"name": "mx1", "password": PASSWORD},
                {"name": "nx1", "platform": "nxos", "password": PASSWORD},
            ],
            "links": [{"a": "mx1:et-0/0/3", "b": "nx1:Ethernet1/1", "name": "mx1-nx1"}],
        }
    )
    async with lab.serve() as running:
        assert running.platform("nx1") == "nxos"
        assert len(running.known_hosts_path.read_text().splitlines()) == 1  # mx1 only
        port = running.port("nx1")
        url = f"https://127.0.0.1:{port}/ins"
        lab_ca = ssl.create_default_context(cafile=running.ca_path)
        async with httpx.AsyncClient(verify=lab_ca, auth=("lab", PASSWORD)) as client:
            show = {"cmd": "show clock", "version": 1}
            call = {"jsonrpc": "2.0", "method": "cli", "params": show}
            assert (await client.post(url, json=[{**call, "id": 1}])).status_code == 200
            await running.refuse_connections("nx1")
            with pytest.raises(httpx.ConnectError):
                await client.post(url, json=[{**call, "id": 2}])
            await running.refuse_connections("nx1", False)
            assert running.port("nx1") == port
            assert (await client.post(url, json=[{**call, "id": 3}])).status_code == 200
        server = running.server("nx1")
        server.fail_commits(2)
        assert server.commits_to_fail() == 2
        assert not server.lock_held()


def test_an_unknown_platform_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(LabError, match=r"devices\.0\.platform.*'nosuch'.*junos"):
        Lab.from_dict({"devices": [{"name": "r1", "platform": "nosuch", "password": "p"}]})


class _HttpsServer:
    """A stand-in HTTPS platform: answers every request with its device name."""

    platform = "https-test"

    def __init__(self, name: str, server: asyncio.Server) -> None:
        self.name = name
        self._server = server
        self.commits: list[float] = []

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host_key(self) -> None:
        return None

    @property
    def device(self) -> object:
        return self

    def commit_times(self) -> list[float]:
        return list(self.commits)

    def lock_held(self) -> bool:
        return False

    @property
    def clock_offset_s(self) -> float:
        return 0.0

    def set_clock_offset(self, offset_s: float) -> None:
        pass

    def fail_commits(self, count: int) -> None:
        pass

    def commits_to_fail(self) -> int:
        return 0

    def set_commit_latency(self, seconds: float) -> None:
        pass

    async def set_reachable(self, reachable: bool) -> None:
        pass


@asynccontextmanager
async def serve_https_test(spec: DeviceSpec, context: LabContext) -> AsyncIterator[_HttpsServer]:
    cert, key = context.server_certificate(spec.name)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    context.fabric.add_device(spec.name, spec.clock_offset_s)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = spec.name.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, context.host, spec.port, ssl=tls)
    try:
        yield _HttpsServer(spec.name, server)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_third_platform_plugs_in_with_one_registration() -> None:
    register_lab_server("https-test", serve_https_test)
    try:
        assert "https-test" in lab_platforms()
        lab = Lab.from_dict(
            {
                "devices": [
                    *MIXED["devices"],  # type: ignore[list-item]
                    {"name": "dc1", "platform": "https-test", "password": PASSWORD},
                ],
                "links": [{"a": "mx1:et-0/0/2", "b": "dc1:Ethernet1/1", "name": "mx1-dc1"}],
            }
        )
        async with lab.serve() as running:
            assert running.platform("dc1") == "https-test"
            assert len(running.known_hosts_path.read_text().splitlines()) == 2  # SSH only
            async with httpx.AsyncClient(
                verify=ssl.create_default_context(cafile=running.ca_path)
            ) as client:
                reply = await client.get(f"https://127.0.0.1:{running.port('dc1')}/")
            assert reply.text == "dc1"
            async with httpx.AsyncClient() as client:  # not a public CA's cert
                with pytest.raises(httpx.ConnectError):
                    await client.get(f"https://127.0.0.1:{running.port('dc1')}/")
            assert "mx1-dc1" in running.fabric.links()
    finally:
        unregister_lab_server("https-test")
    assert "https-test" not in lab_platforms()
