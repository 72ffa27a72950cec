"""Which simulator serves a lab device of each platform: a small registry of server factories.

A lab (:mod:`qkd_macsec.sim.lab`) serves every device with its platform's simulator, all on one
event loop and one MKA link fabric. It asks this registry, never ``if platform == …``: a platform
is one :func:`register_lab_server` call (or one entry of :data:`BUILT_IN`, by import path, so a
simulator and its libraries load only when a lab uses it).

A factory takes the device's :class:`~qkd_macsec.sim.lab.DeviceSpec` and the lab's
:class:`LabContext` and returns an async context manager: entering it builds the device, joins
it to ``context.fabric`` (``fabric.add_device``; its commits feed ``fabric.commit_views`` or
``on_commit``) and starts its listener; leaving it stops everything. What it yields is a
:class:`LabServer`, the face every lab user (tests, the demo, the chaos driver) sees of a device
of any platform. SSH platforms give their host key (the lab writes one ``known_hosts`` for all);
HTTPS platforms take a certificate from the lab's CA (:meth:`LabContext.server_certificate`).
"""

from __future__ import annotations

import importlib
import ipaddress
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import asyncssh

from qkd_macsec.pki.ca import (
    CertificateAuthority,
    create_ca,
    issue_server_cert,
    load_ca,
    save_ca,
    save_issued,
)
from qkd_macsec.sim.fabric import Fabric

if TYPE_CHECKING:
    from qkd_macsec.sim.lab import DeviceSpec

__all__ = [
    "BUILT_IN",
    "LabContext",
    "LabServer",
    "ServerFactory",
    "lab_platforms",
    "lab_server_factory",
    "register_lab_server",
    "unregister_lab_server",
]


class LabServer(Protocol):
    """One served lab device, whatever its platform: what tests and the chaos driver use."""

    @property
    def name(self) -> str: ...

    @property
    def platform(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def host_key(self) -> asyncssh.SSHKey | None:
        """The SSH host key (None: the platform's management protocol is not SSH)."""
        ...

    @property
    def device(self) -> object:
        """The platform's simulated device (e.g. ``SimDevice``, ``IosxrSimDevice``)."""
        ...

    def commit_times(self) -> list[float]:
        """Real time (``time.time``) of the commits the device kept, oldest first."""
        ...

    def lock_held(self) -> bool:
        """Does any session hold the device's configuration lock?"""
        ...

    @property
    def clock_offset_s(self) -> float: ...

    def set_clock_offset(self, offset_s: float) -> None: ...

    def fail_commits(self, count: int) -> None:
        """Refuse the next ``count`` commits (0: accept commits again)."""
        ...

    def commits_to_fail(self) -> int:
        """How many of the next commits will still be refused."""
        ...

    def set_commit_latency(self, seconds: float) -> None: ...

    async def set_reachable(self, reachable: bool) -> None:
        """Stop (or resume) listening; returns once the listener follows. The port is kept."""
        ...


ServerFactory = Callable[["DeviceSpec", "LabContext"], AbstractAsyncContextManager[LabServer]]

#: Platforms served without registering first: name -> "module:factory" (imported when used).
BUILT_IN: dict[str, str] = {
    "junos": "qkd_macsec.sim.lab:serve_junos",
    "iosxr": "qkd_macsec.sim.iosxr.lab:serve_iosxr",
    "nxos": "qkd_macsec.sim.nxos.lab:serve_nxos",
}
_FACTORIES: dict[str, ServerFactory] = {}
_GUARD = threading.Lock()


def register_lab_server(platform: str, factory: ServerFactory | str) -> None:
    """Serve lab devices of ``platform`` with ``factory`` (or its ``"module:attr"`` path)."""
    with _GUARD:
        if isinstance(factory, str):
            BUILT_IN[platform] = factory
            _FACTORIES.pop(platform, None)
        else:
            _FACTORIES[platform] = factory


def unregister_lab_server(platform: str) -> None:
    """Forget ``platform`` (a test's own registration, say); unknown names are ignored."""
    with _GUARD:
        _FACTORIES.pop(platform, None)
        BUILT_IN.pop(platform, None)


def lab_platforms() -> list[str]:
    with _GUARD:
        return sorted({*BUILT_IN, *_FACTORIES})


def lab_server_factory(platform: str) -> ServerFactory:
    """The factory for ``platform`` (KeyError naming the known platforms if there is none)."""
    with _GUARD:
        found = _FACTORIES.get(platform)
        path = BUILT_IN.get(platform)
    if found is not None:
        return found
    if path is None:
        raise KeyError(f"no lab simulator for platform {platform!r} (known: {lab_platforms()})")
    module, _, attr = path.partition(":")
    factory: ServerFactory = getattr(importlib.import_module(module), attr)
    with _GUARD:
        _FACTORIES.setdefault(platform, factory)
    return factory


@dataclass
class LabContext:
    """What every device of one lab shares: the fabric, the listening address, where state
    lives (host keys, the lab CA), and the length of a commit-confirmed "minute"."""

    fabric: Fabric
    host: str
    state_dir: Path
    minute_s: float
    _ca: CertificateAuthority | None = field(default=None, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def host_key_path(self, name: str) -> Path:
        return self.state_dir / "hostkeys" / f"{name}_ed25519"

    @property
    def ca_path(self) -> Path:
        """The lab CA's certificate: what clients of HTTPS platforms verify servers against."""
        return self.state_dir / "ca" / "ca.pem"

    def _authority(self) -> CertificateAuthority:
        with self._guard:
            if self._ca is None:
                directory = self.ca_path.parent
                if self.ca_path.exists():
                    self._ca = load_ca(directory)
                else:
                    directory.mkdir(parents=True, exist_ok=True)
                    self._ca = create_ca("qkd-macsec lab CA")
                    save_ca(self._ca, directory)
            return self._ca

    def server_certificate(self, name: str) -> tuple[Path, Path]:
        """A TLS server certificate for device ``name`` (SANs: its name and the lab's address),
        signed by the lab CA; returns (cert, key) paths, the key 0600."""
        names, addresses = [name], []
        try:
            addresses.append(str(ipaddress.ip_address(self.host)))
        except ValueError:
            names.append(self.host)
        issued = issue_server_cert(self._authority(), names, addresses)
        directory = self.state_dir / "tls"
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        save_issued(issued, cert, key)
        return cert, key
