"""What one hop negotiated: key exchange, cipher, protocol version, and whether it is PQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HopKind = Literal["ssh", "tls"]

#: Substrings naming a post-quantum KEM in SSH kex and TLS group names (lower-cased):
#: ML-KEM (FIPS 203; ``mlkem768x25519-sha256``, ``X25519MLKEM768``, ``SecP256r1MLKEM768`` ...)
#: and Streamlined NTRU Prime (``sntrup761x25519-sha512@openssh.com``).
_PQ_KEM_MARKERS = ("mlkem", "sntrup")

#: Ciphers with a 256-bit key (CNSA 2.0 asks for AES-256 for long-lived secrets).
_AES256_MARKERS = ("aes256", "aes_256", "aes-256")


def is_pq_key_exchange(name: str | None) -> bool:
    """True when the negotiated SSH kex / TLS group contains a post-quantum KEM."""
    if not name:
        return False
    lowered = name.lower()
    return any(marker in lowered for marker in _PQ_KEM_MARKERS)


@dataclass(frozen=True)
class HopPosture:
    """One measured session: ``kex`` is the SSH key exchange or the TLS group (None when the
    library could not say, which counts as classical); ``version`` the TLS version or the
    peer's SSH version string; ``mac`` the SSH MAC (None for AEAD ciphers and for TLS)."""

    kind: HopKind
    peer: str
    kex: str | None
    cipher: str | None
    version: str | None = None
    mac: str | None = None

    @property
    def pq(self) -> bool:
        """The key exchange includes a post-quantum KEM (hybrid or pure)."""
        return is_pq_key_exchange(self.kex)

    @property
    def aes256(self) -> bool:
        """The session cipher uses a 256-bit AES key."""
        return self.cipher is not None and any(m in self.cipher.lower() for m in _AES256_MARKERS)

    @property
    def label(self) -> str:
        """``hybrid-PQ`` or ``classical``: the word status, metrics and reports show."""
        return "hybrid-PQ" if self.pq else "classical"

    def describe(self) -> str:
        """One line for logs and errors: no secret is ever part of a posture."""
        parts = [f"kex {self.kex or 'unknown'}", f"cipher {self.cipher or 'unknown'}"]
        if self.mac:
            parts.append(f"mac {self.mac}")
        if self.version:
            parts.append(self.version)
        return f"{self.kind} to {self.peer}: {self.label} ({', '.join(parts)})"

    def as_dict(self) -> dict[str, str | bool | None]:
        """Journal / status shape."""
        return {
            "kind": self.kind,
            "peer": self.peer,
            "kex": self.kex,
            "cipher": self.cipher,
            "version": self.version,
            "mac": self.mac,
            "pq": self.pq,
        }
