"""Every metric the Grafana dashboard queries is one a live `qkd-macsec run --metrics-port 0`
serves (seed lab: real KMEs over mTLS, simulated Junos), suffixes included."""

from __future__ import annotations

import re
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from qkd_macsec.testbed.builder import Testbed
from support.dashboard import expressions, load, metric_names

# What Prometheus stores for each family type (the text format's sample names).
SERIES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "unknown": ("",),
}


def served(url: str) -> tuple[set[str], set[str], dict[str, float]]:
    """Every series name the endpoint serves (announced families with their type's suffixes,
    even before a first sample), the names that have samples, and the rotation intervals."""
    names: set[str] = set()
    sampled: set[str] = set()
    intervals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        names.update(family.name + suffix for suffix in SERIES[family.type])
        for sample in family.samples:
            sampled.add(sample.name)
            if sample.name == "qkd_macsec_link_rotation_interval_seconds":
                intervals[sample.labels["link"]] = sample.value
    return names | sampled, sampled, intervals


def test_dashboard_queries_only_metrics_a_live_run_serves(
    seed_testbed: Testbed, child: type
) -> None:
    inventory = seed_testbed.inventory
    run = child("run", "-i", str(seed_testbed.inventory_path), "--metrics-port", "0")
    line = run.wait_for_line("metrics on http://", timeout=30)
    url = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line).group(1)  # type: ignore[union-attr]
    # Wait (against a deadline) for the first wave, so the histograms and key ages exist too.
    deadline = time.monotonic() + 60
    names, sampled, intervals = served(url)
    while "qkd_macsec_key_age_seconds" not in sampled:
        assert time.monotonic() < deadline, f"no key age within 60 s: {run.seen[-5:]}"
        assert run.proc.poll() is None, f"run exited: {run.seen[-5:]}"
        time.sleep(0.2)  # polling the endpoint against a deadline
        names, sampled, intervals = served(url)
    assert run.stop() == 0

    checked = 0
    for where, expr in expressions(load()):
        used = metric_names(expr)
        assert used, f"{where}: no metric in {expr!r}"
        missing = used - names
        assert not missing, f"{where}: {sorted(missing)} not served (served: {sorted(names)})"
        checked += len(used)
    assert checked >= 15
    assert intervals == {link.name: link.rotation_interval for link in inventory.links}
