"""ENC and DEC for one link through the ETSI 014 client, and the checks before any router use.

The master end's SAE asks its KME for a key (enc_keys, naming every slave SAE: one key for a group
CA); each slave end's SAE fetches the same key by ID from its own KME (dec_keys). Off-box the
controller holds every copy and refuses to go on unless they are identical.

Before a group CA's enc_keys, the master's KME ``status`` says how many additional slaves it
accepts (``max_SAE_ID_count``); a larger group fails here, naming the numbers, rather than as
a KME's bare 400. Key IDs are compared in canonical form (:func:`canonical_key_id`), so a KME
repeating a UUID in upper case is still caught by the stale-key check.

A ``key_derivation: hybrid`` link gets a fresh S per rotation here (``new_hybrid_share``, held
only as a :class:`Secret` in memory and registered for log scrubbing): the CAK that goes to the
routers over SSH is HKDF(QKD key ‖ S, info = CKN), and S itself goes nowhere, not even the
journal. A crash that loses S loses nothing recovery needs: it reads what the devices hold.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Collection
from dataclasses import dataclass

from qkd_macsec.core.derive import new_hybrid_share
from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.etsi014.client import KmeClient
from qkd_macsec.etsi014.errors import KmeResponseError, KmeStatusError
from qkd_macsec.etsi014.models import canonical_key_id
from qkd_macsec.macsec import KeyDerivation, MacsecKey, derive_macsec_key
from qkd_macsec.obs.logging import SECRETS, get_logger, notice
from qkd_macsec.secret import Secret

log = get_logger("engine.keys")


class KeyFetchError(Exception):
    """The link's key could not be obtained or failed a check; nothing was installed."""


class GroupTooLargeError(KeyFetchError):
    """A group CA names more additional slaves than the master's KME accepts in one request."""


@dataclass(frozen=True)
class FetchedKey:
    link: str
    key: MacsecKey
    enc_seconds: float
    dec_seconds: float


ClientFor = Callable[[str], KmeClient]
"""Returns the (shared, keep-alive) KME client acting as the given SAE ID."""


class KeySource:
    """Fetches a fresh QKD key for a link from the KMEs, as the link's SAEs."""

    def __init__(self, client_for: ClientFor, *, dec_keys_wait: float = 10.0) -> None:
        self._client_for = client_for
        self._dec_keys_wait = dec_keys_wait

    async def fetch(self, link: LinkSpec, recent_key_ids: Collection[str] = ()) -> FetchedKey:
        loop = asyncio.get_running_loop()
        master = link.master
        slave_ids = [end.sae_id for end in link.slaves]
        if len(slave_ids) > 1:
            await self._check_group_size(link)
        started = loop.time()
        enc = await self._client_for(master.sae_id).get_keys(
            slave_ids[0],
            size=link.suite.key_bits,
            number=1,
            additional_slave_sae_ids=slave_ids[1:],
        )
        enc_seconds = loop.time() - started
        if len(enc) != 1:
            raise KeyFetchError(f"{link.name}: enc_keys returned {len(enc)} keys, expected 1")
        master_key = enc[0]
        key_id = master_key.key_id
        if link.keyid_check and canonical_key_id(key_id) in {
            canonical_key_id(recent) for recent in recent_key_ids
        }:
            raise KeyFetchError(
                f"{link.name}: KME returned key ID {key_id} again (stale key ID; kme-keyid-check)"
            )
        started = loop.time()
        slave_keys = await asyncio.gather(
            *(
                self._client_for(end.sae_id).get_keys_with_ids(
                    master.sae_id, [key_id], size=link.suite.key_bits, wait=self._dec_keys_wait
                )
                for end in link.slaves
            )
        )
        dec_seconds = loop.time() - started
        for end, keys in zip(link.slaves, slave_keys, strict=True):
            if len(keys) != 1 or keys[0].key_id != key_id:
                raise KeyFetchError(
                    f"{link.name}: dec_keys for {end.sae_id} returned other key IDs"
                )
            if not hmac.compare_digest(keys[0].key.reveal(), master_key.key.reveal()):
                raise KeyFetchError(
                    f"{link.name}: key {key_id} differs between {master.sae_id} and {end.sae_id}"
                )
        share = None
        if link.key_derivation is KeyDerivation.HYBRID:
            share = Secret(new_hybrid_share())
            SECRETS.add(share.reveal())
        macsec_key = derive_macsec_key(
            master_key.key,
            key_id,
            link.suite,
            ckn_prefix=link.ckn_prefix,
            ckn_mode=link.ckn_mode,
            hybrid_share=share,
        )
        SECRETS.add(macsec_key.cak.reveal())
        SECRETS.add(master_key.key.reveal())
        if macsec_key.truncated_from_bits:
            notice(
                log,
                "%s: key %s has %d bits, using the first %d",
                link.name,
                key_id,
                macsec_key.truncated_from_bits,
                link.suite.key_bits,
                extra={"link": link.name, "key_id": key_id},
            )
        return FetchedKey(link.name, macsec_key, enc_seconds, dec_seconds)

    async def _check_group_size(self, link: LinkSpec) -> None:
        """Refuse a group CA larger than the master's KME multicasts (``max_SAE_ID_count``).

        A KME whose status cannot be read or parsed, or that leaves the count out, is not held
        against the link: enc_keys goes ahead and that KME answers for itself.
        """
        slave_ids = [end.sae_id for end in link.slaves]
        try:
            status = await self._client_for(link.master.sae_id).get_status(slave_ids[0])
        except (KmeStatusError, KmeResponseError) as exc:
            log.warning(
                "%s: status before the group enc_keys failed (%s); requesting anyway",
                link.name,
                exc,
                extra={"link": link.name},
            )
            return
        additional = len(slave_ids) - 1
        if "max_sae_id_count" not in status.model_fields_set:
            log.warning(
                "%s: KME %s gives no max_SAE_ID_count; requesting the group key anyway",
                link.name,
                status.source_kme_id,
                extra={"link": link.name},
            )
            return
        if additional > status.max_sae_id_count:
            raise GroupTooLargeError(
                f"{link.name}: group CA of {len(slave_ids)} slaves needs {additional} "
                f"additional_slave_SAE_IDs, but KME {status.source_kme_id} of master "
                f"{link.master.sae_id} accepts at most {status.max_sae_id_count} "
                "(max_SAE_ID_count); no key requested"
            )
