"""The phases a rotation passes through, and which moves between them are legal.

Standard library only (bundled into the on-box event script)::

    PLANNED ─► KEYS ─► STAGING ─► STAGED ─► ACTIVE        (success)
       │         │        │          │
       └─────────┴────────┴──► ABORTING ─► ABORTED        (undone: staged entries removed)
                                     └───► FAILED         (could not undo: needs attention)

A key that cannot be undone (pre-shared-key) goes from STAGING straight to ABORTED; a late end
whose commit landed takes an ABORTING rotation back to STAGED (its peers got the entry back).
"""

from __future__ import annotations

from enum import Enum


class Phase(str, Enum):  # noqa: UP042 - bundled on-box, where Python predates StrEnum
    """A rotation's phase; its value is what the journal stores."""

    PLANNED = "PLANNED"
    KEYS = "KEYS"
    STAGING = "STAGING"
    STAGED = "STAGED"
    ACTIVE = "ACTIVE"
    ABORTING = "ABORTING"
    ABORTED = "ABORTED"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def is_open(self) -> bool:
        """Recovery still has to finish or undo it."""
        return self not in _CLOSED


_CLOSED = frozenset({Phase.ACTIVE, Phase.ABORTED, Phase.FAILED})

#: Every legal move. Re-entering a phase is legal where a step can repeat (an undo retried,
#: recovery finishing a STAGED rotation, a timed-out verification recorded on an ACTIVE one).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PLANNED: frozenset({Phase.KEYS, Phase.ABORTED}),
    Phase.KEYS: frozenset({Phase.STAGING, Phase.ABORTED}),
    Phase.STAGING: frozenset({Phase.STAGED, Phase.ABORTING, Phase.ABORTED, Phase.ACTIVE}),
    Phase.STAGED: frozenset({Phase.STAGED, Phase.ACTIVE, Phase.ABORTING, Phase.ABORTED}),
    Phase.ABORTING: frozenset({Phase.ABORTING, Phase.ABORTED, Phase.FAILED, Phase.STAGED}),
    Phase.ACTIVE: frozenset({Phase.ACTIVE}),
    Phase.ABORTED: frozenset(),
    Phase.FAILED: frozenset(),
}


def is_legal(before: Phase, after: Phase) -> bool:
    """Whether a rotation in ``before`` may move to ``after``."""
    return after in TRANSITIONS[before]


__all__ = ["TRANSITIONS", "Phase", "is_legal"]
