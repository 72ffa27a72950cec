"""`qkd-macsec certs` commands."""

from __future__ import annotations

import click


@click.group(name="certs")
def group() -> None:
    """certs commands."""
