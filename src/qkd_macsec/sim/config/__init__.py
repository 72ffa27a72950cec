"""Simulated Junos configuration: a schema-aware tree, its renderings, diff and commit checks.

Pure (no I/O): the simulated NETCONF server loads, renders and commits through this package.
"""

from qkd_macsec.sim.config.configuration import Configuration
from qkd_macsec.sim.config.errors import CommitCheckError, ConfigError, ConfigSyntaxError
from qkd_macsec.sim.config.macsec_view import (
    ChainKey,
    InterfaceMacsec,
    StaticKey,
    macsec_interfaces,
)

__all__ = [
    "ChainKey",
    "CommitCheckError",
    "ConfigError",
    "ConfigSyntaxError",
    "Configuration",
    "InterfaceMacsec",
    "StaticKey",
    "macsec_interfaces",
]
