"""One NETCONF session, independent of SSH: hello exchange, framing, ordered RPC handling, faults.

The SSH layer feeds bytes in and supplies three callbacks: ``send`` (bytes to the client),
``close`` (end the channel gracefully) and ``abort`` (drop the whole SSH connection, the
"session drop" fault). Replies go out in request order, as RFC 6241 requires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qkd_macsec.obs.logging import get_logger
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, handler_for
from qkd_macsec.sim.netconf.errors import RpcErrorInfo, RpcFailure, unknown_rpc
from qkd_macsec.sim.netconf.framing import FrameDecoder, FramingError, frame
from qkd_macsec.sim.netconf.xml import BASE_10, BASE_11, XmlInputError, hello, parse, rpc_reply

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SessionInfo, SimDevice
    from qkd_macsec.sim.fabric import Fabric

log = get_logger("sim.netconf")

JUNOS_CAPABILITIES = (
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
    "urn:ietf:params:netconf:capability:validate:1.0",
    "urn:ietf:params:xml:ns:netconf:base:1.0",
    "urn:ietf:params:xml:ns:netconf:capability:candidate:1.0",
    "http://xml.juniper.net/netconf/junos/1.0",
    "http://xml.juniper.net/dmi/system/1.0",
)


def server_capabilities(base11: bool) -> list[str]:
    return [BASE_10, *([BASE_11] if base11 else []), *JUNOS_CAPABILITIES]


class NetconfSession:
    """Protocol state for one client (see module docstring)."""

    def __init__(
        self,
        device: SimDevice,
        fabric: Fabric | None,
        *,
        user: str,
        peer: str,
        send: Callable[[bytes], None],
        close: Callable[[], None],
        abort: Callable[[], None],
    ) -> None:
        self.device = device
        self._fabric = fabric
        self._send = send
        self._close = close
        self._abort = abort
        self._decoder = FrameDecoder()
        self._hello_received = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.info: SessionInfo = device.open_session(user, peer, self._killed)

    @property
    def chunked(self) -> bool:
        return self._decoder.chunked

    def start(self) -> None:
        """Send our hello (framed ``]]>]]>``) and start answering."""
        caps = server_capabilities(self.device.base11)
        self._send(frame(hello(caps, self.info.session_id), chunked=False))
        self._worker = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            self._decoder.feed(data)
            while (message := self._decoder.next_message()) is not None:
                if not self._hello_received:
                    self._client_hello(message)
                else:
                    self._queue.put_nowait(message)
        except (FramingError, XmlInputError) as exc:
            log.info("%s: session %d: %s", self.device.name, self.info.session_id, exc)
            self._shutdown(abort=True)

    def _client_hello(self, message: bytes) -> None:
        root = parse(message)
        if root.tag != "hello":
            raise XmlInputError(f"expected <hello>, got <{root.tag}>")
        caps = {(c.text or "").strip() for c in root.iterfind("capabilities/capability")}
        if BASE_10 not in caps and BASE_11 not in caps:
            raise XmlInputError("client hello without a base capability")
        self._hello_received = True
        if self.device.base11 and BASE_11 in caps:
            self._decoder.use_chunked()

    async def _serve(self) -> None:
        while True:
            message = await self._queue.get()
            reply = await self.handle(message)
            if self._closed:
                return
            if reply is not None:
                payload, close_after = reply
                self._send(frame(payload, chunked=self.chunked))
                if close_after:
                    self._shutdown(abort=False)
                    return

    async def handle(self, message: bytes) -> tuple[bytes, bool] | None:
        """Answer one request: (reply bytes, close afterwards), or None to stay silent."""
        try:
            root = parse(message)
        except XmlInputError as exc:
            return self._errors({}, [RpcErrorInfo(str(exc), tag="malformed-message", type="rpc")])
        attributes = {k: v for k, v in root.attrib.items() if isinstance(k, str)}
        if root.tag != "rpc":
            error = RpcErrorInfo(f"unexpected <{root.tag}>", tag="unknown-element", type="rpc")
            return self._errors(attributes, [error])
        operations = [child for child in root if isinstance(child.tag, str)]
        if len(operations) != 1:
            error = RpcErrorInfo("an <rpc> holds exactly one operation", tag="missing-element")
            return self._errors(attributes, [error])
        op = operations[0]
        name = str(op.tag)
        log.debug("%s: session %d: rpc %s", self.device.name, self.info.session_id, name)
        if self.device.take_drop_fault(name):
            log.info("%s: dropping session %d (fault)", self.device.name, self.info.session_id)
            self._shutdown(abort=True)
            return None
        if self.device.hangs(name):
            return None
        if name in self.device.faults.unsupported_rpcs:  # e.g. a platform without MACsec
            return self._errors(attributes, unknown_rpc(name).errors)
        context = RpcContext(self.device, self.info, self._fabric)
        try:
            reply: Reply = await handler_for(name)(context, op)
        except RpcFailure as failure:
            if failure.wrapper:
                return self._reply(attributes, Reply([failure.body()])), False
            return self._errors(attributes, failure.errors)
        except Exception:  # a simulator bug must not kill the session or leak request data
            log.exception("%s: rpc %s failed inside the simulator", self.device.name, name)
            error = RpcErrorInfo(f"internal simulator error handling {name}")
            return self._errors(attributes, [error])
        return self._reply(attributes, reply), reply.close_session

    def _reply(self, attributes: dict[str, str], reply: Reply) -> bytes:
        return rpc_reply(
            reply.body, attributes, junos_version=self.device.version, ok=reply.ok, text=reply.text
        )

    def _errors(
        self, attributes: dict[str, str], errors: Sequence[RpcErrorInfo]
    ) -> tuple[bytes, bool]:
        body = [error.to_element() for error in errors]
        return rpc_reply(body, attributes, junos_version=self.device.version), False

    def _killed(self) -> None:
        """Another session ran kill-session on us."""
        self._shutdown(abort=True)

    def _shutdown(self, *, abort: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self.device.close_session(self.info)
        if abort:
            self._abort()
        else:
            self._close()

    def connection_lost(self) -> None:
        """The channel is gone (client closed, network, or our own abort)."""
        self._closed = True
        self.device.close_session(self.info)
        if self._worker is not None and not self._worker.done():
            current = asyncio.current_task()
            if self._worker is not current:
                self._worker.cancel()
