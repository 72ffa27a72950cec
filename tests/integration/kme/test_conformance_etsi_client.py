"""Conformance from outside: an independent ETSI 014 client from PyPI (etsi-qkd-014-client,
requests-based, sync) completes status / enc_keys / dec_keys against the embedded KME."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

etsi_client = pytest.importorskip("etsi_qkd_014_client")


def independent_client(lab: Any, sae_id: str) -> Any:
    files = lab.example.saes[sae_id]
    return etsi_client.QKD014Client(
        urlsplit(lab.url_for_sae(sae_id)).netloc,  # host:port, as the client expects
        str(files.cert),
        str(files.key),
        str(lab.example.ca_cert),
    )


def test_status_enc_dec_with_an_independent_client(kme_lab: Any) -> None:
    master = independent_client(kme_lab, "mx304-11")
    slave = independent_client(kme_lab, "mx304-12")

    code, status = master.get_status("mx304-12")
    assert code == 200
    assert (status.source_kme_id, status.target_kme_id) == ("KME_A", "KME_B")
    assert (status.master_sae_id, status.slave_sae_id) == ("mx304-11", "mx304-12")
    assert status.key_size == 256
    assert status.stored_key_count == status.max_key_count == 4096

    code, default_keys = master.get_key("mx304-12")  # the simple GET form, server defaults
    assert code == 200
    assert len(default_keys.keys) == 1
    assert len(base64.b64decode(default_keys.keys[0].key)) == 32

    code, container = master.get_key("mx304-12", number=2, size=512)  # POST form
    assert code == 200
    sent = {k.key_id: k.key for k in container.keys}
    assert all(len(base64.b64decode(key)) == 64 for key in sent.values())

    code, delivered = slave.get_key_with_key_IDs("mx304-11", list(sent))
    assert code == 200
    assert {k.key_id: k.key for k in delivered.keys} == sent

    code, error = slave.get_key_with_key_IDs("mx304-11", list(sent))
    assert code == 400
    assert error.message == "one or more keys specified are not found on KME"
