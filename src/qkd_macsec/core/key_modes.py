"""How a new key reaches a connectivity association: one strategy object per key mode.

Standard library only (bundled into the on-box event script). Every rule that differs between
the modes is a question asked of the link's strategy, never an ``if mode is ...`` at the caller:

* **key-chain** — the key goes into a numbered key-chain slot with a start-time T, next to the
  keys the link runs on. Until T nothing changes, so an end that failed to stage is undone by
  removing the entry from the others: the link never diverges. MKA hands over at T, so the
  engine verifies after T.
* **pre-shared-key** — the key replaces the CA's pre-shared-key in place at commit. It cannot
  be withdrawn: an end that took it while a peer did not holds a different CAK (diverged) until
  the next wave re-keys every end; verification starts at once.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

T = TypeVar("T")


class KeyMode(str, Enum):  # noqa: UP042 - bundled on-box, where Python predates StrEnum
    """The inventory's ``mode`` of a link; its value is the inventory spelling."""

    KEY_CHAIN = "key-chain"
    PRE_SHARED_KEY = "pre-shared-key"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def strategy(self) -> KeyModeStrategy:
        return strategy_for(self)


class KeyModeStrategy:
    """The rules of one key mode. Subclasses answer; callers only ask."""

    mode: KeyMode
    #: The key is an entry in a named key chain (the link needs ``key_chain``), in a slot.
    uses_key_chain: bool
    #: A staged key can be removed before it takes over, leaving every end on its old key.
    can_undo: bool
    #: The key takes over at a planned start-time T (verification waits for T).
    starts_at_activation: bool

    def start_time(self, activation: T) -> T | None:
        """The start-time to journal and stage for a key taking over at ``activation``."""
        return activation if self.starts_at_activation else None

    def kept_slots(self, keep: frozenset[int]) -> frozenset[int]:
        """The slots a rotation must not prune: the keys the link may still run on."""
        return keep if self.uses_key_chain else frozenset()

    def diverged(self, changed_some_ends: bool) -> bool:
        """After a failed attempt that changed some ends only: do the ends now hold
        different keys (re-key them soon)?"""
        return changed_some_ends and not self.can_undo

    def key_chain_problem(self, has_key_chain: bool) -> str | None:
        """What is wrong with a link of this mode that has (or lacks) a key chain."""
        if self.uses_key_chain and not has_key_chain:
            return f"required in {self.mode.value} mode"
        if not self.uses_key_chain and has_key_chain:
            return f"only used in key-chain mode (mode is {self.mode.value})"
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.mode.value}>"


class KeyChainStrategy(KeyModeStrategy):
    """Hitless: a new slot with a start-time; removable until T."""

    mode = KeyMode.KEY_CHAIN
    uses_key_chain = True
    can_undo = True
    starts_at_activation = True


class PreSharedKeyStrategy(KeyModeStrategy):
    """In place: the CA's pre-shared-key replaced at commit; never withdrawn."""

    mode = KeyMode.PRE_SHARED_KEY
    uses_key_chain = False
    can_undo = False
    starts_at_activation = False


KEY_CHAIN = KeyChainStrategy()
PRE_SHARED_KEY = PreSharedKeyStrategy()
_STRATEGIES: dict[KeyMode, KeyModeStrategy] = {
    KeyMode.KEY_CHAIN: KEY_CHAIN,
    KeyMode.PRE_SHARED_KEY: PRE_SHARED_KEY,
}


def strategy_for(mode: KeyMode | str) -> KeyModeStrategy:
    """The strategy of ``mode`` (an enum member or its inventory spelling)."""
    return _STRATEGIES[KeyMode(mode)]


__all__ = [
    "KEY_CHAIN",
    "PRE_SHARED_KEY",
    "KeyChainStrategy",
    "KeyMode",
    "KeyModeStrategy",
    "PreSharedKeyStrategy",
    "strategy_for",
]
