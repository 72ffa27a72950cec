"""Process hardening at CLI start: no core dumps.

The process holds QKD keys and CAKs in memory while it rotates; a core dump (a crash, or a
``SIGQUIT``/``gcore`` from someone with the same uid) would write them to disk. Two layers:
``RLIMIT_CORE`` 0 (soft and hard, so the process cannot raise it again; inherited by children)
and, on Linux, ``PR_SET_DUMPABLE`` 0, which also refuses ptrace attach and ``/proc/PID/mem``
reads by other processes of the same user. Both are best effort: a platform without them keeps
running, as the systemd unit sets ``LimitCORE=0`` as well.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def disable_core_dumps() -> None:
    """Forbid core dumps of this process (and children's, through the rlimit)."""
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def is_dumpable() -> bool | None:
    """Linux's dumpable flag for this process (None where it cannot be read)."""
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return None
    return None if result < 0 else bool(result)
