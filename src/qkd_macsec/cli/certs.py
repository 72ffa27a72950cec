"""`qkd-macsec certs`: a lab CA, KME server and SAE client certificates, expiry checks."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from qkd_macsec.certs.renew import RenewError, check_inventory_certificates, renew_sae_certificate
from qkd_macsec.cli.common import open_inventory
from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, CliError
from qkd_macsec.pki import (
    CA_FILES,
    KeyType,
    PkiError,
    check_certificate,
    create_ca,
    issue_client_cert,
    issue_server_cert,
    load_ca,
    load_certificates,
    save_ca,
    save_issued,
)

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.@:+-]")
_KEY_TYPES = click.Choice(["ec", "rsa"])


def file_stem(name: str) -> str:
    """A file name stem for a certificate subject: no path separators, no leading dot."""
    stem = _UNSAFE_FILE_CHARS.sub("_", name).lstrip(".")
    if not stem:
        raise CliError(f"cannot derive a file name from {name!r}; use --name", EXIT_BAD_INPUT)
    return stem


@click.group(name="certs")
def group() -> None:
    """Certificates for mutual TLS between SAEs and KMEs."""


@group.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="qkd-macsec CA", show_default=True, help="CA common name.")
@click.option("--key-type", type=_KEY_TYPES, default="ec", show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=3650, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing CA in DIRECTORY.")
def init(directory: Path, name: str, key_type: str, days: int, force: bool) -> None:
    """Create a CA in DIRECTORY (ca.pem, and ca.key with mode 0600)."""
    existing = [directory / f for f in CA_FILES if (directory / f).exists()]
    if existing and not force:
        raise CliError(f"{existing[0]} already exists (use --force to replace)", EXIT_BAD_INPUT)
    try:
        ca = create_ca(name, key_type="rsa" if key_type == "rsa" else "ec", days=days)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    cert_path, key_path = save_ca(ca, directory)
    click.echo(f"CA {ca.name!r}: {cert_path} (key {key_path}, mode 0600)")


def _split_sans(values: tuple[str, ...]) -> tuple[list[str], list[str]]:
    names: list[str] = []
    addresses: list[str] = []
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            try:
                ipaddress.ip_address(item)
            except ValueError:
                names.append(item)
            else:
                addresses.append(item)
    return names, addresses


@group.command("issue")
@click.option(
    "--ca",
    "ca_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory holding ca.pem and ca.key.",
)
@click.option("--sae", "sae_id", help="Issue an SAE client certificate (CN = this SAE ID).")
@click.option("--server", "server_name", help="Issue a server certificate for this DNS name.")
@click.option(
    "--san",
    multiple=True,
    help="Extra server SAN: DNS name or IP address (repeatable, or comma-separated).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (default: the CA directory).",
)
@click.option("--name", "stem", help="File name stem (default: derived from the SAE ID/name).")
@click.option("--days", type=click.IntRange(min=1), default=397, show_default=True)
@click.option("--key-type", type=_KEY_TYPES, default="ec", show_default=True)
def issue(
    ca_dir: Path,
    sae_id: str | None,
    server_name: str | None,
    san: tuple[str, ...],
    out: Path | None,
    stem: str | None,
    days: int,
    key_type: str,
) -> None:
    """Issue an SAE client certificate (--sae) or a KME server certificate (--server)."""
    if (sae_id is None) == (server_name is None):
        raise CliError("give exactly one of --sae ID or --server NAME", EXIT_BAD_INPUT)
    if sae_id is not None and san:
        raise CliError("--san applies to server certificates only", EXIT_BAD_INPUT)
    kind: KeyType = "rsa" if key_type == "rsa" else "ec"
    try:
        ca = load_ca(ca_dir)
        if sae_id is not None:
            subject = sae_id
            issued = issue_client_cert(ca, sae_id, days, key_type=kind)
        else:
            assert server_name is not None
            subject = server_name
            names, addresses = _split_sans((server_name, *san))
            issued = issue_server_cert(ca, names, addresses, days, key_type=kind)
    except PkiError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    except ValueError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    directory = out or ca_dir
    base = file_stem(stem or subject)
    cert_path, key_path = directory / f"{base}.pem", directory / f"{base}.key"
    save_issued(issued, cert_path, key_path)
    what = "SAE client" if sae_id is not None else "server"
    click.echo(f"{what} certificate for {subject!r}: {cert_path} (key {key_path}, mode 0600)")


@group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--warn-days",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="Fail when fewer days than this are left.",
)
@click.option(
    "-i",
    "--inventory",
    "inventory_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check every SAE certificate and every KME's server certificate of an inventory.",
)
def check(paths: tuple[Path, ...], warn_days: float, inventory_path: Path | None) -> None:
    """Show days left for each certificate; exit 1 if any expires within --warn-days."""
    if not paths and inventory_path is None:
        raise CliError("give certificate PATHS or --inventory", EXIT_BAD_INPUT)
    now = datetime.now(UTC)
    warn = timedelta(days=warn_days)
    failed = 0
    for path in paths:
        try:
            certs = load_certificates(path)
        except PkiError as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from None
        for cert in certs:
            result = check_certificate(cert, warn, now)
            failed += not result.ok
            click.echo(
                f"{path}: {result.subject}: {result.validity.value}, "
                f"{result.days_left:.1f} days left (not after {result.not_after:%Y-%m-%d %H:%M}Z)"
            )
    if inventory_path is not None:
        inventory = open_inventory(inventory_path)
        for report in check_inventory_certificates(inventory, warn, now):
            failed += not report.ok
            if report.check is None:
                click.echo(f"{report.label} ({report.source}): {report.problem}")
                continue
            click.echo(
                f"{report.label} ({report.source}): {report.check.validity.value}, "
                f"{report.check.days_left:.1f} days left "
                f"(not after {report.check.not_after:%Y-%m-%d %H:%M}Z)"
            )
    if failed:
        raise CliError(
            f"{failed} certificate(s) expired, expiring within {warn_days:g} days or unchecked",
            EXIT_FAILED,
        )


@group.command("renew")
@click.option(
    "-i",
    "--inventory",
    "inventory_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("inventory.yaml"),
    show_default=True,
)
@click.option(
    "--ca",
    "ca_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="CA directory (ca.pem + ca.key) that issues the SAE certificates.",
)
@click.option(
    "--threshold-days",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="Renew certificates with fewer days left than this.",
)
@click.option(
    "--days",
    type=click.FloatRange(min=1),
    default=365,
    show_default=True,
    help="Validity of the new certificates.",
)
@click.option(
    "--no-upload",
    is_flag=True,
    help="Only replace the controller's copies (off-box); do not upload to routers.",
)
@click.option("--force", is_flag=True, help="Renew even certificates that are not due.")
@click.option(
    "--transfer",
    type=click.Choice(["scp", "sftp"]),
    default="scp",
    show_default=True,
    help="Upload with SCP, or SFTP (atomic rename; needs the router's sftp-server).",
)
@click.argument("targets", nargs=-1)
def renew(
    inventory_path: Path,
    ca_dir: Path,
    threshold_days: float,
    days: float,
    no_upload: bool,
    force: bool,
    transfer: str,
    targets: tuple[str, ...],
) -> None:
    """Renew SAE certificates under the threshold: the KME must accept the new one before it
    replaces the old, on the router (SCP/SFTP, key 0600) and in the inventory's files."""
    inventory = open_inventory(inventory_path)
    try:
        ca = load_ca(ca_dir)
    except PkiError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    names = list(targets) or list(inventory.hosts)
    unknown = [n for n in names if n not in inventory.hosts]
    if unknown:
        raise CliError(f"unknown host(s): {', '.join(unknown)}", EXIT_BAD_INPUT)
    now = datetime.now(UTC)
    failed = 0
    for name in names:
        try:
            outcome = renew_sae_certificate(
                inventory,
                name,
                ca,
                now,
                threshold=timedelta(days=threshold_days),
                days=days,
                upload=not no_upload,
                force=force,
                transfer="sftp" if transfer == "sftp" else "scp",
            )
        except (RenewError, PkiError) as exc:
            failed += 1
            click.secho(f"{name}: FAILED: {exc}", err=True, fg="red")
            continue
        if outcome.renewed:
            click.echo(
                f"{name}: renewed ({outcome.days_left_before:.1f} -> "
                f"{outcome.days_left_after:.1f} days left"
                f"{', uploaded' if outcome.uploaded else ''})"
            )
        else:
            click.echo(f"{name}: ok ({outcome.days_left_before:.1f} days left)")
    if failed:
        raise CliError(f"{failed} renewal(s) failed; old certificates kept", EXIT_FAILED)
