"""A small certificate authority for KMEs and SAEs (mutual TLS), on ``cryptography`` alone.

EC P-256 keys by default (RSA optional). Server certificates carry DNS and IP SANs and the
serverAuth EKU; SAE client certificates carry the SAE ID as subject CN (that is how a KME knows
who is calling) and the clientAuth EKU. Validity is given in days, or as any ``timedelta``
(seconds are handy in tests of expiry).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qkd_macsec.pki.files import (
    PkiError,
    PrivateKey,
    load_certificate,
    load_private_key,
    save_certificate,
    save_private_key,
)

KeyType = Literal["ec", "rsa"]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 397
RSA_BITS = 3072
#: Certificates start this long before "now", so a peer whose clock lags a little accepts them.
BACKDATE = timedelta(minutes=5)
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
CA_FILES = (CA_CERT_FILE, CA_KEY_FILE)
_MAX_CN = 64


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and its private key (the key never shows in repr)."""

    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    @property
    def name(self) -> str:
        return common_name(self.cert)


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate with its fresh private key."""

    cert: x509.Certificate
    key: PrivateKey = field(repr=False)


def new_private_key(key_type: KeyType = "ec") -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise ValueError(f"unknown key type {key_type!r} (expected 'ec' or 'rsa')")


def common_name(cert: x509.Certificate) -> str:
    """The subject CN, or '' when the certificate has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return ""
    value = names[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _validate_cn(value: str, what: str) -> str:
    if not value or len(value) > _MAX_CN:
        raise ValueError(f"{what} must be 1 to {_MAX_CN} characters, got {len(value)}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


def _validity(days: float, valid_for: timedelta | None) -> timedelta:
    span = valid_for if valid_for is not None else timedelta(days=days)
    if span <= timedelta(0):
        raise ValueError("certificate validity must be positive")
    return span


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    now: datetime,
    span: timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + span)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def create_ca(
    name: str = "qkd-macsec CA",
    *,
    key_type: KeyType = "ec",
    days: float = DEFAULT_CA_DAYS,
    valid_for: timedelta | None = None,
    now: datetime | None = None,
) -> CertificateAuthority:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _validate_cn(name, "CA name"))])
    key = new_private_key(key_type)
    builder = (
        _builder(subject, subject, key.public_key(), _now(now), _validity(days, valid_for))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return CertificateAuthority(cert=builder.sign(key, hashes.SHA256()), key=key)


def _leaf_key_usage(key: PrivateKey) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    ca: CertificateAuthority,
    subject_cn: str,
    eku: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    span: timedelta,
    key_type: KeyType,
    now: datetime | None,
) -> IssuedCertificate:
    key = new_private_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    builder = (
        _builder(subject, ca.cert.subject, key.public_key(), _now(now), span)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return IssuedCertificate(cert=builder.sign(ca.key, hashes.SHA256()), key=key)


def issue_server_cert(
    ca: CertificateAuthority,
    names: Sequence[str],
    addresses: Sequence[str | IpAddress] = (),
    days: float = DEFAULT_LEAF_DAYS,
    *,
    valid_for: timedelta | None = None,
    key_type: KeyType = "ec",
    now: datetime | None = None,
) -> IssuedCertificate:
    """A TLS server certificate (e.g. for a KME) valid for the DNS ``names`` and IP ``addresses``.

    The first name (or first address) becomes the subject CN; clients check the SANs.
    """
    if not names and not addresses:
        raise ValueError("a server certificate needs at least one DNS name or IP address")
    sans: list[x509.GeneralName] = []
    for name in names:
        sans.append(x509.DNSName(_validate_cn(name, "server name")))
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"not an IP address: {address!r}") from None
        sans.append(x509.IPAddress(ip))
    subject_cn = names[0] if names else str(addresses[0])
    return _issue(
        ca,
        subject_cn,
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans,
        _validity(days, valid_for),
        key_type,
        now,
    )


def issue_client_cert(
    ca: CertificateAuthority,
    sae_id: str,
    days: float = DEFAULT_LEAF_DAYS,
    *,
    valid_for: timedelta | None = None,
    key_type: KeyType = "ec",
    now: datetime | None = None,
) -> IssuedCertificate:
    """An SAE's client certificate: subject CN = the SAE ID, clientAuth EKU."""
    return _issue(
        ca,
        _validate_cn(sae_id, "SAE ID"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [],
        _validity(days, valid_for),
        key_type,
        now,
    )


def remaining_validity(cert: x509.Certificate, now: datetime | None = None) -> timedelta:
    """Time left until ``not_valid_after`` (negative once expired)."""
    return cert.not_valid_after_utc - _now(now)


def save_ca(ca: CertificateAuthority, directory: Path) -> tuple[Path, Path]:
    """Write ``ca.pem`` (0644) and ``ca.key`` (0600) into ``directory``; return both paths."""
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    save_private_key(ca.key, key_path)
    save_certificate(ca.cert, cert_path)
    return cert_path, key_path


def load_ca(directory: Path) -> CertificateAuthority:
    """Load a CA saved by :func:`save_ca`, checking that key and certificate belong together."""
    cert = load_certificate(directory / CA_CERT_FILE)
    key = load_private_key(directory / CA_KEY_FILE)
    if cert.public_key() != key.public_key():
        raise PkiError(f"{directory}: {CA_KEY_FILE} does not match {CA_CERT_FILE}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise PkiError(f"{directory / CA_CERT_FILE} is not a CA certificate")
    return CertificateAuthority(cert=cert, key=key)


def save_issued(issued: IssuedCertificate, cert_path: Path, key_path: Path) -> None:
    """Write a leaf certificate (0644) and its key (0600)."""
    save_private_key(issued.key, key_path)
    save_certificate(issued.cert, cert_path)
