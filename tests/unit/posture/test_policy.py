"""Posture classification and the pq-required / pq-preferred / any decision."""

from __future__ import annotations

import pickle

import pytest

from qkd_macsec.posture import (
    ClassicalHopRefused,
    HopPosture,
    PqPolicy,
    TransportPolicy,
    Verdict,
    is_pq_key_exchange,
    judge,
)


@pytest.mark.parametrize(
    "name",
    [
        "mlkem768x25519-sha256",
        "mlkem768nistp256-sha256",
        "mlkem1024nistp384-sha384",
        "sntrup761x25519-sha512@openssh.com",
        "X25519MLKEM768",
        "SecP256r1MLKEM768",
        "SecP384r1MLKEM1024",
    ],
)
def test_pq_key_exchanges(name: str) -> None:
    assert is_pq_key_exchange(name)


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        "curve25519-sha256",
        "ecdh-sha2-nistp256",
        "diffie-hellman-group14-sha256",
        "X25519",
        "secp256r1",
        "ffdhe2048",
    ],
)
def test_classical_key_exchanges(name: str | None) -> None:
    assert not is_pq_key_exchange(name)


PQ = HopPosture("ssh", "r1", "mlkem768x25519-sha256", "aes256-gcm@openssh.com", "SSH-2.0-x")
CLASSICAL = HopPosture("tls", "kme:443", "X25519", "TLS_AES_128_GCM_SHA256", "TLSv1.3")


@pytest.mark.parametrize("policy", list(PqPolicy))
def test_a_pq_hop_passes_every_policy(policy: PqPolicy) -> None:
    assert judge(PQ, policy) is Verdict.PQ


def test_classical_is_refused_under_pq_required_with_a_clear_message() -> None:
    with pytest.raises(ClassicalHopRefused) as caught:
        judge(CLASSICAL, PqPolicy.REQUIRED)
    text = str(caught.value)
    assert "kme:443" in text
    assert "X25519" in text
    assert "policy.transport.tls is pq-required" in text
    assert "before any key was sent" in text
    assert caught.value.posture == CLASSICAL
    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert str(again) == text


def test_classical_is_flagged_under_pq_preferred_and_allowed_under_any() -> None:
    assert judge(CLASSICAL, PqPolicy.PREFERRED) is Verdict.FLAGGED
    assert judge(CLASSICAL, PqPolicy.ANY) is Verdict.ALLOWED


def test_posture_labels_and_cipher_strength() -> None:
    assert PQ.label == "hybrid-PQ"
    assert PQ.aes256
    assert CLASSICAL.label == "classical"
    assert not CLASSICAL.aes256
    assert HopPosture("tls", "k", "X25519MLKEM768", "TLS_AES_256_GCM_SHA384").aes256
    assert HopPosture("ssh", "r", "curve25519-sha256", "aes256-ctr", mac="hmac-sha2-256").aes256
    assert not HopPosture("ssh", "r", None, None).pq
    assert PQ.as_dict()["pq"] is True
    assert (
        "mac hmac-sha2-256"
        in HopPosture("ssh", "r", "x", "aes128-ctr", mac="hmac-sha2-256").describe()
    )


def test_transport_policy_defaults_to_pq_preferred_per_hop_kind() -> None:
    policy = TransportPolicy()
    assert policy.for_kind("ssh") is PqPolicy.PREFERRED
    assert policy.for_kind("tls") is PqPolicy.PREFERRED
    strict = TransportPolicy(ssh=PqPolicy.REQUIRED, tls=PqPolicy.ANY)
    assert strict.for_kind("ssh") is PqPolicy.REQUIRED
    assert strict.for_kind("tls") is PqPolicy.ANY
