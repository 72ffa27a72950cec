"""The ``qkd-macsec`` command (Click + Rich). Each command group lives in its own module here.

Exit codes: 0 success; 1 a rotation or operation failed; 2 bad input (inventory, options, files);
3 a KME or device could not be reached; 4 another controller holds the journal; 130 interrupted.
Core dumps are disabled before any command runs (:mod:`.hardening`): the process holds keys in
memory.
"""

from __future__ import annotations

import sys

import click

from qkd_macsec.cli import (
    about,
    certs,
    demo,
    inventory,
    kme,
    onbox,
    preflight,
    report,
    rotation,
    sim,
)
from qkd_macsec.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, CliError
from qkd_macsec.cli.hardening import disable_core_dumps


@click.group(
    name="qkd-macsec",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=about.print_version,
    help="Show the version, Python and both OpenSSL builds, and exit.",
)
def cli() -> None:
    """Quantum-safe MACsec: QKD keys (ETSI GS QKD 014) as MACsec CAK/CKN, rotated hitlessly."""


cli.add_command(kme.group)
cli.add_command(sim.group)
cli.add_command(certs.group)
cli.add_command(inventory.group)
cli.add_command(onbox.group)
cli.add_command(demo.demo)
cli.add_command(report.report)
cli.add_command(rotation.rotate)
cli.add_command(rotation.run)
cli.add_command(rotation.recover)
cli.add_command(rotation.adopt)
cli.add_command(rotation.status)
cli.add_command(rotation.config_group)
cli.add_command(preflight.preflight)
cli.add_command(about.completion)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: known errors become a one-line message and an exit code."""
    disable_core_dumps()
    try:
        cli.main(args=argv, prog_name="qkd-macsec", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CliError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug, not bad input: still no traceback for the operator
        click.secho(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --trace for details)",
            err=True,
            fg="red",
        )
        sys.exit(EXIT_FAILED)
