"""The off-box controller: an inventory turned into KME clients, drivers and a rotation executor.

This is the only place that knows both the inventory's shape and the engine's; everything it
builds is closed by :meth:`Controller.aclose` (or ``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from qkd_macsec.devices.base import DRIVERS, DeviceTarget, Driver, MacsecBinding
from qkd_macsec.engine.executor import CrashHook, ExecutorOptions, RotationExecutor
from qkd_macsec.engine.inventory import Inventory, RotationMode
from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.keysource import KeySource
from qkd_macsec.engine.planner import KeyMode
from qkd_macsec.engine.recovery import RecoveryResult, recover
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.engine.topology import EndSpec, LinkSpec, MkaOptions
from qkd_macsec.etsi014.client import ClientOptions, KmeClient, RequestRecord
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.obs.logging import get_logger, notice
from qkd_macsec.pki.renew import CertificateWatch

log = get_logger("engine.controller")


def link_specs(inventory: Inventory) -> list[LinkSpec]:
    """The engine's frozen view of every inventory link."""
    specs = []
    for link in inventory.links:
        ends = []
        for host, end in inventory.link_ends(link):
            if host.kme is None:
                raise ValueError(f"{inventory.source}: hosts.{host.name}.kme: not set")
            ends.append(EndSpec(host.name, end.interfaces, host.sae_id, host.kme))
        specs.append(
            LinkSpec(
                name=link.name,
                master=ends[0],
                slaves=tuple(ends[1:]),
                ca=link.connectivity_association,
                key_chain=link.key_chain,
                suite=link.cipher_suite,
                mode=KeyMode.KEY_CHAIN
                if link.mode == RotationMode.KEY_CHAIN
                else KeyMode.PRE_SHARED_KEY,
                rotation_interval=link.rotation_interval,
                ckn_prefix=link.ckn_prefix,
                ckn_mode=link.ckn_mode,
                mka=MkaOptions(
                    should_secure=link.mka.should_secure,
                    exclude_protocols=link.mka.exclude_protocols,
                    key_server_priority=link.mka.key_server_priority,
                    transmit_interval_ms=link.mka.transmit_interval_ms,
                ),
                keyid_check=link.kme_keyid_check,
            )
        )
    return specs


