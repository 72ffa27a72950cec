"""NETCONF over SSH for the IOS XR simulator: an asyncssh listener per router, the ``netconf``
subsystem, base:1.0 framing (the simulator core's framing and host-key helpers), and the
standard operations IOS XR answers — get, get-config, edit-config, lock, unlock, commit,
discard-changes, validate, close-session. A ``<confirmed/>`` commit commits at once (no
rollback timer: the tool's engine does not use confirmed commits).

:func:`run_iosxr_in_thread` runs a set of routers on their own event loop in a thread, for tests
and labs that drive them with the real ncclient.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import asyncssh
from lxml import etree

from qkd_macsec.obs.logging import get_logger
from qkd_macsec.sim.iosxr.device import IosxrSimDevice, LockError
from qkd_macsec.sim.iosxr.model import EditError
from qkd_macsec.sim.netconf.errors import RpcErrorInfo
from qkd_macsec.sim.netconf.framing import FrameDecoder, FramingError, frame
from qkd_macsec.sim.netconf.hostkeys import known_hosts_line
from qkd_macsec.sim.netconf.ssh import kex_options
from qkd_macsec.sim.netconf.xml import BASE_10, hello, to_bytes

__all__ = ["IosxrLabThread", "run_iosxr_in_thread"]

log = get_logger("sim.iosxr")

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
CAPABILITIES = (
    BASE_10,
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "http://cisco.com/ns/yang/Cisco-IOS-XR-lib-keychain-macsec-cfg?module=Cisco-IOS-XR-lib-keychain-macsec-cfg",
    "http://cisco.com/ns/yang/Cisco-IOS-XR-um-macsec-cfg?module=Cisco-IOS-XR-um-macsec-cfg",
    "http://cisco.com/ns/yang/Cisco-IOS-XR-crypto-macsec-mka-oper?module=Cisco-IOS-XR-crypto-macsec-mka-oper",
    "http://cisco.com/ns/yang/Cisco-IOS-XR-shellutil-oper?module=Cisco-IOS-XR-shellutil-oper",
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
_session_ids = itertools.count(1)
_COMMIT_RPC = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?commit[\s/>]")


class _Failure(Exception):
    def __init__(self, message: str, tag: str = "operation-failed", session: int | None = None):
        super().__init__(message)
        self.info = RpcErrorInfo(message, tag=tag, type="application", session_id=session)


def _local(node: etree._Element) -> str:
    return str(etree.QName(node).localname)


def _find(node: etree._Element | None, name: str) -> etree._Element | None:
    if node is None:
        return None
    for child in node:
        if isinstance(child.tag, str) and _local(child) == name:
            return child
    return None


def _filter_parts(op: etree._Element) -> tuple[set[str], str | None]:
    """Top-level element names of a subtree filter (all when absent), and a chain-name."""
    selection = _find(op, "filter")
    if selection is None:
        return {"mac-sec-keychains", "macsec-policy", "interface-configurations"}, None
    wanted = {_local(c) for c in selection if isinstance(c.tag, str)}
    chain = None
    for node in selection.iter("{*}chain-name"):
        chain = (node.text or "").strip() or None
    return wanted, chain


class _NetconfChannel(asyncssh.SSHServerSession[bytes]):
    def __init__(self, device: IosxrSimDevice) -> None:
        self._device = device
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._decoder = FrameDecoder()
        self._hello = False
        self._id = next(_session_ids)
        self._queued: list[bytes] = []
        self._waiting: asyncio.Future[None] | None = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == "netconf"

    def shell_requested(self) -> bool:
        return False

    def session_started(self) -> None:
        assert self._chan is not None
        self._chan.write(frame(hello(CAPABILITIES, self._id), chunked=False))

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        try:
            self._decoder.feed(data)
            while (message := self._decoder.next_message()) is not None:
                if not self._hello:
                    self._hello = True  # the client's hello: base:1.0 only, EOM framing
                    continue
                self._queued.append(message)
        except FramingError:
            if self._chan is not None:
                self._chan.abort()
            return
        self._drain()

    def _drain(self) -> None:
        """Answer queued RPCs in order; a commit under the latency fault is answered later
        (the loop, shared with every router of a lab, is not blocked meanwhile)."""
        while self._queued and self._waiting is None and self._chan is not None:
            message = self._queued.pop(0)
            delay = self._device.commit_latency_s
            if delay > 0 and _COMMIT_RPC.search(message):
                self._waiting = asyncio.ensure_future(self._answer_later(message, delay))
                return
            self._answer(message)

    async def _answer_later(self, message: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        self._waiting = None
        if self._chan is not None:
            self._answer(message)
            self._drain()

    def _answer(self, message: bytes) -> None:
        reply, close = self._handle(message)
        assert self._chan is not None
        self._chan.write(frame(reply, chunked=False))
        if close:
            self._chan.close()
            self._chan = None

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._chan = None
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None
        self._device.session_ended(self._id)

    # ------------------------------------------------------------------------------ RPCs
    def _handle(self, message: bytes) -> tuple[bytes, bool]:
        self._device.counters.rpcs += 1
        try:
            root = etree.fromstring(message, _PARSER)
        except etree.XMLSyntaxError:
            return self._reply({}, [_Failure("malformed XML", "malformed-message").info]), False
        attributes = {k: v for k, v in root.attrib.items() if isinstance(k, str)}
        ops = [c for c in root if isinstance(c.tag, str)]
        if _local(root) != "rpc" or len(ops) != 1:
            return self._reply(attributes, [_Failure("bad rpc", "malformed-message").info]), False
        op = ops[0]
        name = _local(op)
        try:
            body, close = self._operation(name, op)
        except _Failure as failure:
            return self._reply(attributes, [failure.info]), False
        except LockError as exc:
            info = RpcErrorInfo(str(exc), tag="lock-denied", type="protocol", session_id=exc.owner)
            return self._reply(attributes, [info]), False
        except EditError as exc:
            info = RpcErrorInfo(str(exc), tag=exc.tag, type="application")
            return self._reply(attributes, [info]), False
        return self._reply(attributes, body), close

    def _operation(self, name: str, op: etree._Element) -> tuple[list[etree._Element], bool]:
        device, session = self._device, self._id
        if name == "get-config":
            source = _find(op, "source")
            which = _local(next(iter(source))) if source is not None and len(source) else "running"
            wanted, chain = _filter_parts(op)
            return [self._data(device.get_config(which, wanted, chain))], False
        if name == "get":
            wanted, _chain = _filter_parts(op)
            parts = []
            if "system-time" in wanted:
                parts.append(device.clock_xml())
            if "macsec" in wanted:
                parts.append(device.mka_xml())
            return [self._data(parts)], False
        if name == "edit-config":
            config = _find(op, "config")
            if config is None:
                raise _Failure("edit-config without <config>", "missing-element")
            device.edit(session, config)
        elif name == "lock":
            device.lock(session)
        elif name == "unlock":
            device.unlock(session)
        elif name == "commit":
            device.commit(session)
        elif name == "discard-changes":
            device.discard(session)
        elif name == "validate":
            pass
        elif name == "close-session":
            return [etree.Element(f"{{{NC_NS}}}ok")], True
        else:
            raise _Failure(f"operation {name} is not supported", "operation-not-supported")
        return [etree.Element(f"{{{NC_NS}}}ok")], False

    @staticmethod
    def _data(parts: Iterable[etree._Element]) -> etree._Element:
        data = etree.Element(f"{{{NC_NS}}}data")
        for part in parts:
            data.append(part)
        return data

    @staticmethod
    def _reply(attributes: dict[str, str], body: Iterable[etree._Element | RpcErrorInfo]) -> bytes:
        attrs = "".join(
            f" {k}={quoteattr(v)}" for k, v in attributes.items() if not k.startswith("xmlns")
        )
        parts = [f'<rpc-reply xmlns="{NC_NS}"{attrs}>'.encode()]
        for item in body:
            node = item.to_element() if isinstance(item, RpcErrorInfo) else item
            parts.append(to_bytes(node))
        parts.append(b"</rpc-reply>")
        return b"".join(parts)


class _SshServer(asyncssh.SSHServer):
    def __init__(self, device: IosxrSimDevice, open_: set[asyncssh.SSHServerConnection]) -> None:
        self._device = device
        self._open = open_
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._open.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self._device.check_password(username, password)

    def session_requested(self) -> _NetconfChannel:
        return _NetconfChannel(self._device)


@dataclass
class IosxrLabThread:
    """Routers served on a private event loop; ``port(name)``, ``known_hosts_lines()``."""

    devices: dict[str, IosxrSimDevice]
    host: str = "127.0.0.1"
    _ports: dict[str, int] = field(default_factory=dict)
    _keys: dict[str, asyncssh.SSHKey] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _acceptors: list[asyncssh.SSHAcceptor] = field(default_factory=list)
    _connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)

    def port(self, name: str) -> int:
        return self._ports[name]

    def known_hosts_lines(self) -> list[str]:
        return [known_hosts_line(self.host, self._ports[n], k) for n, k in self._keys.items()]

    def write_known_hosts(self, path: Path, extra: str = "") -> None:
        path.write_text(extra + "".join(f"{line}\n" for line in self.known_hosts_lines()))

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                for name, device in self.devices.items():
                    key = asyncssh.generate_private_key("ssh-ed25519")
                    acceptor = await asyncssh.listen(
                        self.host,
                        0,
                        server_factory=lambda d=device: _SshServer(d, self._connections),
                        server_host_keys=[key],
                        encoding=None,
                        allow_pty=False,
                        x11_forwarding=False,
                        agent_forwarding=False,
                        allow_scp=False,
                        **kex_options(device.pq_kex),
                    )
                    self._acceptors.append(acceptor)
                    self._keys[name] = key
                    self._ports[name] = acceptor.get_port()
            except BaseException as exc:
                failure.append(exc)
            finally:
                ready.set()

        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(main())
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="iosxr-sim", daemon=True)
        self._thread.start()
        if not ready.wait(30.0):
            raise TimeoutError("IOS XR simulator did not start")
        if failure:
            raise failure[0]

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            for acceptor in self._acceptors:
                acceptor.close()
                await acceptor.wait_closed()
            for conn in list(self._connections):
                conn.close()
                await conn.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(30.0)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(30.0)
        loop.close()
        self._loop = None

    def __enter__(self) -> IosxrLabThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_iosxr_in_thread(devices: Iterable[IosxrSimDevice]) -> IosxrLabThread:
    return IosxrLabThread({d.name: d for d in devices})
