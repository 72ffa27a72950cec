"""Chaos campaign: a seeded fault-injection driver over the testbed (KMEs + simulated routers).

``run_chaos(ChaosOptions(seed=…, waves=…), directory)`` builds the chaos lab
(:func:`chaos_lab_document`), rotates every link wave after wave while injecting the faults of
:class:`FaultKind`, kills the controller now and then, and returns a :class:`ChaosReport` whose
``problems`` list is empty when every link ended live on a shared key with zero outage, nothing
was left open in the journal, every injected fault was seen, and no secret leaked.
"""

from testkit.chaos.faults import Fault, FaultKind, fault_schedule
from testkit.chaos.lab import ChaosLabShape, chaos_lab_document
from testkit.chaos.report import ChaosReport, FaultStat, render_markdown
from testkit.chaos.run import ChaosOptions, run_chaos

__all__ = [
    "ChaosLabShape",
    "ChaosOptions",
    "ChaosReport",
    "Fault",
    "FaultKind",
    "FaultStat",
    "chaos_lab_document",
    "fault_schedule",
    "render_markdown",
    "run_chaos",
]
