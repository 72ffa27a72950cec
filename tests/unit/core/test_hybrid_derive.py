"""The hybrid CAK rule in ``core.derive``: RFC 5869 HKDF-SHA-256 on stdlib ``hmac`` (checked
against the RFC's test vectors and against ``cryptography``), and the CAK it gives."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.core.derive import (
    HYBRID_SHARE_BYTES,
    DerivationError,
    cak_bytes_for,
    ckn_for,
    confirmation_tag,
    hkdf_sha256,
    hybrid_cak_for,
    new_hybrid_share,
)
from qkd_macsec.macsec import CipherSuite, KeyDerivation, derive_macsec_key
from qkd_macsec.secret import Secret

KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"

# RFC 5869 appendix A, the three SHA-256 cases: (IKM, salt, info, L, OKM).
RFC5869 = [
    (
        bytes.fromhex("0b" * 22),
        bytes(range(0x00, 0x0D)),
        bytes(range(0xF0, 0xFA)),
        42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    ),
    (
        bytes(range(0x00, 0x50)),
        bytes(range(0x60, 0xB0)),
        bytes(range(0xB0, 0x100)),
        82,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb"
        "41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
    ),
    (
        bytes.fromhex("0b" * 22),
        b"",
        b"",
        42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    ),
]


@pytest.mark.parametrize(("ikm", "salt", "info", "length", "okm"), RFC5869)
def test_hkdf_matches_rfc5869_vectors(
    ikm: bytes, salt: bytes, info: bytes, length: int, okm: str
) -> None:
    assert hkdf_sha256(ikm, length, info=info, salt=salt).hex() == okm


@given(
    ikm=st.binary(max_size=96),
    salt=st.binary(max_size=64),
    info=st.binary(max_size=64),
    length=st.integers(1, 255 * 32),
)
def test_hkdf_matches_cryptography(ikm: bytes, salt: bytes, info: bytes, length: int) -> None:
    reference = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
    assert hkdf_sha256(ikm, length, info=info, salt=salt) == reference.derive(ikm)


@pytest.mark.parametrize("length", [0, 255 * 32 + 1])
def test_hkdf_refuses_lengths_outside_rfc_bounds(length: int) -> None:
    with pytest.raises(DerivationError, match=r"1\.\.8160"):
        hkdf_sha256(b"k", length)


@pytest.mark.parametrize(("suite", "size"), [("gcm-aes-128", 16), ("gcm-aes-xpn-256", 32)])
def test_hybrid_cak_is_hkdf_of_qkd_key_and_s_with_ckn_info(suite: str, size: int) -> None:
    key = bytes(range(40))  # longer than needed: the CAK uses the same prefix as the seed's
    share = bytes(range(100, 132))
    ckn = ckn_for(KEY_ID)
    cak, truncated = hybrid_cak_for(key, share, suite, ckn)
    reference = HKDF(algorithm=hashes.SHA256(), length=size, salt=None, info=bytes.fromhex(ckn))
    assert cak == reference.derive(key[:size] + share)
    assert truncated
    assert len(cak) == size
    assert cak != cak_bytes_for(key, suite)[0]  # not the raw QKD key
    # each input matters: another S, another QKD key, another CKN give another CAK
    assert hybrid_cak_for(key, bytes(32), suite, ckn)[0] != cak
    assert hybrid_cak_for(bytes(40), share, suite, ckn)[0] != cak
    assert hybrid_cak_for(key, share, suite, ckn_for(KEY_ID, mode="sha256"))[0] != cak


def test_hybrid_cak_refuses_a_wrong_share_or_a_short_key() -> None:
    ckn = ckn_for(KEY_ID)
    with pytest.raises(DerivationError, match="256 bits"):
        hybrid_cak_for(bytes(32), bytes(16), "gcm-aes-256", ckn)
    with pytest.raises(DerivationError, match="needs 256"):
        hybrid_cak_for(bytes(16), bytes(32), "gcm-aes-256", ckn)


def test_shares_are_fresh_256_bit_values() -> None:
    shares = {new_hybrid_share() for _ in range(64)}
    assert len(shares) == 64
    assert {len(s) for s in shares} == {HYBRID_SHARE_BYTES}


def test_off_box_wrapper_gives_the_core_rule_and_a_kcv_over_the_hybrid_cak() -> None:
    raw = bytes(range(32))
    share = new_hybrid_share()
    seed = derive_macsec_key(Secret(raw), KEY_ID, CipherSuite.GCM_AES_XPN_256)
    hybrid = derive_macsec_key(
        Secret(raw), KEY_ID, CipherSuite.GCM_AES_XPN_256, hybrid_share=Secret(share)
    )
    assert seed.derivation is KeyDerivation.SEED
    assert seed.cak.reveal() == raw
    assert hybrid.derivation is KeyDerivation.HYBRID
    assert hybrid.ckn == seed.ckn
    assert hybrid.cak.reveal() == hybrid_cak_for(raw, share, "gcm-aes-xpn-256", seed.ckn)[0]
    assert hybrid.kcv != seed.kcv  # the KCV is over what the routers hold: the hybrid CAK
    assert share.hex() not in repr(hybrid)
    assert hybrid.cak.reveal().hex() not in repr(hybrid)
    assert confirmation_tag(hybrid.cak.reveal(), KEY_ID) != confirmation_tag(raw, KEY_ID)
