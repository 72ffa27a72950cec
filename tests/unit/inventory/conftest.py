"""Shared fixtures: a complete, valid inventory document and a writer for variants of it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

BASE_DOC: dict[str, Any] = {
    "defaults": {
        "port": 830,
        "user": "netconf",
        "password": {"env": "QKD_TEST_ROUTER_PASSWORD"},
        "known_hosts": "known_hosts",
        "timeout": 30,
    },
    "groups": {
        "mx304": {"port": 8830, "user": "ops"},
        "edge": {"port": 9830, "timeout": "1m"},
    },
    "hosts": {
        "mx304-11": {
            "host": "192.0.2.11",
            "groups": ["mx304", "edge"],
            "kme": "KME_A",
            "tls": {"cert": "certs/mx304-11.pem", "key": "certs/mx304-11.key"},
        },
        "mx304-12": {
            "host": "192.0.2.12",
            "groups": ["edge"],
            "sae_id": "SAE-B",
            "port": 2222,
            "kme": "KME_B",
            "tls": {"cert": "certs/mx304-12.pem", "key": "certs/mx304-12.key", "ca": "/etc/ca.pem"},
        },
        "mx10008-23": {
            "host": "mx10008-23.lab.example.net",
            "kme": "KME_B",
            "tls": {"cert": "certs/mx10008-23.pem", "key": "certs/mx10008-23.key"},
        },
    },
    "kmes": {
        "KME_A": {"url": "https://kme-a.example.net:8443", "ca": "certs/ca.pem"},
        "KME_B": {
            "url": "https://kme-b.example.net",
            "ca": "certs/ca-b.pem",
            "address": "198.51.100.7",
        },
    },
    "links": [
        {
            "name": "core-11-12",
            "master": {"host": "mx304-11", "interface": "et-0/0/9"},
            "slaves": [{"host": "mx304-12", "interface": "et-0/0/9"}],
            "connectivity_association": "CA_core_11_12",
            "key_chain": "KC_core_11_12",
            "cipher_suite": "gcm-aes-xpn-256",
            "rotation_interval": "90s",
            "ckn_prefix": "ABCD1234abcd5678abcd1234abcd5678",
            "mka": {"exclude_protocols": ["lldp"], "key_server_priority": 16},
        },
        {
            "name": "group-a",
            "master": {"host": "mx304-11", "interfaces": ["xe-0/0/1:0", "et-0/0/10"]},
            "slaves": [
                {"host": "mx304-12", "interface": "et-0/0/10"},
                {"host": "mx10008-23", "interface": "et-1/0/0"},
            ],
            "connectivity_association": "CA_group",
            "mode": "pre-shared-key",
            "cipher_suite": "gcm-aes-128",
            "ckn_mode": "sha256",
            "kme_keyid_check": False,
        },
    ],
    "policy": {
        "rotation_interval": "10m",
        "activation_delay": "auto",
        "min_activation_delay": "10s",
        "keep_previous": 2,
        "max_workers": 8,
        "journal": "state/journal.sqlite",
    },
}


def base_doc() -> dict[str, Any]:
    """A fresh deep copy of the valid document (tests mutate it)."""
    return copy.deepcopy(BASE_DOC)


WriteInventory = Callable[[dict[str, Any] | str], Path]


@pytest.fixture
def write_inventory(tmp_path: Path) -> WriteInventory:
    """Write a document (dict → YAML, or raw text) to tmp_path/inventory.yaml."""

    def write(doc: dict[str, Any] | str) -> Path:
        path = tmp_path / "inventory.yaml"
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def doc() -> dict[str, Any]:
    return base_doc()


@pytest.fixture
def make_doc() -> Callable[[], dict[str, Any]]:
    """The factory itself (stateless, so safe to share across hypothesis examples)."""
    return base_doc
