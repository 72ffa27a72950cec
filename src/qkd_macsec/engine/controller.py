"""The off-box controller: an inventory turned into KME clients, drivers and a rotation executor.

This is the only place that knows both the inventory's shape and the engine's; everything it
builds is closed by :meth:`Controller.aclose` (or ``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from qkd_macsec.certs.renew import CertificateWatch
from qkd_macsec.devices.async_base import AsyncDriver
from qkd_macsec.devices.base import DeviceTarget, Driver, MacsecBinding
from qkd_macsec.devices.platform import EndSettings, get_platform
from qkd_macsec.engine.adopt import adopt
from qkd_macsec.engine.backends import acquire_lease, open_journal
from qkd_macsec.engine.events import KmeRequestDone, Observer
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.fencing import fenced, fenced_async
from qkd_macsec.engine.hybrid_flag import HybridHopFlag
from qkd_macsec.engine.journal_url import JournalLocation
from qkd_macsec.engine.keysource import KeySource
from qkd_macsec.engine.lease import Lease, LeaseError
from qkd_macsec.engine.posture_record import PostureRecorder
from qkd_macsec.engine.reconcile import Decision, blocked
from qkd_macsec.engine.recovery import RecoveryResult, recover
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.engine.session_pool import SessionLimits
from qkd_macsec.engine.topology import EndSpec, LinkSpec, MkaOptions
from qkd_macsec.etsi014.client import ClientOptions, KmeClient, RequestRecord
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.inventory import Inventory
from qkd_macsec.obs.logging import get_logger, notice
from qkd_macsec.posture import HopPosture

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
        slots = min(get_platform(host.platform).slots for host, _ in inventory.link_ends(link))
        specs.append(
            LinkSpec(
                name=link.name,
                master=ends[0],
                slaves=tuple(ends[1:]),
                ca=link.connectivity_association,
                key_chain=link.key_chain,
                suite=link.cipher_suite,
                mode=link.mode,
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
                slots=slots,
                key_derivation=link.key_derivation,
            )
        )
    return specs


def bindings_for(inventory: Inventory, link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    """The seed's initial MACsec configuration for one end: CA, interfaces, and the platform's
    extras built from the seed's per-link KME parameters and local host mappings."""
    settings = EndSettings(
        parameters=inventory.apply_macros(inventory.link(link.name), end.device),
        name_addresses=inventory.static_host_mappings(end.device),
    )
    options = get_platform(inventory.host(end.device).platform).binding_options(settings)
    return [
        MacsecBinding(
            interface=interface,
            ca=link.ca,
            cipher_suite=link.suite,
            key_chain=link.key_chain if link.mode.strategy.uses_key_chain else None,
            should_secure=link.mka.should_secure,
            exclude_protocols=link.mka.exclude_protocols,
            key_server_priority=link.mka.key_server_priority,
            transmit_interval_ms=link.mka.transmit_interval_ms,
            options=options,
        )
        for interface in end.interfaces
    ]


def device_target(
    inventory: Inventory, name: str, *, on_posture: Callable[[HopPosture], None] | None = None
) -> DeviceTarget:
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
        tls_ca=host.tls_ca,
        timeout=host.timeout,
        options=host.options,
        ssh_policy=inventory.policy.transport.ssh,
        tls_policy=inventory.policy.transport.tls,
        management=get_platform(host.platform).management,
        on_posture=on_posture,
    )


@dataclass(frozen=True)
class ControllerOptions:
    """Overrides on top of the inventory's policy (CLI flags, demo, tests)."""

    max_workers: int | None = None
    device_client: str | None = None  # async | pyez; None: policy.device_client
    session_reuse: bool = True  # False: one session per step (the pre-pool behaviour)
    min_activation_delay: float | None = None
    verify_timeout: float | None = None
    kme: ClientOptions | None = None
    #: The journal, if not the inventory's SQLite file (``--journal``: a PostgreSQL database).
    journal: JournalLocation | None = None


