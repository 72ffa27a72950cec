"""The resolved inventory: what the planner, executor and drivers code against.

Everything here is already checked and inherited: a :class:`Host` carries its *effective*
connection settings, a :class:`Link` its effective rotation interval in seconds, every path is
absolute (relative paths in the file are relative to the file's folder). Objects are frozen;
``restrict``/``with_endpoints``/``with_kme_urls`` return new inventories.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

from qkd_macsec.devices import names
from qkd_macsec.inventory.credentials import SecretRef
from qkd_macsec.inventory.errors import InventoryError, field_path
from qkd_macsec.inventory.schema import RotationMode, validate_kme_url
from qkd_macsec.macsec.keys import CknMode, KeyDerivation
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.posture import TransportPolicy
from qkd_macsec.secret import Secret

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SaeIdentity:
    """The SAE's mTLS identity towards its KME; ``ca``/``verify`` come from the KME if unset."""

    cert: Path
    key: Path
    ca: Path | None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class Host:
    """One router with its effective (inherited) connection settings."""

    name: str
    host: str
    port: int
    user: str
    password: SecretRef | None
    ssh_key: Path | None
    known_hosts: Path | None
    insecure_host_keys: bool
    timeout: float
    platform: str
    groups: tuple[str, ...]
    sae_id: str
    kme: str | None
    tls: SaeIdentity | None
    clock_offset_s: float = 0.0
    #: The CA bundle an HTTPS-managed device (NX-API) must present a certificate from; None:
    #: the system's trust store. TLS is always verified.
    tls_ca: Path | None = None
    #: The platform's driver options from the inventory's ``options: {<platform>: ...}``.
    options: object | None = None

    def resolve_password(self, environ: Mapping[str, str] | None = None) -> Secret | None:
        """Read the password now (at connect time). Raises ``CredentialError`` on failure."""
        return None if self.password is None else self.password.resolve(environ)

    @property
    def auth_summary(self) -> str:
        """Safe to print: how this host authenticates (never the secret)."""
        parts = []
        if self.password is not None:
            parts.append(f"password ({self.password.describe()})")
        if self.ssh_key is not None:
            parts.append(f"key {self.ssh_key.name}")
        return ", ".join(parts) or "ssh agent/default keys"


@dataclass(frozen=True, slots=True)
class Kme:
    name: str
    url: str
    ca: Path | None
    verify: bool = True
    address: str | None = None

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One router's side of a link: the interfaces bound to the link's CA there."""

    host: str
    interfaces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MkaSettings:
    should_secure: bool = False
    exclude_protocols: tuple[str, ...] = ()
    key_server_priority: int | None = None
    transmit_interval_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A connectivity association rotated as one: 1 slave = point-to-point, more = group CA."""

    name: str
    master: LinkEnd
    slaves: tuple[LinkEnd, ...]
    connectivity_association: str
    key_chain: str | None
    cipher_suite: CipherSuite
    mode: RotationMode
    rotation_interval: float
    ckn_prefix: str
    ckn_mode: CknMode
    mka: MkaSettings = MkaSettings()
    kme_keyid_check: bool = True
    key_derivation: KeyDerivation = KeyDerivation.SEED

    @property
    def ends(self) -> tuple[LinkEnd, ...]:
        """Master first, then the slaves in file order."""
        return (self.master, *self.slaves)

    @property
    def host_names(self) -> tuple[str, ...]:
        return tuple(end.host for end in self.ends)

    @property
    def is_group(self) -> bool:
        return len(self.slaves) > 1


@dataclass(frozen=True, slots=True)
class Policy:
    rotation_interval: float = 600.0
    activation_delay: float | None = None  # None = "auto" (measured commit latency + tolerance)
    min_activation_delay: float = 10.0
    clock_tolerance: float = 5.0
    keep_previous: int = 1
    dec_keys_wait: float = 10.0
    max_workers: int = 32
    journal: Path = Path("state/journal.sqlite")
    log_file: Path | None = None
    transport: TransportPolicy = field(default_factory=TransportPolicy)
    device_client: str = "async"  # async | pyez (policy.device_client)
    sessions_per_device: int = 75
    connections_per_minute: int = 150
    sessions_per_controller: int = 1024

    @property
    def activation_delay_is_auto(self) -> bool:
        return self.activation_delay is None


V = TypeVar("V")


