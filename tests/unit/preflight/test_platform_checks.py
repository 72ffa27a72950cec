"""Preflight by platform: every router finding carries its router's platform, a check the
platform's driver cannot answer says n/a with the reason (never fails), and the table names
each router's platform."""

from __future__ import annotations

from rich.console import Console

from qkd_macsec.cli.preflight import report_table
from qkd_macsec.devices.base import DeviceFacts, InterfaceState
from qkd_macsec.devices.platform import get_platform
from qkd_macsec.preflight.checks import router_findings
from qkd_macsec.preflight.facts import RouterFacts
from qkd_macsec.preflight.model import Finding, PreflightReport, Severity
from support.engine_fakes import make_link

XR_PORT = "HundredGigE0/0/0/1"


def facts(platform: str, interface: str, model: str, version: str) -> RouterFacts:
    """A router that answered every read, its one link interface not among its interfaces."""
    return RouterFacts(
        "b",
        platform=platform,
        facts=DeviceFacts("b", model, version),
        interfaces={interface: InterfaceState(interface, exists=False, admin_up=None)},
        macsec_capable=True,
    )


def by_check(found: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in found}


def test_a_junos_only_check_says_n_a_on_iosxr() -> None:
    link = make_link("l1", "a", "b", interface=XR_PORT)
    found = router_findings(facts("iosxr", XR_PORT, "IOS XR", "IOS XR"), [link], 2.0)
    interface = [f for f in found if f.check == "interface"]
    assert len(interface) == 1
    assert interface[0].severity is Severity.NOT_APPLICABLE
    assert interface[0].detail.startswith("not checked on IOS XR: ")
    assert "configured interfaces only" in interface[0].detail
    assert {f.platform for f in found} == {"iosxr"}
    assert by_check(found)["facts"].detail == "IOS XR"
    report = PreflightReport(tuple(f for f in found if f.severity is not Severity.WARNING))
    assert report.exit_code == 0  # n/a never fails a run
    assert report.to_json()["counts"] == {  # type: ignore[comparison-overlap]
        "ok": len(report.of(Severity.OK)),
        "warning": 0,
        "blocker": 0,
        "unreachable": 0,
        "n/a": 1,
    }


def test_the_same_missing_interface_blocks_on_junos() -> None:
    link = make_link("l1", "a", "b", interface="et-0/0/1")
    found = router_findings(facts("junos", "et-0/0/1", "MX304", "23.4R1"), [link], 2.0)
    interface = by_check(found)["interface"]
    assert interface.severity is Severity.BLOCKER
    assert interface.platform == "junos"
    assert by_check(found)["facts"].detail == "MX304 Junos 23.4R1"


def test_only_declared_checks_are_n_a() -> None:
    declared = {check for check, _ in get_platform("iosxr").preflight_not_checked}
    assert declared == {"interface"}
    assert get_platform("junos").preflight_not_checked == ()


def test_json_and_table_name_each_routers_platform() -> None:
    link = make_link("l1", "a", "b", interface=XR_PORT)
    found = router_findings(facts("iosxr", XR_PORT, "IOS XR", "IOS XR"), [link], 2.0)
    report = PreflightReport(tuple(found))
    rows = report.to_json()["findings"]
    assert isinstance(rows, list)
    assert {row["platform"] for row in rows} == {"iosxr"}
    console = Console(width=120, record=True, color_system=None)
    console.print(report_table(report, show_all=True))
    text = console.export_text()
    assert "b (iosxr)" in text
    assert "n/a" in text


def test_findings_without_a_platform_stay_as_they_were() -> None:
    link = make_link("l1", "a", "b")
    found = router_findings(RouterFacts("a"), [link], 2.0)
    assert all(f.platform == "" for f in found)
    rows = PreflightReport(tuple(found)).to_json()["findings"]
    assert isinstance(rows, list)
    assert all("platform" not in row for row in rows)
