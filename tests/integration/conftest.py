"""Shared integration fixtures: a running embedded KME network over real mTLS on 127.0.0.1.

``kme_lab`` gives the default example (KME_A and KME_B joined by a QKD link, SAE ``mx304-11`` on
KME_A and ``mx304-12`` on KME_B). ``kme_lab_factory`` builds variants (more SAEs, another
dialect, link or KME settings). The network runs in a background thread with its own event loop,
so sync tests (PyEZ world) and async tests can both use it.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.example import DEFAULT_SAES, ExampleNetwork, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.pool import Clock
from qkd_macsec.kme.server import RunningNetwork, run_network_in_thread


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
        files = self.example.saes[sae_id]
        return TlsIdentity(cert=files.cert, key=files.key, ca=self.example.ca_cert)

    def ssl_context(self, sae_id: str) -> ssl.SSLContext:
        """A client context presenting the SAE's certificate (for raw httpx tests)."""
        return self.identity(sae_id).ssl_context()


KmeLabFactory = Callable[..., KmeLab]


@contextlib.contextmanager
def start_kme_lab(
    directory: Path,
    *,
    saes: Mapping[str, str] = DEFAULT_SAES,
    dialect: str = "etsi",
    link: Mapping[str, Any] | None = None,
    kme_options: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> Iterator[KmeLab]:
    example = write_example_network(
        directory,
        saes=saes,
        dialect="lenient" if dialect == "lenient" else "etsi",
        link=link,
        kme_options=kme_options,
    )
    network = (
        KmeNetwork.from_file(example.network_file)
        if clock is None
        else KmeNetwork.from_file(example.network_file, clock=clock)
    )
    with run_network_in_thread(network) as running:
        yield KmeLab(example, network, running)


@pytest.fixture
def kme_lab_factory(tmp_path: Path) -> Iterator[KmeLabFactory]:
    """Call with the keyword arguments of :func:`start_kme_lab` to get a running lab."""
    with contextlib.ExitStack() as stack:
        count = 0

        def factory(**kwargs: Any) -> KmeLab:
            nonlocal count
            count += 1
            return stack.enter_context(start_kme_lab(tmp_path / f"kme-lab-{count}", **kwargs))

        yield factory


@pytest.fixture
def kme_lab(kme_lab_factory: KmeLabFactory) -> KmeLab:
    """The default two-KME, two-SAE example network, running."""
    return kme_lab_factory()
