"""Options every operator command shares (the seed's targets, -t, -v, -tr) and their plumbing."""

from __future__ import annotations

import functools
import math
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from qkd_macsec.cli.errors import EXIT_BAD_INPUT, EXIT_LEASE_HELD, EXIT_UNREACHABLE, CliError
from qkd_macsec.engine.backends import ShardError, acquire_lease
from qkd_macsec.engine.events import Observer
from qkd_macsec.engine.journal_url import (
    JOURNAL_ENV,
    JournalLocation,
    JournalUrlError,
    parse_journal_location,
)
from qkd_macsec.engine.lease import Lease, LeaseError, LeaseHeldError
from qkd_macsec.engine.observers import CrashPoints
from qkd_macsec.inventory import Inventory, InventoryError, load_inventory
from qkd_macsec.obs.logging import configure_logging
from qkd_macsec.obs.syslog import FACILITIES, SyslogAddressError, parse_syslog_address

F = TypeVar("F", bound=Callable[..., Any])

INVENTORY_ENV = "QKD_MACSEC_INVENTORY"
#: Test facility: exit abruptly (like kill -9) at a named executor point, e.g. "stage:mx304-11".
CRASH_ENV = "QKD_MACSEC_CRASH_AT"
#: Test facility: stop the process (SIGSTOP, like a partition or a VM pause) at such a point;
#: it runs on where it stopped when sent SIGCONT (the HA fencing tests).
PAUSE_ENV = "QKD_MACSEC_PAUSE_AT"


def operator_options(func: F) -> F:
    """Shared options: -i, positional targets, -t, -v, -tr, --log-file, --json-logs, --syslog."""

    @click.option(
        "-i",
        "--inventory",
        "inventory_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=INVENTORY_ENV,
        default=Path("inventory.yaml"),
        show_default=True,
        help=f"Inventory YAML (or ${INVENTORY_ENV}).",
    )
    @click.option(
        "-t", "--threads", type=click.IntRange(1, 1024), help="Device sessions in parallel."
    )
    @click.option("-v", "--verbose", count=True, help="More console detail (-v INFO, -vv DEBUG).")
    @click.option(
        "-tr",
        "--trace",
        "trace",
        is_flag=False,
        flag_value="trace.log",
        default=None,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a debug-level trace (default file trace.log, mode 0600).",
    )
    @click.option(
        "--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Rotating log file."
    )
    @click.option("--json-logs", is_flag=True, help="Log as JSON lines.")
    @click.option(
        "--syslog",
        "syslog",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[ADDR]",
        help="Also log to syslog (RFC 5424): udp://HOST[:PORT], tcp://HOST[:PORT], "
        "unix:///PATH; alone: the local /dev/log.",
    )
    @click.option(
        "--syslog-facility",
        type=click.Choice(sorted(FACILITIES)),
        default="daemon",
        show_default=True,
        help="Syslog facility.",
    )
    @click.argument("targets", nargs=-1)
    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        try:
            syslog = None if kwargs["syslog"] is None else parse_syslog_address(kwargs["syslog"])
            configure_logging(
                verbosity=kwargs["verbose"],
                log_file=kwargs["log_file"],
                trace_file=kwargs["trace"],
                json_lines=kwargs["json_logs"],
                syslog=syslog,
                syslog_facility=kwargs["syslog_facility"],
            )
        except SyslogAddressError as exc:
            raise CliError(f"--syslog: {exc}", EXIT_BAD_INPUT) from None
        return func(**kwargs)

    return wrapper  # type: ignore[return-value]


def open_inventory(path: Path, targets: tuple[str, ...] = ()) -> Inventory:
    """Load and (if targets are given) restrict the inventory; bad input exits 2."""
    try:
        inventory = load_inventory(path)
        if targets:
            dropped = inventory.partial_links(targets)
            inventory = inventory.restrict(targets)
            for link in dropped:
                click.secho(
                    f"note: link {link.name} skipped: not all its ends are among the targets",
                    err=True,
                    fg="yellow",
                )
    except InventoryError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    return inventory


