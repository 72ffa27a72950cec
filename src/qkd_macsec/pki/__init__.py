"""Certificates for mutual TLS between SAEs and KMEs: a small CA, issuing, validity checks."""

from qkd_macsec.pki.ca import (
    CA_FILES,
    CertificateAuthority,
    IssuedCertificate,
    KeyType,
    common_name,
    create_ca,
    issue_client_cert,
    issue_server_cert,
    load_ca,
    remaining_validity,
    save_ca,
    save_issued,
)
from qkd_macsec.pki.check import CertCheck, Validity, check_certificate
from qkd_macsec.pki.files import (
    PkiError,
    PrivateKey,
    load_certificate,
    load_certificates,
    load_private_key,
    write_private,
    write_public,
)

__all__ = [
    "CA_FILES",
    "CertCheck",
    "CertificateAuthority",
    "IssuedCertificate",
    "KeyType",
    "PkiError",
    "PrivateKey",
    "Validity",
    "check_certificate",
    "common_name",
    "create_ca",
    "issue_client_cert",
    "issue_server_cert",
    "load_ca",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "remaining_validity",
    "save_ca",
    "save_issued",
    "write_private",
    "write_public",
]
