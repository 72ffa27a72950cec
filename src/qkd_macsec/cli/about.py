"""``--version`` and ``completion``: what this build runs on, and shell completion scripts.

The version line names both OpenSSL builds in the process, because they decide what the
management hops can negotiate: the runtime's ``ssl`` module (the ETSI 014 client's TLS) and the
one bundled with ``cryptography`` (certificates, key derivation, ML-KEM).
"""

from __future__ import annotations

import platform
import ssl

import click
from click.shell_completion import get_completion_class

from qkd_macsec import __version__

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_QKD_MACSEC_COMPLETE"


def version_text() -> str:
    from cryptography.hazmat.backends.openssl.backend import backend

    return (
        f"qkd-macsec {__version__}\n"
        f"Python {platform.python_version()}; ssl module: {ssl.OPENSSL_VERSION}; "
        f"cryptography bundles {backend.openssl_version_text()}"
    )


def print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit()


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(qkd-macsec completion bash)"      (or save it under
           /etc/bash_completion.d/qkd-macsec)
    zsh:   eval "$(qkd-macsec completion zsh)"
    fish:  qkd-macsec completion fish > ~/.config/fish/completions/qkd-macsec.fish
    """
    root = ctx.find_root().command
    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one of click's own
    click.echo(completer(root, {}, "qkd-macsec", COMPLETE_VAR).source())