def crash_points_from_env() -> list[Observer]:
    """``QKD_MACSEC_CRASH_AT=POINT``: the process exits with 99 at that point of a wave (see
    :class:`~qkd_macsec.engine.observers.CrashPoints`), for the crash-recovery tests;
    ``QKD_MACSEC_PAUSE_AT=POINT``: it stops itself there (SIGSTOP), for the fencing tests."""
    observers: list[Observer] = []
    point = os.environ.get(CRASH_ENV)
    if point:

        def crash(name: str) -> None:
            os._exit(99)

        observers.append(CrashPoints(point, crash))
    pause = os.environ.get(PAUSE_ENV)
    if pause:

        def stop(name: str) -> None:
            os.kill(os.getpid(), signal.SIGSTOP)

        observers.append(CrashPoints(pause, stop))
    return observers


def wait_option(func: F) -> F:
    """``--wait [SECONDS]``: queue behind a controller that holds the journal (no value: as
    long as it takes) instead of exiting with code 4 at once."""
    return click.option(
        "--wait",
        "wait",
        type=click.FloatRange(min=0),
        is_flag=False,
        flag_value=math.inf,
        default=0.0,
        metavar="[SECONDS]",
        help="If another controller holds the journal, wait for it (up to SECONDS) "
        "instead of exiting with code 4. Put it after the targets, or use --wait=SECONDS.",
    )(func)


def journal_option(func: F) -> F:
    """``--journal URL``: a journal other than the inventory's SQLite file — a path,
    ``sqlite:///path`` or ``postgresql://user@host/db`` (password by reference: docs/ha.md)."""
    return click.option(
        "--journal",
        "journal",
        envvar=JOURNAL_ENV,
        default=None,
        metavar="URL",
        help=f"Journal location (or ${JOURNAL_ENV}; default: the inventory's policy.journal): "
        "a path, sqlite:///PATH or postgresql://USER@HOST/DB (no password in it).",
    )(func)


def journal_location(inventory: Inventory, journal: str | None) -> JournalLocation:
    """``--journal`` if given, else the inventory's; a bad URL exits 2."""
    if journal is None:
        return inventory.policy.journal
    try:
        return parse_journal_location(journal)
    except JournalUrlError as exc:
        raise CliError(f"--journal: {exc}", EXIT_BAD_INPUT) from None


@contextmanager
def journal_errors(location: JournalLocation) -> Iterator[None]:
    """A journal that cannot be used ends the command with one line, no traceback: an unusable
    password reference exits 2, an unreachable database 3."""
    import psycopg

    try:
        yield
    except JournalUrlError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CliError(f"journal {location}: {first}", EXIT_UNREACHABLE) from None


def shard_option(func: F) -> F:
    """``--shard NAME``: hold the lease of this command's routers only (the targets), so that
    controllers of other shards (disjoint routers) run at the same time (PostgreSQL journal)."""
    return click.option(
        "--shard",
        "shard",
        default=None,
        metavar="NAME",
        help="Own only the targets' routers, as shard NAME, next to other shards on the same "
        "PostgreSQL journal (docs/ha.md).",
    )(func)


@contextmanager
def journal_lease(
    inventory: Inventory,
    command: str,
    wait: float,
    location: JournalLocation | None = None,
    shard: str | None = None,
) -> Iterator[Lease]:
    """Hold the journal's lease (or a shard's: the inventory's routers) around a command that
    changes routers; exit 4 if another controller holds it (or any of the shard's routers).
    Taken before the event loop starts, so Ctrl-C interrupts a wait."""
    journal = inventory.policy.journal if location is None else location
    devices = sorted(inventory.hosts)

    def acquire(wait: float) -> Lease:
        return acquire_lease(journal, command, wait=wait, shard=shard, devices=devices)

    with journal_errors(journal):
        try:
            try:
                lease = acquire(0.0)
            except LeaseHeldError as exc:
                if wait <= 0:
                    raise
                click.echo(f"note: waiting: {exc}", err=True)
                lease = acquire(wait)
        except ShardError as exc:
            raise CliError(f"--shard: {exc}", EXIT_BAD_INPUT) from None
        except LeaseError as exc:
            raise CliError(str(exc), EXIT_LEASE_HELD) from None
        try:
            yield lease
        except LeaseError as exc:  # lost while running (lock file replaced, lease expired)
            raise CliError(str(exc), EXIT_LEASE_HELD) from None
        finally:
            lease.release()
