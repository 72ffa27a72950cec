"""`qkd-macsec inventory`: validate an inventory, import the seed's targets, copy the example."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

import click
from rich.console import Console

from qkd_macsec.cli.errors import EXIT_BAD_INPUT, CliError
from qkd_macsec.inventory import (
    Inventory,
    InventoryError,
    RotationMode,
    check_local_files,
    format_duration,
    inventory_warnings,
    load_inventory,
)
from qkd_macsec.inventory.seed import import_seed_targets, read_seed_targets
from qkd_macsec.report.tables import Column, FitTable

EXAMPLES = ("seed-lab",)


@click.group(name="inventory")
def group() -> None:
    """Inventory commands: check a file, import the seed's targets_dict, write an example."""


@group.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--structure-only",
    is_flag=True,
    help="Check the file only, not the certificates, keys and passwords it refers to.",
)
@click.option(
    "--hosts",
    "-H",
    "only_hosts",
    multiple=True,
    help="Restrict to these hosts: keeps the links whose ends are all among them.",
)
def check(file: Path, structure_only: bool, only_hosts: tuple[str, ...]) -> None:
    """Validate FILE and print its hosts and links (exit 2 on any problem).

    Valid but risky settings (no KME certificate check, unverified SSH host keys, rotation
    intervals under a minute or over a week, timeouts longer than a rotation, clock tolerance
    above the activation delay, a journal on /dev/null) are printed as warnings; they do not
    change the exit status.
    """
    inventory = _load(file)
    if only_hosts:
        try:
            dropped = inventory.partial_links(only_hosts)
            inventory = inventory.restrict(only_hosts)
        except InventoryError as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from None
        for link in dropped:
            click.echo(
                f"note: link {link.name} skipped: not all of its ends "
                f"({', '.join(link.host_names)}) are selected",
                err=True,
            )
    _print_summary(inventory)
    for warning in inventory_warnings(inventory):
        click.secho(f"warning: {file}: {warning}", err=True, fg="yellow")
    problems = [] if structure_only else check_local_files(inventory)
    if problems:
        lines = "\n".join(f"  {file}: {p}" for p in problems)
        raise CliError(
            f"{file}: {len(problems)} problem(s) with referenced files or credentials:\n{lines}",
            EXIT_BAD_INPUT,
        )


@group.command("import-seed")
@click.argument("targets", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    required=True,
    help="Inventory file to write ('-' for standard output).",
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in RotationMode]),
    default=RotationMode.KEY_CHAIN.value,
    show_default=True,
    help="key-chain (hitless) or pre-shared-key (the seed's in-place replacement).",
)
@click.option("--certs-dir", default="certs", show_default=True, help="Where SAE certificates go.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def import_seed(targets: Path, output: Path, mode: str, certs_dir: str, force: bool) -> None:
    """Convert the seed script's targets_dict (JSON, or the Python dict literal) to an inventory.

    Passwords are not copied: the inventory refers to environment variables instead.
    """
    try:
        imported = import_seed_targets(
            read_seed_targets(targets),
            mode=RotationMode(mode),
            certs_dir=certs_dir,
            source=str(targets),
        )
    except InventoryError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    text = imported.to_yaml()
    if str(output) == "-":
        click.echo(text, nl=False)
    else:
        _write_new(output, text, force)
        click.echo(f"wrote {output}", err=True)
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)


@group.command("example")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", type=click.Choice(EXAMPLES), default=EXAMPLES[0], show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing inventory.yaml.")
def example(directory: Path, name: str, force: bool) -> None:
    """Write a bundled example inventory (the seed's four-router lab) into DIRECTORY."""
    text = resources.files("qkd_macsec").joinpath(f"data/examples/{name}/inventory.yaml")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "inventory.yaml"
    _write_new(target, text.read_text(encoding="utf-8"), force)
    click.echo(f"wrote {target}", err=True)


def _load(file: Path) -> Inventory:
    try:
        return load_inventory(file)
    except InventoryError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None


def _write_new(path: Path, text: str, force: bool) -> None:
    """Write atomically; refuse to replace an existing file unless ``force``."""
    if path.exists() and not force:
        raise CliError(f"{path} already exists (use --force to overwrite)", EXIT_BAD_INPUT)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None


def _print_summary(inventory: Inventory) -> None:
    console = Console(file=sys.stdout, soft_wrap=False)
    hosts = FitTable(
        f"hosts ({len(inventory.hosts)})",
        [
            Column("host"),
            Column("platform"),
            Column("address"),
            Column("user"),
            Column("auth"),
            Column("SAE ID"),
            Column("KME"),
            Column("groups", wrap=True),
        ],
    )
    for host in inventory.hosts.values():
        hosts.add_row(
            host.name,
            host.platform,
            f"{host.host}:{host.port}",
            host.user,
            host.auth_summary,
            host.sae_id,
            host.kme or "-",
            ", ".join(host.groups) or "-",
        )
    links = FitTable(
        f"links ({len(inventory.links)})",
        [
            Column("link"),
            Column("mode"),
            Column("CA / chain"),
            Column("suite"),
            Column("every"),
            Column("master"),
            Column("slaves"),
        ],
    )
    for link in inventory.links:
        links.add_row(
            link.name,
            link.mode.value,
            f"{link.connectivity_association} / {link.key_chain or '-'}",
            link.cipher_suite.value,
            format_duration(link.rotation_interval),
            _end_text(link.master.host, link.master.interfaces),
            "\n".join(_end_text(s.host, s.interfaces) for s in link.slaves),
        )
    console.print(hosts)
    console.print(links)
    policy = inventory.policy
    delay = "auto" if policy.activation_delay is None else format_duration(policy.activation_delay)
    console.print(
        f"policy: activation delay {delay} (min {format_duration(policy.min_activation_delay)}),"
        f" keep {policy.keep_previous} previous, {policy.max_workers} workers,"
        f" journal {policy.journal}",
        highlight=False,
    )
    click.echo(f"{inventory.source}: OK", err=True)


def _end_text(host: str, interfaces: tuple[str, ...]) -> str:
    return f"{host} {','.join(interfaces)}"
