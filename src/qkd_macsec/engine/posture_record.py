"""The journal's record of each hop's quantum-safe posture, for ``status`` and reports.

One meta entry (:data:`POSTURE_META`) maps ``kind:peer`` to the newest measurement; it is
rewritten only when a hop's negotiated algorithms change, not on every session.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from qkd_macsec.engine.journal import JournalBackend
from qkd_macsec.posture import HopPosture

POSTURE_META = "transport_posture"

PostureEntry = dict[str, str | bool | None]


class PostureRecorder:
    """Called with each measured hop (device sessions and KME connections, any thread)."""

    def __init__(self, journal: JournalBackend) -> None:
        self._journal = journal
        self._lock = threading.Lock()
        self._written: dict[str, PostureEntry] = {}

    def __call__(self, posture: HopPosture) -> None:
        key = f"{posture.kind}:{posture.peer}"
        entry: PostureEntry = {**posture.as_dict(), "label": posture.label}
        with self._lock:
            if self._written.get(key) == entry:
                return
            current = recorded_postures(self._journal)
            current[key] = {**entry, "measured_at": datetime.now(UTC).isoformat()}
            self._journal.set_meta(POSTURE_META, current)
            self._written[key] = entry


def recorded_postures(journal: JournalBackend) -> dict[str, PostureEntry]:
    """``kind:peer`` -> the newest posture measured for that hop (empty if none yet)."""
    value = journal.get_meta(POSTURE_META, {})
    return dict(value) if isinstance(value, dict) else {}
