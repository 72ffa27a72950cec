"""Deploying the on-box runtime: upload the script (SCP by default, see ``transport.ssh_files``),
check its sha-256 on the router, commit the event-options and apply-macros over NETCONF.

Sessions verify the router's SSH host key against the inventory's ``known_hosts`` (as the
off-box driver does). A commit happens only when the loaded lines change the candidate, so a
second deployment of the same script and settings changes nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from jnpr.junos import Device

from qkd_macsec.inventory import Inventory
from qkd_macsec.inventory.model import Host
from qkd_macsec.inventory.schema import ssh_config_path_problem
from qkd_macsec.onbox.artifact.junos_io import RouterIoError, apply_set_lines
from qkd_macsec.onbox.build import SCRIPT_NAME, BuiltScript
from qkd_macsec.onbox.config import OnboxOptions, router_lines
from qkd_macsec.transport.ssh_files import (
    RemoteFile,
    Transfer,
    TransferError,
    login_for,
    upload,
)


class DeployError(Exception):
    """A deployment step that failed on one router (names the router; no secrets)."""


def _ssh_config(known_hosts: str) -> str:
    """A private ssh_config naming ``known_hosts``, refused when the path could break out of
    its quoted value (a quote and a newline would add a ``ProxyCommand``). The inventory
    refuses such paths too; this checks the path actually written, after symlinks."""
    problem = ssh_config_path_problem(known_hosts)
    if problem is not None:
        raise DeployError(f"known_hosts: {problem}")
    fd, name = tempfile.mkstemp(prefix="qkd-onbox-deploy-", suffix=".conf")
    with os.fdopen(fd, "w") as handle:
        handle.write(f'Host *\n  UserKnownHostsFile "{known_hosts}"\n  StrictHostKeyChecking yes\n')
    return name


def open_router(host: Host) -> Any:
    """An open PyEZ session to ``host`` with its host key verified."""
    if host.known_hosts is None or not host.known_hosts.is_file():
        raise DeployError(f"{host.name}: known_hosts file not found; refusing to connect")
    password = host.resolve_password()
    try:
        config = _ssh_config(str(host.known_hosts.resolve()))
    except DeployError as exc:
        raise DeployError(f"{host.name}: {exc}; refusing to connect") from None
    try:
        dev = Device(
            host=host.host,
            port=host.port,
            user=host.user,
            passwd=password.reveal_text() if password is not None else None,
            ssh_private_key_file=str(host.ssh_key) if host.ssh_key else None,
            gather_facts=False,
            hostkey_verify=True,
            ssh_config=config,
            look_for_keys=False,
            allow_agent=False,
            conn_open_timeout=int(host.timeout),
        )
        dev.open()
    except Exception as exc:
        raise DeployError(f"{host.name}: cannot open NETCONF: {type(exc).__name__}") from None
    finally:
        os.unlink(config)
    for name in ("ncclient", "paramiko"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return dev


def commit_on(dev: Any, name: str, lines: list[str], comment: str) -> bool:
    """Load ``lines``; commit only if they change something. True when a commit happened.
    The on-box runtime's own commit discipline (lock, load, diff, commit, roll back, unlock)."""
    try:
        return apply_set_lines(dev, lines, comment, only_if_changed=True)
    except RouterIoError as exc:
        raise DeployError(f"{name}: {exc}") from None


def commit_lines(host: Host, lines: list[str], comment: str) -> bool:
    dev = open_router(host)
    try:
        return commit_on(dev, host.name, lines, comment)
    finally:
        dev.close()


# ------------------------------------------------------------------------------ file upload
SCRIPT_DIRS = ("/var/db/scripts/event", "/var/db/scripts/op")


def remote_sha256(dev: Any, path: str) -> str | None:
    """``file checksum sha-256 PATH`` on the router; None when the file is absent."""
    try:
        reply = dev.rpc.get_sha256_checksum_information(path=path)
    except Exception:
        return None
    found = reply.findtext(".//checksum") if reply is not None else None
    return found.strip() if found else None


@dataclass(frozen=True)
class DeployResult:
    host: str
    uploaded: bool
    committed: bool
    sha256: str


def deploy_router(
    inventory: Inventory,
    name: str,
    script: BuiltScript,
    options: OnboxOptions,
    transfer: Transfer = "scp",
) -> DeployResult:
    """Upload the script where its checksum differs, then commit the on-box configuration."""
    host = inventory.hosts[name]
    lines = router_lines(inventory, name, script.sha256, options)
    dev = open_router(host)
    try:
        stale = [
            d for d in SCRIPT_DIRS if remote_sha256(dev, f"{d}/{SCRIPT_NAME}") != script.sha256
        ]
        if stale:
            data = script.path.read_bytes()
            try:
                upload(login_for(host), [RemoteFile(d, SCRIPT_NAME, data) for d in stale], transfer)
            except TransferError as exc:
                raise DeployError(f"{name}: {exc}") from None
            wrong = [d for d in stale if remote_sha256(dev, f"{d}/{SCRIPT_NAME}") != script.sha256]
            if wrong:
                raise DeployError(f"{name}: checksum in {', '.join(wrong)} differs after upload")
        committed = commit_on(dev, name, lines, f"qkd-onbox deploy {script.sha256[:12]}")
    finally:
        dev.close()
    return DeployResult(name, bool(stale), committed, script.sha256)
