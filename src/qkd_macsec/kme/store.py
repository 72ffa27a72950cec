"""Keys issued by enc_keys, waiting for their slaves' dec_keys: one-time delivery, TTL, multicast.

A key is held for each named slave at that slave's KME. Each slave can fetch it once; when every
slave has, the key is forgotten. Undelivered keys expire after their TTL. Recently forgotten key
IDs are remembered (without key bytes, bounded) so a second fetch or a late fetch is reported
as "not found" or "expired" rather than as a mystery.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qkd_macsec.kme.errors import KEYS_NOT_FOUND, Fault, KmeServiceError
from qkd_macsec.kme.pool import Clock
from qkd_macsec.secret import Secret

TOMBSTONES = 65_536


@dataclass(frozen=True)
class IssuedKey:
    """One key with its ID, as handed to an SAE."""

    key_id: str
    key: Secret


@dataclass
class _Held:
    key: IssuedKey
    master: str
    #: slave SAE ID -> ID of the KME it fetches the key from.
    slaves: dict[str, str]
    pending: set[str]
    available_at: float
    expires_at: float


class KeyStore:
    def __init__(self, *, clock: Clock = time.monotonic, tombstones: int = TOMBSTONES) -> None:
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._expiry: list[tuple[float, str]] = []
        self._gone: OrderedDict[str, Fault] = OrderedDict()
        self._tombstones = tombstones

    def __len__(self) -> int:
        self._expire()
        return len(self._held)

    def hold(
        self,
        key: IssuedKey,
        *,
        master: str,
        slaves: Mapping[str, str],
        ttl_s: float,
        sync_delay_s: float = 0.0,
    ) -> None:
        """Keep ``key`` for each slave (slave SAE ID -> its KME ID) until fetched or expired."""
        if key.key_id in self._held or key.key_id in self._gone:
            raise ValueError("key ID already used")
        now = self._clock()
        held = _Held(
            key=key,
            master=master,
            slaves=dict(slaves),
            pending=set(slaves),
            available_at=now + sync_delay_s,
            expires_at=now + ttl_s,
        )
        self._held[key.key_id] = held
        heapq.heappush(self._expiry, (held.expires_at, key.key_id))

    def _forget(self, key_id: str, why: Fault) -> None:
        self._held.pop(key_id, None)
        self._gone[key_id] = why
        self._gone.move_to_end(key_id)
        while len(self._gone) > self._tombstones:
            self._gone.popitem(last=False)

    def _expire(self) -> None:
        now = self._clock()
        while self._expiry and self._expiry[0][0] <= now:
            _, key_id = heapq.heappop(self._expiry)
            held = self._held.get(key_id)
            if held is not None and held.expires_at <= now:
                self._forget(key_id, Fault.EXPIRED)

    def _check(self, key_id: str, kme_id: str, slave: str, master: str, now: float) -> None:
        held = self._held.get(key_id)
        if held is None:
            if self._gone.get(key_id) is Fault.EXPIRED:
                raise KmeServiceError(Fault.EXPIRED, f"key {key_id} has expired")
            raise KmeServiceError(Fault.NOT_FOUND, KEYS_NOT_FOUND)
        if held.master != master:
            raise KmeServiceError(Fault.NOT_FOUND, KEYS_NOT_FOUND)
        if slave not in held.slaves:
            raise KmeServiceError(Fault.UNAUTHORIZED, f"SAE {slave} is not a slave of key {key_id}")
        if slave not in held.pending or held.slaves[slave] != kme_id or now < held.available_at:
            # Already fetched by this slave, asked at the wrong KME, or not synchronised yet.
            raise KmeServiceError(Fault.NOT_FOUND, KEYS_NOT_FOUND)

    def fetch(
        self, kme_id: str, *, slave: str, master: str, key_ids: Sequence[str]
    ) -> list[IssuedKey]:
        """Deliver the keys named to ``slave`` at ``kme_id`` — all of them or none.

        Raises :class:`KmeServiceError` (NOT_FOUND, EXPIRED or UNAUTHORIZED) on the first key
        that cannot be delivered; then nothing is consumed.
        """
        self._expire()
        if len(set(key_ids)) != len(key_ids):
            raise KmeServiceError(Fault.BAD_REQUEST, "duplicate key_ID in request")
        now = self._clock()
        for key_id in key_ids:
            self._check(key_id, kme_id, slave, master, now)
        delivered: list[IssuedKey] = []
        for key_id in key_ids:
            held = self._held[key_id]
            held.pending.discard(slave)
            delivered.append(held.key)
            if not held.pending:
                self._forget(key_id, Fault.NOT_FOUND)
        return delivered
