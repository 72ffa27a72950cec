"""What the journal stores and the interface every journal backend offers the engine.

Records hold key IDs, CKNs, slots, start-times and key check values — never a key or a CAK.
Two backends implement :class:`JournalBackend` with the same schema semantics and phase rules:
SQLite (:class:`qkd_macsec.engine.journal.Journal`, the embedded default) and PostgreSQL
(:class:`qkd_macsec.engine.journal_pg.PostgresJournal`, for controllers on several hosts).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from qkd_macsec.core.phases import Phase


@dataclass(frozen=True)
class EndRecord:
    """One end of a rotation: where its key-chain entry goes and whether it is there."""

    device: str
    interface: str
    staged: bool
    removed: bool


@dataclass(frozen=True)
class RotationRecord:
    id: int
    link: str
    wave: str
    phase: Phase
    key_id: str | None
    ckn: str | None
    kcv: str | None
    slot: int | None
    start_time: datetime | None  # real (controller) UTC instant the new key takes over
    created: datetime
    updated: datetime
    error: str | None
    ends: tuple[EndRecord, ...]
    reason: str


@dataclass(frozen=True)
class ActiveKey:
    """The key a link runs on (or ran on), as far as the journal knows."""

    link: str
    key_id: str
    ckn: str
    slot: int | None
    activated: datetime
    rotation_id: int


class JournalBackend(Protocol):
    """The rotation journal as the engine uses it. Writes of a fenced backend raise
    :class:`~qkd_macsec.engine.lease.LeaseLostError` once its controller's lease is gone."""

    @property
    def location(self) -> str:
        """Where the journal is, for messages (no password)."""

    def close(self) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """The writes of one wave step (this thread's, inside the block) in one transaction."""

    def begin(
        self,
        link: str,
        wave: str,
        ends: Sequence[tuple[str, str]],
        *,
        reason: str = "",
        now: datetime | None = None,
    ) -> int: ...

    def record_keys(
        self, rid: int, *, key_id: str, ckn: str, kcv: str, now: datetime | None = None
    ) -> None: ...

    def record_staging(
        self,
        rid: int,
        *,
        slot: int | None,
        start_time: datetime | None,
        now: datetime | None = None,
    ) -> None: ...

    def mark_end(
        self,
        rid: int,
        device: str,
        *,
        staged: bool | None = None,
        removed: bool | None = None,
        now: datetime | None = None,
    ) -> None: ...

    def set_phase(
        self, rid: int, phase: Phase, *, error: str | None = None, now: datetime | None = None
    ) -> None: ...

    def set_meta(self, key: str, value: object) -> None: ...

    def get_meta(self, key: str, default: object = None) -> object: ...

    def get_meta_many(self, keys: Sequence[str]) -> dict[str, object]: ...

    def set_meta_many(self, items: dict[str, object]) -> None: ...

    def note(
        self, rid: int, kind: str, detail: dict[str, object], *, now: datetime | None = None
    ) -> None: ...

    def record_adopted(
        self,
        link: str,
        ends: Sequence[tuple[str, str]],
        *,
        key_id: str,
        ckn: str,
        slot: int | None,
        start_time: datetime | None,
        detail: str,
        now: datetime | None = None,
    ) -> int: ...

    def get(self, rid: int) -> RotationRecord: ...

    def open_rotations(self) -> list[RotationRecord]: ...

    def rotations(self, link: str | None = None, limit: int = 100) -> list[RotationRecord]: ...

    def active_keys(self, link: str, limit: int = 4) -> list[ActiveKey]: ...

    def last_attempt(self, link: str) -> RotationRecord | None: ...

    def consecutive_failures(self, link: str) -> int: ...

    def counts(self) -> dict[str, int]: ...

    def events(self, rid: int | None = None) -> list[tuple[datetime, str, dict[str, object]]]: ...

    def known_ckns(self, link: str) -> set[str]: ...


__all__ = ["ActiveKey", "EndRecord", "JournalBackend", "Phase", "RotationRecord"]
