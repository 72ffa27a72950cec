"""`qkd-macsec kme`: run the embedded ETSI GS QKD 014 KME network, or write an example one."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path

import click

from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, CliError
from qkd_macsec.kme.config import NetworkFileError
from qkd_macsec.kme.example import NETWORK_FILE, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.server import KmeStartError, run_event_loop, serve_network
from qkd_macsec.obs.logging import configure_logging


@click.group(name="kme")
def group() -> None:
    """The embedded KME network (ETSI GS QKD 014 over mutual TLS)."""


async def _serve_until_signalled(network: KmeNetwork) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve_network(network) as running:
            for kme_id, endpoint in running.endpoints.items():
                click.echo(f"{kme_id} {endpoint.url}")
            click.echo("ready", err=True)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    click.echo("stopped", err=True)


@group.command("serve")
@click.option(
    "--network",
    "network_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Network YAML file (KMEs, SAEs, QKD links).",
)
@click.option("-v", "--verbose", count=True, help="-v: INFO, -vv: DEBUG (key IDs, never keys).")
def serve(network_file: Path, verbose: int) -> None:
    """Run every KME of the network; print 'KME_ID URL' per KME; stop on SIGTERM/SIGINT."""
    if verbose:
        configure_logging(verbosity=verbose)
    try:
        network = KmeNetwork.from_file(network_file)
    except NetworkFileError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    try:
        run_event_loop(_serve_until_signalled(network))
    except KmeStartError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None


@group.command("example")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dialect",
    type=click.Choice(["etsi", "lenient"]),
    default="etsi",
    show_default=True,
    help="Error dialect of the KMEs.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing example in DIRECTORY.")
def example(directory: Path, dialect: str, force: bool) -> None:
    """Write a two-KME, two-SAE network (CA, certificates, network.yaml) into DIRECTORY."""
    if (directory / NETWORK_FILE).exists() and not force:
        raise CliError(
            f"{directory / NETWORK_FILE} already exists (use --force to replace)", EXIT_BAD_INPUT
        )
    written = write_example_network(
        directory, dialect="lenient" if dialect == "lenient" else "etsi"
    )
    click.echo(f"network: {written.network_file}")
    click.echo(f"CA: {written.ca_cert}")
    for sae_id, files in written.saes.items():
        click.echo(f"SAE {sae_id}: cert {files.cert}, key {files.key}")
    click.echo(f"run it with: qkd-macsec kme serve --network {written.network_file}")


@group.command("demo")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo(directory: Path | None) -> None:
    """Start the example network and deliver one key from SAE A to SAE B (no key printed)."""
    from qkd_macsec.kme.demo import demo_key_exchange

    if directory is not None:
        lines = asyncio.run(demo_key_exchange(directory))
    else:
        with tempfile.TemporaryDirectory(prefix="qkd-macsec-demo-") as tmp:
            lines = asyncio.run(demo_key_exchange(Path(tmp)))
    for line in lines:
        click.echo(line)
