"""MACsec cipher suites, CAK/CKN derivation, 802.1X KDF and key check values (no I/O)."""

from qkd_macsec.macsec.kdf import derive_ick, derive_kek, derive_sak, kdf, key_check_value
from qkd_macsec.macsec.keys import (
    DEFAULT_CKN_PREFIX,
    CknMode,
    KeyDerivation,
    KeyLengthError,
    MacsecKey,
    derive_ckn,
    derive_macsec_key,
)
from qkd_macsec.macsec.suites import CipherSuite

__all__ = [
    "DEFAULT_CKN_PREFIX",
    "CipherSuite",
    "CknMode",
    "KeyDerivation",
    "KeyLengthError",
    "MacsecKey",
    "derive_ckn",
    "derive_ick",
    "derive_kek",
    "derive_macsec_key",
    "derive_sak",
    "kdf",
    "key_check_value",
]
