"""An NX-OS switch inside a shared lab (:mod:`qkd_macsec.sim.lab`): its NX-API (HTTPS) on the
lab's loop through :func:`qkd_macsec.sim.nxos.server.serve`, a server certificate from the lab's
CA (clients verify against ``running.ca_path``), the lab's fabric, and the faults a lab drives on
it — refused commits, commit latency, unreachable (NX-API stopped, served again on the same
port), clock offset.

Registered for platform ``nxos`` in :data:`qkd_macsec.sim.lab_servers.BUILT_IN`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from qkd_macsec.obs.logging import get_logger
from qkd_macsec.sim.lab import DeviceSpec, LabError
from qkd_macsec.sim.lab_servers import LabContext
from qkd_macsec.sim.nxos.device import NxosSimDevice
from qkd_macsec.sim.nxos.server import NxosTls, serve

__all__ = ["NxosLabServer", "serve_nxos"]

log = get_logger("sim.nxos")


class NxosLabServer:
    """One NX-OS switch of a lab (a :class:`~qkd_macsec.sim.lab_servers.LabServer`)."""

    platform = "nxos"

    def __init__(
        self, device: NxosSimDevice, context: LabContext, tls: NxosTls, port: int, offset: float
    ) -> None:
        self._device = device
        self._context = context
        self._tls = tls
        self._port = port
        self._offset = offset
        self._serving: AsyncExitStack | None = None

    @property
    def name(self) -> str:
        return self._device.name

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_key(self) -> None:
        return None  # HTTPS: its certificate chains to the lab CA

    @property
    def device(self) -> NxosSimDevice:
        return self._device

    def commit_times(self) -> list[float]:
        return list(self._device.counters.commit_times)

    def lock_held(self) -> bool:
        return self._device.session_name is not None

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

    async def set_reachable(self, reachable: bool) -> None:
        if reachable and self._serving is None:
            stack = AsyncExitStack()
            ports = {self.name: self._port} if self._port else None
            endpoints = await stack.enter_async_context(
                serve([self._device], host=self._context.host, tls=self._tls, ports=ports)
            )
            self._port = endpoints.port(self.name)
            self._serving = stack
        elif not reachable and self._serving is not None:
            stack, self._serving = self._serving, None
            await stack.aclose()
            log.info("%s: NX-API stopped (fault)", self.name)


def _refuse_unsupported(spec: DeviceSpec) -> None:
    unsupported = []
    if spec.config.strip():
        unsupported.append("config (Junos set lines)")
    if spec.files_dir is not None:
        unsupported.append("files_dir")
    if spec.authorized_keys:
        unsupported.append("authorized_keys (password login only)")
    if spec.time_zone not in (None, "UTC"):
        unsupported.append("time_zone (NX-OS keeps a fixed-offset 'clock timezone')")
    faults = spec.faults.model_dump(exclude_defaults=True)
    faults.pop("failing_commits", None)
    faults.pop("refuse_connections", None)
    unsupported += [f"faults.{name}" for name in sorted(faults)]
    if unsupported:
        raise LabError(f"device {spec.name} (nxos): not supported: {', '.join(unsupported)}")


@asynccontextmanager
async def serve_nxos(spec: DeviceSpec, context: LabContext) -> AsyncIterator[NxosLabServer]:
    """Build, join to the fabric and serve one NX-OS switch of a lab; stop it on exit."""
    _refuse_unsupported(spec)
    password = spec.resolved_password()
    if password is None:
        raise LabError(f"device {spec.name} (nxos): give password or password_env")
    context.fabric.add_device(spec.name, spec.clock_offset_s)
    device = NxosSimDevice(
        spec.name,
        user=spec.user,
        password=password.reveal_text(),
        fabric=context.fabric,
        pq_kex=spec.pq_kex,  # hybrid TLS offered unless the lab says classical only
    )
    device.commit_latency_s = spec.commit_latency_s
    device.failing_commits = spec.faults.failing_commits
    cert, key = context.server_certificate(spec.name)
    server = NxosLabServer(
        device, context, NxosTls(context.ca_path, cert, key), spec.port, spec.clock_offset_s
    )
    await server.set_reachable(True)
    try:
        if spec.faults.refuse_connections:
            await server.set_reachable(False)
        yield server
    finally:
        await server.set_reachable(False)
