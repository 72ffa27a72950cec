"""`qkd-macsec rotate | run | status | config show`: the operator's commands."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from qkd_macsec.cli.common import (
    crash_points_from_env,
    journal_errors,
    journal_lease,
    journal_location,
    journal_option,
    open_inventory,
    operator_options,
    shard_option,
    wait_option,
)
from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE, CliError
from qkd_macsec.cli.render import print_wave, wave_progress
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.engine.backends import open_journal
from qkd_macsec.engine.controller import (
    Controller,
    ControllerOptions,
    bindings_for,
    device_target,
    link_specs,
)
from qkd_macsec.engine.lease import Lease
from qkd_macsec.engine.posture_record import recorded_postures
from qkd_macsec.engine.reconcile import Decision
from qkd_macsec.engine.recovery import RecoveryResult
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.inventory import Inventory
from qkd_macsec.obs.logging import get_logger, notice, redact
from qkd_macsec.report.metrics import Metrics, MetricsServer, inventory_certificates
from qkd_macsec.report.posture import posture_table
from qkd_macsec.report.posture_metrics import TransportPostureCollector
from qkd_macsec.report.status import (
    link_ends,
    link_platforms,
    link_status,
    platform_of,
    read_mka_live,
    status_json,
    status_table,
)

log = get_logger("cli")


def start_metrics(
    metrics: Metrics, inventory: Inventory, controller: Controller, addr: str, port: int
) -> MetricsServer:
    """Wire the metrics to the controller's journal and certificates, and serve them."""
    journal = controller.journal
    metrics.watch_key_ages(
        [link.name for link in inventory.links], lambda link: journal.active_keys(link, 1)
    )
    metrics.set_rotation_intervals({link.name: link.rotation_interval for link in inventory.links})
    metrics.set_platforms(platform_of(inventory), link_platforms(inventory))
    metrics.registry.register(TransportPostureCollector(lambda: recorded_postures(journal)))
    for path, problem in metrics.record_certificates(inventory_certificates(inventory)).items():
        log.warning("certificate %s: %s (no days-left metric for it)", path, problem)
    try:
        server = metrics.serve(port, addr)
    except OSError as exc:
        raise CliError(f"--metrics-port {port}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    notice(log, "metrics on %s", server.url)
    return server


@click.command()
@operator_options
@journal_option
@shard_option
@click.option("--force", "force_all", is_flag=True, help="Rotate every selected link now.")
@click.option("--link", "links", multiple=True, help="Rotate this link now (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.option("--wide", is_flag=True, help="Full key IDs in the table.")
@wait_option
def rotate(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    force_all: bool,
    links: tuple[str, ...],
    as_json: bool,
    wide: bool,
    wait: float,
    journal: str | None,
    shard: str | None,
    **_: Any,
) -> None:
    """Run one rotation wave: every due link (or the forced ones), then exit.

    Exit 0 when every rotated link is live on its new key, 1 if any failed or was left alone
    because its routers disagree with the journal, 3 if every failure was a KME or router that
    could not be reached, 4 if another controller holds the journal.
    """
    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)

    async def go(lease: Lease) -> WaveResult:
        async with Controller(
            inventory,
            ControllerOptions(max_workers=threads, journal=location),
            observers=crash_points_from_env(),
            lease=lease,
        ) as controller:
            with wave_progress(sys.stderr.isatty() and not as_json) as progress:
                if progress is not None:
                    controller.executor.events.subscribe(progress)
                result = await controller.rotate(force=links, all_links=force_all)
        print_wave(Console(), result, as_json=as_json, wide=wide)
        return result

    with journal_lease(inventory, "rotate", wait, location, shard) as lease:
        result = asyncio.run(go(lease))
    if not result.ok:
        raise SystemExit(EXIT_UNREACHABLE if result.only_unreachable else EXIT_FAILED)
    if result.conflicts:
        raise SystemExit(EXIT_FAILED)


@click.command()
@operator_options
@journal_option
@shard_option
@wait_option
def recover(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    wait: float,
    journal: str | None,
    shard: str | None,
    **_: Any,
) -> None:
    """Finish or undo every rotation a crash left open (reads the routers), then exit.

    Exit 1 if a rotation stays open (a router could not be reached), 4 if another controller
    holds the journal.
    """
    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)

    async def go(lease: Lease) -> RecoveryResult:
        async with Controller(
            inventory, ControllerOptions(max_workers=threads, journal=location), lease=lease
        ) as controller:
            return await controller.recover()

    with journal_lease(inventory, "recover", wait, location, shard) as lease:
        result = asyncio.run(go(lease))
    click.echo(
        f"recovery: {len(result.finished)} finished, {len(result.undone)} undone, "
        f"{len(result.force)} to re-key, {len(result.still_open)} still open"
    )
    for link, why in sorted(result.still_open.items()):
        click.echo(f"{link}: still open: {why}")
    if result.still_open:
        raise SystemExit(EXIT_FAILED)


