"""The on-box KME client refuses malformed replies with messages that carry no key material."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from qkd_macsec.onbox.artifact.kme import KmeCallError, KmeEndpoint, key_from_reply

KEY = bytes(range(32))
GOOD = {"keys": [{"key_ID": "k1", "key": base64.b64encode(KEY).decode()}]}


def test_one_key_decodes_and_checks_the_id() -> None:
    assert key_from_reply(GOOD, None) == ("k1", KEY)
    assert key_from_reply(GOOD, "k1") == ("k1", KEY)
    with pytest.raises(KmeCallError, match="returned key k1 for k2"):
        key_from_reply(GOOD, "k2")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "exactly one key"),
        ({"keys": []}, "exactly one key"),
        ({"keys": [GOOD["keys"][0], GOOD["keys"][0]]}, "exactly one key"),
        ({"keys": [{"key_ID": "k1"}]}, "lacks key_ID or key"),
        ({"keys": [{"key_ID": 5, "key": "AAAA"}]}, "lacks key_ID or key"),
        ({"keys": [{"key_ID": "k1", "key": "not base64!"}]}, "not valid base64"),
        ({"keys": [{"key_ID": "k1", "key": ""}]}, "is empty"),
        ({"keys": [{"key_ID": "k\n1", "key": "AAAA"}]}, "control characters"),
        ({"keys": [{"key_ID": "", "key": "AAAA"}]}, "empty key_ID"),
    ],
)
def test_malformed_replies_are_refused(body: Any, message: str) -> None:
    with pytest.raises(KmeCallError, match=message) as exc:
        key_from_reply(body, None)
    assert "not base64!" not in str(exc.value)


def test_capitalised_container_and_unpadded_base64_as_off_box() -> None:
    """The same container checks as the off-box client (``core.etsi014_wire``)."""
    unpadded = base64.b64encode(KEY[:31]).decode().rstrip("=")
    body = {"Keys": [{"key_ID": "k1", "key": unpadded}]}
    assert key_from_reply(body, "k1") == ("k1", KEY[:31])


def test_endpoint_url_brackets_ipv6() -> None:
    assert KmeEndpoint("::1", 8443, "c", "k", None).base == "https://[::1]:8443/api/v1/keys"
    assert KmeEndpoint("kme", 443, "c", "k", "ca").base == "https://kme:443/api/v1/keys"
