"""Files to a router over SSH: SCP (what every Junos accepts) or SFTP (atomic rename, when the
router runs ``system services ssh sftp-server``, off by default since Junos 19.1).

Callers give bytes, a directory that exists on the router (``/var/db/scripts/event``, the
user's home) and a path relative to it with the file's mode. SCP copies from a private local
staging tree with modes preserved, recursively when the path has subdirectories (so they are
created); a key is announced as 0600 and OpenSSH's sink creates it so. SFTP creates missing
directories, writes each file under a temporary name created with its final mode, then renames
it into place. The host key is always checked against ``known_hosts``.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncssh

from qkd_macsec.inventory.model import Host

Transfer = Literal["scp", "sftp"]
TRANSFERS: tuple[Transfer, ...] = ("scp", "sftp")


class TransferError(Exception):
    """An upload that failed (names the router; never file contents)."""


@dataclass(frozen=True)
class SshLogin:
    host: str
    port: int
    user: str
    known_hosts: Path
    password: str | None = None
    ssh_key: Path | None = None

    async def connect(self) -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(
            self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            client_keys=[str(self.ssh_key)] if self.ssh_key else None,
            known_hosts=str(self.known_hosts),
            agent_path=None,
        )


@dataclass(frozen=True)
class RemoteFile:
    directory: str  # an existing directory on the router, e.g. /var/db/scripts/event
    path: str  # relative to it, "/"-separated; subdirectories are created as needed
    data: bytes
    mode: int = 0o644

    def parts(self) -> list[str]:
        parts = [p for p in self.path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise TransferError(f"{self.path!r} is not a relative path inside {self.directory}")
        return parts


def _stage(root: Path, item: RemoteFile) -> Path:
    """Write ``item`` under ``root`` with its mode (from creation); return its top-level entry."""
    parts = item.parts()
    target = root.joinpath(*parts)
    for depth in range(1, len(parts)):  # our directories: private to the script user
        directory = root.joinpath(*parts[:depth])
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, item.mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(item.data)
    os.chmod(target, item.mode)  # the umask may have narrowed it
    return root / parts[0]


async def _scp(login: SshLogin, files: list[RemoteFile]) -> None:
    """Plain files go straight to their path; files in subdirectories go as a recursive copy of
    their top directory (created by SCP, modes preserved: those directories are ours)."""
    with tempfile.TemporaryDirectory(prefix="qkd-upload-") as tmp:
        copies: dict[tuple[str, str], tuple[Path, bool]] = {}
        roots: dict[str, Path] = {}
        for item in files:
            root = roots.setdefault(item.directory, Path(tmp) / str(len(roots)))
            top = _stage(root, item)
            nested = len(item.parts()) > 1
            remote = item.directory if nested else posixpath.join(item.directory, item.path)
            copies[(remote, top.name)] = (top, nested)
        async with await login.connect() as conn:
            for (remote, _), (local, nested) in copies.items():
                await asyncssh.scp(str(local), (conn, remote), recurse=nested, preserve=True)


async def _sftp(login: SshLogin, files: list[RemoteFile]) -> None:
    async with await login.connect() as conn, conn.start_sftp_client() as sftp:
        for item in files:
            final = posixpath.join(item.directory, *item.parts())
            await sftp.makedirs(posixpath.dirname(final), exist_ok=True)
            temporary = final + ".part"
            attrs = asyncssh.SFTPAttrs(permissions=item.mode)
            async with sftp.open(temporary, "wb", attrs) as handle:
                await handle.write(item.data)
            await sftp.chmod(temporary, item.mode)
            await sftp.posix_rename(temporary, final)


def upload(login: SshLogin, files: list[RemoteFile], transfer: Transfer = "scp") -> None:
    """Copy ``files`` to the router (see the module docstring)."""
    if not login.known_hosts.is_file():
        raise TransferError(f"{login.host}:{login.port}: known_hosts file not found; refusing")
    run = _scp if transfer == "scp" else _sftp
    try:
        asyncio.run(run(login, files))
    except (OSError, asyncssh.Error) as exc:
        raise TransferError(
            f"{login.host}:{login.port}: {transfer} upload failed: {type(exc).__name__}"
        ) from None


def login_for(host: Host) -> SshLogin:
    """The SSH login an inventory host uses (password read now, never stored elsewhere)."""
    if host.known_hosts is None:
        raise TransferError(f"{host.name}: no known_hosts file; refusing unverified hosts")
    password = host.resolve_password()
    return SshLogin(
        host.host,
        host.port,
        host.user,
        host.known_hosts,
        password.reveal_text() if password is not None else None,
        host.ssh_key,
    )
