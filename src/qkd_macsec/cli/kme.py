"""`qkd-macsec kme` commands."""

from __future__ import annotations

import click


@click.group(name="kme")
def group() -> None:
    """kme commands."""
