"""Persistent SSH host keys for simulated devices, and the OpenSSH ``known_hosts`` export.

Keys are generated once per device (ed25519) and written 0600, so a client that verified a
device's key yesterday still verifies it today; a test can swap a key to prove clients refuse it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import asyncssh


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """Read the device's private host key, creating it (0600) on first use."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    write_private(path, key.export_private_key("openssh"))
    return key


def replace_host_key(path: Path) -> asyncssh.SSHKey:
    """Generate a new key in place of the old one (a "changed host key" scenario)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    if path.exists():
        path.unlink()
    write_private(path, key.export_private_key("openssh"))
    return key


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def public_key_text(key: asyncssh.SSHKey) -> str:
    """``ssh-ed25519 AAAA…`` without a comment."""
    algorithm, blob, *_ = key.export_public_key("openssh").decode().split()
    return f"{algorithm} {blob}"


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    target = host if port == 22 else f"[{host}]:{port}"
    return f"{target} {public_key_text(key)}"


def write_known_hosts(path: Path, entries: Iterable[tuple[str, int, asyncssh.SSHKey]]) -> None:
    lines = [known_hosts_line(host, port, key) for host, port, key in entries]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o644)
    tmp.replace(path)
