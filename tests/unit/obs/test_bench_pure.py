"""The benchmark's pure parts: generated labs, percentiles, verdicts, tables, the summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from bench.__main__ import flatten, summary_table
from bench.labgen import LabShape, interfaces_per_router, lab_document
from bench.sampler import package_of, thread_role
from bench.wave import percentile, ratio_table, ratios, split_known_hosts, table, verdicts


def ends(link: dict[str, Any]) -> list[str]:
    return [link["master"]["host"], *(s["host"] for s in link["slaves"])]


def test_ring_links_each_router_to_the_next() -> None:
    doc = lab_document(LabShape(5, 5, "ring", kmes=2))
    pairs = [tuple(ends(link)) for link in doc["links"]]
    assert pairs == [("r0000", "r0001"), ("r0001", "r0002"), ("r0002", "r0003"),
                     ("r0003", "r0004"), ("r0004", "r0000")]  # fmt: skip
    assert interfaces_per_router(doc) == {f"r{i:04d}": 2 for i in range(5)}
    assert {h["kme"] for h in doc["hosts"].values()} == {"KME_00", "KME_01"}


def test_mesh_adds_distinct_chords_until_the_link_count() -> None:
    doc = lab_document(LabShape(10, 20, "mesh"))
    pairs = [frozenset(ends(link)) for link in doc["links"]]
    assert len(pairs) == 20
    assert len(set(pairs)) == 20  # no pair twice
    per_router = interfaces_per_router(doc)
    assert sum(per_router.values()) == 40
    assert set(per_router.values()) == {4}  # ring + one chord each: evenly spread
    names = [link["name"] for link in doc["links"]]
    assert len(set(names)) == len(names)
    for link in doc["links"]:  # unique interfaces per router
        assert link["connectivity_association"] == f"CA_{link['name']}"


def test_group_links_share_one_key_between_several_routers() -> None:
    doc = lab_document(LabShape(12, 24, "group", group_size=4, group_every=6))
    groups = [link for link in doc["links"] if len(link["slaves"]) > 1]
    assert len(groups) == 4  # links 0, 6, 12, 18
    for link in groups:
        assert len(set(ends(link))) == 4
        assert len(link["master"]["interfaces"]) == 3  # one per slave, wired in order
    used = Counter(
        (end["host"], interface)
        for link in doc["links"]
        for end in [link["master"], *link["slaves"]]
        for interface in end.get("interfaces", [end.get("interface")])
    )
    assert max(used.values()) == 1  # no interface used twice


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (dict(routers=1, links=1), "at least 2 routers"),
        (dict(routers=4, links=5, shape="ring"), "ring of 4 routers has 4 links"),
        (dict(routers=4, links=7), "do not fit"),
        (dict(routers=4, links=4, kmes=0), "at least one KME"),
        (dict(routers=4, links=4, shape="group", group_size=5), "group_size"),
    ],
)
def test_impossible_labs_are_refused(shape: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabShape(**shape)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0


def result(**wave: Any) -> dict[str, Any]:
    base = {
        "staged_s": 12.0,
        "link_p50_s": 6.0,
        "link_p99_s": 11.0,
        "activation_delay_s": 17.0,
        "undo_budget_s": 5.0,
        "verify_s": 1.0,
        "cpu_ms_per_link": 8.0,
        "kme_requests_per_link": 2.0,
        "kme_requests_expected_per_link": 2.0,
        "commits_per_router_min": 1,
        "commits_per_router_max": 1,
        "outage_s": 0.0,
    }
    return {
        "scenario": {"routers": 500, "links": 1000, "shape": "mesh", "commit_latency": 0.0},
        "lab": "mesh 500r/1000l",
        "wave": {**base, **wave},
        "rss_mb": 300.0,
        "serial": {"extrapolated_total_s": 900.0, "extrapolated": True, "speedup": 75.0},
    }


def test_verdicts_compare_with_the_issue_targets() -> None:
    assert all(verdicts(result()).values())
    # T later than staged + undo budget (+1 s of rounding), p99 past the staged time, 2 commits
    missed = verdicts(result(activation_delay_s=18.5, link_p99_s=12.5, commits_per_router_max=2))
    assert {k for k, ok in missed.items() if not ok} == {"delay", "p99", "commits"}
    assert not verdicts(result(outage_s=0.5))["outage"]
    heavy = result()
    heavy["rss_mb"] = 301.0
    assert not verdicts(heavy)["rss"]


def scenario_result(client: str, latency: float, staged: float, cpu: float) -> dict[str, Any]:
    out = result(staged_s=staged, cpu_ms_per_link=cpu)
    out["scenario"] = {**out["scenario"], "client": client, "commit_latency": latency}
    out["serial"] = {"speedup": 900.0 / staged}
    return out


def test_ratios_are_taken_against_the_baseline_of_the_same_run() -> None:
    results = [
        scenario_result("pyez", 0.0, 40.0, 60.0),
        scenario_result("pyez", 2.0, 55.0, 60.0),
        scenario_result("async", 0.0, 8.0, 10.0),
        scenario_result("async", 2.0, 10.0, 11.0),
    ]
    [row] = ratios(results)
    assert row["client"] == "async"
    assert row["cpu_per_link_ratio"] == 6.0
    assert row["staged_at_0_ratio"] == 5.0
    assert row["staged_2_minus_0_s"] == 2.0
    assert row["speedup_at_0"] == 112.5
    met = row["met"]
    assert met["cpu_per_link_ratio"]
    assert met["staged_at_0_ratio"]
    assert met["staged_2_minus_0_s"]
    assert met["speedup_at_0"]
    assert not met["speedup_at_2"]  # 90x, 400x wanted at 2 s
    results[2] = scenario_result("async", 0.0, 11.0, 13.0)
    [row] = ratios(results)
    assert not row["met"]["cpu_per_link_ratio"]  # 60 / 13 < 5
    assert not row["met"]["staged_at_0_ratio"]  # 40 / 11 < 4
    assert "✗" in ratio_table([row])


def test_table_marks_missed_targets_and_extrapolated_serial_times() -> None:
    text = table([result(), result(link_p99_s=12.5)])
    lines = text.splitlines()
    assert lines[0].startswith("| lab | client | commit | staged s")
    assert len(lines) == 4
    assert "900.0*" in lines[2]
    assert "75.0x" in lines[2]
    assert "✗" not in lines[2]
    assert "12.5 ✗" in lines[3]
    failed = {"scenario": result()["scenario"], "error": "testbed did not start"}
    assert "error: testbed did not start" in table([failed])


def test_summary_flattens_other_benches_and_lists_skipped_ones() -> None:
    assert list(flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"})) == [
        ("a.b", 1),
        ("a.c", "[2 item(s)]"),
        ("d", "x"),
    ]
    text = summary_table(
        {
            "kme_client": {"keep_alive": {"pairs_per_s": 812.5}},
            "sim_sessions": {"skipped": "module has no run()"},
            "wave": {"scenarios": [result()], "bench_seconds": 60.0},
        }
    )
    assert "keep_alive.pairs_per_s" in text
    assert "812.5" in text
    assert "module has no run()" in text
    assert "mesh 500r/1000l async @ 0s" in text
    assert "all targets met" in text


def test_sampler_names_packages_and_thread_roles() -> None:
    site = "/v/lib/python3.11/site-packages/paramiko/transport.py"
    assert package_of(site) == "paramiko"
    assert package_of("/w/src/qkd_macsec/engine/journal.py") == "qkd_macsec.engine"
    assert package_of("/usr/lib/python3.11/ssl.py") == "stdlib:ssl"
    assert thread_role("MainThread").startswith("event loop")
    assert thread_role("device_3").startswith("device sessions")
    assert thread_role("Thread-7").startswith("other threads")


def test_split_known_hosts_gives_each_router_only_its_own_key(tmp_path: Path) -> None:
    shared = tmp_path / "known_hosts"
    shared.write_text(
        "[127.0.0.1]:4001 ssh-ed25519 AAAAkeyA\n"
        "[127.0.0.1]:4002 ssh-ed25519 AAAAkeyB\n"
        "[127.0.0.1]:40011 ssh-ed25519 AAAAkeyC\n"
    )
    inventory = tmp_path / "inventory.yaml"
    doc = {
        "defaults": {"known_hosts": str(shared)},
        "hosts": {
            "r0": {"host": "127.0.0.1", "port": 4001},
            "r1": {"host": "127.0.0.1", "port": 4002},
        },
    }
    inventory.write_text(yaml.safe_dump(doc))
    split = yaml.safe_load(split_known_hosts(inventory).read_text())
    r0 = Path(split["hosts"]["r0"]["known_hosts"]).read_text()
    assert r0 == "[127.0.0.1]:4001 ssh-ed25519 AAAAkeyA\n"  # not port 40011's key
    assert "keyB" in Path(split["hosts"]["r1"]["known_hosts"]).read_text()
