"""From a QKD key and its key ID to the MACsec CAK and CKN, and the tag that proves two ends
derived the same CAK without showing it.

- CAK = the first ``suite`` key-length bytes of the QKD key (longer keys are truncated and the
  caller is told; shorter keys are refused: Junos would silently zero-fill them).
- CKN = hex prefix + the key ID UUID without dashes (64 hex), or sha256(key ID) for non-UUID IDs
  or when the hash form is chosen.
- Hybrid CAK (``key_derivation: hybrid``) = HKDF-SHA-256(IKM = those CAK bytes ‖ S, salt empty,
  info = the CKN's octets), cut to the suite's length. S is a fresh 256-bit secret per rotation
  that never reaches a KME, so a KME (or a trusted node) that knows the QKD key still lacks the
  CAK. HKDF is RFC 5869 on stdlib ``hmac``: this module also runs inside the Junos event script.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

DEFAULT_CKN_PREFIX = "abcd1234abcd5678abcd1234abcd5678"
#: CAK length in bytes per MACsec cipher suite (the suite names as Junos spells them).
SUITE_KEY_BYTES = {
    "gcm-aes-128": 16,
    "gcm-aes-256": 32,
    "gcm-aes-xpn-128": 16,
    "gcm-aes-xpn-256": 32,
}
CKN_MODES = ("prefix-uuid", "sha256")
#: ``seed``: the CAK is the QKD key's prefix; ``hybrid``: HKDF over the QKD key and S.
KEY_DERIVATIONS = ("seed", "hybrid")
HYBRID_SHARE_BYTES = 32
_SHA256_BYTES = 32
_HEX_RE = re.compile(r"^[0-9a-f]*$")
_CONFIRM_LABEL = b"qkd-onbox-confirm|"


class DerivationError(ValueError):
    """A key, key ID, suite or CKN prefix that cannot give a valid CAK/CKN."""


def suite_key_bytes(suite: str) -> int:
    """CAK bytes ``suite`` needs (the ETSI 014 ``size`` to ask for is eight times that)."""
    try:
        return SUITE_KEY_BYTES[suite]
    except KeyError:
        raise DerivationError(f"{suite!r} is not a MACsec cipher suite") from None


def checked_ckn_prefix(prefix: str) -> str:
    """The prefix lower-cased, if it is an even number of hex digits (at most 32)."""
    prefix = prefix.lower()
    if not _HEX_RE.match(prefix) or len(prefix) % 2 or len(prefix) > 32:
        raise DerivationError("CKN prefix must be an even number of hex digits, at most 32")
    return prefix


def ckn_for(key_id: str, prefix: str = DEFAULT_CKN_PREFIX, mode: str = "prefix-uuid") -> str:
    """CKN for a key ID: even-length lowercase hex, at most 64 digits (Junos' limit)."""
    if mode not in CKN_MODES:
        raise DerivationError(f"{mode!r} is not a CKN mode ({', '.join(CKN_MODES)})")
    if mode == "prefix-uuid":
        try:
            uid = uuid.UUID(key_id)
        except ValueError:
            uid = None
        if uid is not None and len(key_id.replace("-", "")) == 32:
            return checked_ckn_prefix(prefix) + uid.hex
    return hashlib.sha256(key_id.encode()).hexdigest()


def cak_bytes_for(key: bytes, suite: str, key_id: str = "") -> tuple[bytes, bool]:
    """The CAK bytes for ``suite`` and whether the QKD key was truncated to get them."""
    need = suite_key_bytes(suite)
    if len(key) < need:
        named = f" {key_id}" if key_id else ""
        raise DerivationError(f"QKD key{named} has {len(key) * 8} bits; {suite} needs {need * 8}")
    return key[:need], len(key) > need


def confirmation_tag(cak: bytes, key_id: str) -> str:
    """A short HMAC over the key ID under the CAK: equal on both ends iff they hold the same CAK,
    and safe to send and log (HMAC-SHA256 is a PRF; the CAK cannot be recovered from it)."""
    return hmac.new(cak, _CONFIRM_LABEL + key_id.encode(), "sha256").hexdigest()[:16]


def hkdf_sha256(ikm: bytes, length: int, info: bytes = b"", salt: bytes = b"") -> bytes:
    """RFC 5869 HKDF with SHA-256: extract (an empty salt is HashLen zero octets), then expand."""
    if not 0 < length <= 255 * _SHA256_BYTES:
        raise DerivationError(f"HKDF-SHA-256 output must be 1..{255 * _SHA256_BYTES} bytes")
    prk = hmac.new(salt or b"\x00" * _SHA256_BYTES, ikm, "sha256").digest()
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), "sha256").digest()
        out += block
        counter += 1
    return out[:length]


def new_hybrid_share() -> bytes:
    """A fresh S for one rotation: 256 bits from the OS CSPRNG (``secrets``), never to a KME."""
    return secrets.token_bytes(HYBRID_SHARE_BYTES)


def hybrid_cak_for(
    key: bytes, share: bytes, suite: str, ckn: str, key_id: str = ""
) -> tuple[bytes, bool]:
    """The hybrid CAK for ``suite`` and whether the QKD key was truncated: HKDF-SHA-256 over the
    seed CAK bytes ‖ S with the CKN as info, so both ends derive it only if they hold both."""
    if len(share) != HYBRID_SHARE_BYTES:
        raise DerivationError(f"hybrid share S must be {HYBRID_SHARE_BYTES * 8} bits")
    qkd_part, truncated = cak_bytes_for(key, suite, key_id)
    try:
        info = bytes.fromhex(ckn)
    except ValueError:
        raise DerivationError("CKN is not hex") from None
    return hkdf_sha256(qkd_part + share, len(qkd_part), info=info), truncated
