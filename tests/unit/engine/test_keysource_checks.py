"""KeySource's checks before any router is touched: group size against the KME's
``max_SAE_ID_count``, and the stale-key check on canonical key IDs (issue 11, parts 5 and 6).

The real ETSI 014 client over ``httpx.MockTransport`` plays the KMEs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from qkd_macsec.engine.keysource import GroupTooLargeError, KeyFetchError, KeySource
from qkd_macsec.engine.planner import KeyMode
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.models import canonical_key_id
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.macsec import CipherSuite, CknMode
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX

KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
OPTIONS = ClientOptions(dec_keys_wait=0.0, retry=RetryPolicy(attempts=1))


def link(slaves: int, name: str = "ca-group") -> LinkSpec:
    return LinkSpec(
        name=name,
        master=EndSpec("r0", ("et-0/0/1",), "sae-0", "KME_A"),
        slaves=tuple(
            EndSpec(f"r{i}", ("et-0/0/1",), f"sae-{i}", "KME_B") for i in range(1, slaves + 1)
        ),
        ca="CA_group",
        key_chain="KC1",
        suite=CipherSuite.GCM_AES_256,
        mode=KeyMode.KEY_CHAIN,
        rotation_interval=600,
        ckn_prefix=DEFAULT_CKN_PREFIX,
        ckn_mode=CknMode.PREFIX_UUID,
    )


def status_body(max_sae_id_count: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_KME_ID": "KME_A",
        "target_KME_ID": "KME_B",
        "master_SAE_ID": "sae-0",
        "slave_SAE_ID": "sae-1",
        "key_size": 256,
        "stored_key_count": 100,
        "max_key_count": 1000,
        "max_key_per_request": 10,
        "max_key_size": 1024,
        "min_key_size": 64,
    }
    if max_sae_id_count is not None:
        body["max_SAE_ID_count"] = max_sae_id_count
    return body


class Kme:
    """Answers status as told, enc_keys with one key (ID as told), dec_keys with that key
    under the ID it is asked for; remembers the endpoints called."""

    def __init__(self, status: httpx.Response, key_id: str = KEY_ID) -> None:
        self.status = status
        self.key_id = key_id
        self.raw = os.urandom(32)
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint == "status":
            return self.status
        key = base64.b64encode(self.raw).decode()
        if endpoint == "enc_keys":
            return httpx.Response(200, json={"keys": [{"key_ID": self.key_id, "key": key}]})
        asked = json.loads(request.content)["key_IDs"][0]["key_ID"]
        return httpx.Response(200, json={"keys": [{"key_ID": asked, "key": key}]})


def source(kme: Kme, tmp_path: Path) -> KeySource:
    identity = TlsIdentity(cert=tmp_path / "unused.pem", key=tmp_path / "unused.key")

    def client_for(_sae_id: str) -> KmeClient:
        return KmeClient("https://kme.test", identity, OPTIONS, transport=httpx.MockTransport(kme))

    return KeySource(client_for, dec_keys_wait=0.0)


async def test_a_group_larger_than_max_sae_id_count_fails_before_enc_keys(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(200, json=status_body(1)))
    with pytest.raises(GroupTooLargeError) as caught:
        await source(kme, tmp_path).fetch(link(3))
    text = str(caught.value)
    assert "ca-group" in text  # the link
    assert "3 slaves" in text
    assert "2 additional_slave_SAE_IDs" in text
    assert "at most 1 (max_SAE_ID_count)" in text
    assert "KME_A" in text
    assert isinstance(caught.value, KeyFetchError)  # the executor's "key fetch" abort path
    assert kme.calls == ["status"]  # no key was taken from the pool


async def test_a_group_within_max_sae_id_count_gets_its_key(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(200, json=status_body(2)))
    fetched = await source(kme, tmp_path).fetch(link(3))
    assert fetched.key.key_id == KEY_ID
    assert kme.calls[:2] == ["status", "enc_keys"]
    assert kme.calls.count("dec_keys") == 3


async def test_no_multicast_at_all_refuses_any_group(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(200, json=status_body(0)))
    with pytest.raises(GroupTooLargeError, match="accepts at most 0"):
        await source(kme, tmp_path).fetch(link(2))


async def test_point_to_point_links_do_not_ask_status(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(500))
    await source(kme, tmp_path).fetch(link(1))
    assert "status" not in kme.calls


@pytest.mark.parametrize(
    "status",
    [
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(200, json=status_body(None)),
    ],
)
async def test_a_kme_that_cannot_tell_is_asked_for_the_key_anyway(
    tmp_path: Path, status: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    kme = Kme(status)
    fetched = await source(kme, tmp_path).fetch(link(3))
    assert fetched.key.key_id == KEY_ID
    assert "enc_keys" in kme.calls
    assert "ca-group" in caplog.text


@pytest.mark.parametrize(
    "spelling",
    [KEY_ID.upper(), KEY_ID.replace("-", ""), f" {KEY_ID} ", KEY_ID.upper().replace("-", "")],
)
async def test_a_repeated_key_id_in_another_spelling_is_stale(
    tmp_path: Path, spelling: str
) -> None:
    kme = Kme(httpx.Response(500), key_id=spelling)
    with pytest.raises(KeyFetchError, match="stale key ID"):
        await source(kme, tmp_path).fetch(link(1, "p2p"), recent_key_ids={KEY_ID})
    assert "dec_keys" not in kme.calls


async def test_the_journal_spelling_does_not_matter_either(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(500))
    with pytest.raises(KeyFetchError, match="stale key ID"):
        await source(kme, tmp_path).fetch(link(1, "p2p"), recent_key_ids={KEY_ID.upper()})


async def test_a_new_key_id_passes(tmp_path: Path) -> None:
    kme = Kme(httpx.Response(500))
    other = "0b5e0d4c-1111-2222-3333-444455556666"
    fetched = await source(kme, tmp_path).fetch(link(1, "p2p"), recent_key_ids={other})
    assert fetched.key.key_id == KEY_ID


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        (KEY_ID.upper(), KEY_ID),
        (KEY_ID.replace("-", ""), KEY_ID),
        (f"\t{KEY_ID}\n", KEY_ID),
        ("key-0001", "key-0001"),  # not a UUID: opaque, kept as it is
        ("KEY-0001", "KEY-0001"),
        (f"{{{KEY_ID}}}", f"{{{KEY_ID}}}"),
        (KEY_ID + "0", KEY_ID + "0"),
        ("\u0661" * 32, "\u0661" * 32),  # Arabic-Indic digits are not hex
    ],
)
def test_canonical_key_id(given: str, canonical: str) -> None:
    assert canonical_key_id(given) == canonical
