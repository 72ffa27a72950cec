"""An IOS XR router inside a shared lab (:mod:`qkd_macsec.sim.lab`): its NETCONF/SSH listener
on the lab's loop, a persistent host key from the lab's state dir, the lab's fabric, and the
faults a lab drives on it — refused commits, commit latency, unreachable (listener stopped, port
kept so the router comes back where clients expect it), clock offset.

The lab's ``pq_kex`` applies as on Junos (false: the router offers classical key exchanges
only). Registered for platform ``iosxr`` in :data:`qkd_macsec.sim.lab_servers.BUILT_IN`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncssh

from qkd_macsec.obs.logging import get_logger
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.sim.iosxr.server import _SshServer
from qkd_macsec.sim.lab import DeviceSpec, LabError
from qkd_macsec.sim.lab_servers import LabContext
from qkd_macsec.sim.netconf.hostkeys import load_or_create_host_key
from qkd_macsec.sim.netconf.ssh import _reserve_port, kex_options

__all__ = ["IosxrLabServer", "serve_iosxr"]

log = get_logger("sim.iosxr")
LOGIN_TIMEOUT_S = 30.0


class IosxrLabServer:
    """One IOS XR router of a lab (a :class:`~qkd_macsec.sim.lab_servers.LabServer`)."""

    platform = "iosxr"

    def __init__(
        self,
        device: IosxrSimDevice,
        context: LabContext,
        host_key: asyncssh.SSHKey,
        port: int,
        spec_offset: float = 0.0,
    ) -> None:
        self._device = device
        self._context = context
        self._host_key = host_key
        self._port = port
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._reserved: socket.socket | None = None  # bound, not listening: while unreachable
        self._offset = spec_offset
        self._connections: set[asyncssh.SSHServerConnection] = set()

    # ------------------------------------------------------------------- LabServer facts
    @property
    def name(self) -> str:
        return self._device.name

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_key(self) -> asyncssh.SSHKey:
        return self._host_key

    @property
    def device(self) -> IosxrSimDevice:
        return self._device

    def commit_times(self) -> list[float]:
        return list(self._device.counters.commit_times)

    def lock_held(self) -> bool:
        return self._device.lock_owner is not None

    @property
    def clock_offset_s(self) -> float:
        return self._offset

    def set_clock_offset(self, offset_s: float) -> None:
        self._offset = offset_s
        self._context.fabric.set_clock_offset(self.name, offset_s)

    def fail_commits(self, count: int) -> None:
        self._device.failing_commits = count

    def commits_to_fail(self) -> int:
        return self._device.failing_commits

    def set_commit_latency(self, seconds: float) -> None:
        self._device.commit_latency_s = seconds

    # ------------------------------------------------------------------------ listening
    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        reserved, self._reserved = self._reserved, None
        where: dict[str, object] = (
            {"sock": reserved}
            if reserved is not None
            else {"host": self._context.host, "port": self._port, "reuse_address": True}
        )
        self._acceptor = await asyncssh.listen(
            **where,
            server_factory=lambda: _SshServer(self._device, self._connections),
            server_host_keys=[self._host_key],
            encoding=None,
            allow_pty=False,
            x11_forwarding=False,
            agent_forwarding=False,
            allow_scp=False,
            login_timeout=LOGIN_TIMEOUT_S,
            **kex_options(self._device.pq_kex),  # false: classical key exchanges only
        )
        self._port = self._acceptor.get_port()

    async def set_reachable(self, reachable: bool) -> None:
        if reachable and self._acceptor is None:
            await self._listen()
            log.info("%s: listening again on %d", self.name, self._port)
        elif not reachable and self._acceptor is not None:
            acceptor, self._acceptor = self._acceptor, None
            acceptor.close()
            await acceptor.wait_closed()
            for conn in list(self._connections):  # a router that went down drops its sessions
                conn.abort()
            self._reserved = _reserve_port(self._context.host, self._port)
            log.info("%s: listener stopped (fault)", self.name)

    async def close(self) -> None:
        await self.set_reachable(False)
        reserved, self._reserved = self._reserved, None
        if reserved is not None:
            reserved.close()
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()


def _refuse_junos_only(spec: DeviceSpec) -> None:
    """Lab fields the IOS XR simulator has no use for: refused, not silently ignored."""
    unsupported = []
    if spec.config.strip():
        unsupported.append("config (Junos set lines)")
    if spec.files_dir is not None:
        unsupported.append("files_dir")
    if spec.authorized_keys:
        unsupported.append("authorized_keys (password login only)")
    faults = spec.faults.model_dump(exclude_defaults=True)
    faults.pop("failing_commits", None)
    faults.pop("refuse_connections", None)
    unsupported += [f"faults.{name}" for name in sorted(faults)]
    if unsupported:
        raise LabError(f"device {spec.name} (iosxr): not supported: {', '.join(unsupported)}")


@asynccontextmanager
async def serve_iosxr(spec: DeviceSpec, context: LabContext) -> AsyncIterator[IosxrLabServer]:
    """Build, join to the fabric and serve one IOS XR router of a lab; stop it on exit."""
    _refuse_junos_only(spec)
    password = spec.resolved_password()
    if password is None:
        raise LabError(f"device {spec.name} (iosxr): give password or password_env")
    context.fabric.add_device(spec.name, spec.clock_offset_s)
    device = IosxrSimDevice(
        spec.name,
        user=spec.user,
        password=password.reveal_text(),
        fabric=context.fabric,
        time_zone=spec.time_zone or "UTC",
        pq_kex=spec.pq_kex,
    )
    device.commit_latency_s = spec.commit_latency_s
    device.failing_commits = spec.faults.failing_commits
    key = load_or_create_host_key(context.host_key_path(spec.name))
    server = IosxrLabServer(device, context, key, spec.port, spec.clock_offset_s)
    await server.start()
    try:
        if spec.faults.refuse_connections:
            await server.set_reachable(False)
        yield server
    finally:
        await server.close()
