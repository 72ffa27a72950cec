"""A ready lab: write an example network, run it, and hand out SAE identities to talk to it.

For tests, benchmarks and demos::

    with start_kme_lab(tmp_path) as lab:                  # network in a background thread
        client = KmeClient(lab.url_for_sae("mx304-11"), lab.identity("mx304-11"))

    async with serve_kme_lab(tmp_path) as lab:            # network in the running event loop
        ...
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.config import DialectName
from qkd_macsec.kme.example import DEFAULT_SAES, ExampleNetwork, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.pool import Clock
from qkd_macsec.kme.server import RunningNetwork, run_network_in_thread, serve_network


@dataclass
class KmeLab:
    """A running example network and the SAE identities to talk to it."""

    example: ExampleNetwork
    network: KmeNetwork
    running: RunningNetwork

    def url(self, kme_id: str) -> str:
        return self.running.url(kme_id)

    def url_for_sae(self, sae_id: str) -> str:
        """URL of the KME the SAE is attached to."""
        return self.running.url_for_sae(sae_id)

    def identity(self, sae_id: str) -> TlsIdentity:
        """The SAE's client certificate and key, verifying KMEs against the lab CA."""
        return sae_identity(self.example, sae_id)

    def ssl_context(self, sae_id: str) -> ssl.SSLContext:
        """A client context presenting the SAE's certificate (for raw HTTP clients)."""
        return self.identity(sae_id).ssl_context()


def sae_identity(example: ExampleNetwork, sae_id: str) -> TlsIdentity:
    files = example.saes[sae_id]
    return TlsIdentity(cert=files.cert, key=files.key, ca=example.ca_cert)


@dataclass(frozen=True)
class LabOptions:
    """What to build: SAE -> KME map, error dialect, link and per-KME settings, a test clock."""

    saes: Mapping[str, str] = field(default_factory=lambda: DEFAULT_SAES)
    dialect: DialectName = "etsi"
    link: Mapping[str, Any] | None = None
    kme_options: Mapping[str, Any] | None = None
    clock: Clock | None = None


def build_kme_lab(directory: Path, options: LabOptions) -> tuple[ExampleNetwork, KmeNetwork]:
    example = write_example_network(
        directory,
        saes=options.saes,
        dialect=options.dialect,
        link=options.link,
        kme_options=options.kme_options,
    )
    if options.clock is None:
        return example, KmeNetwork.from_file(example.network_file)
    return example, KmeNetwork.from_file(example.network_file, clock=options.clock)


@contextlib.contextmanager
def start_kme_lab(directory: Path, options: LabOptions | None = None) -> Iterator[KmeLab]:
    """Build the lab in ``directory`` and run it in a background thread (sync or async callers)."""
    example, network = build_kme_lab(directory, options or LabOptions())
    with run_network_in_thread(network) as running:
        yield KmeLab(example, network, running)


@contextlib.asynccontextmanager
async def serve_kme_lab(
    directory: Path, options: LabOptions | None = None
) -> AsyncIterator[KmeLab]:
    """Build the lab in ``directory`` and serve it on the running event loop."""
    example, network = build_kme_lab(directory, options or LabOptions())
    async with serve_network(network) as running:
        yield KmeLab(example, network, running)
