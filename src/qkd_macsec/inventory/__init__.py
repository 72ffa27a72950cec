"""The inventory: routers, KMEs, MACsec links and rotation policy, from one YAML file.

Nornir-shaped (hosts inherit connection settings from their groups, then ``defaults``), plus
``kmes:``, ``links:`` and ``policy:``. Loading validates everything before any device or KME is
touched — every name that reaches a device's configuration is checked by the rules of that
device's platform (:mod:`qkd_macsec.devices.platform`) — and reports all problems at once as one
:class:`InventoryError` naming the file and each field. Passwords are references
(``{env: NAME}`` / ``{file: PATH}``) resolved only at connect time.

Modules: ``schema`` (the file's shape), ``resolve`` (inheritance, paths, references),
``model`` (the resolved objects), ``loader`` (YAML → model), ``credentials``, ``durations``,
``preflight`` (referenced files exist and are private), ``sanity`` (valid but risky settings,
reported as warnings).
"""

from qkd_macsec.inventory.credentials import SecretRef, private_file_problem
from qkd_macsec.inventory.durations import format_duration, parse_duration
from qkd_macsec.inventory.errors import CredentialError, InventoryError
from qkd_macsec.inventory.loader import load_inventory, parse_inventory
from qkd_macsec.inventory.model import (
    Host,
    Inventory,
    Kme,
    Link,
    LinkEnd,
    MkaSettings,
    Policy,
    SaeIdentity,
)
from qkd_macsec.inventory.preflight import check_local_files
from qkd_macsec.inventory.sanity import inventory_warnings
from qkd_macsec.inventory.schema import (
    RotationMode,
    ssh_config_path_problem,
)

__all__ = [
    "CredentialError",
    "Host",
    "Inventory",
    "InventoryError",
    "Kme",
    "Link",
    "LinkEnd",
    "MkaSettings",
    "Policy",
    "RotationMode",
    "SaeIdentity",
    "SecretRef",
    "check_local_files",
    "format_duration",
    "inventory_warnings",
    "load_inventory",
    "parse_duration",
    "parse_inventory",
    "private_file_problem",
    "ssh_config_path_problem",
]
