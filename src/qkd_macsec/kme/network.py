"""A KME network: its validated spec plus the shared key service all its KMEs answer from."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from qkd_macsec.kme.app import KmeApp
from qkd_macsec.kme.config import KmeSpec, NetworkSpec, load_network_file
from qkd_macsec.kme.dialect import DIALECTS
from qkd_macsec.kme.pool import Clock
from qkd_macsec.kme.service import KeyService


@dataclass
class KmeNetwork:
    spec: NetworkSpec
    service: KeyService
    source: Path | None = None
    #: The apps built by :meth:`app`, by KME ID: fault injection changes ``.faults`` at run time.
    apps: dict[str, KmeApp] = field(default_factory=dict)

    @classmethod
    def from_spec(
        cls, spec: NetworkSpec, *, clock: Clock = time.monotonic, source: Path | None = None
    ) -> KmeNetwork:
        return cls(spec=spec, service=KeyService(spec, clock=clock), source=source)

    @classmethod
    def from_file(cls, path: Path | str, *, clock: Clock = time.monotonic) -> KmeNetwork:
        """Load and validate a network YAML file (raises ``NetworkFileError``)."""
        path = Path(path)
        return cls.from_spec(load_network_file(path), clock=clock, source=path)

    def kme(self, kme_id: str) -> KmeSpec:
        return self.spec.kme(kme_id)

    def kme_of(self, sae_id: str) -> str:
        """The ID of the KME an SAE is attached to."""
        return self.spec.sae(sae_id).kme

    def app(self, kme_id: str, *, rng: random.Random | None = None) -> KmeApp:
        """The ASGI app of one KME of this network."""
        kme = self.kme(kme_id)
        app = KmeApp(
            self.service,
            kme_id,
            dialect=DIALECTS[kme.dialect],
            faults=kme.faults,
            rng=rng,
            request_timeout_s=kme.request_timeout_s,
        )
        self.apps[kme_id] = app
        return app
