"""Certificate lifecycle for SAEs and KMEs: check every certificate an inventory relies on, renew
SAE client certificates before they expire, fetch a CA certificate from a CA server over SSH.

It lives above ``pki`` (which only issues, stores and checks certificates) because it walks an
inventory, talks to KMEs and copies files to routers; it is its own package, not part of
``onbox``, because the off-box controller watches certificates too.

Renewal order (never a moment without a working certificate): issue the new certificate into
staging files → prove the KME accepts it (an mTLS ``status`` call with the NEW pair) → upload
cert (0644) and key (0600) to the router (SCP by default, or SFTP with an atomic rename; see
``transport.ssh_files``) → replace the controller's copies atomically. A KME that refuses the new
pair stops the renewal with the old certificate untouched everywhere.
"""

from __future__ import annotations

import posixpath
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509

from qkd_macsec.etsi014.tls import TlsIdentity, TlsIdentityError
from qkd_macsec.inventory import Inventory
from qkd_macsec.inventory.model import Host, Kme
from qkd_macsec.obs.logging import get_logger, notice
from qkd_macsec.pki.ca import CertificateAuthority, issue_client_cert
from qkd_macsec.pki.check import CertCheck, check_certificate
from qkd_macsec.pki.files import (
    PkiError,
    certificate_pem,
    load_certificate,
    private_key_pem,
    write_private,
    write_public,
)
from qkd_macsec.transport.ssh_files import (
    RemoteFile,
    SshLogin,
    Transfer,
    TransferError,
    download,
    login_for,
    upload,
)

log = get_logger("certs.renew")

DEFAULT_THRESHOLD = timedelta(days=30)
ROUTER_CERT_DIR = "/var/home/remote/qkd/certs"  # where the on-box runtime reads its identity
PROBE_TIMEOUT_S = 10.0


class RenewError(Exception):
    """A renewal step that failed (names host and step; never key material)."""


@dataclass(frozen=True)
class CertificateReport:
    """One certificate: whose, where it came from, and its verdict (or why there is none)."""

    label: str
    source: str
    check: CertCheck | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.check is not None and self.check.ok


