"""Prometheus metrics for the controller (``qkd-macsec run --metrics-port N``).

One :class:`Metrics` per controller, on its own registry (so tests and benchmarks can hold
several). It is fed by the engine's existing outputs — every KME request record
(``ClientOptions.on_request``) and every wave's :class:`~qkd_macsec.engine.results.WaveResult`
— and reads key ages from the journal when scraped, so a scrape always shows current ages.
Label values are link, device, platform, endpoint and error-class names: never a key, key ID
or CKN. Devices and links carry their platforms (``platform`` on per-device series, the
``qkd_macsec_device_platform`` / ``qkd_macsec_link_platforms`` info gauges to join on), so a
mixed Junos ↔ IOS XR fleet can be broken down by vendor without new metric names.
Names and meanings are documented in ``docs/metrics.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from qkd_macsec.engine.events import Event, KmeRequestDone, WaveDone
from qkd_macsec.engine.journal import ActiveKey, Phase
from qkd_macsec.engine.results import RotationResult, WaveResult
from qkd_macsec.etsi014.client import RequestRecord
from qkd_macsec.inventory import Inventory
from qkd_macsec.pki.check import check_certificate
from qkd_macsec.pki.files import PkiError, load_certificates

PREFIX = "qkd_macsec"
ActiveKeysFor = Callable[[str], Sequence[ActiveKey]]
"""The journal's ``active_keys(link, limit)`` bound to a limit of 1: newest ACTIVE key first."""

# Seconds. Device sessions are sub-second on a LAN and up to minutes on a slow box.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
KME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def rotation_outcome(rotation: RotationResult) -> str:
    """The ``result`` label of one rotation: ok, unverified, aborted or failed."""
    if rotation.phase is Phase.ACTIVE:
        return "ok" if rotation.error is None else "unverified"
    if rotation.phase is Phase.ABORTED:
        return "aborted"
    return "failed"


class _KeyAgeCollector(Collector):
    """``qkd_macsec_key_age_seconds{link}``, computed from the journal at scrape time."""

    def __init__(
        self, links: Sequence[str], active_key: ActiveKeysFor, clock: Callable[[], datetime]
    ) -> None:
        self._links = list(links)
        self._active_key = active_key
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_key_age_seconds",
            "Seconds since the link's current key took over (links with no key yet are absent).",
            labels=["link"],
        )
        now = self._clock()
        for link in self._links:
            keys = self._active_key(link)
            if keys:
                family.add_metric([link], max(0.0, (now - keys[0].activated).total_seconds()))
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(f"{PREFIX}_key_age_seconds", "", labels=["link"])


