"""From a QKD key and its key ID to the MACsec CAK and CKN (the seed's derivation, on the wire).

- CAK = hex of the first ``suite.key_bytes`` bytes of the QKD key (longer keys are truncated and
  the caller is told, shorter keys are refused: Junos would silently zero-fill them).
- CKN = 32-hex prefix + the key ID UUID without dashes (64 hex), or sha256(key ID) for non-UUID
  IDs or when the hash form is chosen.
- ``KeyDerivation.HYBRID``: CAK = HKDF-SHA-256(those bytes ‖ S, info = CKN), S a fresh 256-bit
  secret of the controller's (``core.derive.hybrid_cak_for``); the KCV is over that CAK.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qkd_macsec.core.derive import (
    DEFAULT_CKN_PREFIX,
    DerivationError,
    cak_bytes_for,
    ckn_for,
    hybrid_cak_for,
)
from qkd_macsec.core.derive import checked_ckn_prefix as validate_ckn_prefix
from qkd_macsec.macsec.kdf import key_check_value
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

__all__ = [
    "DEFAULT_CKN_PREFIX",
    "CknMode",
    "KeyDerivation",
    "KeyLengthError",
    "MacsecKey",
    "derive_ckn",
    "derive_macsec_key",
    "validate_ckn_prefix",
]


class KeyLengthError(ValueError):
    """A QKD key is shorter than the cipher suite needs."""


class CknMode(StrEnum):
    PREFIX_UUID = "prefix-uuid"
    SHA256 = "sha256"


class KeyDerivation(StrEnum):
    """How a CAK comes from the QKD key (``key_derivation`` per link)."""

    SEED = "seed"  # the QKD key's prefix, as the seed does
    HYBRID = "hybrid"  # HKDF over the QKD key and a secret S no KME ever sees


@dataclass(frozen=True)
class MacsecKey:
    """One CAK/CKN pair ready for a device. ``cak`` stays wrapped until rendered into config."""

    ckn: str
    cak: Secret
    key_id: str
    suite: CipherSuite
    truncated_from_bits: int | None = None
    derivation: KeyDerivation = KeyDerivation.SEED

    @property
    def kcv(self) -> str:
        """Key check value: safe to log, equal on both ends iff they hold the same CAK/CKN."""
        return key_check_value(self.cak.reveal(), bytes.fromhex(self.ckn))

    def cak_hex(self) -> Secret:
        return Secret(self.cak.reveal().hex().encode())


def derive_ckn(
    key_id: str, prefix: str = DEFAULT_CKN_PREFIX, mode: CknMode = CknMode.PREFIX_UUID
) -> str:
    """CKN for a key ID: even-length lowercase hex, at most 64 digits (Junos' limit)."""
    return ckn_for(key_id, prefix, str(mode))


def derive_macsec_key(
    key: Secret,
    key_id: str,
    suite: CipherSuite,
    *,
    ckn_prefix: str = DEFAULT_CKN_PREFIX,
    ckn_mode: CknMode = CknMode.PREFIX_UUID,
    hybrid_share: Secret | None = None,
) -> MacsecKey:
    """The CAK/CKN for a QKD key; with ``hybrid_share`` (S) the hybrid CAK, else the seed's."""
    raw = key.reveal()
    ckn = derive_ckn(key_id, ckn_prefix, ckn_mode)
    try:
        if hybrid_share is None:
            cak, truncated = cak_bytes_for(raw, suite.value, key_id)
        else:
            cak, truncated = hybrid_cak_for(raw, hybrid_share.reveal(), suite.value, ckn, key_id)
    except DerivationError as exc:
        raise KeyLengthError(str(exc)) from None
    return MacsecKey(
        ckn=ckn,
        cak=Secret(cak),
        key_id=key_id,
        suite=suite,
        truncated_from_bits=len(raw) * 8 if truncated else None,
        derivation=KeyDerivation.SEED if hybrid_share is None else KeyDerivation.HYBRID,
    )
