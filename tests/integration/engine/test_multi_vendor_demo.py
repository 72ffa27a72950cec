"""`qkd-macsec demo --lab multi-vendor`: Junos ↔ Junos, Junos ↔ IOS XR and Junos ↔ NX-OS links
rotated hitlessly, the platforms of each link in the table and of each end in ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkd_macsec.cli import main


def test_multi_vendor_demo_json(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--lab", "multi-vendor", "-n", "3", "--json", "--dir", str(tmp_path / "d")])
    summary = json.loads(capfd.readouterr().out)
    assert summary["ok"] is True
    assert [w["links"] for w in summary["waves"]] == [4, 4, 4]  # every link, every wave
    links = {link["link"]: link for link in summary["links"]}
    assert {name: link["platforms"] for name, link in links.items()} == {
        "mx11-mx12": "junos-junos",
        "mx11-xr31": "iosxr-junos",
        "xr31-mx12": "iosxr-junos",
        "mx12-nx41": "junos-nxos",  # the data-centre link (extensions/nxos.yaml)
    }
    assert links["mx11-xr31"]["ends"] == [
        {"host": "mx304-11", "platform": "junos", "interface": "et-0/0/11"},
        {"host": "asr9k-31", "platform": "iosxr", "interface": "HundredGigE0/0/0/1"},
    ]
    assert links["mx12-nx41"]["ends"][1] == {
        "host": "n9k-41",
        "platform": "nxos",
        "interface": "Ethernet1/1",
    }
    for link in links.values():
        assert link["outage_s"] == 0.0
        assert link["mka_live_on_newest"] == "1/1"


def test_multi_vendor_demo_table(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--lab", "multi-vendor", "-n", "2", "--dir", str(tmp_path / "d")])
    out = capfd.readouterr().out
    assert "PASS: 4 link(s), 2 wave(s)" in out
    assert "iosxr-junos" in out
    assert "junos-junos" in out
    assert "junos-nxos" in out
    assert "HundredGigE0/0/0/2" in out  # the ends table
