"""The ``qkd-macsec`` command. Each command group lives in its own module of this package.

Exit codes: 0 success; 1 a rotation or operation failed; 2 bad input (inventory, options, files);
3 a KME or device could not be reached; 130 interrupted.
"""

from __future__ import annotations

import sys

import click
import typer

from qkd_macsec.cli import certs, kme, sim
from qkd_macsec.cli.errors import EXIT_INTERRUPTED, CliError

app = typer.Typer(
    name="qkd-macsec",
    help="Quantum-safe MACsec: QKD keys (ETSI GS QKD 014) as MACsec CAK/CKN, rotated hitlessly.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(kme.app, name="kme")
app.add_typer(sim.app, name="sim")
app.add_typer(certs.app, name="certs")


def main() -> None:
    """Console entry point: known errors become a one-line message and an exit code."""
    try:
        app(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CliError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug, not bad input: still no traceback for the operator
        typer.secho(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --trace for details)",
            err=True,
            fg=typer.colors.RED,
        )
        sys.exit(1)
