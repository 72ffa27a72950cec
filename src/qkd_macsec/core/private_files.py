"""Files that must never be seen half-written or with wider permissions than meant.

Written to a fresh temporary file in the target folder (``mkstemp``: mode 0600 from creation,
widened only for files meant to be public), flushed, fsync'd, renamed over the destination and
the folder fsync'd: a crash leaves the old or the new content, never a torn file, and no reader
ever sees a secret with wider permissions, not even for a moment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def write_atomic(
    path: str | os.PathLike[str], data: bytes, mode: int = PRIVATE_MODE, dir_mode: int = 0o700
) -> None:
    """Replace ``path`` with ``data`` (mode ``mode``); missing folders are made ``dir_mode``."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    name = os.path.basename(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != PRIVATE_MODE:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_text_limited(path: str | os.PathLike[str], limit: int) -> str:
    """At most ``limit`` characters of a UTF-8 file (a state or hand-off file, never trusted to
    be small)."""
    with open(path, encoding="utf-8") as handle:
        return handle.read(limit)
