"""`qkd-macsec kme` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="kme commands", no_args_is_help=True)
