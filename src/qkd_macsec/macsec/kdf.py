"""IEEE 802.1X-2010 key derivation (§6.2.1): AES-CMAC in counter mode.

Used by the simulator to decide whether two MKA peers would form a session, and to compute key
check values that prove two ends hold the same CAK without showing it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

ICK_LABEL = b"IEEE8021 ICK"
KEK_LABEL = b"IEEE8021 KEK"
SAK_LABEL = b"IEEE8021 SAK"
#: Project label for key check values: not an 802.1X label, so a KCV reveals no MKA key.
KCV_LABEL = b"QKD-MACSEC KCV"


def kdf(key: bytes, label: bytes, context: bytes, out_bits: int) -> bytes:
    """802.1X KDF: concatenate PRF(K, i || Label || 0x00 || Context || L) for i = 1.., cut to L."""
    if len(key) not in (16, 32):
        raise ValueError("802.1X KDF key must be 16 or 32 bytes")
    if out_bits <= 0 or out_bits % 8 or out_bits > 0xFFFF:
        raise ValueError("output length must be a positive multiple of 8 bits")
    length = out_bits.to_bytes(2, "big")
    out = b""
    i = 1
    while len(out) * 8 < out_bits:
        mac = CMAC(AES(key))
        mac.update(bytes([i]) + label + b"\x00" + context + length)
        out += mac.finalize()
        i += 1
    return out[: out_bits // 8]


def ckn_context(ckn: bytes) -> bytes:
    """The first 16 octets of the CKN, zero-padded: the ICK/KEK derivation context."""
    return ckn[:16].ljust(16, b"\x00")


def derive_ick(cak: bytes, ckn: bytes) -> bytes:
    return kdf(cak, ICK_LABEL, ckn_context(ckn), len(cak) * 8)


def derive_kek(cak: bytes, ckn: bytes) -> bytes:
    return kdf(cak, KEK_LABEL, ckn_context(ckn), len(cak) * 8)


def derive_sak(cak: bytes, context: bytes, out_bits: int) -> bytes:
    return kdf(cak, SAK_LABEL, context, out_bits)


def key_check_value(cak: bytes, ckn: bytes) -> str:
    """Eight hex digits that match on two ends exactly when they hold the same CAK and CKN.

    Derived under a project label, so it discloses nothing usable about the CAK or MKA keys.
    """
    return kdf(cak, KCV_LABEL, ckn_context(ckn), 128)[:4].hex()
