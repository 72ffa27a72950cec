"""Unit-test helpers for the KME: a hand-driven clock and small network specs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qkd_macsec.kme.config import NetworkSpec, parse_network


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _kme(kme_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": kme_id,
        "server_cert": f"{kme_id}.pem",
        "server_key": f"{kme_id}.key",
        "ca": "ca.pem",
        **extra,
    }


def build_spec(
    *,
    saes: dict[str, str] | None = None,
    link: dict[str, Any] | None = None,
    kme: dict[str, Any] | None = None,
    kmes: tuple[str, ...] = ("KME_A", "KME_B"),
    linked: bool = True,
    pairs: list[tuple[str, str]] | None = None,
) -> NetworkSpec:
    saes = saes or {"sae-a": "KME_A", "sae-b": "KME_B"}
    if pairs is None:
        pairs = [(kmes[0], kmes[1])] if linked else []
    data = {
        "kmes": [_kme(k, **(kme or {})) for k in kmes],
        "saes": [{"id": s, "kme": k} for s, k in saes.items()],
        "links": [{"kmes": list(pair), **(link or {})} for pair in pairs],
    }
    return parse_network(data, "test.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def spec_factory() -> Callable[..., NetworkSpec]:
    return build_spec