class Controller:
    """Owns the journal's lease, the journal, the KME clients (one per SAE, keep-alive) and the
    executor.

    The lease is taken first and held until :meth:`aclose`: two controllers on one journal
    would take each other's in-flight rotations for crashed ones. Every device commit checks
    it (:mod:`qkd_macsec.engine.fencing`), and so does every write of a PostgreSQL journal.
    Without ``lease`` the controller takes it itself, failing at once with
    :class:`~qkd_macsec.engine.lease.LeaseHeldError` if another controller has it.
    """

    def __init__(
        self,
        inventory: Inventory,
        options: ControllerOptions | None = None,
        *,
        observers: Sequence[Observer] = (),
        lease: Lease | None = None,
    ) -> None:
        """``observers`` (metrics, progress, crash points) see every event of the executor's
        stream, KME requests included (:class:`~qkd_macsec.engine.events.KmeRequestDone`)."""
        self.inventory = inventory
        options = options or ControllerOptions()
        policy = inventory.policy
        self.links = link_specs(inventory)  # bad input fails before the lease is taken
        location = options.journal if options.journal is not None else policy.journal
        self.lease = lease or acquire_lease(location, "controller")
        try:
            self.journal = open_journal(location, self.lease)
            self.journal.set_meta("lease", self.lease.holder.to_json())
        except BaseException:
            self.lease.release()
            raise
        self.conflicts: dict[str, str] = {}  # links left alone in the last wave, and why
        kme_options = options.kme or ClientOptions(dec_keys_wait=policy.dec_keys_wait)
        self.postures = PostureRecorder(self.journal)
        self._ssh_postures = HybridHopFlag(self.links, policy.transport, self.postures)
        self._caller_on_request = kme_options.on_request
        self._kme_options = replace(
            kme_options,
            tls_policy=policy.transport.tls,
            on_posture=self.postures,
            on_request=self._kme_request_done,
        )
        self._clients: dict[str, KmeClient] = {}
        self._targets: dict[str, DeviceTarget] = {}
        self.device_client = options.device_client or policy.device_client
        if self.device_client not in ("async", "pyez"):
            raise ValueError(f"device client {self.device_client!r}: choose async or pyez")
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
            observers=observers,
            device_timeout=lambda name: inventory.host(name).timeout,
            session_limits=SessionLimits(
                per_device=policy.sessions_per_device,
                connections_per_minute=policy.connections_per_minute,
                controller=policy.sessions_per_controller,
                reuse=options.session_reuse,
            ),
        )

    def _kme_request_done(self, record: RequestRecord) -> None:
        if self._caller_on_request is not None:
            self._caller_on_request(record)
        self.executor.events.emit(KmeRequestDone(record))

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

    def _driver_for(self, device: str) -> Driver | AsyncDriver:
        """The platform's asyncio driver under ``device_client: async`` (where it has one),
        else its synchronous driver (run in the executor's thread pool)."""
        target = self._targets.get(device)
        if target is None:
            target = device_target(self.inventory, device, on_posture=self._ssh_postures)
            self._targets[device] = target
        platform = get_platform(self.inventory.host(device).platform)
        if self.device_client == "async":
            driver = platform.create_async(target)
            if driver is not None:
                return fenced_async(device, driver, self.lease)
        return fenced(device, platform.create(target), self.lease)

    async def recover(self) -> RecoveryResult:
        self.lease.check()
        return await recover(self.executor)

    async def adopt(self, links: Iterable[str] | None = None) -> list[Decision]:
        """Read what the routers hold for ``links`` (default all) and adopt the keys in force
        that the journal does not know; returns every link's verdict (conflicts included)."""
        self.lease.check()
        return await adopt(self.executor, links)

    async def rotate(self, *, force: Iterable[str] = (), all_links: bool = False) -> WaveResult:
        """Recover what a crash left open, reconcile the links about to rotate with what their
        routers hold, then run one wave of the links that are due (conflicts left alone)."""
        recovered = await self.recover()
        forced = set(force) | set(recovered.force)
        if all_links:
            forced |= {link.name for link in self.links}
        candidates = set(self.executor.plan(force=forced).links) | recovered.links
        self.conflicts = blocked(await self.adopt(sorted(candidates))) if candidates else {}
        plan = self.executor.plan(force=forced, blocked=self.conflicts)
        late = [r for r in plan.rotations if r.link not in candidates]  # due meanwhile: unread
        for rotation in late:
            plan.rotations.remove(rotation)
            plan.skipped[rotation.link] = "fell due during reconciliation; next wave"
        self.lease.check()
        return await self.executor.run_wave(plan, conflicts=self.conflicts)

    async def run(self, stop: asyncio.Event, *, check_interval: float = 30.0) -> None:
        """Rotate links as they fall due until ``stop`` is set; a wave in progress completes."""
        notice(log, "scheduler started for %d link(s)", len(self.links))
        certificates = CertificateWatch(self.inventory)
        try:  # every link once at start, due or not: the journal may be new, lost or restored
            await self.recover()
            self.conflicts = blocked(await self.adopt())
        except LeaseError:
            raise
        except Exception:
            log.exception("reconciliation at start failed; each wave reconciles its links")
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
            except LeaseError:
                raise  # another controller may be running: stop changing routers
            except Exception:
                log.exception("wave failed unexpectedly; retrying after the check interval")
            plan = self.executor.plan(blocked=self.conflicts)  # conflicts: wait, then re-read
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
        await self.executor.aclose()
        self.journal.close()
        self.lease.release()

    async def __aenter__(self) -> Controller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["Controller", "ControllerOptions", "bindings_for", "device_target", "link_specs"]
