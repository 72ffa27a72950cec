"""``qkd-macsec preflight``: read-only day-one checks of every router and KME.

``checks`` holds the checks as pure functions over the facts ``gather`` reads (``facts``);
``model`` the findings and the verdict. Nothing here changes a router.
"""

from qkd_macsec.preflight.gather import PreflightOptions, run_preflight
from qkd_macsec.preflight.model import Finding, PreflightReport, Severity, Subject

__all__ = ["Finding", "PreflightOptions", "PreflightReport", "Severity", "Subject", "run_preflight"]
