"""The SAE's mutual-TLS identity towards its KME, as an :class:`ssl.SSLContext`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from OpenSSL import SSL

from qkd_macsec.hybrid_tls import TlsFiles, TlsSetupError, client_context
from qkd_macsec.obs.logging import get_logger

log = get_logger("etsi014")


class TlsIdentityError(ValueError):
    """A certificate, key or CA file is missing or unusable; names the file, never its content."""


@dataclass(frozen=True)
class TlsIdentity:
    """Client certificate + key the KME identifies the SAE by, and how the KME is verified.

    ``ca`` None trusts the system store. ``verify`` False turns server verification off (lab use
    only; logged as a warning every time a context is built).
    """

    cert: Path
    key: Path
    ca: Path | None = None
    verify: bool = True

    def ssl_context(self) -> ssl.SSLContext:
        """A client context: TLS >= 1.2, client chain loaded, the KME verified unless disabled."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            if self.ca is None:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            else:
                _require_file(self.ca, "CA bundle")
                try:
                    context.load_verify_locations(cafile=str(self.ca))
                except (ssl.SSLError, OSError) as exc:
                    raise TlsIdentityError(
                        f"CA bundle {self.ca}: not usable PEM certificates ({_reason(exc)})"
                    ) from None
        else:
            self._warn_unverified()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _require_file(self.cert, "client certificate")
        _require_file(self.key, "client key")
        try:
            context.load_cert_chain(str(self.cert), str(self.key), password=_no_password)
        except (ssl.SSLError, OSError, TypeError, ValueError) as exc:
            raise TlsIdentityError(
                f"client certificate {self.cert} / key {self.key}: cannot be loaded "
                f"(PEM, matching pair, unencrypted key expected; {_reason(exc)})"
            ) from None
        return context

    def hybrid_context(self, *, http2: bool = False) -> SSL.Context:
        """The same identity and verification as a pyOpenSSL context, which can negotiate the
        hybrid X25519MLKEM768 group (:mod:`qkd_macsec.hybrid_tls`)."""
        if not self.verify:
            self._warn_unverified()
        try:
            return client_context(
                TlsFiles(self.cert, self.key, self.ca), verify=self.verify, http2=http2
            )
        except TlsSetupError as exc:
            raise TlsIdentityError(str(exc)) from None

    def _warn_unverified(self) -> None:
        log.warning(
            "TLS server verification is OFF for the KME connection (client cert %s): "
            "anyone on the path can impersonate the KME and read the keys",
            self.cert,
        )


def _no_password() -> bytes:
    """Refuse encrypted keys instead of letting OpenSSL prompt on the terminal."""
    raise TlsIdentityError("encrypted client keys are not supported")


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise TlsIdentityError(f"{what} {path}: no such file")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TlsIdentityError):
        return str(exc)
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return type(exc).__name__
