"""`qkd-macsec rotate | run | status | config show`: the operator's commands."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from qkd_macsec.cli.common import crash_hook_from_env, open_inventory, operator_options
from qkd_macsec.cli.errors import EXIT_FAILED, CliError
from qkd_macsec.cli.render import print_wave
from qkd_macsec.engine.controller import Controller, ControllerOptions, bindings_for, link_specs
from qkd_macsec.engine.journal import Journal, Phase


@click.command()
@operator_options
@click.option("--force", "force_all", is_flag=True, help="Rotate every selected link now.")
@click.option("--link", "links", multiple=True, help="Rotate this link now (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def rotate(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    force_all: bool,
    links: tuple[str, ...],
    as_json: bool,
    **_: Any,
) -> None:
    """Run one rotation wave: every due link (or the forced ones), then exit.

    Exit 0 when every rotated link is live on its new key, 1 if any failed.
    """
    inventory = open_inventory(inventory_path, targets)

    async def go() -> bool:
        async with Controller(
            inventory, ControllerOptions(max_workers=threads), crash_hook=crash_hook_from_env()
        ) as controller:
            result = await controller.rotate(force=links, all_links=force_all)
        print_wave(Console(), result, as_json=as_json)
        return result.ok

    if not asyncio.run(go()):
        raise SystemExit(EXIT_FAILED)


@click.command()
@operator_options
@click.option("--check-interval", type=float, default=30.0, show_default=True)
def run(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    check_interval: float,
    **_: Any,
) -> None:
    """Keep every link on fresh keys until SIGTERM/SIGINT (a wave in progress completes)."""
    inventory = open_inventory(inventory_path, targets)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Controller(
            inventory, ControllerOptions(max_workers=threads), crash_hook=crash_hook_from_env()
        ) as controller:
            await controller.run(stop, check_interval=check_interval)

    asyncio.run(go())


@click.command()
@operator_options
@click.option("--json", "as_json", is_flag=True)
def status(inventory_path: Path, targets: tuple[str, ...], as_json: bool, **_: Any) -> None:
    """Per link: current key ID and its age, last rotation, open or failed rotations."""
    inventory = open_inventory(inventory_path, targets)
    journal = Journal(inventory.policy.journal)
    now = datetime.now(UTC)
    rows = []
    try:
        for link in inventory.links:
            active = journal.active_keys(link.name, 1)
            last = journal.last_attempt(link.name)
            rows.append(
                {
                    "link": link.name,
                    "key_id": active[0].key_id if active else None,
                    "key_age_s": round((now - active[0].activated).total_seconds(), 1)
                    if active
                    else None,
                    "last_phase": last.phase.value if last else None,
                    "last_error": last.error if last else None,
                    "open": bool(last and last.phase.is_open),
                    "failures": journal.consecutive_failures(link.name),
                }
            )
    finally:
        journal.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="links")
    for column in ("link", "key ID", "key age", "last", "failures", "note"):
        table.add_column(column)
    for row in rows:
        age = row["key_age_s"]
        table.add_row(
            str(row["link"]),
            str(row["key_id"] or "-"),
            f"{age:.0f}s" if isinstance(age, float) else "-",
            str(row["last_phase"] or "-"),
            str(row["failures"]),
            str(row["last_error"] or ""),
        )
    Console().print(table)
    if any(r["open"] or r["last_phase"] == Phase.FAILED.value for r in rows):
        raise SystemExit(EXIT_FAILED)


@click.group(name="config")
def config_group() -> None:
    """What the tool pushes to devices."""


@config_group.command(name="show")
@operator_options
def config_show(inventory_path: Path, targets: tuple[str, ...], **_: Any) -> None:
    """The initial MACsec configuration each device gets, with an example key entry (masked)."""
    from qkd_macsec.devices.base import ChangeSet, KeyChainEntry
    from qkd_macsec.devices.junos_render import render_set_masked
    from qkd_macsec.secret import Secret

    inventory = open_inventory(inventory_path, targets)
    per_device: dict[str, ChangeSet] = {}
    for link in link_specs(inventory):
        for end in link.ends:
            changes = per_device.setdefault(end.device, ChangeSet())
            changes.bindings.extend(bindings_for(inventory, link, end))
            if link.key_chain is not None:
                changes.add_entries.append(
                    KeyChainEntry(
                        chain=link.key_chain,
                        slot=0,
                        ckn="00" * 32,
                        cak=Secret(bytes(link.suite.key_bytes)),
                        start_time=datetime(2000, 1, 1),
                        suite=link.suite,
                    )
                )
    if not per_device:
        raise CliError("no links selected")
    for device, changes in per_device.items():
        click.echo(f"# {device}")
        click.echo(render_set_masked(changes))
        click.echo()
