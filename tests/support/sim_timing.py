"""The engine's first-wave session estimate, sized for the simulator (in-process controllers).

Before a device's latency is measured the engine plans each session at 3 s (its production
default, sized for real routers), so every test's first wave waited ~8 s for a start-time.
A simulated router answers a whole session in 0.2-0.4 s; 1.5 s keeps a wide margin over that
under a loaded machine. Later waves plan from the measured history as before, and the default
itself is still what the unit tests of ``engine.deadlines`` and every CLI subprocess use.
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


def use_simulator_session_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Controllers built in this test plan their first wave for simulated routers."""
    monkeypatch.setattr(controller, "ExecutorOptions", SimulatorExecutorOptions)