@dataclass
class MetricsServer:
    """The HTTP endpoint serving ``/metrics`` on a daemon thread; :meth:`close` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        host = str(self.server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Metrics:
    """Every metric the controller exports, and the hooks that feed them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.rotations = Counter(
            f"{PREFIX}_rotations", "Link rotations finished, by result.", ["result"], registry=r
        )
        self.rotation_duration = Histogram(
            f"{PREFIX}_rotation_duration_seconds",
            "Per link: from the start of its wave until every end has committed the new key.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.wave_duration = Histogram(
            f"{PREFIX}_wave_staged_seconds",
            "Per wave: from its start until every link of it is staged on all its ends.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.kme_latency = Histogram(
            f"{PREFIX}_kme_request_duration_seconds",
            "ETSI 014 request latency (one HTTP attempt), by endpoint.",
            ["endpoint"],
            buckets=KME_BUCKETS,
            registry=r,
        )
        self.kme_errors = Counter(
            f"{PREFIX}_kme_request_errors",
            "ETSI 014 requests that failed, by endpoint and error type.",
            ["endpoint", "error"],
            registry=r,
        )
        self.commit_latency = Histogram(
            f"{PREFIX}_device_commit_duration_seconds",
            "Device commit latency (the commit RPC itself), per device commit.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.device_failures = Counter(
            f"{PREFIX}_device_failures",
            "Device sessions that failed during a wave, by device (and its platform).",
            ["device", "platform"],
            registry=r,
        )
        self.device_platform = Gauge(
            f"{PREFIX}_device_platform",
            "1 per inventory device, labelled with its platform (join on device).",
            ["device", "platform"],
            registry=r,
        )
        self.link_platforms = Gauge(
            f"{PREFIX}_link_platforms",
            "1 per inventory link, labelled with its ends' platforms, master's first "
            "(junos, junos/iosxr).",
            ["link", "platforms"],
            registry=r,
        )
        self.cert_days_left = Gauge(
            f"{PREFIX}_certificate_days_left",
            "Days until a certificate the controller uses expires (negative: expired).",
            ["subject"],
            registry=r,
        )
        self.links_without_mka = Gauge(
            f"{PREFIX}_links_without_live_mka",
            "Links whose last verification did not find a live MKA session on the newest key.",
            registry=r,
        )
        self.link_mka_live = Gauge(
            f"{PREFIX}_link_mka_live",
            "1 if the link's last verification found MKA live on its newest key, else 0.",
            ["link"],
            registry=r,
        )
        self.rotation_interval = Gauge(
            f"{PREFIX}_link_rotation_interval_seconds",
            "The link's rotation interval from the inventory (compare with its key age).",
            ["link"],
            registry=r,
        )
        self.last_wave = Gauge(
            f"{PREFIX}_last_wave_timestamp_seconds",
            "Unix time the last rotation wave finished.",
            registry=r,
        )
        self._mka_live: dict[str, bool] = {}
        self._platform_of: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- feeds ------------------------------------------------------------------------------
    def watch_key_ages(
        self,
        links: Iterable[str],
        active_key: ActiveKeysFor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Export each link's key age, read through ``active_key`` whenever scraped."""
        self.registry.register(_KeyAgeCollector(list(links), active_key, clock))

    def set_rotation_intervals(self, intervals: Mapping[str, float]) -> None:
        """Export each link's configured rotation interval, so a dashboard or alert can set
        key age against it without knowing the inventory."""
        for link, seconds in intervals.items():
            self.rotation_interval.labels(link=link).set(seconds)

    def set_platforms(
        self, devices: Mapping[str, str], links: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        """Each device's platform (device → platform) and each link's platforms (link → its
        ends' platforms, master's first): the ``platform`` label of per-device series and the
        two info gauges."""
        with self._lock:
            self._platform_of.update(devices)
        for device, platform in devices.items():
            self.device_platform.labels(device=device, platform=platform).set(1)
        for link, platforms in (links or {}).items():
            pair = "/".join(dict.fromkeys(platforms))
            self.link_platforms.labels(link=link, platforms=pair).set(1)

    def platform_of(self, device: str) -> str:
        """The device's platform label (``unknown`` before :meth:`set_platforms` names it)."""
        with self._lock:
            return self._platform_of.get(device, "unknown")

    def on_event(self, event: Event) -> None:
        """An observer of the executor's events: KME requests, and every wave once done."""
        if isinstance(event, KmeRequestDone):
            self.observe_kme_request(event.record)
        elif isinstance(event, WaveDone):
            self.observe_wave(event.result)

    def observe_kme_request(self, record: RequestRecord) -> None:
        """One HTTP attempt to a KME."""
        endpoint = str(record.endpoint)
        self.kme_latency.labels(endpoint=endpoint).observe(record.seconds)
        if record.error is not None:
            self.kme_errors.labels(endpoint=endpoint, error=record.error).inc()

    def observe_wave(self, result: WaveResult) -> None:
        """After every wave: outcomes, durations, commits, MKA verification."""
        if not result.rotations:
            return
        staged_any = False
        for name, rotation in result.rotations.items():
            self.rotations.labels(result=rotation_outcome(rotation)).inc()
            if rotation.phase is Phase.ACTIVE and rotation.stage_seconds > 0:
                self.rotation_duration.observe(rotation.stage_seconds)
                staged_any = True
            if rotation.phase is Phase.ACTIVE:
                with self._lock:
                    self._mka_live[name] = rotation.verified
                self.link_mka_live.labels(link=name).set(1 if rotation.verified else 0)
        if staged_any:
            self.wave_duration.observe(result.staged_seconds)
        for device in result.devices.values():
            if device.commits and device.commit_seconds > 0:
                self.commit_latency.observe(device.commit_seconds)
            if not device.ok:
                self.device_failures.labels(
                    device=device.device, platform=self.platform_of(device.device)
                ).inc()
        with self._lock:
            self.links_without_mka.set(sum(1 for live in self._mka_live.values() if not live))
        finished = result.finished or datetime.now(UTC)
        self.last_wave.set(finished.timestamp())

    def set_certificate_days_left(self, subject: str, days: float) -> None:
        """Setter for the certificate check (``pki.check``): one gauge per certificate subject."""
        self.cert_days_left.labels(subject=subject).set(days)

    def record_certificates(
        self, paths: Iterable[Path], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> dict[Path, str]:
        """Export days left for every certificate in ``paths`` (PEM files, bundles too).

        The certificates are read once; days left are computed at each scrape, so the gauge
        stays true in a long ``run``. Returns the unreadable files with the reason (skipped).
        """
        problems: dict[Path, str] = {}
        for path in dict.fromkeys(paths):
            try:
                certificates = load_certificates(path)
            except PkiError as exc:
                problems[path] = str(exc)
                continue
            for certificate in certificates:
                subject = check_certificate(certificate, timedelta(0), clock()).subject
                self.cert_days_left.labels(subject=subject).set_function(
                    partial(_days_until, certificate.not_valid_after_utc, clock)
                )
        return problems

    # -- serving ----------------------------------------------------------------------------
    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` on ``addr:port`` (port 0: an ephemeral port, see ``.port``)."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server, thread)


def _days_until(end: datetime, clock: Callable[[], datetime]) -> float:
    return (end - clock()).total_seconds() / 86400


def inventory_certificates(inventory: Inventory) -> list[Path]:
    """Certificate files the controller uses: each SAE's client certificate and the KME CAs."""
    paths: list[Path] = []
    for host in inventory.hosts.values():
        if host.tls is not None:
            paths.append(host.tls.cert)
            if host.tls.ca is not None:
                paths.append(host.tls.ca)
    paths.extend(kme.ca for kme in inventory.kmes.values() if kme.ca is not None)
    return list(dict.fromkeys(paths))


__all__ = [
    "Metrics",
    "MetricsServer",
    "inventory_certificates",
    "rotation_outcome",
]