# ------------------------------------------------------------------------------ checking
def kme_server_certificate(kme: Kme, identity: TlsIdentity) -> x509.Certificate:
    """The certificate a KME presents (handshake with an SAE identity, the KME verified)."""
    context = identity.ssl_context()
    with (
        socket.create_connection((kme.hostname, kme.port), timeout=PROBE_TIMEOUT_S) as raw,
        context.wrap_socket(raw, server_hostname=kme.hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("no server certificate")
    return x509.load_der_x509_certificate(der)


def _identity(host: Host, kme: Kme) -> TlsIdentity:
    assert host.tls is not None
    return TlsIdentity(host.tls.cert, host.tls.key, host.tls.ca or kme.ca, kme.verify)


def check_inventory_certificates(
    inventory: Inventory, warn_before: timedelta, now: datetime
) -> list[CertificateReport]:
    """Every SAE client certificate (files) and every KME server certificate (live handshake)."""
    reports: list[CertificateReport] = []
    probes: dict[str, Host] = {}
    for host in inventory.hosts.values():
        if host.tls is None:
            continue
        label = f"SAE {host.sae_id}"
        try:
            cert = load_certificate(host.tls.cert)
        except PkiError as exc:
            reports.append(CertificateReport(label, str(host.tls.cert), None, str(exc)))
            continue
        reports.append(
            CertificateReport(label, str(host.tls.cert), check_certificate(cert, warn_before, now))
        )
        if host.kme is not None:
            probes.setdefault(host.kme, host)
    for name, kme in inventory.kmes.items():
        label, source = f"KME {name}", kme.url
        prober = probes.get(name)
        if prober is None:
            reports.append(CertificateReport(label, source, None, "no SAE uses this KME"))
            continue
        try:
            cert = kme_server_certificate(kme, _identity(prober, kme))
        except (OSError, ssl.SSLError, TlsIdentityError) as exc:
            reports.append(
                CertificateReport(label, source, None, f"unreachable: {type(exc).__name__}")
            )
            continue
        reports.append(CertificateReport(label, source, check_certificate(cert, warn_before, now)))
    return reports


class CertificateWatch:
    """The off-box ``run`` loop's daily check: ``poll(now)`` returns warnings at most once a day.

    The controller calls ``poll`` every wave and logs what it returns at WARNING.
    """

    def __init__(
        self,
        inventory: Inventory,
        warn_before: timedelta = DEFAULT_THRESHOLD,
        every: timedelta = timedelta(days=1),
        check: Callable[[Inventory, timedelta, datetime], list[CertificateReport]] | None = None,
    ) -> None:
        self.inventory = inventory
        self.warn_before = warn_before
        self.every = every
        self._check = check or check_inventory_certificates
        self._last: datetime | None = None

    def poll(self, now: datetime) -> list[str]:
        if self._last is not None and now - self._last < self.every:
            return []
        self._last = now
        warnings = []
        for report in self._check(self.inventory, self.warn_before, now):
            if report.check is None:
                warnings.append(
                    f"certificate of {report.label} ({report.source}): {report.problem}"
                )
            elif not report.check.ok:
                warnings.append(
                    f"certificate of {report.label} ({report.source}) is "
                    f"{report.check.validity.value}: {report.check.days_left:.1f} days left"
                )
        return warnings


# ------------------------------------------------------------------------------ renewing
def kme_accepts(kme: Kme, identity: TlsIdentity, peer_sae: str) -> None:
    """An ETSI 014 ``status`` call with ``identity``; raises :class:`RenewError` if refused."""
    url = f"{kme.url.rstrip('/')}/api/v1/keys/{peer_sae}/status"
    try:
        with httpx.Client(verify=identity.ssl_context(), timeout=PROBE_TIMEOUT_S) as client:
            reply = client.get(url)
    except (httpx.HTTPError, TlsIdentityError, ssl.SSLError, OSError) as exc:
        raise RenewError(f"KME {kme.name} did not accept the new certificate: {exc}") from None
    if reply.status_code != 200:
        raise RenewError(f"KME {kme.name} answered HTTP {reply.status_code} to the new certificate")


def _peer_sae(inventory: Inventory, name: str) -> str:
    for link in inventory.links:
        hosts = link.host_names
        if name in hosts:
            other = next(h for h in hosts if h != name)
            return inventory.hosts[other].sae_id
    raise RenewError(f"{name}: in no link, so no peer SAE to probe the KME with")


def upload_identity(
    host: Host, cert_pem: bytes, key_pem: bytes, transfer: Transfer = "scp"
) -> None:
    """Put an SAE's cert (0644) and key (0600 from creation) on its router, host key verified."""
    home, certs = posixpath.split(ROUTER_CERT_DIR.rstrip("/"))  # .../qkd, certs
    base, qkd = posixpath.split(home)
    files = [
        RemoteFile(base, f"{qkd}/{certs}/{host.sae_id}.key", key_pem, 0o600),
        RemoteFile(base, f"{qkd}/{certs}/{host.sae_id}.crt", cert_pem, 0o644),
    ]
    try:
        upload(login_for(host), files, transfer)
    except TransferError as exc:
        raise RenewError(f"{host.name}: {exc}") from None


@dataclass(frozen=True)
class RenewOutcome:
    host: str
    renewed: bool
    days_left_before: float
    days_left_after: float
    uploaded: bool


def renew_sae_certificate(
    inventory: Inventory,
    name: str,
    ca: CertificateAuthority,
    now: datetime,
    *,
    threshold: timedelta = DEFAULT_THRESHOLD,
    days: float = 365,
    upload: bool = True,
    force: bool = False,
    transfer: Transfer = "scp",
) -> RenewOutcome:
    """Renew ``name``'s SAE certificate if under ``threshold`` (see the module docstring)."""
    host = inventory.hosts[name]
    if host.tls is None or host.kme is None:
        raise RenewError(f"{name}: no SAE certificate or KME in the inventory")
    kme = inventory.kmes[host.kme]
    current = check_certificate(load_certificate(host.tls.cert), threshold, now)
    if current.ok and not force:
        return RenewOutcome(name, False, current.days_left, current.days_left, False)
    issued = issue_client_cert(ca, host.sae_id, days, now=now)
    cert_pem, key_pem = certificate_pem(issued.cert), private_key_pem(issued.key)
    staged_cert = host.tls.cert.with_name(host.tls.cert.name + ".new")
    staged_key = host.tls.key.with_name(host.tls.key.name + ".new")
    write_private(staged_key, key_pem)
    write_public(staged_cert, cert_pem)
    try:
        kme_accepts(
            kme,
            TlsIdentity(staged_cert, staged_key, host.tls.ca or kme.ca, kme.verify),
            _peer_sae(inventory, name),
        )
        if upload:
            upload_identity(host, cert_pem, key_pem, transfer)
        write_private(host.tls.key, key_pem)
        write_public(host.tls.cert, cert_pem)
    finally:
        staged_cert.unlink(missing_ok=True)
        staged_key.unlink(missing_ok=True)
    after = check_certificate(issued.cert, threshold, now)
    notice(
        log,
        "%s: SAE certificate renewed (%.1f -> %.1f days left)",
        name,
        current.days_left,
        after.days_left,
    )
    return RenewOutcome(name, True, current.days_left, after.days_left, upload)


# ------------------------------------------------------------------------------ CA fetch
@dataclass(frozen=True)
class CaServer(SshLogin):
    """Where the seed fetched its CA: an SSH login to a server holding the CA certificate (and
    key), and where they are on it."""

    cert_path: str = "ca/ca.pem"
    key_path: str | None = None  # also fetch the CA key (to issue certificates here)


def fetch_ca(server: CaServer, directory: Path) -> tuple[Path, Path | None]:
    """Download the CA certificate (0644) and optionally its key (0600) over SSH."""
    paths = [server.cert_path] + ([server.key_path] if server.key_path is not None else [])
    try:
        cert, *rest = download(server, paths)
    except TransferError as exc:
        raise RenewError(f"CA server {exc}") from None
    try:
        x509.load_pem_x509_certificate(cert)  # refuse anything that is not a certificate
    except ValueError:
        raise RenewError(f"{server.cert_path} on the CA server is not a PEM certificate") from None
    cert_out = directory / "ca.pem"
    write_public(cert_out, cert)
    key_out = None
    if rest:
        key_out = directory / "ca.key"
        write_private(key_out, rest[0])
    return cert_out, key_out
