"""Shared integration fixtures: a running embedded KME network over real mTLS on 127.0.0.1.

``kme_lab`` gives the default example (KME_A and KME_B joined by a QKD link, SAE ``mx304-11`` on
KME_A and ``mx304-12`` on KME_B). ``kme_lab_factory(**LabOptions fields)`` builds variants
(more SAEs, the ``lenient`` dialect, link or KME settings, a test clock). Each lab runs in a
background thread with its own event loop, so sync tests (PyEZ world) and async tests can both
use it; the lab object has ``.url(kme_id)``, ``.url_for_sae(sae_id)``, ``.identity(sae_id)``
(an ``etsi014.tls.TlsIdentity``), ``.ssl_context(sae_id)`` and ``.network`` (the model).
For other scopes, use ``start_kme_lab(directory, **options)`` (here) or
``qkd_macsec.kme.lab.start_kme_lab`` in your own fixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.kme import lab as kme_lab_module
from qkd_macsec.kme.lab import KmeLab, LabOptions
from support.sim_timing import use_simulator_session_estimate

KmeLabFactory = Callable[..., KmeLab]

__all__ = ["KmeLab", "KmeLabFactory", "LabOptions", "start_kme_lab"]


def start_kme_lab(directory: Path, **options: Any) -> contextlib.AbstractContextManager[KmeLab]:
    """Context manager running a lab built with ``LabOptions(**options)`` in ``directory``."""
    return kme_lab_module.start_kme_lab(directory, LabOptions(**options))


@pytest.fixture(autouse=True)
def simulator_session_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process controllers plan their first wave for simulated routers (see the module)."""
    use_simulator_session_estimate(monkeypatch)


@pytest.fixture
def kme_lab_factory(tmp_path: Path) -> Iterator[KmeLabFactory]:
    """Call with LabOptions fields as keywords (saes=, dialect=, link=, kme_options=, clock=)."""
    with contextlib.ExitStack() as stack:
        count = 0

        def factory(**options: Any) -> KmeLab:
            nonlocal count
            count += 1
            lab_dir = tmp_path / f"kme-lab-{count}"
            return stack.enter_context(start_kme_lab(lab_dir, **options))

        yield factory


@pytest.fixture
def kme_lab(kme_lab_factory: KmeLabFactory) -> KmeLab:
    """The default two-KME, two-SAE example network, running."""
    return kme_lab_factory()
