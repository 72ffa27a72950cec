"""The lab CA: what its certificates say, how long they last, and how keys reach disk."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from qkd_macsec.pki import (
    PkiError,
    common_name,
    create_ca,
    issue_client_cert,
    issue_server_cert,
    load_ca,
    load_certificate,
    load_private_key,
    remaining_validity,
    save_ca,
    save_issued,
    write_private,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_ca_is_a_ca_with_ec_p256_by_default() -> None:
    ca = create_ca("Lab CA", now=NOW)
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
    assert ca.key.curve.name == "secp256r1"
    assert ca.name == "Lab CA"
    assert ca.cert.issuer == ca.cert.subject


def test_rsa_ca_on_request() -> None:
    ca = create_ca(key_type="rsa")
    assert isinstance(ca.key, rsa.RSAPrivateKey)


def test_server_cert_has_dns_and_ip_sans_and_server_auth() -> None:
    ca = create_ca(now=NOW)
    issued = issue_server_cert(ca, ["kme-a.lab", "localhost"], ["127.0.0.1", "::1"], now=NOW)
    san = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["kme-a.lab", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert _eku(issued.cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert common_name(issued.cert) == "kme-a.lab"
    assert issued.cert.issuer == ca.cert.subject
    ca.cert.public_key().verify(  # signed by the CA
        issued.cert.signature,
        issued.cert.tbs_certificate_bytes,
        ec.ECDSA(issued.cert.signature_hash_algorithm),  # type: ignore[arg-type]
    )


def test_client_cert_cn_is_the_sae_id_with_client_auth() -> None:
    ca = create_ca()
    issued = issue_client_cert(ca, "mx304-11")
    assert common_name(issued.cert) == "mx304-11"
    assert _eku(issued.cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    constraints = issued.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not constraints.ca


def test_validity_in_days_and_in_seconds() -> None:
    ca = create_ca(now=NOW)
    yearly = issue_client_cert(ca, "sae", 10, now=NOW)
    assert remaining_validity(yearly.cert, NOW) == timedelta(days=10)
    short = issue_client_cert(ca, "sae", valid_for=timedelta(seconds=3), now=NOW)
    assert remaining_validity(short.cert, NOW) == timedelta(seconds=3)
    assert remaining_validity(short.cert, NOW + timedelta(seconds=5)) == timedelta(seconds=-2)
    # Backdated a little so a peer with a slightly slow clock accepts it.
    assert short.cert.not_valid_before_utc < NOW


@pytest.mark.parametrize(
    ("sae_id", "message"),
    [("", "1 to 64"), ("x" * 65, "1 to 64"), ("bad\nid", "control characters")],
)
def test_bad_sae_ids_are_refused_clearly(sae_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        issue_client_cert(create_ca(), sae_id)


def test_bad_server_inputs_are_refused() -> None:
    ca = create_ca()
    with pytest.raises(ValueError, match="at least one"):
        issue_server_cert(ca, [])
    with pytest.raises(ValueError, match="not an IP address"):
        issue_server_cert(ca, ["a"], ["300.1.1.1"])
    with pytest.raises(ValueError, match="positive"):
        issue_server_cert(ca, ["a"], valid_for=timedelta(0))
    with pytest.raises(ValueError, match="unknown key type"):
        create_ca(key_type="dsa")  # type: ignore[arg-type]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_and_load_ca_with_private_key_0600(tmp_path: Path) -> None:
    ca = create_ca("Saved CA")
    cert_path, key_path = save_ca(ca, tmp_path / "ca")
    assert _mode(key_path) == 0o600
    assert _mode(cert_path) == 0o644
    loaded = load_ca(tmp_path / "ca")
    assert loaded.cert == ca.cert
    assert loaded.name == "Saved CA"
    # No temporary files left behind by the atomic writes.
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca.key", "ca.pem"]


def test_overwriting_a_world_readable_file_still_yields_0600(tmp_path: Path) -> None:
    target = tmp_path / "leaf.key"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_private(target, b"new secret")
    assert _mode(target) == 0o600
    assert target.read_bytes() == b"new secret"


def test_issued_files_round_trip(tmp_path: Path) -> None:
    ca = create_ca()
    issued = issue_client_cert(ca, "sae-1")
    save_issued(issued, tmp_path / "sae-1.pem", tmp_path / "sae-1.key")
    assert _mode(tmp_path / "sae-1.key") == 0o600
    assert load_certificate(tmp_path / "sae-1.pem") == issued.cert
    assert load_private_key(tmp_path / "sae-1.key").public_key() == issued.key.public_key()


def test_load_ca_refuses_mismatched_key_and_non_ca(tmp_path: Path) -> None:
    ca, other = create_ca(), create_ca()
    save_ca(ca, tmp_path / "a")
    save_ca(other, tmp_path / "b")
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(PkiError, match="does not match"):
        load_ca(tmp_path / "a")
    leaf = issue_client_cert(ca, "sae")
    save_issued(leaf, tmp_path / "c" / "ca.pem", tmp_path / "c" / "ca.key")
    with pytest.raises(PkiError, match="not a CA"):
        load_ca(tmp_path / "c")


def test_errors_name_the_file_never_the_key(tmp_path: Path) -> None:
    canary = (
        b"-----BEGIN PRIVATE KEY-----\n"
        b"Q0FOQVJZLXNlY3JldC1rZXktbWF0ZXJpYWw=\n"
        b"-----END PRIVATE KEY-----\n"
    )
    bad = tmp_path / "bad.key"
    bad.write_bytes(canary)
    with pytest.raises(PkiError) as caught:
        load_private_key(bad)
    assert str(bad) in str(caught.value)
    assert "Q0FOQVJZ" not in str(caught.value)
    with pytest.raises(PkiError, match="cannot read"):
        load_certificate(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(PkiError, match="no valid PEM certificate"):
        load_certificate(tmp_path / "junk.pem")


def test_private_key_never_in_repr() -> None:
    ca = create_ca()
    issued = issue_client_cert(ca, "sae")
    for thing in (ca, issued):
        assert "key=" not in repr(thing)
        assert "PrivateKey" not in repr(thing)
