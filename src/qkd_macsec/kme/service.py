"""The key service of a whole KME network: status, enc_keys and dec_keys, without HTTP.

Every KME of a network lives in one process and shares this object: that is how a key issued
at the master's KME becomes available at the slave's KME ("synchronisation"), after the link's
optional ``sync_delay_ms``. Key material comes from the OS CSPRNG; the link pools only meter it.
Public methods take a lock, so tests and tools may inspect a network served from another thread.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qkd_macsec.kme.config import KmeSpec, NetworkSpec, PoolSpec
from qkd_macsec.kme.errors import (
    EXTENSION_MANDATORY_UNSUPPORTED,
    NOT_ENOUGH_KEY_MATERIAL,
    SIZE_NOT_MULTIPLE_OF_8,
    Fault,
    KmeServiceError,
)
from qkd_macsec.kme.pool import Clock, KeyPool
from qkd_macsec.kme.store import IssuedKey, KeyStore
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.secret import Secret

log = get_logger("kme")

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True)
class KeyRequest:
    """An enc_keys request, already type-checked at the HTTP edge."""

    number: int = 1
    size: int | None = None
    additional_slave_sae_ids: tuple[str, ...] = ()
    extension_mandatory: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class _Route:
    """Where a slave's keys come from: its KME and the pool shared with the master's KME."""

    slave_kme: str
    pool_key: frozenset[str]
    spec: PoolSpec
    sync_delay_s: float


class KeyService:
    def __init__(
        self,
        spec: NetworkSpec,
        *,
        clock: Clock = time.monotonic,
        random_bytes: RandomBytes = secrets.token_bytes,
    ) -> None:
        self.spec = spec
        self._random_bytes = random_bytes
        self.store = KeyStore(clock=clock)
        self._pools: dict[frozenset[str], KeyPool] = {}
        for kme in spec.kmes:
            self._pools[frozenset({kme.id})] = _pool(kme.local, clock)
        for link in spec.links:
            self._pools[frozenset(link.kmes)] = _pool(link, clock)
        self._sae_kme = {sae.id: sae.kme for sae in spec.saes}
        self._lock = threading.RLock()

    # -- lookups --------------------------------------------------------------------------

    def pool(self, kme_a: str, kme_b: str) -> KeyPool:
        """The pool between two KMEs (the same KME twice: its local pool)."""
        return self._pools[frozenset({kme_a, kme_b})]

    def pool_bits(self, kme_a: str, kme_b: str) -> int:
        """Bits available now between two KMEs (thread-safe)."""
        with self._lock:
            return self.pool(kme_a, kme_b).available_bits

    def held_key_count(self) -> int:
        """Keys issued and not yet fetched by all their slaves, nor expired (thread-safe)."""
        with self._lock:
            return len(self.store)

    def _kme(self, kme_id: str) -> KmeSpec:
        return self.spec.kme(kme_id)

    def _caller(self, kme_id: str, sae_id: str) -> None:
        """The calling SAE must be attached to the KME it calls."""
        if self._sae_kme.get(sae_id) != kme_id:
            raise KmeServiceError(Fault.UNAUTHORIZED, f"SAE {sae_id} is not served by {kme_id}")

    def _route(self, kme_id: str, slave: str) -> _Route:
        slave_kme = self._sae_kme.get(slave)
        if slave_kme is None:
            raise KmeServiceError(Fault.UNAUTHORIZED, f"unknown SAE {slave}")
        if slave_kme == kme_id:
            return _Route(kme_id, frozenset({kme_id}), self._kme(kme_id).local, 0.0)
        link = self.spec.link(kme_id, slave_kme)
        if link is None:
            raise KmeServiceError(
                Fault.BAD_REQUEST, f"no QKD link between {kme_id} and {slave_kme} (SAE {slave})"
            )
        return _Route(slave_kme, frozenset(link.kmes), link, link.sync_delay_ms / 1000)

    # -- the three ETSI 014 methods --------------------------------------------------------

    def status(self, kme_id: str, *, caller: str, slave: str) -> dict[str, Any]:
        with self._lock:
            return self._status(kme_id, caller, slave)

    def enc_keys(
        self, kme_id: str, *, caller: str, slave: str, request: KeyRequest
    ) -> list[IssuedKey]:
        """Issue keys to master ``caller`` for ``slave`` (and any additional slaves)."""
        with self._lock:
            return self._enc_keys(kme_id, caller, slave, request)

    def dec_keys(
        self, kme_id: str, *, caller: str, master: str, key_ids: Sequence[str]
    ) -> list[IssuedKey]:
        """Deliver keys issued by ``master`` to slave ``caller``, once."""
        with self._lock:
            return self._dec_keys(kme_id, caller, master, key_ids)

    def _status(self, kme_id: str, caller: str, slave: str) -> dict[str, Any]:
        self._caller(kme_id, caller)
        route = self._route(kme_id, slave)
        kme = self._kme(kme_id)
        pool = self._pools[route.pool_key]
        size = route.spec.key_size_bits
        return {
            "source_KME_ID": kme_id,
            "target_KME_ID": route.slave_kme,
            "master_SAE_ID": caller,
            "slave_SAE_ID": slave,
            "key_size": size,
            "stored_key_count": pool.available_bits // size,
            "max_key_count": pool.capacity_bits // size,
            "max_key_per_request": kme.max_key_per_request,
            "max_key_size": kme.max_key_size,
            "min_key_size": kme.min_key_size,
            "max_SAE_ID_count": kme.max_sae_id_count,
        }

    def _enc_keys(
        self, kme_id: str, caller: str, slave: str, request: KeyRequest
    ) -> list[IssuedKey]:
        self._caller(kme_id, caller)
        kme = self._kme(kme_id)
        if request.extension_mandatory:
            raise KmeServiceError(Fault.BAD_REQUEST, EXTENSION_MANDATORY_UNSUPPORTED)
        slaves = (slave, *request.additional_slave_sae_ids)
        if len(request.additional_slave_sae_ids) > kme.max_sae_id_count:
            raise KmeServiceError(
                Fault.BAD_REQUEST,
                f"too many additional_slave_SAE_IDs (max_SAE_ID_count is {kme.max_sae_id_count})",
            )
        if len(set(slaves)) != len(slaves) or caller in slaves:
            raise KmeServiceError(
                Fault.BAD_REQUEST, "slave SAE IDs must be distinct and differ from the master"
            )
        routes = {s: self._route(kme_id, s) for s in slaves}
        size = request.size if request.size is not None else routes[slave].spec.key_size_bits
        _check_size(size, kme)
        if not 1 <= request.number <= kme.max_key_per_request:
            raise KmeServiceError(
                Fault.BAD_REQUEST,
                f"number must be 1 to max_key_per_request ({kme.max_key_per_request})",
            )
        bits = size * request.number
        pools = {self._pools[r.pool_key] for r in routes.values()}
        if not all(pool.can_take(bits) for pool in pools):
            raise KmeServiceError(Fault.EXHAUSTED, NOT_ENOUGH_KEY_MATERIAL)
        for pool in pools:
            pool.take(bits)
        ttl = min(r.spec.key_ttl_s for r in routes.values())
        delay = max(r.sync_delay_s for r in routes.values())
        slave_kmes = {s: r.slave_kme for s, r in routes.items()}
        keys = []
        for _ in range(request.number):
            key = IssuedKey(str(uuid.uuid4()), Secret(self._random_bytes(size // 8)))
            self.store.hold(key, master=caller, slaves=slave_kmes, ttl_s=ttl, sync_delay_s=delay)
            keys.append(key)
        log.debug(
            "%s enc_keys master=%s slaves=%s size=%d key_IDs=%s",
            kme_id,
            caller,
            ",".join(slaves),
            size,
            ",".join(k.key_id for k in keys),
        )
        return keys

    def _dec_keys(
        self, kme_id: str, caller: str, master: str, key_ids: Sequence[str]
    ) -> list[IssuedKey]:
        self._caller(kme_id, caller)
        if not key_ids:
            raise KmeServiceError(Fault.BAD_REQUEST, "key_IDs must name at least one key")
        keys = self.store.fetch(kme_id, slave=caller, master=master, key_ids=key_ids)
        log.debug(
            "%s dec_keys slave=%s master=%s key_IDs=%s",
            kme_id,
            caller,
            master,
            ",".join(k.key_id for k in keys),
        )
        return keys


def _pool(spec: PoolSpec, clock: Clock) -> KeyPool:
    return KeyPool(
        spec.key_rate_bps, spec.pool_capacity_bits, clock=clock, initial_bits=spec.initial_bits
    )


def _check_size(size: int, kme: KmeSpec) -> None:
    if size % 8:
        raise KmeServiceError(Fault.BAD_REQUEST, SIZE_NOT_MULTIPLE_OF_8)
    if not kme.min_key_size <= size <= kme.max_key_size:
        raise KmeServiceError(
            Fault.BAD_REQUEST,
            f"size must be between min_key_size ({kme.min_key_size}) "
            f"and max_key_size ({kme.max_key_size}) bits",
        )
