"""The engine's first-wave estimate and MKA polling, sized for the simulator (in-process).

Before a device's latency is measured the engine plans each session at 3 s (its production
default, sized for real routers), so every test's first wave waited ~8 s for a start-time.
A simulated router answers a whole session in 0.2-0.4 s; 1.5 s keeps a wide margin over that
under a loaded machine. Later waves plan from the measured history as before, and the default
itself is still what the unit tests of ``engine.deadlines`` and every CLI subprocess use.
MKA state is first read 0.2 s after the start-time (0.5 s), then every 0.25 s (0.5 s).
"""

from dataclasses import dataclass

import pytest

from qkd_macsec.engine import controller
from qkd_macsec.engine.executor import ExecutorOptions

SIMULATOR_SESSION_ESTIMATE_S = 1.5


@dataclass(frozen=True)
class SimulatorExecutorOptions(ExecutorOptions):
    """``ExecutorOptions`` with the first-wave estimate of a simulated router."""

    initial_session_estimate: float = SIMULATOR_SESSION_ESTIMATE_S
    verify_grace: float = 0.2  # a simulated end is live at its start-time (0.5 s on real MKA)
    verify_interval: float = 0.25


def use_simulator_session_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Controllers built in this test plan their first wave for simulated routers."""
    monkeypatch.setattr(controller, "ExecutorOptions", SimulatorExecutorOptions)