@click.command()
@operator_options
@journal_option
@shard_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable verdicts.")
@wait_option
def adopt(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    as_json: bool,
    wait: float,
    journal: str | None,
    shard: str | None,
    **_: Any,
) -> None:
    """Take the routers' keys as the journal's: after a lost or restored journal.

    Recovers open rotations, then reads every link end: a key every end runs on but the journal
    does not know as current is recorded as the link's active key ("adopted"), so the next
    rotation goes forward from it. Changes no router. Exit 1 if a link's ends disagree (or hold
    a newer entry than the journal knows), 4 if another controller holds the journal.
    """
    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)

    async def go(lease: Lease) -> list[Decision]:
        async with Controller(
            inventory, ControllerOptions(max_workers=threads, journal=location), lease=lease
        ) as controller:
            await controller.recover()
            return await controller.adopt()

    with journal_lease(inventory, "adopt", wait, location, shard) as lease:
        decisions = asyncio.run(go(lease))
    if as_json:
        click.echo(
            json.dumps(
                {
                    d.link: {"verdict": d.verdict.value, "message": d.message, "ckn": d.ckn}
                    for d in decisions
                },
                indent=2,
            )
        )
    else:
        for d in sorted(decisions, key=lambda d: d.link):
            click.echo(f"{d.link}: {d.verdict.value}: {d.message}")
    if any(d.verdict.blocks for d in decisions):
        raise SystemExit(EXIT_FAILED)


@click.command()
@operator_options
@journal_option
@shard_option
@click.option("--check-interval", type=float, default=30.0, show_default=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics (0: any free port, logged).",
)
@click.option("--metrics-addr", default="127.0.0.1", show_default=True, help="Metrics address.")
@wait_option
def run(
    inventory_path: Path,
    targets: tuple[str, ...],
    threads: int | None,
    check_interval: float,
    metrics_port: int | None,
    metrics_addr: str,
    wait: float,
    journal: str | None,
    shard: str | None,
    **_: Any,
) -> None:
    """Keep every link on fresh keys until SIGTERM/SIGINT (a wave in progress completes).

    Holds the journal for as long as it runs: a cron ``rotate`` on the same journal exits 4.
    """
    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)
    metrics = Metrics() if metrics_port is not None else None

    async def go(lease: Lease) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Controller(
            inventory,
            ControllerOptions(max_workers=threads, journal=location),
            observers=[*crash_points_from_env(), *([metrics] if metrics else [])],
            lease=lease,
        ) as controller:
            if metrics is None:
                await controller.run(stop, check_interval=check_interval)
                return
            server = start_metrics(metrics, inventory, controller, metrics_addr, metrics_port or 0)
            try:
                await controller.run(stop, check_interval=check_interval)
            finally:
                server.close()

    with journal_lease(inventory, "run", wait, location, shard) as lease:
        asyncio.run(go(lease))


@click.command()
@operator_options
@journal_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--live", is_flag=True, help="Also read MKA state from the devices (read-only).")
@click.option("--wide", is_flag=True, help="Full key IDs in the table.")
def status(
    inventory_path: Path,
    targets: tuple[str, ...],
    as_json: bool,
    live: bool,
    wide: bool,
    journal: str | None,
    **_: Any,
) -> None:
    """Per link: key ID and age, last rotation, MKA state (--live), outage, failures.

    \b
    Exit status:
      0  every link is settled: no rotation in flight, none whose last attempt FAILED
      1  some link needs attention: a rotation is still open (in flight, or left by a crash;
         the next rotate/run recovers it) or its last rotation FAILED (see the table)
      2  bad input (inventory, options)
    """
    inventory = open_inventory(inventory_path, targets)
    location = journal_location(inventory, journal)
    ends = link_ends(inventory)
    readings = None
    if live:
        readings = read_mka_live(
            ends,
            lambda device: DRIVERS.get(inventory.host(device).platform)(
                device_target(inventory, device)
            ),
            redact=redact,
        )
    with journal_errors(location):
        store = open_journal(location)
        now = datetime.now(UTC)
        try:
            rows = link_status(ends, store, now, readings, platform_of(inventory))
            postures = recorded_postures(store)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(status_json(rows), indent=2))
    else:
        console = Console()
        console.print(status_table(rows, now, wide=wide))
        if postures:
            console.print(posture_table(postures))
    if any(row.needs_attention for row in rows):
        raise SystemExit(EXIT_FAILED)


@click.group(name="config")
def config_group() -> None:
    """What the tool pushes to devices."""


@config_group.command(name="show")
@operator_options
def config_show(inventory_path: Path, targets: tuple[str, ...], **_: Any) -> None:
    """The initial MACsec configuration each device gets, with an example key entry (masked).

    Per device, under a header naming host and platform, in that platform's own form (Junos:
    set lines; IOS XR: the NETCONF <config> XML)."""
    from qkd_macsec.devices.base import ChangeSet, KeyChainEntry
    from qkd_macsec.devices.platform import get_platform
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
        platform = get_platform(inventory.host(device).platform)
        click.echo(config_header(device, platform.name, platform.display_name))
        click.echo(platform.render_masked(changes))
        click.echo()


def config_header(device: str, platform: str, title: str) -> str:
    """The line above one device's configuration in ``config show``: host and platform."""
    shown = platform if title == platform else f"{platform}, {title}"
    return f"# {device} (platform {shown})"
