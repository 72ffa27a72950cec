"""A one-call demonstration: start the example network, deliver a key from SAE A to SAE B.

Prints key IDs, the derived CKN and key check values — never a key.
"""

from __future__ import annotations

from pathlib import Path

from qkd_macsec.etsi014.client import KmeClient
from qkd_macsec.kme.lab import serve_kme_lab
from qkd_macsec.macsec import CipherSuite, derive_macsec_key


async def demo_key_exchange(
    directory: Path, *, suite: CipherSuite = CipherSuite.GCM_AES_XPN_256
) -> list[str]:
    """Write the example network into ``directory``, run it, and exchange one key over mTLS."""
    lines = [f"example network written to {directory}"]
    async with serve_kme_lab(directory) as lab:
        master, slave = list(lab.example.saes)[:2]
        for kme_id in lab.running.endpoints:
            lines.append(f"{kme_id} listening on {lab.url(kme_id)}")
        async with (
            KmeClient(lab.url_for_sae(master), lab.identity(master)) as client_a,
            KmeClient(lab.url_for_sae(slave), lab.identity(slave)) as client_b,
        ):
            status = await client_a.get_status(slave)
            lines.append(
                f"status {status.source_kme_id}->{status.target_kme_id}: "
                f"{status.stored_key_count} keys of {status.key_size} bits stored"
            )
            (enc,) = await client_a.get_keys(slave, size=suite.key_bits)
            lines.append(f"{master}: enc_keys -> key_ID {enc.key_id}")
            (dec,) = await client_b.get_keys_with_ids(master, [enc.key_id])
            lines.append(f"{slave}: dec_keys -> key_ID {dec.key_id}")
    key_a = derive_macsec_key(enc.key, enc.key_id, suite)
    key_b = derive_macsec_key(dec.key, dec.key_id, suite)
    same = key_a.cak == key_b.cak and key_a.ckn == key_b.ckn
    lines.append(f"CKN {key_a.ckn}")
    lines.append(
        f"keys equal: {'yes' if same else 'NO'} (kcv {key_a.kcv}"
        + ("" if same else f" vs {key_b.kcv}")
        + ")"
    )
    return lines
