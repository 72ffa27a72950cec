"""`qkd-macsec preflight`: read-only day-one checks of every router and KME (never changes one).

Exit 0 all green (warnings allowed), 1 a blocker found, 2 bad input (nothing contacted),
3 only unreachable routers/KMEs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from qkd_macsec.cli.common import open_inventory, operator_options
from qkd_macsec.cli.errors import EXIT_BAD_INPUT, CliError
from qkd_macsec.devices.base import DeviceTarget, Driver, InvalidTargetError
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.engine.controller import device_target, link_specs
from qkd_macsec.inventory import Inventory, InventoryError
from qkd_macsec.inventory.preflight import check_local_files
from qkd_macsec.preflight import (
    Finding,
    PreflightOptions,
    PreflightReport,
    Severity,
    run_preflight,
)
from qkd_macsec.report.tables import Column, FitTable

STYLE = {
    Severity.OK: Text("ok", style="green"),
    Severity.WARNING: Text("warn", style="yellow"),
    Severity.BLOCKER: Text("BLOCK", style="red"),
    Severity.UNREACHABLE: Text("unreach", style="red"),
    Severity.NOT_APPLICABLE: Text("n/a", style="dim"),
}


def _targets(inventory: Inventory) -> dict[str, DeviceTarget]:
    """Every router's target, built before any I/O so that bad input exits 2 untouched."""
    try:
        link_specs(inventory)
        return {name: device_target(inventory, name) for name in sorted(inventory.hosts)}
    except (InventoryError, InvalidTargetError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0], EXIT_BAD_INPUT) from None


def report_table(report: PreflightReport, *, show_all: bool) -> FitTable:
    """Problems one row each; passed checks collapse to one row per router and one for all
    KME probes, unless ``show_all``."""
    table = FitTable(
        "preflight",
        [Column("subject"), Column("check"), Column("result"), Column("detail", wrap=True)],
    )
    by_subject: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_subject[(finding.kind.value, finding.subject)].append(finding)
    order = sorted(by_subject.items(), key=lambda item: (item[0][0] != "router", item[0][1]))
    kme_passed: list[Finding] = []
    for (kind, name), findings in order:
        platform = next((f.platform for f in findings if f.platform), "")
        subject = f"{name} ({platform})" if platform else name
        passed = [f for f in findings if f.severity is Severity.OK]
        shown = findings if show_all else [f for f in findings if f.severity is not Severity.OK]
        for finding in shown:
            table.add_row(subject, finding.check, STYLE[finding.severity], finding.detail)
        if show_all or not passed:
            continue
        if kind == "kme":
            kme_passed += passed
            continue
        checks = ", ".join(dict.fromkeys(f.check for f in passed))
        table.add_row(subject, f"{len(passed)} passed", STYLE[Severity.OK], checks)
    if kme_passed:
        checks = ", ".join(dict.fromkeys(f.check for f in kme_passed))
        subjects = len({f.subject for f in kme_passed})
        table.add_row(
            "KMEs", f"{len(kme_passed)} passed", STYLE[Severity.OK], f"{checks} ({subjects} probes)"
        )
    return table


@click.command()
@operator_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable findings.")
@click.option("--all", "show_all", is_flag=True, help="One row per check, passed ones too.")
@click.option(
    "--consume-key",
    is_flag=True,
    help="Also fetch one real key per link (enc_keys + dec_keys): it is used up.",
)
def preflight(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    as_json: bool,
    show_all: bool,
    consume_key: bool,
    **_: Any,
) -> None:
    """Check routers and KMEs before the first run, changing nothing.

    Routers: NETCONF and host key, commit permission (commit check inside lock/unlock),
    version, interfaces, MACsec, clock, time zone, NTP, conflicting MACsec configuration.
    KMEs: mTLS as every SAE, status to every peer SAE, key sizes, max_SAE_ID_count.
    Exit 0 all green (warnings allowed), 1 a blocker, 2 bad input, 3 unreachable.
    """
    inventory = open_inventory(inventory_path, targets)
    problems = check_local_files(inventory)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CliError(f"{inventory.source}: {problems[0]}{more}", EXIT_BAD_INPUT)
    prepared = _targets(inventory)

    def driver_for(name: str) -> Driver:
        return DRIVERS.get(inventory.host(name).platform)(prepared[name])

    report = run_preflight(
        inventory,
        PreflightOptions(threads=threads, consume_key=consume_key),
        driver_for=driver_for,
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        console = Console()
        console.print(report_table(report, show_all=show_all))
        counts = {s: len(report.of(s)) for s in Severity}
        console.print(
            f"{counts[Severity.BLOCKER]} blocker(s), {counts[Severity.WARNING]} warning(s), "
            f"{counts[Severity.UNREACHABLE]} unreachable, {counts[Severity.OK]} passed"
            + (
                f", {counts[Severity.NOT_APPLICABLE]} n/a"
                if counts[Severity.NOT_APPLICABLE]
                else ""
            )
        )
    if report.exit_code:
        raise SystemExit(report.exit_code)
