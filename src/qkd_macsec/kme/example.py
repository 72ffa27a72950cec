"""A ready-to-run example network: two KMEs joined by one QKD link, one SAE on each.

``write_example_network(DIR)`` writes::

    DIR/network.yaml
    DIR/certs/ca.pem, ca.key                 the lab CA (key 0600)
    DIR/certs/kme_a.pem, kme_a.key, ...      KME server certificates (127.0.0.1 + localhost)
    DIR/certs/mx304-11.pem, mx304-11.key     SAE client certificates (CN = SAE ID)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from qkd_macsec.kme.config import DialectName
from qkd_macsec.pki.ca import (
    create_ca,
    issue_client_cert,
    issue_server_cert,
    save_ca,
    save_issued,
)
from qkd_macsec.pki.files import write_public

NETWORK_FILE = "network.yaml"
CERTS_DIR = "certs"
DEFAULT_SAES: Mapping[str, str] = MappingProxyType({"mx304-11": "KME_A", "mx304-12": "KME_B"})


@dataclass(frozen=True)
class SaeFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ExampleNetwork:
    """Paths of everything :func:`write_example_network` wrote."""

    directory: Path
    network_file: Path
    ca_cert: Path
    saes: dict[str, SaeFiles] = field(default_factory=dict)


def _kme_file_stem(kme_id: str) -> str:
    return kme_id.lower()


def write_example_network(
    directory: Path,
    *,
    saes: Mapping[str, str] = DEFAULT_SAES,
    dialect: DialectName = "etsi",
    link: Mapping[str, Any] | None = None,
    kme_options: Mapping[str, Any] | None = None,
    cert_validity: timedelta = timedelta(days=30),
) -> ExampleNetwork:
    """Write a CA, KME and SAE certificates and ``network.yaml`` into ``directory``.

    ``saes`` maps SAE ID -> KME ID (KMEs are created as named); every pair of KMEs gets a QKD
    link with the settings in ``link``; ``kme_options`` are added to every KME entry.
    """
    directory.mkdir(parents=True, exist_ok=True)
    certs = directory / CERTS_DIR
    ca = create_ca("qkd-macsec lab CA")
    ca_cert, _ = save_ca(ca, certs)
    kme_ids = sorted(set(saes.values()))
    kmes: list[dict[str, Any]] = []
    for kme_id in kme_ids:
        stem = _kme_file_stem(kme_id)
        issued = issue_server_cert(
            ca, ["localhost", stem.replace("_", "-")], ["127.0.0.1"], valid_for=cert_validity
        )
        save_issued(issued, certs / f"{stem}.pem", certs / f"{stem}.key")
        kmes.append(
            {
                "id": kme_id,
                "listen": {"host": "127.0.0.1", "port": 0},
                "server_cert": f"{CERTS_DIR}/{stem}.pem",
                "server_key": f"{CERTS_DIR}/{stem}.key",
                "ca": f"{CERTS_DIR}/ca.pem",
                "dialect": dialect,
                **dict(kme_options or {}),
            }
        )
    sae_files: dict[str, SaeFiles] = {}
    for sae_id in saes:
        files = SaeFiles(certs / f"{sae_id}.pem", certs / f"{sae_id}.key")
        save_issued(issue_client_cert(ca, sae_id, valid_for=cert_validity), files.cert, files.key)
        sae_files[sae_id] = files
    link_settings = {
        "key_rate_bps": 1_000_000,
        "pool_capacity_bits": 1_048_576,
        "key_ttl_s": 600,
        "key_size_bits": 256,
        **dict(link or {}),
    }
    links = [
        {"kmes": [a, b], **link_settings} for i, a in enumerate(kme_ids) for b in kme_ids[i + 1 :]
    ]
    document = {
        "kmes": kmes,
        "saes": [{"id": sae_id, "kme": kme_id} for sae_id, kme_id in saes.items()],
        "links": links,
    }
    network_file = directory / NETWORK_FILE
    write_public(network_file, yaml.safe_dump(document, sort_keys=False).encode())
    return ExampleNetwork(directory, network_file, ca_cert, sae_files)
