"""A small asyncio NETCONF client over SSH (RFC 6241 / RFC 6242) on asyncssh.

Why not a ready client: ``scrapli-netconf`` (the maintained asyncio NETCONF client) was tried
first. Its last release (2026.1.12) imports ``scrapli.AsyncDriver``, which the current ``scrapli``
(2026.10.14, the libscrapli rewrite) no longer has, so it only runs with ``scrapli<2026``; its
client hello starts with a newline before the XML declaration (a malformed document that the
simulator's strict parser refuses); its strict host-key check looks the key up by host name
only (not ``[host]:port``) and runs after the password has been sent; and it logs every RPC
it sends at INFO. ncclient is threads-only. What a wave needs is small — hello, one RPC at a
time, end-of-message framing — so this module does just that on asyncssh, which verifies the
host key during the key exchange, before any credential leaves the controller.

Framing: the client hello offers only ``base:1.0``, so both sides use the ``]]>]]>``
end-of-message framing (RFC 6242 §4.1: chunked framing only when both offer ``base:1.1``).
No secret is ever logged here; the caller scrubs any text it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import asyncssh
from lxml import etree

__all__ = [
    "NetconfClosedError",
    "NetconfError",
    "NetconfSession",
    "NetconfTimeoutError",
    "local_name",
]

EOM = b"]]>]]>"
BASE_10 = "urn:ietf:params:netconf:base:1.0"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
CLIENT_HELLO = (
    f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{NC_NS}"><capabilities>'
    f"<capability>{BASE_10}</capability></capabilities></hello>"
).encode()
MAX_MESSAGE = 64 * 1024 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class NetconfError(Exception):
    """The NETCONF session failed (framing, XML, transport); text never holds request data."""


class NetconfClosedError(NetconfError):
    """The session is closed or dropped: nothing more can be sent or received on it."""


class NetconfTimeoutError(NetconfError):
    """No reply within the RPC's timeout; the session is closed (a late reply would be
    mistaken for the next one's)."""


