"""An embedded world for the demo, integration tests and benchmarks: KMEs + simulated routers.

:func:`start_testbed` takes an inventory document (the same YAML an operator writes), creates
the PKI and the KME network its hosts need, starts the simulated Junos devices wired as its links
say, and writes the inventory with the real ports, URLs and known_hosts — so the controller
under test runs exactly as it would against real routers and KMEs.
"""

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, start_testbed, wiring

__all__ = ["Testbed", "TestbedOptions", "start_testbed", "wiring"]
