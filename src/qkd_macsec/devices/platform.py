"""The platform registry: everything the engine and the inventory may know about a vendor.

A :class:`Platform` bundles, for one ``platform:`` name of the inventory, the rules that differ
from vendor to vendor — which names its configuration accepts, how many key-chain slots it has,
the port its management protocol listens on, how a ChangeSet is written as its configuration
text (and masked for display), how its replies are parsed, its vendor extras for a binding, and
the driver that talks to it. The engine and the inventory ask this registry and import no vendor
module; a second vendor is one more module that calls :func:`register_platform`.

Built-in platforms are registered by import path, so that a vendor module (and its libraries)
loads only when a host of that platform is used.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from qkd_macsec.devices.async_base import AsyncDriver, AsyncDriverFactory
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    DeviceTarget,
    Driver,
    DriverFactory,
    DriverRegistry,
    ManagementTransport,
    MkaSessionState,
    UnknownPlatformError,
)
from qkd_macsec.devices.limits import PlatformLimits

__all__ = [
    "DRIVERS",
    "PLATFORMS",
    "EndSettings",
    "NameRules",
    "Platform",
    "PlatformLimits",
    "PlatformRegistry",
    "get_platform",
    "platform_names",
    "register_platform",
]


@dataclass(frozen=True)
class NameRules:
    """Validators for every name a platform's configuration takes from the inventory.

    Each returns the value to use (normalised where the platform is case-insensitive) or raises
    :class:`~qkd_macsec.devices.names.ConfigRenderError` (a ValueError) naming what is wrong.
    ``interface_identity`` maps a valid interface name to what it denotes, so two spellings of
    one interface are seen as one.
    """

    interface: Callable[[str], str]
    interface_identity: Callable[[str], str]
    connectivity_association: Callable[[str], str]
    key_chain: Callable[[str], str]
    protocol: Callable[[str], str]
    ckn_prefix: Callable[[str], str]
    key_server_priority: Callable[[int], int]
    transmit_interval_ms: Callable[[int], int]


@dataclass(frozen=True)
class EndSettings:
    """Vendor-neutral facts about one link end that a platform may record next to its MACsec
    configuration: ``parameters`` (the seed's per-link KME settings, name → value) and
    ``name_addresses`` (host names the device must resolve locally, name → IP address)."""

    parameters: tuple[tuple[str, str], ...] = ()
    name_addresses: tuple[tuple[str, str], ...] = ()


def _no_options(settings: EndSettings) -> object | None:
    return None


@dataclass(frozen=True)
class Platform:
    """One vendor's rules (see the module docstring).

    ``driver``: the driver factory, or ``"package.module:Name"`` imported on first use.
    ``slots``: key-chain slots are ``0 .. slots - 1``. ``render(changes, masked)``: the
    configuration text a commit of ``changes`` loads (``masked``: every CAK replaced, for
    display). ``parse_key_chain(text, chain)`` / ``parse_mka_sessions(text)``: the platform's
    replies (as text) in the vendor-neutral types. ``binding_options``: the platform's extras
    for a binding (carried opaquely in :attr:`MacsecBinding.options`). ``limits``: what its
    MACsec configuration can express (CKN length and case, suites, key modes, MKA features),
    checked per link end by the inventory before any device is touched (``devices.limits``).
    ``title``: the name shown to operators (``IOS XR``), ``name`` being the inventory's.
    ``preflight_not_checked``: preflight checks the platform's driver cannot answer, each with
    the reason; preflight reports them as ``n/a`` on this platform instead of judging them.
    ``target_options``: reads the inventory's ``options: {<platform>: {...}}`` block for a host
    of this platform into the driver's :attr:`DeviceTarget.options` (raising ValueError that
    names the key); None: the platform takes no options (a block for it is refused).
    ``async_driver``: an asyncio driver (:class:`~qkd_macsec.devices.async_base.AsyncDriver`)
    for off-box waves, when the platform has one (``policy.device_client: async``); None:
    ``driver`` is used.
    """

    name: str
    driver: DriverFactory | str
    names: NameRules
    slots: int
    default_port: int
    render: Callable[[ChangeSet, bool], str]
    parse_key_chain: Callable[[str, str], list[ChainEntryState]]
    parse_mka_sessions: Callable[[str], list[MkaSessionState]]
    binding_options: Callable[[EndSettings], object | None] = _no_options
    limits: PlatformLimits = field(default_factory=PlatformLimits)
    title: str = ""
    preflight_not_checked: tuple[tuple[str, str], ...] = ()
    target_options: Callable[[Mapping[str, object]], object] | None = None
    management: ManagementTransport = "ssh"
    async_driver: AsyncDriverFactory | str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a platform needs a name")
        if self.management not in ("ssh", "https"):
            raise ValueError(f"platform {self.name!r}: management must be ssh or https")
        if self.slots < 1:
            raise ValueError(f"platform {self.name!r}: slots must be at least 1")

    @property
    def display_name(self) -> str:
        """How operators' tools name the platform (``Junos``, ``IOS XR``)."""
        return self.title or self.name

    def render_masked(self, changes: ChangeSet) -> str:
        """What a commit of ``changes`` loads, every CAK masked (``config show``, logs)."""
        return self.render(changes, True)

    def driver_factory(self) -> DriverFactory:
        if isinstance(self.driver, str):
            module_name, _, attr = self.driver.partition(":")
            loaded: DriverFactory = getattr(importlib.import_module(module_name), attr)
            return loaded
        return self.driver

    def create(self, target: DeviceTarget) -> Driver:
        return self.driver_factory()(target)

    def create_async(self, target: DeviceTarget) -> AsyncDriver | None:
        """The platform's asyncio driver for ``target``; None when it has none."""
        factory = self.async_driver
        if factory is None:
            return None
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
            assert factory is not None
        driver: AsyncDriver = factory(target)
        return driver