def local_name(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


class _Channel(asyncssh.SSHClientSession[bytes]):
    """Bytes in, whole messages out: the first is the server hello, each next one a reply."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.hello: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting: deque[asyncio.Future[bytes]] = deque()
        self.closed = False

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_MESSAGE:
            self._fail(NetconfError("reply larger than the message limit"))
            return
        while (end := self._buffer.find(EOM)) >= 0:
            message = bytes(self._buffer[:end])
            del self._buffer[: end + len(EOM)]
            if not self.hello.done():
                self.hello.set_result(message)
            elif self.waiting:
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(message)
            # an unsolicited message (none is defined for base:1.0) is dropped

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(NetconfClosedError("session closed by the peer or the network"))

    def eof_received(self) -> bool:
        self._fail(NetconfClosedError("session closed by the peer"))
        return False

    def _fail(self, exc: NetconfError) -> None:
        self.closed = True
        for future in (self.hello, *self.waiting):
            if not future.done():
                future.set_exception(exc)
        self.waiting.clear()


class NetconfSession:
    """One NETCONF session (SSH connection + ``netconf`` subsystem); one RPC at a time."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        channel: asyncssh.SSHClientChannel[bytes],
        session: _Channel,
    ) -> None:
        self.conn = conn
        self._channel = channel
        self._session = session
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.session_id: str | None = None
        self.capabilities: tuple[str, ...] = ()

    @classmethod
    async def connect(
        cls,
        *,
        host: str,
        port: int,
        username: str,
        password: str | None,
        client_keys: Sequence[str] | None,
        known_hosts: Any,
        within_s: float,
        encryption_algs: Sequence[str] | None = None,
    ) -> NetconfSession:
        """SSH (host key checked by asyncssh during the key exchange, before auth), the
        ``netconf`` subsystem and the hello exchange, each step within ``within_s`` seconds.
        ``known_hosts``: an ``asyncssh.SSHKnownHosts`` (or None: NOT verified)."""
        options: dict[str, Any] = {
            "username": username,
            "known_hosts": known_hosts,
            "agent_path": None,
            "config": None,
            "password": password,
            "client_keys": list(client_keys) if client_keys else None,
            "preferred_auth": ("publickey", "password") if client_keys else ("password",),
            "connect_timeout": within_s,
            "login_timeout": within_s,
        }
        if encryption_algs:
            options["encryption_algs"] = list(encryption_algs)
        conn = await asyncio.wait_for(asyncssh.connect(host, port, **options), within_s)
        try:
            channel, opened = await asyncio.wait_for(
                conn.create_session(_Channel, subsystem="netconf", encoding=None), within_s
            )
            session = cast(_Channel, opened)
            channel.write(CLIENT_HELLO + EOM)
            hello = await asyncio.wait_for(asyncio.shield(session.hello), within_s)
            client = cls(conn, channel, session)
            client._server_hello(hello)
        except BaseException:
            conn.abort()
            raise
        return client

    def _server_hello(self, message: bytes) -> None:
        try:
            root = etree.fromstring(message, _PARSER)
        except etree.XMLSyntaxError:
            raise NetconfError("malformed server hello") from None
        if local_name(root.tag) != "hello":
            raise NetconfError(f"expected <hello>, got <{local_name(root.tag)}>")
        caps = []
        for element in root.iter():
            name = local_name(element.tag)
            if name == "capability":
                caps.append((element.text or "").strip())
            elif name == "session-id":
                self.session_id = (element.text or "").strip()
        if BASE_10 not in caps:
            raise NetconfError("server does not offer base:1.0")
        self.capabilities = tuple(caps)

    def is_alive(self) -> bool:
        """No I/O: the session has not seen its channel or connection close."""
        return not self._session.closed and not self._channel.is_closing()

    async def rpc(self, operation: bytes, within_s: float) -> etree._Element:
        """Send ``<rpc>operation</rpc>`` and return the parsed ``<rpc-reply>``. A timeout or a
        framing/XML error closes the session (the stream is no longer in step)."""
        async with self._lock:
            if not self.is_alive():
                raise NetconfClosedError("session is closed")
            message_id = str(next(self._ids))
            waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._session.waiting.append(waiter)
            self._channel.write(
                b'<?xml version="1.0" encoding="UTF-8"?><nc:rpc xmlns:nc="'
                + NC_NS.encode()
                + b'" message-id="'
                + message_id.encode()
                + b'">'
                + operation
                + b"</nc:rpc>"
                + EOM
            )
            try:
                raw = await asyncio.wait_for(waiter, within_s)
            except TimeoutError:
                self.abort()
                raise NetconfTimeoutError(f"no reply within {within_s:.3g}s") from None
            try:
                reply = etree.fromstring(raw, _PARSER)
            except etree.XMLSyntaxError:
                self.abort()
                raise NetconfError("malformed reply") from None
            if local_name(reply.tag) != "rpc-reply":
                self.abort()
                raise NetconfError(f"expected <rpc-reply>, got <{local_name(reply.tag)}>")
            return reply

    def abort(self) -> None:
        """Drop the SSH connection at once (no close-session)."""
        self._session.closed = True
        self.conn.abort()

    async def close(self, within_s: float) -> None:
        """``close-session`` (its reply awaited up to ``within_s``), then the connection."""
        if self.is_alive():
            with contextlib.suppress(NetconfError, OSError, asyncssh.Error):
                await self.rpc(f'<close-session xmlns="{NC_NS}"/>'.encode(), max(within_s, 0.05))
        self._session.closed = True
        self.conn.close()
        try:
            await asyncio.wait_for(self.conn.wait_closed(), max(within_s, 0.05))
        except (TimeoutError, OSError, asyncssh.Error):
            self.conn.abort()
