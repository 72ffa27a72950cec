"""`qkd-macsec onbox build | deploy`: the Junos event script and its deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qkd_macsec.cli.common import open_inventory, operator_options
from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE, CliError
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.onbox.build import BuildError, build_script
from qkd_macsec.onbox.config import OnboxConfigError, OnboxOptions, router_lines
from qkd_macsec.onbox.deploy import DeployError, deploy_router


@click.group(name="onbox")
def group() -> None:
    """On-box mode: the routers rotate their own keys with a Junos event script."""


@group.command("build")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("onbox-build"),
    show_default=True,
    help="Directory for qkd_onbox.py and its .sha256.",
)
def build(output: Path) -> None:
    """Bundle the on-box runtime into one script (standard library + what Junos ships)."""
    try:
        built = build_script(output)
    except BuildError as exc:
        raise CliError(f"build failed: {exc}", EXIT_FAILED) from None
    except OSError as exc:
        raise CliError(f"{output}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    click.echo(f"{built.path} ({built.size} bytes) sha256 {built.sha256}")


def _options(timer: int, delay: float, transport: str, user: str) -> OnboxOptions:
    return OnboxOptions(
        timer_s=timer, activation_delay_s=delay, transport=transport, script_user=user
    )


_DEPLOY_OPTIONS = [
    click.option(
        "--timer",
        type=click.IntRange(min=60),
        default=600,
        show_default=True,
        help="generate-event time-interval in seconds (Junos minimum 60).",
    ),
    click.option(
        "--activation-delay",
        type=click.FloatRange(min=1),
        default=60.0,
        show_default=True,
        help="Seconds between staging a key and its start-time.",
    ),
    click.option(
        "--transport",
        type=click.Choice(["push", "scp"]),
        default="push",
        show_default=True,
        help="Key-ID hand-off: NETCONF push to the peer, or the seed's SCP pull.",
    ),
    click.option(
        "--transfer",
        type=click.Choice(["scp", "sftp"]),
        default="scp",
        show_default=True,
        help="Upload with SCP, or SFTP (atomic rename; needs `system services ssh sftp-server`).",
    ),
    click.option(
        "--script-user",
        default="remote",
        show_default=True,
        help="python-script-user the event script runs as (its home holds certs and state).",
    ),
]


def _deploy_options(func: Any) -> Any:
    for option in reversed(_DEPLOY_OPTIONS):
        func = option(func)
    return func


@group.command("deploy")
@operator_options
@_deploy_options
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("onbox-build"),
    show_default=True,
    help="Where the script is built before upload.",
)
@click.option("--dry-run", is_flag=True, help="Print each router's configuration; touch nothing.")
def deploy(**kwargs: Any) -> None:
    """Upload the script to /var/db/scripts/{event,op}/ (checksum verified) and commit the
    event-options and apply-macros on every router (or the TARGETS). Idempotent."""
    inventory = open_inventory(kwargs["inventory_path"], kwargs["targets"])
    options = _options(
        kwargs["timer"], kwargs["activation_delay"], kwargs["transport"], kwargs["script_user"]
    )
    try:
        built = build_script(kwargs["output"])
        if kwargs["dry_run"]:
            for name in inventory.hosts:
                click.echo(f"# {name}")
                click.echo("\n".join(router_lines(inventory, name, built.sha256, options)))
            return
    except (BuildError, OnboxConfigError, ConfigRenderError) as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    failures = 0
    for name in inventory.hosts:
        try:
            result = deploy_router(inventory, name, built, options, kwargs["transfer"])
        except (OnboxConfigError, ConfigRenderError) as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from None
        except DeployError as exc:
            failures += 1
            click.secho(f"{name}: FAILED: {exc}", err=True, fg="red")
            continue
        what = [
            "script uploaded" if result.uploaded else "script up to date",
            "configuration committed" if result.committed else "configuration unchanged",
        ]
        click.echo(f"{name}: {', '.join(what)} (sha256 {result.sha256[:12]})")
    if failures:
        code = EXIT_UNREACHABLE if failures == len(inventory.hosts) else EXIT_FAILED
        raise CliError(f"{failures} router(s) failed", code)
