"""The hybrid-CAK warning judges each device hop by its own kind's policy: an NX-API switch's
classical TLS session warns under ``policy.transport.tls: pq-preferred`` like a classical SSH
session does under the SSH policy; a KME-style TLS peer that is no link end warns nothing."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from qkd_macsec.engine.hybrid_flag import HybridHopFlag
from qkd_macsec.macsec import KeyDerivation
from qkd_macsec.posture import HopPosture, PqPolicy, TransportPolicy
from support.engine_fakes import make_link

LINK = dataclasses.replace(make_link("l1", "a", "nx"), key_derivation=KeyDerivation.HYBRID)
CLASSICAL_TLS = HopPosture("tls", "nx (127.0.0.1:443)", "secp256r1", "TLS_AES_256_GCM_SHA384")


def flags(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "key_derivation hybrid" in r.getMessage()]


def test_a_classical_tls_device_hop_to_a_hybrid_link_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[HopPosture] = []
    flag = HybridHopFlag([LINK], TransportPolicy(tls=PqPolicy.PREFERRED), seen.append)
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        flag(CLASSICAL_TLS)
        flag(CLASSICAL_TLS)
    assert seen == [CLASSICAL_TLS, CLASSICAL_TLS]  # always passed on
    (message,) = flags(caplog)
    assert message.startswith("nx: TLS is classical (secp256r1)")
    assert "policy.transport.tls: pq-required" in message


def test_no_warning_when_the_tls_policy_refuses_classical_sessions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flag = HybridHopFlag([LINK], TransportPolicy(tls=PqPolicy.REQUIRED), lambda _: None)
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        flag(CLASSICAL_TLS)
    assert flags(caplog) == []


def test_a_bare_policy_is_the_ssh_policy(caplog: pytest.LogCaptureFixture) -> None:
    ssh = HopPosture("ssh", "a (127.0.0.1:830)", "curve25519-sha256", "aes256-gcm@openssh.com")
    flag = HybridHopFlag([LINK], PqPolicy.REQUIRED, lambda _: None)
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        flag(ssh)  # refused by the SSH policy: no warning
        flag(CLASSICAL_TLS)  # the TLS policy is at its default, pq-preferred
    (message,) = flags(caplog)
    assert message.startswith("nx: TLS is classical")
