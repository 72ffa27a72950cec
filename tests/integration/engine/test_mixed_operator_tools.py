"""The operator's tools on a Junos ↔ IOS XR link, each CLI command in its own process through
the real clients (PyEZ to the simulated Junos router, ncclient's ``iosxr`` handler to the IOS XR
simulator, httpx mTLS to the embedded KMEs): ``config show`` renders each end in its platform's
form, ``preflight`` judges each router by its platform (n/a where a check does not apply),
``status --live`` reads MKA state through each end's own driver, ``report`` breaks rotations
down by platform pair, and ``policy.transport.ssh: pq-required`` refuses a classical IOS XR
router before any RPC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.sim.iosxr.server import IosxrLabThread, run_iosxr_in_thread
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed
from support.mixed_lab import JUNOS, LINK, XR, XR_PORT, mixed_inventory_path, mixed_link
from support.testbed import StartTestbed, cli_env


def cli(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m qkd_macsec ARGS -i INVENTORY`` to the end (2 min at most)."""
    return subprocess.run(
        [sys.executable, "-m", "qkd_macsec", *args, "-i", str(inventory)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def iosxr_end(testbed: Testbed, **options: Any) -> Iterator[tuple[IosxrSimDevice, IosxrLabThread]]:
    router = IosxrSimDevice(
        XR, user="netconf", password=os.environ[PASSWORD_ENV], fabric=testbed.lab.fabric, **options
    )
    with run_iosxr_in_thread([router]) as xr:
        yield router, xr


def sections(text: str) -> dict[str, str]:
    """``config show`` output split at its ``# host (platform ...)`` headers."""
    out: dict[str, str] = {}
    header = None
    for line in text.splitlines():
        if line.startswith("# ") and "(platform " in line:
            header = line
            out[header] = ""
        elif header is not None:
            out[header] += line + "\n"
    return out


def test_config_show_preflight_status_and_report_on_a_junos_to_iosxr_link(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, "key-chain"))
    with iosxr_end(testbed) as (router, xr):
        inventory = mixed_inventory_path(testbed, xr)

        shown = cli(inventory, "config", "show")
        assert shown.returncode == 0, shown.stderr
        parts = sections(shown.stdout)
        assert set(parts) == {
            f"# {JUNOS} (platform junos, Junos)",
            f"# {XR} (platform iosxr, IOS XR)",
        }, shown.stdout
        junos = parts[f"# {JUNOS} (platform junos, Junos)"]
        ios = parts[f"# {XR} (platform iosxr, IOS XR)"]
        assert junos.lstrip().startswith("set security macsec connectivity-association")
        assert "set security macsec interfaces et-" in junos
        assert ios.lstrip().startswith("<nc:config")
        assert f"<interface-name>{XR_PORT}</interface-name>" in ios
        assert "<string>MASKED</string>" in ios  # the CAK masked on IOS XR too
        assert "<nc:config" not in junos
        assert "set security" not in ios

        committed_before = router.running.copy()
        checked = cli(inventory, "preflight", "--json")
        assert checked.returncode in (0, 1), checked.stderr
        report = json.loads(checked.stdout)
        findings = [f for f in report["findings"] if f["kind"] == "router"]
        by_host: dict[str, list[dict[str, Any]]] = {}
        for finding in findings:
            by_host.setdefault(finding["subject"], []).append(finding)
        assert {f["platform"] for f in by_host[XR]} == {"iosxr"}
        assert {f["platform"] for f in by_host[JUNOS]} == {"junos"}
        xr_checks = {f["check"]: f for f in by_host[XR]}
        assert xr_checks["netconf"]["severity"] == "ok"  # real ncclient, host key verified
        assert xr_checks["interface"]["severity"] == "n/a"
        assert xr_checks["interface"]["detail"].startswith("not checked on IOS XR")
        assert xr_checks["transport-pq"]["severity"] == "ok"  # measured on the IOS XR hop
        assert "hybrid" in xr_checks["transport-pq"]["detail"].lower() or (
            "mlkem" in xr_checks["transport-pq"]["detail"]
        )
        for check in ("clock", "time-zone", "ntp", "macsec", "commit"):
            assert xr_checks[check]["severity"] == "ok", xr_checks[check]
        assert {f["check"]: f["severity"] for f in by_host[JUNOS]}["interface"] == "ok"
        assert not [f for f in findings if f["severity"] == "blocker"], findings
        assert report["exit_code"] == 0
        assert router.running == committed_before  # preflight changed nothing on IOS XR
        assert router.counters.commits == 0
        assert router.lock_owner is None
        table = cli(inventory, "preflight")
        assert table.returncode == 0, table.stderr
        assert f"{XR} (iosxr)" in table.stdout
        assert "n/a" in table.stdout
        assert max(len(line) for line in table.stdout.splitlines()) <= 80

        rotated = cli(inventory, "rotate", "--json")
        assert rotated.returncode == 0, rotated.stderr + rotated.stdout
        assert router.counters.commits >= 1

        live = cli(inventory, "status", "--live", "--json")
        assert live.returncode == 0, live.stderr
        (row,) = json.loads(live.stdout)
        assert row["link"] == LINK
        assert row["platforms"] == ["junos", "iosxr"]
        assert row["mka"] == "live on newest 2/2"
        assert [(e["device"], e["platform"], e["state"]) for e in row["ends"]] == [
            (JUNOS, "junos", "newest"),
            (XR, "iosxr", "newest"),
        ]
        assert None not in testbed.live_ckns(LINK)  # the wire is live (on the fabric)
        table = cli(inventory, "status", "--live")
        assert table.returncode == 0, table.stderr
        lines = [line.split() for line in table.stdout.splitlines()]
        assert ["platform", "junos/iosxr"] in lines  # one block per link at 80 columns
        assert ["MKA", "live", "2/2"] in lines

        written = cli(inventory, "report", "--out", str(tmp_path / "report"))
        assert written.returncode == 0, written.stderr
        assert "  junos/iosxr: 1 ok" in written.stdout
        page = (tmp_path / "report" / "timeline.html").read_text()
        assert "<td>junos/iosxr</td>" in page
    assert testbed.outage_seconds(LINK) == 0.0


def test_pq_required_refuses_a_classical_iosxr_router_before_any_rpc(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any]
) -> None:
    testbed = testbed_factory(mixed_link(seed_doc, "key-chain"))
    with iosxr_end(testbed, pq_kex=False) as (router, xr):
        path = mixed_inventory_path(testbed, xr)
        doc = yaml.safe_load(path.read_text())
        doc.setdefault("policy", {})["transport"] = {"ssh": "pq-required"}
        write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())

        rotated = cli(path, "rotate", "--json")
        assert rotated.returncode != 0
        summary = json.loads(rotated.stdout)
        assert summary["links"] == {}  # the link was not rotated at all
        why = summary["conflicts"][LINK]  # the engine could not read the IOS XR end
        assert f"cannot read {XR}: DeviceTransportPolicyError" in why
        assert "classical" in why
        assert "pq-required" in why
        assert router.counters.rpcs == 0  # refused before any RPC, so before any key
        assert router.counters.commits == 0
        assert testbed.live_ckns(LINK) == [None]  # never keyed: no key reached one end only

        checked = cli(path, "preflight", "--json")
        assert checked.returncode == 1, checked.stderr
        findings = json.loads(checked.stdout)["findings"]
        pq = [f for f in findings if f["subject"] == XR and f["check"] == "transport-pq"]
        assert [f["severity"] for f in pq] == ["blocker"]
        assert pq[0]["platform"] == "iosxr"
        assert router.counters.rpcs == 0
