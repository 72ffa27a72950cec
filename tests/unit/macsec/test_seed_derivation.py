"""CAK/CKN derivation matches the seed's sample logs on the wire."""

import base64

import pytest

from qkd_macsec.macsec import (
    CipherSuite,
    CknMode,
    KeyLengthError,
    derive_ckn,
    derive_macsec_key,
)
from qkd_macsec.secret import Secret

SEED_KEY_B64 = (
    "nK45tzFFjDA42/1Ko5B6Hz2wi35gr72VsiHyVbMD9X9qxRbH0Ke8D4NpHUy1nX96JeVF4x0p0q0iDLH9ldIb4Q=="
)
SEED_KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"


def test_seed_pair() -> None:
    key = derive_macsec_key(
        Secret(base64.b64decode(SEED_KEY_B64)), SEED_KEY_ID, CipherSuite.GCM_AES_XPN_256
    )
    assert key.ckn == "abcd1234abcd5678abcd1234abcd5678d9b6fa63dd8847d28afe94fcecf40d19"
    assert key.cak_hex().reveal().decode() == (
        "9cae39b731458c3038dbfd4aa3907a1f3db08b7e60afbd95b221f255b303f57f"
    )
    assert key.truncated_from_bits == 512


def test_short_key_refused() -> None:
    with pytest.raises(KeyLengthError) as exc:
        derive_macsec_key(Secret(b"\x01" * 16), "id", CipherSuite.GCM_AES_256)
    assert "\\x01" not in str(exc.value)
    assert "0101" not in str(exc.value)


def test_128_bit_suite_takes_16_bytes() -> None:
    key = derive_macsec_key(Secret(bytes(range(32))), SEED_KEY_ID, CipherSuite.GCM_AES_128)
    assert key.cak.reveal() == bytes(range(16))


def test_non_uuid_key_id_falls_back_to_hash() -> None:
    ckn = derive_ckn("not-a-uuid")
    assert len(ckn) == 64
    assert ckn == derive_ckn("not-a-uuid", mode=CknMode.SHA256)


def test_secret_never_shows_in_repr() -> None:
    key = derive_macsec_key(Secret(b"\xab" * 32), SEED_KEY_ID, CipherSuite.GCM_AES_256)
    text = repr(key) + str(key) + f"{key.cak}"
    assert "abab" not in text
    assert "\\xab" not in text
