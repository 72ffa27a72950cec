"""The hybrid share S on its way to a peer: a 0600 file in the peer user's home, never argv.

A script's command line is readable by any local user of the router while it runs, so S does not
travel in the op-script arguments. The master writes S with the Junos XML ``file-put`` RPC on its
session to the peer (a relative name lands in that user's home, who is also the script user) under
a fresh random name, and the offer names the file. The peer's script takes the file before doing
anything else: opens it without following a link, deletes it at once, and uses it only if it is a
regular 0600 file of its own, with one link, holding exactly 32 bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from dataclasses import dataclass, field

SHARE_FILE_PREFIX = ".qkd-share-"
SHARE_FILE_MODE = 0o600
SHARE_BYTES = 32
_SHARE_FILE_RE = re.compile(r"^\.qkd-share-[0-9a-f]{32}$")


class ShareFileError(ValueError):
    """A share file that is missing or not to be trusted (never carries its contents)."""


@dataclass(frozen=True)
class ShareFile:
    """S and the file name it is put under on one peer (the name is not secret, S is)."""

    name: str
    data: bytes = field(repr=False)


def new_share_file_name() -> str:
    """A fresh, unguessable relative file name (128 random bits), one per offer to a peer."""
    return SHARE_FILE_PREFIX + secrets.token_hex(16)


def is_share_file_name(name: object) -> bool:
    """Only names we make: no directory part, so the file is always in the user's home."""
    return isinstance(name, str) and _SHARE_FILE_RE.match(name) is not None


def discard_share_file(directory: str, name: object) -> None:
    """Delete a share file if it is there (best effort; a symlink is removed, not followed)."""
    if not is_share_file_name(name):
        return
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(directory, str(name)))


def _refusal(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_uid != os.geteuid():
        return "is not owned by the script user"
    if stat.S_IMODE(info.st_mode) != SHARE_FILE_MODE:
        return f"has mode {stat.S_IMODE(info.st_mode):04o}, not {SHARE_FILE_MODE:04o}"
    if info.st_nlink != 1:
        return "has other links"
    if info.st_size != SHARE_BYTES:
        return f"holds {info.st_size} bytes, not {SHARE_BYTES}"
    return None


def take_share_file(directory: str, name: str) -> bytes:
    """Read S from ``directory/name`` and delete the file whatever happens; refuse a doubtful
    one (the message says why, never what it holds)."""
    if not is_share_file_name(name):
        raise ShareFileError("hybrid share file name is not one the master makes")
    path = os.path.join(directory, name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        discard_share_file(directory, name)
        if exc.errno == errno.ELOOP:
            raise ShareFileError("hybrid share file is a symbolic link: refused") from None
        raise ShareFileError(f"hybrid share file cannot be opened: {exc.strerror}") from None
    try:
        try:
            info = os.fstat(fd)  # before the unlink, which would take the link count to 0
        finally:
            discard_share_file(directory, name)  # gone from the home before it is checked
        refusal = _refusal(info)
        if refusal is not None:
            raise ShareFileError(f"hybrid share file {refusal}: refused")
        data = os.read(fd, SHARE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != SHARE_BYTES:
        raise ShareFileError(f"hybrid share file holds {len(data)} bytes, not {SHARE_BYTES}")
    return data
