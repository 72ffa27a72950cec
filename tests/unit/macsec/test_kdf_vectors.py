"""802.1X KDF against the public vectors in MKA.md."""

from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from qkd_macsec.macsec import derive_ick, derive_kek, derive_sak, key_check_value

CAK1 = bytes.fromhex("0123456789abcdef0123456789abcdef")
CKN1 = bytes.fromhex("31323334")
CAK2 = bytes.fromhex("0123456789abcdef" * 4)
CKN2 = bytes.fromhex("35363738")


def test_kek_128_and_key_wrap_vector() -> None:
    kek = derive_kek(CAK1, CKN1)
    assert kek.hex() == "880f0494fee363ab6a9c198b44840f33"
    sak = bytes.fromhex("13d9ee5b268b44fb37633d41c8e70d93")
    wrapped = aes_key_wrap(kek, sak)
    assert wrapped.hex() == "3b39ab4cd8da2ec5d1386a139de378d993d2a07088cbf5ec"


def test_kek_256_and_key_wrap_vector() -> None:
    kek = derive_kek(CAK2, CKN2)
    assert kek.hex() == "9de89702775410e4fde419b3f761da2fffca4d46ea763fe8afc8bb15fab5e9b5"
    sak = bytes.fromhex("3909366018072b5df0818145cd71c6ba1d2b87c4ef79688228d02586d363ff89")
    assert aes_key_wrap(kek, sak).hex() == (
        "2f6a2229680e6e359164054a318d35ea958540c6ea55e5c56840ae4d6feb73cd4e2a43b1da494f0a"
    )


def test_sak_derivation_vectors() -> None:
    ctx1 = bytes.fromhex("31323334111212143132333411121214")
    assert derive_sak(CAK1, ctx1, 128).hex() == "13d9ee5b268b44fb37633d41c8e70d93"
    ctx2 = bytes.fromhex("31323334" * 8)
    assert derive_sak(CAK2, ctx2, 256).hex() == (
        "3909366018072b5df0818145cd71c6ba1d2b87c4ef79688228d02586d363ff89"
    )


def test_ick_uses_padded_ckn_context() -> None:
    assert derive_ick(CAK1, CKN1).hex() == "5743529abaa746e945f14b7717f342d6"


def test_key_check_value_differs_per_cak_and_is_stable() -> None:
    assert key_check_value(CAK1, CKN1) == key_check_value(CAK1, CKN1)
    assert key_check_value(CAK1, CKN1) != key_check_value(CAK2[:16][::-1], CKN1)
    assert len(key_check_value(CAK1, CKN1)) == 8
