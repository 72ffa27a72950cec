"""ETSI GS QKD 014 calls from the router: enc_keys / dec_keys over mTLS with ``requests``.

The client certificate is the router's SAE certificate; the KME's certificate is verified
against the CA file (``kme-ca false`` turns verification off, as in the seed, and is logged).
Errors never carry key material: only the status, the KME's message and the key ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from qkd_macsec.core.etsi014_wire import WireError, container_keys, decode_key, key_id_problem

KME_TIMEOUT_S = 10.0


class KmeCallError(Exception):
    """A KME call that failed (transport, status or malformed reply)."""


@dataclass(frozen=True)
class KmeEndpoint:
    host: str
    port: int
    cert: str
    key: str
    ca: str | None  # None = do not verify the KME's certificate

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/api/v1/keys"


def _post_or_get(
    endpoint: KmeEndpoint, url: str, method: str, body: dict[str, Any], params: dict[str, str]
) -> Any:
    verify: Any = endpoint.ca if endpoint.ca is not None else False
    try:
        payload: dict[str, Any] = {"params": params} if method == "get" else {"json": body}
        with requests.Session() as session:
            reply = session.request(
                method.upper(),
                url,
                cert=(endpoint.cert, endpoint.key),
                verify=verify,
                timeout=KME_TIMEOUT_S,
                **payload,
            )
    except requests.exceptions.SSLError as exc:
        raise KmeCallError(
            f"TLS with KME {endpoint.host}:{endpoint.port} failed: {type(exc).__name__}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise KmeCallError(
            f"KME {endpoint.host}:{endpoint.port} unreachable: {type(exc).__name__}"
        ) from None
    if reply.status_code != 200:
        raise KmeCallError(f"KME answered HTTP {reply.status_code}: {_message(reply)}")
    try:
        return reply.json()
    except ValueError:
        raise KmeCallError("KME reply is not JSON") from None


def _message(reply: Any) -> str:
    try:
        body = reply.json()
    except ValueError:
        return "(no JSON body)"
    if isinstance(body, dict):
        for name in ("message", "detail"):
            if isinstance(body.get(name), str):
                return str(body[name])[:200]
    return "(no message)"


def key_from_reply(body: Any, want_id: str | None) -> tuple[str, bytes]:
    keys = container_keys(body)
    if not isinstance(keys, list) or len(keys) != 1 or not isinstance(keys[0], dict):
        raise KmeCallError("KME reply does not hold exactly one key")
    key_id, key_b64 = keys[0].get("key_ID"), keys[0].get("key")
    if not isinstance(key_id, str) or not isinstance(key_b64, str):
        raise KmeCallError("KME reply key lacks key_ID or key")
    problem = key_id_problem(key_id)
    if problem is not None:
        raise KmeCallError(f"KME reply key {problem}")
    if want_id is not None and key_id != want_id:
        raise KmeCallError(f"KME returned key {key_id} for {want_id}")
    try:
        return key_id, decode_key(key_b64)
    except WireError as exc:
        raise KmeCallError(f"KME key {key_id} {exc}") from None


def enc_key(endpoint: KmeEndpoint, slaves: list[str], size_bits: int) -> tuple[str, bytes]:
    """One new key for ``slaves[0]`` (and the others as additional slaves): (key ID, key)."""
    body: dict[str, Any] = {"number": 1, "size": size_bits}
    if len(slaves) > 1:
        body["additional_slave_SAE_IDs"] = slaves[1:]
    reply = _post_or_get(endpoint, f"{endpoint.base}/{slaves[0]}/enc_keys", "post", body, {})
    return key_from_reply(reply, None)


def dec_key(endpoint: KmeEndpoint, master: str, key_id: str, method: str = "post") -> bytes:
    """The key ``key_id`` that master SAE ``master`` fetched, from this end's KME."""
    body = {"key_IDs": [{"key_ID": key_id}]}
    url = f"{endpoint.base}/{master}/dec_keys"
    reply = _post_or_get(endpoint, url, method, body, {"key_ID": key_id})
    return key_from_reply(reply, key_id)[1]
