"""Labs: several simulated routers and their links, described in YAML, served on one loop.

```yaml
preceding_hold_s: 30        # how long MKA keeps the preceding CAK after a key change
minute_s: 60                # length of a "minute" for commit confirmed (tests use e.g. 0.2)
devices:
  - name: mx304-11
    platform: junos         # which simulator serves it (default junos; iosxr: IOS XR)
    port: 0                 # 0 = ephemeral; the real port is reported by the running lab
    user: lab
    password_env: LAB_PASSWORD   # or password: ..., or authorized_keys: ["ssh-ed25519 AAAA..."]
    clock_offset_s: 0
    time_zone: Europe/Berlin     # optional: `set system time-zone` (IANA name, UTC, GMT)
    commit_latency_s: 0
    base11: false           # advertise base:1.1 (chunked framing)
    pq_kex: true            # offer the PQ hybrid SSH key exchanges (false: classical only)
    files_dir: /tmp/r1      # optional: serve this directory as the router's "/" (SFTP/SCP)
    faults: {failing_commits: 0, hang_rpcs: [], reject_auth: false}   # see sim.device.Faults
    config: |
      set system host-name mx304-11
links:
  - {a: "mx304-11:et-0/0/9", b: "mx304-12:et-0/0/9"}
```

``async with lab.serve() as running`` starts every listener; ``run_lab_in_thread(lab)`` does the
same on a background thread for synchronous code (PyEZ). Host keys persist in the state dir
(0600) and a ``known_hosts`` file lists ``[127.0.0.1]:PORT ssh-ed25519 …`` for every SSH device.

Each device is served by its platform's simulator (:mod:`qkd_macsec.sim.lab_servers`), all on
one loop and one fabric, so a link may join a Junos and an IOS XR interface. ``running.server(
name)`` is the platform-neutral face of a device (port, commits, lock, faults);
``running.device(name)`` the simulated Junos router itself (Junos devices only).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qkd_macsec.obs.logging import SECRETS, get_logger, notice
from qkd_macsec.secret import Secret
from qkd_macsec.sim.config import ConfigError, Configuration
from qkd_macsec.sim.config.zone import resolve_zone
from qkd_macsec.sim.device import DeviceProfile, SimDevice, UserAccount
from qkd_macsec.sim.fabric import Fabric, LinkEnd
from qkd_macsec.sim.files import attach_file_store
from qkd_macsec.sim.lab_servers import LabContext, LabServer, lab_platforms, lab_server_factory
from qkd_macsec.sim.netconf.file_transfer import FileTransferEndpoint
from qkd_macsec.sim.netconf.hostkeys import (
    load_or_create_host_key,
    replace_host_key,
    write_known_hosts,
)
from qkd_macsec.sim.netconf.ssh import DeviceEndpoint

log = get_logger("sim.lab")
T = TypeVar("T")
D = TypeVar("D")
STARTUP_TIMEOUT_S = 60.0


class LabError(ValueError):
    """A lab file that cannot be used (names what is wrong)."""


class FaultsSpec(BaseModel):
    """Faults a device starts with (same fields as :class:`~qkd_macsec.sim.device.Faults`)."""

    model_config = ConfigDict(extra="forbid")

    failing_commits: int = Field(default=0, ge=0)
    commit_error_message: str = "simulated commit failure (injected)"
    foreign_lock_user: str | None = None
    drop_session_on: str | None = None
    hang_rpcs: set[str] = Field(default_factory=set)
    refuse_connections: bool = False
    reject_auth: bool = False
    commit_denied: bool = False
    ntp_unsynchronised: bool = False
    absent_interfaces: set[str] = Field(default_factory=set)
    unsupported_rpcs: set[str] = Field(default_factory=set)


class DeviceSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    #: Which simulator serves the device (a name of :func:`~qkd_macsec.sim.lab_servers.
    #: lab_platforms`); fields a platform's simulator cannot honour are refused at start.
    platform: str = "junos"
    port: int = Field(default=0, ge=0, le=65535)
    user: str = Field(default="lab", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
    password: Secret | None = None
    password_env: str | None = None
    authorized_keys: list[str] = Field(default_factory=list)
    clock_offset_s: float = 0.0
    #: ``system time-zone`` in the initial configuration (Junos reads start-times in it).
    time_zone: str | None = None
    commit_latency_s: float = Field(default=0.0, ge=0)
    base11: bool = False
    #: Offer the post-quantum hybrid SSH key exchanges; False: a router offering only classical.
    pq_kex: bool = True
    files_dir: Path | None = None  # the router's file system, served over SFTP/SCP
    model: str = "MX304"
    version: str = "23.4R2-S3.9"
    config: str = ""
    faults: FaultsSpec = Field(default_factory=FaultsSpec)

    @field_validator("password", mode="before")
    @classmethod
    def _wrap_password(cls, value: object) -> object:
        if isinstance(value, str):
            SECRETS.add(value)
            return Secret.from_text(value)
        return value

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in lab_platforms():
            raise ValueError(f"no simulator for platform {value!r} (known: {lab_platforms()})")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and resolve_zone(value) is None:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            )
        return value

    @model_validator(mode="after")
    def _has_credentials(self) -> DeviceSpec:
        if self.password is None and self.password_env is None and not self.authorized_keys:
            raise ValueError(f"device {self.name}: give password, password_env or authorized_keys")
        return self

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    def resolved_password(self) -> Secret | None:
        if self.password is not None:
            return self.password
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise LabError(f"device {self.name}: environment variable {self.password_env} unset")
        SECRETS.add(value)
        return Secret.from_text(value)


class LinkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str = Field(pattern=r"^[^:\s]+:\S+$")
    b: str = Field(pattern=r"^[^:\s]+:\S+$")
    name: str | None = None

    def ends(self) -> tuple[LinkEnd, LinkEnd]:
        (da, ia), (db, ib) = (self.a.split(":", 1), self.b.split(":", 1))
        return LinkEnd(da, ia), LinkEnd(db, ib)


class LabSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preceding_hold_s: float = Field(default=30.0, ge=0)
    minute_s: float = Field(default=60.0, gt=0)
    devices: list[DeviceSpec]
    links: list[LinkSpec] = Field(default_factory=list)
    #: Devices on the lab's fabric that the lab does not serve (a test's own simulator joins
    #: the fabric for them, e.g. a platform with no lab simulator): link ends may name them.
    external_devices: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> LabSpec:
        names = [d.name for d in self.devices] + list(self.external_devices)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate device names: {', '.join(duplicates)}")
        for link in self.links:
            for end in link.ends():
                if end.device not in names:
                    raise ValueError(f"link end {end.device}:{end.interface}: no such device")
        return self


class Lab:
    """A lab description plus where its state (host keys, known_hosts) lives."""

    def __init__(self, spec: LabSpec, *, state_dir: Path | None = None) -> None:
        self.spec = spec
        self.state_dir = state_dir

    @classmethod
    def from_dict(cls, data: object, *, state_dir: Path | None = None) -> Lab:
        try:
            return cls(LabSpec.model_validate(data), state_dir=state_dir)
        except ValidationError as exc:
            raise LabError(_describe(exc)) from None

    @classmethod
    def from_file(cls, path: Path, *, state_dir: Path | None = None) -> Lab:
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise LabError(f"{path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise LabError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_dict(data, state_dir=state_dir)

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1") -> AsyncIterator[RunningLab]:
        """Build devices and fabric, start every listener; stop everything on exit."""
        own_dir = self.state_dir is None
        state_dir = Path(tempfile.mkdtemp(prefix="qkd-sim-")) if own_dir else self.state_dir
        assert state_dir is not None
        running = RunningLab(self.spec, state_dir, host)
        try:
            await running.start()
            yield running
        finally:
            await running.stop()
            if own_dir:
                shutil.rmtree(state_dir, ignore_errors=True)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "lab"
        parts.append(f"{where}: {error['msg']}")
    return "invalid lab: " + "; ".join(parts)


def build_device(spec: DeviceSpec, fabric: Fabric, minute_s: float) -> SimDevice:
    config = Configuration.empty()
    if spec.time_zone is not None:
        config.load_set(f"set system time-zone {spec.time_zone}")
    if spec.config.strip():
        try:
            config.load_set(spec.config)
        except ConfigError as exc:
            raise LabError(f"device {spec.name}: initial config: {exc}") from None
    account = UserAccount(spec.user, spec.resolved_password(), list(spec.authorized_keys))
    fabric.add_device(spec.name, spec.clock_offset_s)
    device = SimDevice(
        spec.name,
        config=config,
        users=[account],
        fabric=fabric,
        profile=DeviceProfile(spec.model, spec.version, spec.base11, minute_s, spec.pq_kex),
        clock_offset_s=spec.clock_offset_s,
    )
    device.set_faults(commit_latency_s=spec.commit_latency_s, **spec.faults.model_dump())
    return device


class JunosLabServer:
    """A simulated Junos router of a lab (a :class:`~qkd_macsec.sim.lab_servers.LabServer`)."""

    platform = "junos"

    def __init__(self, device: SimDevice, endpoint: DeviceEndpoint) -> None:
        self._device = device
        self.endpoint = endpoint

    @property
    def name(self) -> str:
        return self._device.name

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def host_key(self) -> asyncssh.SSHKey:
        return self.endpoint.host_key

    @property
    def device(self) -> SimDevice:
        return self._device

    def commit_times(self) -> list[float]:
        return [record.at for record in reversed(self._device.history)]

    def lock_held(self) -> bool:
        return self._device.lock_holder is not None

    @property
    def clock_offset_s(self) -> float:
        return self._device.clock_offset_s

    def set_clock_offset(self, offset_s: float) -> None:
        self._device.set_clock_offset(offset_s)

    def fail_commits(self, count: int) -> None:
        self._device.set_faults(failing_commits=count)

    def commits_to_fail(self) -> int:
        return self._device.faults.failing_commits

    def set_commit_latency(self, seconds: float) -> None:
        self._device.set_faults(commit_latency_s=seconds)

    async def set_reachable(self, reachable: bool) -> None:
        self._device.set_faults(refuse_connections=not reachable)
        await self.endpoint.sync_listening()
        if not reachable:  # the sessions already open end too (see RunningLab)
            self._device.drop_sessions()


@asynccontextmanager
async def serve_junos(spec: DeviceSpec, context: LabContext) -> AsyncIterator[JunosLabServer]:
    """Build, join to the fabric and serve one simulated Junos router; stop it on exit."""
    device = build_device(spec, context.fabric, context.minute_s)
    key = load_or_create_host_key(context.host_key_path(spec.name))
    endpoint: DeviceEndpoint
    if spec.files_dir is not None:
        endpoint = FileTransferEndpoint(
            device,
            context.fabric,
            key,
            host=context.host,
            port=spec.port,
            files=attach_file_store(device, spec.files_dir),
        )
    else:
        endpoint = DeviceEndpoint(device, context.fabric, key, host=context.host, port=spec.port)
    try:
        await endpoint.start()
        yield JunosLabServer(device, endpoint)
    finally:
        await endpoint.close()
        device.shutdown()


class RunningLab:
    """A lab whose devices are listening (see :meth:`Lab.serve`)."""

    def __init__(self, spec: LabSpec, state_dir: Path, host: str) -> None:
        self.spec = spec
        self.state_dir = state_dir
        self.host = host
        self.fabric = Fabric(preceding_hold_s=spec.preceding_hold_s)
        self.context = LabContext(self.fabric, host, state_dir, spec.minute_s)
        self.servers: dict[str, LabServer] = {}
        #: The simulated Junos routers and their SSH listeners (Junos devices only).
        self.devices: dict[str, SimDevice] = {}
        self.endpoints: dict[str, DeviceEndpoint] = {}
        self.known_hosts_path = state_dir / "known_hosts"
        self._stack = AsyncExitStack()

    def _host_key_path(self, name: str) -> Path:
        return self.context.host_key_path(name)

    @property
    def ca_path(self) -> Path:
        """The lab CA (what HTTPS platforms' certificates are signed by)."""
        return self.context.ca_path

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.spec.devices:
            factory = lab_server_factory(spec.platform)
            server = await self._stack.enter_async_context(factory(spec, self.context))
            self.servers[spec.name] = server
            if isinstance(server, JunosLabServer):
                self.devices[spec.name] = server.device
                self.endpoints[spec.name] = server.endpoint
        for name in self.spec.external_devices:
            self.fabric.add_device(name)
        for link in self.spec.links:
            a, b = link.ends()
            self.fabric.add_link(a, b, link.name)
        self.write_known_hosts()
        platforms = sorted({s.platform for s in self.spec.devices})
        notice(
            log,
            "lab up: %d devices (%s), %d links",
            len(self.servers),
            ", ".join(platforms),
            len(self.spec.links),
        )

    async def stop(self) -> None:
        try:
            await self._stack.aclose()
        except Exception as exc:  # stopping must not hide what the lab was doing
            log.warning("lab stop: %s", type(exc).__name__)

    def write_known_hosts(self) -> None:
        entries = [
            (self.host, s.port, s.host_key) for s in self.servers.values() if s.host_key is not None
        ]
        write_known_hosts(self.known_hosts_path, entries)

    def port(self, name: str) -> int:
        return self.server(name).port

    def server(self, name: str) -> LabServer:
        """The platform-neutral face of device ``name``."""
        try:
            return self.servers[name]
        except KeyError:
            raise LabError(f"no device named {name!r}") from None

    def platform(self, name: str) -> str:
        return self.server(name).platform

    def device(self, name: str) -> SimDevice:
        """The simulated Junos router ``name`` (LabError for a device of another platform)."""
        return self.device_of(name, SimDevice)

    def device_of(self, name: str, kind: type[D]) -> D:
        """Device ``name`` as its platform's simulated device class ``kind`` (or LabError)."""
        device = self.server(name).device
        if not isinstance(device, kind):
            raise LabError(
                f"device {name!r} is a {self.platform(name)} device, not a {kind.__name__}"
            )
        return device

    def _endpoint(self, name: str) -> DeviceEndpoint:
        self.server(name)
        try:
            return self.endpoints[name]
        except KeyError:
            raise LabError(f"device {name!r} is not a Junos device") from None

    async def refuse_connections(self, name: str, refuse: bool = True) -> None:
        """Stop (or resume) listening for one device, any platform; returns once the listener
        follows. Refusing also ends the sessions already open, as when the router's NETCONF
        service stops or the network to it goes: a controller that keeps sessions open must not
        keep reaching an unreachable router."""
        await self.server(name).set_reachable(not refuse)

    async def drop_sessions(self, name: str) -> int:
        """Abort every open NETCONF session of one (Junos) device (a network loss)."""
        return self.device(name).drop_sessions()

    async def rotate_host_key(self, name: str) -> None:
        """Give the device a NEW host key (known_hosts is NOT updated: clients must refuse it).
        Sessions already open end, as they do when the box is re-installed or a man in the
        middle cuts in (an established session stays bound to the key it was verified with,
        so a controller keeping sessions meets the new key on its next connection)."""
        key = replace_host_key(self._host_key_path(name))
        await self._endpoint(name).set_host_key(key)
        self.device(name).drop_sessions()


@dataclass
class LabThread:
    """A running lab on its own thread and loop, for synchronous callers (PyEZ tests, CLI)."""

    running: RunningLab
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    _stop: asyncio.Event

    # Accessors mirror RunningLab.
    @property
    def known_hosts_path(self) -> Path:
        return self.running.known_hosts_path

    @property
    def fabric(self) -> Fabric:
        return self.running.fabric

    @property
    def host(self) -> str:
        return self.running.host

    def port(self, name: str) -> int:
        return self.running.port(name)

    @property
    def ca_path(self) -> Path:
        return self.running.ca_path

    def device(self, name: str) -> SimDevice:
        return self.running.device(name)

    def device_of(self, name: str, kind: type[D]) -> D:
        return self.running.device_of(name, kind)

    def server(self, name: str) -> LabServer:
        return self.running.server(name)

    def platform(self, name: str) -> str:
        return self.running.platform(name)

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run a coroutine on the lab's loop and wait for its result."""

        async def runner() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def refuse_connections(self, name: str, refuse: bool = True) -> None:
        self.call(lambda: self.running.refuse_connections(name, refuse))

    def rotate_host_key(self, name: str) -> None:
        self.call(lambda: self.running.rotate_host_key(name))

    def drop_sessions(self, name: str) -> int:
        dropped: int = self.call(lambda: self.running.drop_sessions(name))
        return dropped

    def stop(self, timeout: float = 30.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(timeout)

    def __enter__(self) -> LabThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_lab_in_thread(lab: Lab, host: str = "127.0.0.1") -> LabThread:
    """Start ``lab`` on a daemon thread; returns when every device listens (or raises)."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        try:
            async with lab.serve(host) as running:
                box["running"], box["stop"] = running, stop
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            if not isinstance(exc, Exception):
                raise

    def target() -> None:
        loop = asyncio.new_event_loop()
        box["loop"] = loop
        try:
            loop.run_until_complete(main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=target, name="qkd-sim-lab", daemon=True)
    thread.start()
    if not ready.wait(STARTUP_TIMEOUT_S):
        raise LabError("lab did not start in time")
    if "error" in box:
        thread.join(5)
        error = box["error"]
        raise error if isinstance(error, LabError) else LabError(f"lab failed to start: {error}")
    return LabThread(box["running"], box["loop"], thread, box["stop"])