class PlatformRegistry:
    """Platforms by name; built-ins registered lazily by import path (``module:ATTRIBUTE``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._platforms: dict[str, Platform] = {}
        self._lazy: dict[str, str] = {}

    def register(self, platform: Platform) -> None:
        with self._lock:
            self._platforms[platform.name] = platform
            self._lazy.pop(platform.name, None)

    def register_lazy(self, name: str, target: str) -> None:
        with self._lock:
            if name not in self._platforms:
                self._lazy[name] = target

    def unregister(self, name: str) -> None:
        """Forget a platform (tests that register one of their own)."""
        with self._lock:
            self._platforms.pop(name, None)
            self._lazy.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(set(self._platforms) | set(self._lazy))

    def get(self, name: str) -> Platform:
        with self._lock:
            platform = self._platforms.get(name)
            lazy = self._lazy.get(name)
        if platform is not None:
            return platform
        if lazy is None:
            known = ", ".join(self.names()) or "none"
            raise UnknownPlatformError(f"no driver for platform {name!r} (known: {known})")
        module_name, _, attr = lazy.partition(":")
        loaded = getattr(importlib.import_module(module_name), attr)
        if not isinstance(loaded, Platform):
            raise TypeError(f"{lazy} is not a Platform")
        self.register(loaded)
        return loaded


class _PlatformDrivers(DriverRegistry):
    """The driver registry as a view of :data:`PLATFORMS`: one list of platforms, not two.

    ``register`` still accepts a bare factory (a driver without platform rules of its own is
    not reachable from an inventory, which asks :data:`PLATFORMS`)."""

    def __init__(self, platforms: PlatformRegistry) -> None:
        super().__init__()
        self._platform_registry = platforms

    def platforms(self) -> list[str]:
        return sorted(set(super().platforms()) | set(self._platform_registry.names()))

    def get(self, platform: str) -> DriverFactory:
        if platform in super().platforms():
            return super().get(platform)
        return self._platform_registry.get(platform).driver_factory()


PLATFORMS = PlatformRegistry()
PLATFORMS.register_lazy("junos", "qkd_macsec.devices.junos_platform:JUNOS")
PLATFORMS.register_lazy("iosxr", "qkd_macsec.devices.iosxr_platform:IOSXR")
PLATFORMS.register_lazy("nxos", "qkd_macsec.devices.nxos_platform:NXOS")
DRIVERS: DriverRegistry = _PlatformDrivers(PLATFORMS)


def register_platform(platform: Platform) -> None:
    PLATFORMS.register(platform)


def get_platform(name: str) -> Platform:
    return PLATFORMS.get(name)


def platform_names() -> Sequence[str]:
    return PLATFORMS.names()
