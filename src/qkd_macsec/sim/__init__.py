"""Junos simulator: NETCONF-over-SSH routers, their configuration, and MACsec links between them.

Public entry points (imported lazily, so ``qkd_macsec.sim.config`` stays light):
``Lab`` / ``run_lab_in_thread`` (sim.lab), ``SimDevice`` / ``Faults`` (sim.device).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Lab": "qkd_macsec.sim.lab",
    "LabError": "qkd_macsec.sim.lab",
    "LabSpec": "qkd_macsec.sim.lab",
    "LabThread": "qkd_macsec.sim.lab",
    "RunningLab": "qkd_macsec.sim.lab",
    "run_lab_in_thread": "qkd_macsec.sim.lab",
    "Faults": "qkd_macsec.sim.device",
    "SimDevice": "qkd_macsec.sim.device",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
