"""MACsec cipher suites and the CAK length each one needs."""

from __future__ import annotations

from enum import StrEnum

from qkd_macsec.core.derive import SUITE_KEY_BYTES


class CipherSuite(StrEnum):
    """Junos ``cipher-suite`` values."""

    GCM_AES_128 = "gcm-aes-128"
    GCM_AES_256 = "gcm-aes-256"
    GCM_AES_XPN_128 = "gcm-aes-xpn-128"
    GCM_AES_XPN_256 = "gcm-aes-xpn-256"

    @property
    def key_bits(self) -> int:
        """CAK length in bits (also the ETSI 014 ``size`` to request)."""
        return SUITE_KEY_BYTES[self.value] * 8

    @property
    def key_bytes(self) -> int:
        return self.key_bits // 8

    @property
    def cak_hex_len(self) -> int:
        return self.key_bytes * 2
