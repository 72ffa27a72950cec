"""Reading and writing PEM files: private keys are 0600 from the moment they exist.

A private key is written to a fresh temporary file created with mode 0600 in the target folder
and renamed over the destination, so no reader ever sees it with wider permissions, not even for
a moment, and a crash never leaves a half-written key behind.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from qkd_macsec.core.private_files import PRIVATE_MODE, PUBLIC_MODE, write_atomic

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PkiError(Exception):
    """A certificate or key file is missing, unreadable or not what it should be."""


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # The core rule (mkstemp 0600, widened only for public files); folders as before: umask.
    write_atomic(path, data, mode, dir_mode=0o777)


def write_private(path: Path, data: bytes) -> None:
    """Write secret bytes to ``path`` with mode 0600 from creation on."""
    _write_atomic(path, data, PRIVATE_MODE)


def write_public(path: Path, data: bytes) -> None:
    """Write public bytes (certificates) with mode 0644."""
    _write_atomic(path, data, PUBLIC_MODE)


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def save_private_key(key: PrivateKey, path: Path) -> None:
    write_private(path, private_key_pem(key))


def save_certificate(cert: x509.Certificate, path: Path) -> None:
    write_public(path, certificate_pem(cert))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PkiError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates in a PEM file (a bundle or a single certificate)."""
    data = _read(path, "certificate")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PkiError(f"{path} holds no valid PEM certificate") from None
    return certs


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file."""
    return load_certificates(path)[0]


def load_private_key(path: Path) -> PrivateKey:
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Never include the file content: it is a secret even when malformed.
        raise PkiError(f"{path} holds no valid unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(f"{path}: only EC and RSA private keys are supported")
    return key
