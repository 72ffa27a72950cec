"""`qkd-macsec sim` commands: run the Junos NETCONF simulator from a lab file."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, CliError

if TYPE_CHECKING:
    from qkd_macsec.sim.lab import Lab


@click.group(name="sim")
def group() -> None:
    """Simulated Junos routers (NETCONF over SSH) and MACsec links."""


@group.command("serve")
@click.option(
    "--lab",
    "lab_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Lab YAML: devices, links (passwords inline or via password_env, never on argv).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where host keys and known_hosts live (default: <lab>.state next to the lab file).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def serve(lab_file: Path, state_dir: Path | None, host: str) -> None:
    """Serve every device of the lab until SIGTERM or Ctrl-C."""
    from qkd_macsec.sim.lab import Lab, LabError

    try:
        lab = Lab.from_file(lab_file, state_dir=state_dir or lab_file.with_suffix(".state"))
    except LabError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    try:
        asyncio.run(_serve(lab, host))
    except LabError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    except OSError as exc:
        raise CliError(f"cannot listen: {exc.strerror or exc}", EXIT_FAILED) from None


async def _serve(lab: Lab, host: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with lab.serve(host) as running:
        width = max(len(name) for name in running.servers)
        for name in running.servers:  # every device, whatever its platform
            click.echo(f"{name:<{width}}  {host}:{running.port(name)}")
        click.echo(f"known_hosts: {running.known_hosts_path}")
        for link in running.fabric.links():
            a, b = running.fabric.link_ends(link)
            click.echo(f"link {link}: {a.device}:{a.interface} <-> {b.device}:{b.interface}")
        click.echo("ready", nl=True)
        await stop.wait()
    click.echo("stopped")
