"""The SSH side: one asyncssh listener per simulated device, all on one event loop.

Accepts password and public-key logins (no keyboard-interactive), the ``netconf`` subsystem
and the ``xml-mode netconf need-trailer`` exec that ncclient falls back to; no shell, no pty,
no forwarding. Listening can be switched off and on (the "refuse connections" fault).
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh.kex import get_default_kex_algs

from qkd_macsec.obs.logging import get_logger
from qkd_macsec.posture import is_pq_key_exchange
from qkd_macsec.sim.netconf.session import NetconfSession

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SimDevice
    from qkd_macsec.sim.fabric import Fabric

log = get_logger("sim.ssh")

NETCONF_EXEC = "xml-mode netconf need-trailer"
LOGIN_TIMEOUT_S = 30.0


class _ChannelSession(asyncssh.SSHServerSession[bytes]):
    """Bridges one SSH channel to one :class:`NetconfSession`."""

    def __init__(self, endpoint: DeviceEndpoint, user: str, peer: str) -> None:
        self._endpoint = endpoint
        self._user = user
        self._peer = peer
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._netconf: NetconfSession | None = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def shell_requested(self) -> bool:
        return False

    def pty_requested(self, term_type: str, term_size: object, term_modes: object) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == "netconf"

    def exec_requested(self, command: str) -> bool:
        return command.strip() == NETCONF_EXEC

    def session_started(self) -> None:
        chan = self._chan
        assert chan is not None
        self._netconf = NetconfSession(
            self._endpoint.device,
            self._endpoint.fabric,
            user=self._user,
            peer=self._peer,
            send=chan.write,
            close=chan.close,
            abort=lambda: chan.get_extra_info("connection").abort(),
        )
        self._netconf.start()

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._netconf is not None:
            self._netconf.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._netconf is not None:
            self._netconf.connection_lost()


class _SshServer(asyncssh.SSHServer):
    """Per-connection authentication against the device's accounts."""

    def __init__(self, endpoint: DeviceEndpoint) -> None:
        self._endpoint = endpoint
        self._conn: asyncssh.SSHServerConnection | None = None
        self._user = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._endpoint.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._endpoint.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        self._user = username
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok = self._endpoint.device.check_password(username, password)
        if not ok:
            log.info("%s: password login refused for %s", self._endpoint.device.name, username)
        return ok

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        offered = key.export_public_key("openssh").split()[:2]
        for line in self._endpoint.device.authorized_keys(username):
            try:
                known = asyncssh.import_public_key(line).export_public_key("openssh").split()[:2]
            except (asyncssh.KeyImportError, ValueError):
                continue
            if known == offered:
                return True
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def session_requested(self) -> _ChannelSession | bool:
        conn = self._conn
        peer = conn.get_extra_info("peername") if conn is not None else None
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "unknown"
        return _ChannelSession(self._endpoint, self._user, peer_text)


class DeviceEndpoint:
    """A device's SSH listener: start, stop, and follow the refuse-connections fault."""

    def __init__(
        self,
        device: SimDevice,
        fabric: Fabric | None,
        host_key: asyncssh.SSHKey,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.device = device
        self.fabric = fabric
        self.host_key = host_key
        self.host = host
        self.port = port
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._reserved: socket.socket | None = None  # holds the port while not listening
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_lock = asyncio.Lock()
        self._pending: set[asyncio.Future[None]] = set()
        device.add_fault_listener(self._faults_changed)

    @property
    def listening(self) -> bool:
        return self._acceptor is not None

    async def start(self) -> None:
        """Listen (on the requested port; port 0 picks one, kept across restarts).

        A device that starts refusing connections still binds once, so its port is known.
        """
        self._loop = asyncio.get_running_loop()
        if self._acceptor is None:
            await self._listen()
        await self.sync_listening()

    async def _listen(self) -> None:
        reserved, self._reserved = self._reserved, None
        where: dict[str, Any] = (
            {"sock": reserved}  # the same port: nobody could take it while we were down
            if reserved is not None
            else {"host": self.host, "port": self.port, "reuse_address": True}
        )
        self._acceptor = await asyncssh.listen(
            **where,
            server_factory=lambda: _SshServer(self),
            server_host_keys=[self.host_key],
            encoding=None,
            allow_pty=False,
            x11_forwarding=False,
            agent_forwarding=False,
            allow_scp=False,
            login_timeout=LOGIN_TIMEOUT_S,
            **kex_options(self.device.profile.pq_kex),
        )
        self.port = self._acceptor.get_port()

    async def stop_listening(self, *, keep_port: bool = False) -> None:
        """Close the listener; ``keep_port`` keeps the port bound (connections are refused) so
        that listening again cannot find it taken by another program."""
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
            await acceptor.wait_closed()
        if keep_port and self._reserved is None:
            self._reserved = _reserve_port(self.host, self.port)

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        await self.stop_listening()
        reserved, self._reserved = self._reserved, None
        if reserved is not None:
            reserved.close()
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()

    async def set_host_key(self, key: asyncssh.SSHKey) -> None:
        """Use a new host key for connections accepted from now on (restarts the listener)."""
        self.host_key = key
        async with self._sync_lock:
            await self.stop_listening(keep_port=True)
            if not self.device.faults.refuse_connections:
                await self._listen()

    def _faults_changed(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._schedule_sync)

    def _schedule_sync(self) -> None:
        task = asyncio.ensure_future(self.sync_listening())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def sync_listening(self) -> None:
        """Make the listener follow the refuse-connections fault."""
        async with self._sync_lock:
            refuse = self.device.faults.refuse_connections
            if refuse and self._acceptor is not None:
                await self.stop_listening(keep_port=True)
                log.info("%s: listener stopped (fault)", self.device.name)
            elif not refuse and self._acceptor is None and self._loop is not None:
                await self._listen()
                log.info("%s: listening again on %d", self.device.name, self.port)


def kex_options(pq_kex: bool) -> dict[str, Any]:
    """asyncssh's default key exchanges, less the post-quantum ones for a classical router."""
    if pq_kex:
        return {}
    classical = [
        alg.decode("ascii")
        for alg in get_default_kex_algs()
        if not is_pq_key_exchange(alg.decode("ascii"))
    ]
    return {"kex_algs": classical}


def _reserve_port(host: str, port: int) -> socket.socket | None:
    """A bound, non-listening socket: connecting gets "refused", as from a router that is down,
    and the port is not handed to anyone else (None if it is already taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.warning("cannot keep port %d while not listening: %s", port, exc.strerror)
        return None
    return sock
