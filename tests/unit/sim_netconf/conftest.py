"""A NETCONF session wired to capture lists instead of SSH (no sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from lxml import etree

from qkd_macsec.secret import Secret
from qkd_macsec.sim.config import Configuration
from qkd_macsec.sim.device import DeviceProfile, SimDevice, UserAccount
from qkd_macsec.sim.netconf.framing import FrameDecoder, frame
from qkd_macsec.sim.netconf.session import NetconfSession
from qkd_macsec.sim.netconf.xml import BASE_10, NC_NS

CLIENT_HELLO = (
    '<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{ns}"><capabilities>{caps}'
    "</capabilities></hello>"
)


def client_hello(*caps: str) -> bytes:
    body = "".join(f"<capability>{c}</capability>" for c in caps)
    return frame(CLIENT_HELLO.format(ns=NC_NS, caps=body).encode(), chunked=False)


@dataclass
class Wire:
    """One fake client: what the server sent, and whether it closed or aborted."""

    session: NetconfSession | None = None
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    replies: list[etree._Element] = field(default_factory=list)
    closed: bool = False
    aborted: bool = False
    _next_id: int = 100

    def received(self, data: bytes) -> None:
        self.decoder.feed(data)
        while (message := self.decoder.next_message()) is not None:
            self.replies.append(etree.fromstring(message))

    def send_rpc(self, body: str, chunked: bool = False) -> str:
        assert self.session is not None
        if self.session.chunked and not self.decoder.chunked:
            self.decoder.use_chunked()  # both sides switch after the hellos, like ncclient
        self._next_id += 1
        mid = str(self._next_id)
        raw = f'<rpc xmlns="{NC_NS}" message-id="{mid}">{body}</rpc>'.encode()
        self.session.data_received(frame(raw, chunked=chunked))
        return mid

    async def reply_to(self, mid: str, within: float = 5.0) -> etree._Element:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for reply in self.replies:
                if reply.get("message-id") == mid:
                    return reply
            await asyncio.sleep(0.005)
        raise AssertionError(f"no reply to {mid}")

    async def call(self, body: str, chunked: bool = False) -> etree._Element:
        return await self.reply_to(self.send_rpc(body, chunked=chunked))


def _make_device(*, base11: bool = False, minute_s: float = 60.0, config: str = "") -> SimDevice:
    initial = Configuration.empty()
    initial.load_set(config or "set system host-name r1")
    return SimDevice(
        "r1",
        config=initial,
        users=[UserAccount("lab", Secret.from_text("secret-pw"))],
        profile=DeviceProfile(base11=base11, minute_s=minute_s),
    )


Connect = Callable[..., Wire]


@pytest.fixture
def make_device() -> Callable[..., SimDevice]:
    """Build a device "r1" (user lab) with a real Configuration and no fabric."""
    return _make_device


@pytest.fixture
def connect() -> Connect:
    """Open a session on a device and do the hello exchange (base:1.0 unless asked)."""

    def _connect(
        device: SimDevice, *, caps: tuple[str, ...] = (BASE_10,), user: str = "lab"
    ) -> Wire:
        wire = Wire()

        def close() -> None:
            wire.closed = True

        def abort() -> None:
            wire.aborted = True

        session = NetconfSession(
            device,
            None,
            user=user,
            peer="127.0.0.1:1",
            send=wire.received,
            close=close,
            abort=abort,
        )
        wire.session = session
        session.start()
        session.data_received(client_hello(*caps))
        return wire

    return _connect
