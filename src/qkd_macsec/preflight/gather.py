"""The thin I/O half of preflight: read each router (driver verbs, read-only) and ask each
KME (status, and with ``consume_key`` one real key), then hand the facts to ``checks``.

Nothing here changes a router: the only configuration RPCs are get-configuration, lock,
``commit check`` with nothing loaded, and unlock (see ``Driver.commit_check``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from qkd_macsec.devices.base import DeviceError, DeviceTarget, Driver
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.engine.controller import device_target, link_specs
from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.errors import KmeError
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity, TlsIdentityError
from qkd_macsec.inventory import Inventory
from qkd_macsec.obs.logging import get_logger, redact
from qkd_macsec.posture import HopPosture
from qkd_macsec.preflight.checks import key_findings, kme_findings, router_findings, status_pairs
from qkd_macsec.preflight.facts import ClockReading, KeyProbe, RouterFacts, StatusProbe
from qkd_macsec.preflight.model import Finding, PreflightReport, Severity, Subject
from qkd_macsec.preflight.posture import PostureCollector, posture_findings

__all__ = ["PreflightOptions", "gather_router", "run_preflight"]

log = get_logger("preflight")
T = TypeVar("T")


@dataclass(frozen=True)
class PreflightOptions:
    threads: int | None = None
    consume_key: bool = False
    kme_timeout: float = 10.0


def _step(facts: RouterFacts, step: str, read: Callable[[], T]) -> T | None:
    """Run one read; a device error is recorded under ``step`` and the next step still runs."""
    try:
        return read()
    except DeviceError as exc:
        facts.errors[step] = exc.message
    except ValueError as exc:  # an inventory name the driver refuses before any I/O
        facts.errors[step] = redact(str(exc))
    return None


def _clock(driver: Driver) -> ClockReading:
    before = time.time()
    device = driver.device_time()
    after = time.time()
    seconds = device.now.timestamp()
    # The device clock is read in whole seconds: its true value is in [seconds, seconds + 1).
    whole = seconds == int(seconds)
    return ClockReading(
        low=seconds - after,
        high=seconds + (1.0 if whole else 0.0) - before,
        utc_offset=device.utc_offset,
        device_now=device.now,
        zone=device.zone,
    )


def gather_router(
    driver: Driver, name: str, links: Sequence[LinkSpec], platform: str = ""
) -> RouterFacts:
    """Every read preflight makes on one router (through ``driver``, its platform's), each step
    independent of the others."""
    facts = RouterFacts(name, platform=platform)
    try:
        driver.open()
    except DeviceError as exc:
        facts.connect_error = exc
        return facts
    try:
        facts.facts = _step(facts, "facts", driver.facts)
        facts.clock = _step(facts, "clock", lambda: _clock(driver))
        if facts.clock is not None:
            facts.time_zone = facts.clock.zone
        facts.ntp = _step(facts, "ntp", driver.ntp_status)
        wanted = [
            interface
            for link in links
            for end in link.ends
            if end.device == name
            for interface in end.interfaces
        ]
        facts.interfaces = _step(facts, "interfaces", lambda: driver.interfaces(wanted)) or {}
        facts.macsec_capable = _step(facts, "macsec", driver.macsec_capable)
        facts.macsec = _step(facts, "config", driver.macsec_config)
        for chain in {link.key_chain for link in links if link.key_chain is not None}:
            entries = _step(facts, "config", functools.partial(driver.key_chain, chain))
            if entries is not None:
                facts.chains[chain] = entries
        try:
            if not driver.commit_check():
                facts.errors["commit"] = (
                    "not tested: a commit confirmed may be pending and commit check would "
                    "confirm it; run preflight again once it is confirmed or rolled back"
                )
        except DeviceError as exc:
            facts.commit_error = exc
    finally:
        driver.close()
    return facts


async def _status_probe(client: KmeClient | None, sae: str, peer: str, kme: str) -> StatusProbe:
    if client is None:
        return StatusProbe(sae, peer, kme)
    try:
        return StatusProbe(sae, peer, kme, status=await client.get_status(peer))
    except KmeError as exc:
        return StatusProbe(sae, peer, kme, error=exc)


async def _key_probe(clients: dict[str, KmeClient], link: LinkSpec) -> KeyProbe:
    """One key as the master, fetched back as every slave; compared, never kept or shown."""
    master = clients[link.master.sae_id]
    slaves = [s.sae_id for s in link.slaves]
    try:
        keys = await master.get_keys(
            slaves[0], size=link.suite.key_bits, additional_slave_sae_ids=slaves[1:]
        )
        key = keys[0]
        for slave in slaves:
            copies = await clients[slave].get_keys_with_ids(link.master.sae_id, [key.key_id])
            if copies[0].key != key.key:
                return KeyProbe(link.name, key.key_id, "mismatch", detail=f"{slave}: key differs")
    except KmeError as exc:
        return KeyProbe(link.name, None, "failed", error=exc)
    return KeyProbe(link.name, key.key_id, "ok")


async def _gather_kmes(
    inventory: Inventory,
    links: Sequence[LinkSpec],
    options: PreflightOptions,
    on_posture: PostureCollector | None = None,
) -> list[Finding]:
    client_options = ClientOptions(
        timeout=options.kme_timeout,
        connect_timeout=min(5.0, options.kme_timeout),
        retry=RetryPolicy(attempts=1),
        dec_keys_wait=options.kme_timeout,
        tls_policy=inventory.policy.transport.tls,
    )
    clients: dict[str, KmeClient] = {}
    kme_of: dict[str, str] = {}
    unusable: list[Finding] = []
    ends = {end.device for link in links for end in link.ends}
    for host in inventory.hosts.values():
        if host.tls is None and host.name in ends:
            subject = f"{host.sae_id}@{host.kme or '?'}"
            detail = f"hosts.{host.name}.tls is not set: no client certificate for this SAE"
            unusable.append(Finding(Subject.KME, subject, "kme-tls", Severity.BLOCKER, detail))
        if host.tls is None or host.kme is None or host.sae_id in clients:
            continue
        kme = inventory.kmes[host.kme]
        identity = TlsIdentity(host.tls.cert, host.tls.key, host.tls.ca, host.tls.verify)
        try:
            mine = client_options
            if on_posture is not None:
                mine = replace(client_options, on_posture=on_posture.reporter(host.kme))
            clients[host.sae_id] = KmeClient(kme.url, identity, mine)
        except TlsIdentityError as exc:  # e.g. a certificate and key that do not match
            subject = f"{host.sae_id}@{host.kme}"
            unusable.append(Finding(Subject.KME, subject, "kme-tls", Severity.BLOCKER, str(exc)))
        kme_of[host.sae_id] = host.kme
    try:
        pairs = status_pairs(links)
        probes = await asyncio.gather(
            *(
                _status_probe(clients.get(sae), sae, peer, kme_of.get(sae, "?"))
                for sae, peer in pairs
            )
        )
        findings = unusable + kme_findings([p for p in probes if p.status or p.error], links)
        if options.consume_key:
            usable = [
                link
                for link in links
                if all(e.sae_id in clients for e in link.ends)
                and not any(p.error for p in probes if p.sae in {e.sae_id for e in link.ends})
            ]
            key_probes = [await _key_probe(clients, link) for link in usable]
            findings += key_findings(key_probes)
        return findings
    finally:
        for client in clients.values():
            await client.aclose()


def _driver(inventory: Inventory, name: str) -> Driver:
    target: DeviceTarget = device_target(inventory, name)
    return DRIVERS.get(inventory.host(name).platform)(target)


def _with_platform(finding: Finding, inventory: Inventory) -> Finding:
    """A router finding labelled with the router's platform (KME findings as they are)."""
    if finding.kind is not Subject.ROUTER or finding.platform:
        return finding
    host = inventory.hosts.get(finding.subject)
    return finding if host is None else replace(finding, platform=host.platform)


def run_preflight(
    inventory: Inventory,
    options: PreflightOptions | None = None,
    *,
    driver_for: Callable[[str], Driver] | None = None,
) -> PreflightReport:
    """Read every router (in parallel threads) and every KME, and check what was read."""
    options = options or PreflightOptions()
    links = link_specs(inventory)
    postures = PostureCollector()
    make = driver_for or (lambda name: _driver(inventory, name))
    names = sorted(inventory.hosts)
    workers = max(1, min(options.threads or inventory.policy.max_workers, len(names) or 1))

    def one(name: str) -> RouterFacts:
        mine = [link for link in links if name in link.devices]
        driver = make(name)
        facts = gather_router(driver, name, mine, inventory.host(name).platform)
        posture = getattr(driver, "posture", None)  # drivers that measure their SSH/TLS session
        if isinstance(posture, HopPosture):
            postures.reporter(name)(posture)
        return facts

    started = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight") as pool:
        router_future = [pool.submit(one, name) for name in names]
        kme = asyncio.run(_gather_kmes(inventory, links, options, postures))
        routers = [future.result() for future in router_future]
    findings: list[Finding] = []
    tolerance = inventory.policy.clock_tolerance
    for facts in routers:
        mine = [link for link in links if facts.name in link.devices]
        findings += router_findings(facts, mine, tolerance)
    findings += kme
    findings += [
        _with_platform(finding, inventory)
        for finding in posture_findings(
            postures.postures(), inventory.policy.transport, routers=set(inventory.hosts)
        )
    ]
    log.info(
        "preflight of %d router(s) and %d link(s) took %.1fs",
        len(names),
        len(links),
        (datetime.now(UTC) - started).total_seconds(),
    )
    unique = list(dict.fromkeys(findings))
    return PreflightReport(tuple(unique))
