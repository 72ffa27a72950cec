"""`qkd-macsec sim` commands."""

from __future__ import annotations

import click


@click.group(name="sim")
def group() -> None:
    """sim commands."""