def bindings_for(inventory: Inventory, link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    """The seed's initial MACsec configuration for one end: CA, interfaces, apply-macros, hosts."""
    macros = inventory.apply_macros(inventory.link(link.name), end.device)
    mappings = inventory.static_host_mappings(end.device)
    return [
        MacsecBinding(
            interface=interface,
            ca=link.ca,
            cipher_suite=link.suite,
            key_chain=link.key_chain if link.mode is KeyMode.KEY_CHAIN else None,
            should_secure=link.mka.should_secure,
            exclude_protocols=link.mka.exclude_protocols,
            key_server_priority=link.mka.key_server_priority,
            transmit_interval_ms=link.mka.transmit_interval_ms,
            macros=macros,
            host_mappings=mappings,
        )
        for interface in end.interfaces
    ]


def device_target(inventory: Inventory, name: str) -> DeviceTarget:
    host = inventory.host(name)
    return DeviceTarget(
        name=host.name,
        host=host.host,
        port=host.port,
        user=host.user,
        password=host.resolve_password(),
        ssh_key=host.ssh_key,
        known_hosts=host.known_hosts,
        insecure_host_keys=host.insecure_host_keys,
        timeout=host.timeout,
    )


@dataclass(frozen=True)
class ControllerOptions:
    """Overrides on top of the inventory's policy (CLI flags, demo, tests)."""

    max_workers: int | None = None
    min_activation_delay: float | None = None
    verify_timeout: float | None = None
    kme: ClientOptions | None = None


class Controller:
    """Owns the journal, the KME clients (one per SAE, keep-alive) and the executor."""

    def __init__(
        self,
        inventory: Inventory,
        options: ControllerOptions | None = None,
        *,
        crash_hook: CrashHook | None = None,
        on_kme_request: Callable[[RequestRecord], None] | None = None,
        on_wave: Callable[[WaveResult], None] | None = None,
    ) -> None:
        self.inventory = inventory
        self._on_wave = on_wave  # observability hook (metrics): called after every wave
        options = options or ControllerOptions()
        policy = inventory.policy
        self.journal = Journal(policy.journal)
        kme_options = options.kme or ClientOptions(dec_keys_wait=policy.dec_keys_wait)
        if on_kme_request is not None:
            kme_options = replace(kme_options, on_request=on_kme_request)
        self._kme_options = kme_options
        self._clients: dict[str, KmeClient] = {}
        self._targets: dict[str, DeviceTarget] = {}
        self.links = link_specs(inventory)
        executor_options = ExecutorOptions(
            max_workers=options.max_workers or policy.max_workers,
            min_activation_delay=options.min_activation_delay
            if options.min_activation_delay is not None
            else (policy.activation_delay or policy.min_activation_delay),
            clock_tolerance=policy.clock_tolerance,
            keep_previous=policy.keep_previous,
            verify_timeout=options.verify_timeout
            if options.verify_timeout is not None
            else ExecutorOptions.verify_timeout,
        )
        self.executor = RotationExecutor(
            self.links,
            self.journal,
            KeySource(self._client_for, dec_keys_wait=policy.dec_keys_wait),
            self._driver_for,
            binding_for=lambda link, end: bindings_for(inventory, link, end),
            options=executor_options,
            crash_hook=crash_hook,
            device_timeout=lambda name: inventory.host(name).timeout,
        )

    def _client_for(self, sae_id: str) -> KmeClient:
        client = self._clients.get(sae_id)
        if client is None:
            host = next(h for h in self.inventory.hosts.values() if h.sae_id == sae_id)
            if host.tls is None or host.kme is None:
                raise ValueError(f"hosts.{host.name}: no SAE identity (tls/kme) for {sae_id}")
            kme = self.inventory.kmes[host.kme]
            identity = TlsIdentity(
                cert=host.tls.cert, key=host.tls.key, ca=host.tls.ca, verify=host.tls.verify
            )
            client = KmeClient(kme.url, identity, self._kme_options)
            self._clients[sae_id] = client
        return client

    def _driver_for(self, device: str) -> Driver:
        target = self._targets.get(device)
        if target is None:
            target = device_target(self.inventory, device)
            self._targets[device] = target
        platform = self.inventory.host(device).platform
        return DRIVERS.get(platform)(target)

    async def recover(self) -> RecoveryResult:
        return await recover(self.executor)

    async def rotate(self, *, force: Iterable[str] = (), all_links: bool = False) -> WaveResult:
        """Recover what a crash left open, then run one wave of the links that are due."""
        recovered = await self.recover()
        forced = set(force) | set(recovered.force)
        if all_links:
            forced |= {link.name for link in self.links}
        plan = self.executor.plan(force=forced)
        result = await self.executor.run_wave(plan)
        if self._on_wave is not None:
            try:
                self._on_wave(result)
            except Exception:
                log.warning("on_wave hook failed; ignoring", exc_info=True)
        return result

    async def run(self, stop: asyncio.Event, *, check_interval: float = 30.0) -> None:
        """Rotate links as they fall due until ``stop`` is set; a wave in progress completes."""
        notice(log, "scheduler started for %d link(s)", len(self.links))
        certificates = CertificateWatch(self.inventory)
        while not stop.is_set():
            try:
                for warning in certificates.poll(datetime.now(UTC)):  # at most once a day
                    log.warning("%s", warning)
            except Exception:
                log.exception("certificate check failed")
            try:
                result = await self.rotate()
                if result.rotations:
                    log.info("wave %s done: %d failed", result.wave, len(result.failed_links))
            except Exception:
                log.exception("wave failed unexpectedly; retrying after the check interval")
            plan = self.executor.plan()
            wait = check_interval
            if plan.rotations:
                wait = 0.0
            elif plan.next_due is not None:
                wait = min(
                    check_interval, max(0.0, (plan.next_due - datetime.now(UTC)).total_seconds())
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.05))
        notice(log, "scheduler stopped")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        self.executor.close()
        self.journal.close()

    async def __aenter__(self) -> Controller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["Controller", "ControllerOptions", "bindings_for", "device_target", "link_specs"]
