"""The Grafana dashboard (deploy/grafana/qkd-macsec.json): well-formed panels, and PromQL that
only names documented metrics. (tests/integration/obs checks the names against a live run.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.dashboard import expressions, load, metric_names, panels

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{x="y(z)"}[5m])))',
            {"a_bucket"},
        ),
        ("sum(rate(b_total[$__rate_interval])) by (result)", {"b_total"}),
        ('c{link=~"$link"} / on(link) group_left d', {"c", "d"}),
        ("time() - e offset 5m", {"e"}),
        ("1e3 * f > bool 2 and g unless h", {"f", "g", "h"}),
        ("max without (instance) (i:rate5m)", {"i:rate5m"}),
        ("vector(1)", set()),
    ],
)
def test_metric_names_skip_functions_keywords_labels_and_durations(
    expr: str, names: set[str]
) -> None:
    assert metric_names(expr) == names


def test_every_panel_has_a_title_a_unique_id_and_a_datasource() -> None:
    dashboard = load()
    every = list(panels(dashboard))
    assert len(every) > 10
    ids = [panel.get("id") for panel in every]
    assert all(isinstance(i, int) for i in ids), ids
    assert len(set(ids)) == len(ids), "duplicate panel ids"
    for panel in every:
        assert str(panel.get("title", "")).strip(), panel
        if panel["type"] == "row":
            continue  # a row only groups panels: no query, so no datasource
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_datasource_is_an_input_and_a_variable_and_link_is_a_variable() -> None:
    dashboard = load()
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 39  # Grafana 11 and later
    inputs = {i["name"]: i for i in dashboard["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert variables["link"]["type"] == "query"
    assert variables["link"]["includeAll"]
    assert variables["link"]["multi"]
    uses_link = [where for where, expr in expressions(dashboard) if "$link" in expr]
    assert len(uses_link) >= 3  # the per-link panels follow the selector


def test_every_expression_names_only_documented_metrics() -> None:
    documented = set(re.findall(r"^\| `(qkd_macsec_[a-z_]+)`", DOCS.read_text(), re.MULTILINE))
    assert "qkd_macsec_link_rotation_interval_seconds" in documented
    used: set[str] = set()
    for where, expr in expressions(load()):
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        for name in names:
            base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
            assert name in documented or base in documented, f"{where}: {name} is not documented"
        used |= names
    for needed in (
        "qkd_macsec_rotations_total",
        "qkd_macsec_key_age_seconds",
        "qkd_macsec_link_rotation_interval_seconds",
        "qkd_macsec_links_without_live_mka",
        "qkd_macsec_kme_request_duration_seconds_bucket",
        "qkd_macsec_kme_request_errors_total",
        "qkd_macsec_device_commit_duration_seconds_bucket",
        "qkd_macsec_certificate_days_left",
    ):
        assert needed in used, f"no panel shows {needed}"
