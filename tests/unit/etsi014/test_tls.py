"""TlsIdentity builds a verifying TLS >= 1.2 client context, or says which file is wrong."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.unit.etsi014.conftest import LogCapture

from qkd_macsec.etsi014.tls import TlsIdentity, TlsIdentityError


def write_self_signed(folder: Path, *, password: bytes | None = None) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sae-a")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    cert_path, key_path = folder / "sae.pem", folder / "sae.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return cert_path, key_path


def test_context_verifies_the_kme_with_the_given_ca(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    context = TlsIdentity(cert, key, ca=cert).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1


def test_context_without_ca_uses_the_system_store(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    context = TlsIdentity(cert, key).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_disabling_verification_is_loud(tmp_path: Path, etsi_log: LogCapture) -> None:
    cert, key = write_self_signed(tmp_path)
    context = TlsIdentity(cert, key, verify=False).ssl_context()
    assert context.verify_mode == ssl.CERT_NONE
    assert any(
        message.startswith("WARNING") and "verification is OFF" in message
        for message in etsi_log.messages
    )


def test_missing_files_are_named(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    with pytest.raises(TlsIdentityError, match=r"client key .*nope\.key: no such file"):
        TlsIdentity(cert, tmp_path / "nope.key", ca=cert).ssl_context()
    with pytest.raises(TlsIdentityError, match=r"CA bundle .*ca\.pem: no such file"):
        TlsIdentity(cert, key, ca=tmp_path / "ca.pem").ssl_context()


def test_garbage_pem_is_refused_without_quoting_it(tmp_path: Path) -> None:
    cert, _ = write_self_signed(tmp_path)
    bad_key = tmp_path / "bad.key"
    bad_key.write_text(
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(TlsIdentityError, match="cannot be loaded") as caught:
        TlsIdentity(cert, bad_key, ca=cert).ssl_context()
    assert "TOPSECRETKEYMATERIAL" not in str(caught.value)


def test_encrypted_key_is_refused_without_prompting(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path, password=b"hunter2hunter2")
    with pytest.raises(TlsIdentityError, match="encrypted client keys are not supported"):
        TlsIdentity(cert, key, ca=cert).ssl_context()


def test_ca_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    with pytest.raises(TlsIdentityError, match="CA bundle"):
        TlsIdentity(cert, key, ca=bad_ca).ssl_context()
