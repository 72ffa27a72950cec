"""Prometheus view of the transport posture, read from the journal at scrape time:

- ``qkd_macsec_transport_hops{kind, posture}``: hops last measured hybrid-PQ / classical, per
  hop kind (``ssh``: controller -> router, ``tls``: KME -> controller and controller -> NX-API);
- ``qkd_macsec_transport_hop_pq{kind, peer}``: 1 if that hop's last session was hybrid-PQ.

Labels are hop kinds and router / KME addresses, never a key or a certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from qkd_macsec.engine.posture_record import PostureEntry

PREFIX = "qkd_macsec"
KINDS = ("ssh", "tls")
LABELS = ("hybrid-PQ", "classical")


class TransportPostureCollector(Collector):
    def __init__(self, entries: Callable[[], Mapping[str, PostureEntry]]) -> None:
        self._entries = entries

    def collect(self) -> Iterator[GaugeMetricFamily]:
        entries = self._entries()
        hops = GaugeMetricFamily(
            f"{PREFIX}_transport_hops",
            "Hops the key travels, by kind and by the posture of their last session.",
            labels=["kind", "posture"],
        )
        per_hop = GaugeMetricFamily(
            f"{PREFIX}_transport_hop_pq",
            "1 if the hop's last session used a post-quantum hybrid key exchange, else 0.",
            labels=["kind", "peer"],
        )
        counts = {(kind, label): 0 for kind in KINDS for label in LABELS}
        for entry in entries.values():
            kind = str(entry.get("kind"))
            pq = entry.get("pq") is True
            label = LABELS[0] if pq else LABELS[1]
            counts[(kind, label)] = counts.get((kind, label), 0) + 1
            per_hop.add_metric([kind, str(entry.get("peer"))], 1.0 if pq else 0.0)
        for (kind, label), count in sorted(counts.items()):
            hops.add_metric([kind, label], float(count))
        yield hops
        yield per_hop

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(f"{PREFIX}_transport_hops", "", labels=["kind", "posture"])
        yield GaugeMetricFamily(f"{PREFIX}_transport_hop_pq", "", labels=["kind", "peer"])