def _frozen_map(items: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True, eq=False)
class Inventory:
    """Hosts, KMEs, links and policy of one inventory file, references checked."""

    source: Path
    hosts: Mapping[str, Host]
    kmes: Mapping[str, Kme]
    links: tuple[Link, ...]
    policy: Policy
    group_names: tuple[str, ...] = field(default=())

    # -- lookups -----------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise self._error(f"unknown host {name!r}") from None

    def link(self, name: str) -> Link:
        for link in self.links:
            if link.name == name:
                return link
        raise self._error(f"unknown link {name!r}")

    def kme_of(self, host_name: str) -> Kme:
        """The KME the host's SAE is attached to."""
        host = self.host(host_name)
        if host.kme is None:
            raise self._error(f"{field_path(('hosts', host_name, 'kme'))}: not set")
        return self.kmes[host.kme]

    def link_ends(self, link: Link) -> tuple[tuple[Host, LinkEnd], ...]:
        """``(host, end)`` pairs, master first."""
        return tuple((self.hosts[end.host], end) for end in link.ends)

    def links_of_host(self, name: str) -> tuple[Link, ...]:
        self.host(name)
        return tuple(link for link in self.links if name in link.host_names)

    # -- derived views -----------------------------------------------------------------------

    def restrict(self, hosts: Iterable[str]) -> Inventory:
        """Keep the named hosts and the links whose ends are ALL among them.

        A link must rotate on every end at once, so a link with an end outside the set is
        dropped (not half-rotated); :meth:`partial_links` lists those for a warning.
        """
        wanted = self._known(hosts)
        return dataclasses.replace(
            self,
            hosts=_frozen_map({n: h for n, h in self.hosts.items() if n in wanted}),
            links=tuple(link for link in self.links if set(link.host_names) <= wanted),
        )

    def partial_links(self, hosts: Iterable[str]) -> tuple[Link, ...]:
        """Links touching the named hosts that :meth:`restrict` drops (an end is outside)."""
        wanted = self._known(hosts)
        return tuple(
            link
            for link in self.links
            if wanted & set(link.host_names) and not set(link.host_names) <= wanted
        )

    def with_endpoints(self, endpoints: Mapping[str, tuple[str, int]]) -> Inventory:
        """Point hosts at other addresses/ports (the demo's simulated routers), validated."""
        hosts = dict(self.hosts)
        for name, (address, port) in endpoints.items():
            host = self.host(name)
            try:
                address = names.validate_host(address)
            except ValueError as exc:
                raise self._error(f"{field_path(('hosts', name, 'host'))}: {exc}") from None
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise self._error(
                    f"{field_path(('hosts', name, 'port'))}: {port!r} is not a TCP port"
                )
            hosts[name] = dataclasses.replace(host, host=address, port=port)
        return dataclasses.replace(self, hosts=_frozen_map(hosts))

    def with_kme_urls(self, urls: Mapping[str, str]) -> Inventory:
        """Point KMEs at other URLs (the demo's embedded KMEs listen on ephemeral ports)."""
        kmes = dict(self.kmes)
        for name, url in urls.items():
            if name not in kmes:
                raise self._error(f"unknown KME {name!r}")
            try:
                kmes[name] = dataclasses.replace(kmes[name], url=validate_kme_url(url))
            except ValueError as exc:
                raise self._error(f"{field_path(('kmes', name, 'url'))}: {exc}") from None
        return dataclasses.replace(self, kmes=_frozen_map(kmes))

    def apply_macros(self, link: Link, host_name: str) -> tuple[tuple[str, str], ...]:
        """The seed's ``apply-macro qkd`` parameters for the host's interfaces in ``link``."""
        kme = self.kme_of(host_name)
        return (
            ("kme-ca", "true" if kme.verify else "false"),
            ("kme-host", kme.hostname),
            ("kme-port", str(kme.port)),
            ("kme-keyid-check", "true" if link.kme_keyid_check else "false"),
        )

    def static_host_mappings(self, host_name: str) -> tuple[tuple[str, str], ...]:
        """The seed's ``system static-host-mapping NAME inet ADDR`` pairs for one router.

        The router's own name → its address (when that is an IP) and its KME's host name → the
        KME's ``address`` (when given and the URL names a host rather than an IP).
        """
        host = self.host(host_name)
        pairs: list[tuple[str, str]] = []
        if _is_ip(host.host):
            pairs.append((host.name.lower(), host.host))
        if host.kme is not None:
            kme = self.kmes[host.kme]
            if kme.address is not None and not _is_ip(kme.hostname):
                pairs.append((kme.hostname, kme.address))
        return tuple(pairs)

    # -- helpers -----------------------------------------------------------------------------

    def _known(self, names: Iterable[str]) -> set[str]:
        wanted = set(names)
        unknown = sorted(wanted - set(self.hosts))
        if unknown:
            raise self._error(
                f"unknown host(s): {', '.join(unknown)} (known: {', '.join(sorted(self.hosts))})"
            )
        return wanted

    def _error(self, message: str) -> InventoryError:
        return InventoryError(str(self.source), [message])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
