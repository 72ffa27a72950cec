"""From a QKD key and its key ID to the MACsec CAK and CKN (the seed's derivation, on the wire).

- CAK = hex of the first ``suite.key_bytes`` bytes of the QKD key (longer keys are truncated and
  the caller is told, shorter keys are refused: Junos would silently zero-fill them).
- CKN = 32-hex prefix + the key ID UUID without dashes (64 hex), or sha256(key ID) for non-UUID
  IDs or when the hash form is chosen.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from qkd_macsec.macsec.kdf import key_check_value
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

DEFAULT_CKN_PREFIX = "abcd1234abcd5678abcd1234abcd5678"
_HEX = re.compile(r"^[0-9a-f]*$")


class KeyLengthError(ValueError):
    """A QKD key is shorter than the cipher suite needs."""


class CknMode(StrEnum):
    PREFIX_UUID = "prefix-uuid"
    SHA256 = "sha256"


@dataclass(frozen=True)
class MacsecKey:
    """One CAK/CKN pair ready for a device. ``cak`` stays wrapped until rendered into config."""

    ckn: str
    cak: Secret
    key_id: str
    suite: CipherSuite
    truncated_from_bits: int | None = None

    @property
    def kcv(self) -> str:
        """Key check value: safe to log, equal on both ends iff they hold the same CAK/CKN."""
        return key_check_value(self.cak.reveal(), bytes.fromhex(self.ckn))

    def cak_hex(self) -> Secret:
        return Secret(self.cak.reveal().hex().encode())


def validate_ckn_prefix(prefix: str) -> str:
    prefix = prefix.lower()
    if not _HEX.match(prefix) or len(prefix) % 2 or len(prefix) > 32:
        raise ValueError("CKN prefix must be an even number of hex digits, at most 32")
    return prefix


def derive_ckn(
    key_id: str, prefix: str = DEFAULT_CKN_PREFIX, mode: CknMode = CknMode.PREFIX_UUID
) -> str:
    """CKN for a key ID: even-length lowercase hex, at most 64 digits (Junos' limit)."""
    if mode is CknMode.PREFIX_UUID:
        try:
            uid = uuid.UUID(key_id)
        except ValueError:
            uid = None
        if uid is not None and len(key_id.replace("-", "")) == 32:
            return validate_ckn_prefix(prefix) + uid.hex
    return hashlib.sha256(key_id.encode()).hexdigest()


def derive_macsec_key(
    key: Secret,
    key_id: str,
    suite: CipherSuite,
    *,
    ckn_prefix: str = DEFAULT_CKN_PREFIX,
    ckn_mode: CknMode = CknMode.PREFIX_UUID,
) -> MacsecKey:
    raw = key.reveal()
    need = suite.key_bytes
    if len(raw) < need:
        raise KeyLengthError(
            f"QKD key {key_id} has {len(raw) * 8} bits; {suite.value} needs {need * 8}"
        )
    truncated = len(raw) * 8 if len(raw) > need else None
    return MacsecKey(
        ckn=derive_ckn(key_id, ckn_prefix, ckn_mode),
        cak=Secret(raw[:need]),
        key_id=key_id,
        suite=suite,
        truncated_from_bits=truncated,
    )
