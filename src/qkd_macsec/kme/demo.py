"""A one-call demonstration: start the example network, deliver a key from SAE A to SAE B.

Prints key IDs, the derived CKN and key check values — never a key.
"""

from __future__ import annotations

from pathlib import Path

from qkd_macsec.etsi014.client import KmeClient
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.example import ExampleNetwork, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.server import serve_network
from qkd_macsec.macsec import CipherSuite, derive_macsec_key


def sae_identity(example: ExampleNetwork, sae_id: str) -> TlsIdentity:
    files = example.saes[sae_id]
    return TlsIdentity(cert=files.cert, key=files.key, ca=example.ca_cert)


async def demo_key_exchange(
    directory: Path, *, suite: CipherSuite = CipherSuite.GCM_AES_XPN_256
) -> list[str]:
    """Write the example network into ``directory``, run it, and exchange one key over mTLS."""
    example = write_example_network(directory)
    network = KmeNetwork.from_file(example.network_file)
    master, slave = list(example.saes)[:2]
    lines = [f"example network written to {directory}"]
    async with serve_network(network) as running:
        for kme_id in running.endpoints:
            lines.append(f"{kme_id} listening on {running.url(kme_id)}")
        async with (
            KmeClient(running.url_for_sae(master), sae_identity(example, master)) as client_a,
            KmeClient(running.url_for_sae(slave), sae_identity(example, slave)) as client_b,
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
