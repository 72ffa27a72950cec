"""`qkd-macsec demo`: the whole job on embedded KMEs and simulated routers."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from qkd_macsec.cli.errors import EXIT_FAILED
from qkd_macsec.cli.render import print_wave
from qkd_macsec.obs.logging import configure_logging
from qkd_macsec.report.tables import Column, FitTable, short_id
from qkd_macsec.testbed.demo import DemoReport, run_demo
from qkd_macsec.testbed.examples import DEMO_LABS


@click.command()
@click.option("-n", "--rotations", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option(
    "--lab",
    type=click.Choice(sorted(DEMO_LABS)),
    default="seed",
    show_default=True,
    help="seed: the seed's four Junos routers; multi-vendor: Junos and IOS XR on mixed links.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Work directory (certificates, inventory, journal, logs). Default: a new temp dir.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
@click.option("--wide", is_flag=True, help="Full key IDs in the tables.")
@click.option("-v", "--verbose", count=True)
@click.option(
    "-tr",
    "--trace",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Debug-level trace file (0600).",
)
def demo(
    rotations: int,
    lab: str,
    directory: Path | None,
    as_json: bool,
    wide: bool,
    verbose: int,
    trace: Path | None,
) -> None:
    """Bootstrap, rotate and report on a simulated lab: the seed's (mx304-11, mx304-12,
    mx10008-23, mx10008-24) or the multi-vendor one (Junos and IOS XR)."""
    configure_logging(verbosity=verbose, trace_file=trace, console=not as_json)
    report = run_demo(rotations, directory, lab=lab)
    console = Console()
    if as_json:
        click.echo(json.dumps(report.summary(), indent=2))
    else:
        for wave in report.waves:
            print_wave(console, wave, wide=wide)
        console.print(links_table(report, wide=wide))
        console.print(ends_table(report))
        console.print("live: wires whose MKA session runs on the newest key", style="dim")
        verdict = "[green]PASS[/]" if report.ok else "[red]FAIL[/]"
        console.print(
            f"{verdict}: {len(report.links)} link(s), {len(report.waves)} wave(s) in "
            f"{report.seconds:.1f}s"
        )
        console.print(f"work directory: {report.directory}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


def links_table(report: DemoReport, *, wide: bool = False) -> FitTable:
    """Per link after the demo: newest key, wires live on it, outage measured by the simulator."""
    table = FitTable(
        "links after the demo",
        [
            Column("link"),
            Column("platforms"),
            Column("key ID"),
            Column("kcv"),
            Column("age", justify="right"),
            Column("live", justify="right"),
            Column("outage", justify="right"),
            Column("keys", justify="right"),
        ],
    )
    for link in report.links:
        table.add_row(
            link.link,
            link.platforms or "-",
            short_id(link.key_id, wide=wide),
            link.kcv or "-",
            f"{link.key_age_s:.1f}s" if link.key_age_s is not None else "-",
            f"{link.wires_live_on_newest}/{link.wires}",
            f"{link.outage_s:g}s",
            str(link.rotations),
        )
    return table


def ends_table(report: DemoReport) -> FitTable:
    """Each link's ends: host, platform and interface (the master first)."""
    table = FitTable(
        "link ends", [Column("link"), Column("host"), Column("platform"), Column("interface")]
    )
    for link in report.links:
        for end in link.ends:
            table.add_row(link.link, end.host, end.platform, end.interface)
    return table
