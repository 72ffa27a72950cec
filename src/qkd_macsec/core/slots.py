"""Key-chain slot rules: which slot a new key takes and which entries a stage prunes.

The slot count is the platform's (a Junos key chain has 64); the rules themselves are vendor
neutral and shared by the planner and the on-box runtime.
"""

from __future__ import annotations

from collections.abc import Iterable


def next_free_slot(used: Iterable[int], after: int | None, slots: int) -> int:
    """The first slot after ``after`` (cyclically, over ``0..slots-1``) that is not in ``used``."""
    taken = set(used)
    if len(taken) >= slots:
        raise ValueError("every key-chain slot is in use")
    start = 0 if after is None else (after + 1) % slots
    for step in range(slots):
        slot = (start + step) % slots
        if slot not in taken:
            return slot
    raise AssertionError("unreachable")


def slots_to_prune(present: Iterable[int], keep: Iterable[int]) -> list[int]:
    """Entries of a chain that are neither the new key nor kept (current + previous)."""
    return sorted(set(present) - set(keep))
