"""Shared typing for testbed fixtures."""

from collections.abc import Callable

from qkd_macsec.testbed.builder import Testbed

StartTestbed = Callable[..., Testbed]
