"""CAK/CKN derivation for the on-box runtime: a standard-library copy of ``qkd_macsec.macsec``.

The artifact cannot import the package, so it carries these few lines; a unit test checks they
give exactly what ``qkd_macsec.macsec.derive_macsec_key`` gives (seed vector and random keys).
"""

from __future__ import annotations

import hashlib
import re
import uuid

DEFAULT_CKN_PREFIX = "abcd1234abcd5678abcd1234abcd5678"
SUITE_KEY_BYTES = {
    "gcm-aes-128": 16,
    "gcm-aes-256": 32,
    "gcm-aes-xpn-128": 16,
    "gcm-aes-xpn-256": 32,
}
CKN_MODES = ("prefix-uuid", "sha256")
_HEX_RE = re.compile(r"^[0-9a-f]*$")


class DerivationError(ValueError):
    """A key, key ID, suite or CKN prefix that cannot give a valid CAK/CKN."""


def suite_key_bytes(suite: str) -> int:
    try:
        return SUITE_KEY_BYTES[suite]
    except KeyError:
        raise DerivationError(f"{suite!r} is not a MACsec cipher suite") from None


def checked_ckn_prefix(prefix: str) -> str:
    prefix = prefix.lower()
    if not _HEX_RE.match(prefix) or len(prefix) % 2 or len(prefix) > 32:
        raise DerivationError("CKN prefix must be an even number of hex digits, at most 32")
    return prefix


def ckn_for(key_id: str, prefix: str = DEFAULT_CKN_PREFIX, mode: str = "prefix-uuid") -> str:
    """CKN: prefix + key ID UUID hex (64 hex), or sha256(key ID) for non-UUID IDs / hash mode."""
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


def cak_bytes_for(key: bytes, suite: str) -> tuple[bytes, bool]:
    """The CAK bytes for ``suite`` and whether the QKD key was truncated to get them."""
    need = suite_key_bytes(suite)
    if len(key) < need:
        raise DerivationError(f"QKD key has {len(key) * 8} bits; {suite} needs {need * 8}")
    return key[:need], len(key) > need


def confirmation_tag(cak: bytes, key_id: str) -> str:
    """A short HMAC over the key ID under the CAK: equal on both ends iff they hold the same CAK,
    and safe to send and log (HMAC-SHA256 is a PRF; the CAK cannot be recovered from it)."""
    import hmac

    return hmac.new(cak, b"qkd-onbox-confirm|" + key_id.encode(), "sha256").hexdigest()[:16]
