"""`qkd-macsec report --out DIR`: the journal's rotations as a PNG and a self-contained HTML
report (summary, per-link results, per platform pair, a UTC timeline with a mark per rotation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qkd_macsec.cli.common import (
    journal_errors,
    journal_location,
    journal_option,
    open_inventory,
    operator_options,
)
from qkd_macsec.cli.errors import EXIT_BAD_INPUT, CliError
from qkd_macsec.engine.backends import open_journal
from qkd_macsec.report.status import link_platforms


@click.command()
@operator_options
@journal_option
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for timeline.png and timeline.html.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    show_default=True,
    help="Most recent rotations to include.",
)
def report(
    inventory_path: Path,
    targets: tuple[str, ...],
    out: Path,
    limit: int,
    journal: str | None,
    **_: Any,
) -> None:
    """Write a report of rotations and MKA verification per link, from the journal."""
    # matplotlib is imported here, not with the CLI: it would double every other command's start
    from qkd_macsec.report.timeline import write_report

    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)
    if isinstance(location, Path) and not location.exists():
        raise CliError(f"no journal at {location}: nothing has been rotated yet", EXIT_BAD_INPUT)
    with journal_errors(location):
        store = open_journal(location)  # a PostgreSQL journal opened without a lease: reads only
    try:
        files = write_report(
            store,
            out,
            links=[link.name for link in inventory.links],
            limit=limit,
            platforms=link_platforms(inventory),
        )
    except OSError as exc:
        raise CliError(f"--out {out}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    finally:
        store.close()
    results = f": {files.results}" if files.rotations else ""
    click.echo(f"{files.rotations} rotation(s) on {files.links} link(s){results}")
    for pair, counts in files.pairs.items():
        shown = ", ".join(f"{n} {name}" for name, n in counts.items())
        click.echo(f"  {pair}: {shown}")
    click.echo(f"wrote {files.png}")
    click.echo(f"wrote {files.html}")


group = report
