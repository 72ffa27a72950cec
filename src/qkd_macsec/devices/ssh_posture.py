"""What a paramiko SSH session negotiated (for the posture), and AES-256 first on the client.

PyEZ opens its session through ncclient, which builds ``paramiko.Transport`` itself: there is
no per-session hook, so two class-wide adjustments are made once, both idempotent:

- :func:`prefer_aes256_ciphers` reorders the cipher preference (the same set, AES-256 first;
  nothing added or removed). The server picks the first client preference it also offers, so a
  router offering neither AES-256 cipher keeps working with the next one, and the posture says
  which.
- :func:`record_negotiated_kex`: paramiko drops its key-exchange engine once the keys are in
  use and keeps no name of the agreed method, so each engine factory also notes its name on
  the transport (``negotiated_kex``).

Every NETCONF driver over paramiko (PyEZ for Junos, ncclient's ``iosxr`` handler for IOS XR)
measures its session right after it opens (:func:`measure_session`: the posture is recorded
through ``DeviceTarget.on_posture``) and lets ``policy.transport.ssh`` decide on it before any
RPC (:func:`enforce_ssh_policy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paramiko  # type: ignore[import-untyped]

from qkd_macsec.devices.base import DeviceTarget
from qkd_macsec.devices.hop_policy import enforce_transport_policy, report_posture
from qkd_macsec.posture import HopPosture

#: Ciphers moved to the front of paramiko's preference, in this order (CNSA 2.0: AES-256).
AES256_FIRST = ("aes256-gcm@openssh.com", "aes256-ctr")
_AEAD_MARKERS = ("gcm", "poly1305")


def prefer_aes256_ciphers(transport_class: type[Any] = paramiko.Transport) -> None:
    """Put :data:`AES256_FIRST` ahead of the other ciphers the class already prefers."""
    current: tuple[str, ...] = tuple(transport_class._preferred_ciphers)
    first = tuple(name for name in AES256_FIRST if name in current)
    transport_class._preferred_ciphers = first + tuple(c for c in current if c not in first)


def record_negotiated_kex(transport_class: type[Any] = paramiko.Transport) -> None:
    """Make every key-exchange engine paramiko creates note its method name on the transport."""
    table: dict[str, Any] = dict(transport_class._kex_info)
    for name, factory in table.items():
        if not getattr(factory, "records_kex_name", False):
            table[name] = _NamingFactory(name, factory)
    transport_class._kex_info = table


class _NamingFactory:
    """Stands where paramiko keeps a kex engine class: notes the name, then builds the engine."""

    records_kex_name = True

    def __init__(self, name: str, engine_class: Any) -> None:
        self.name = name
        self.engine_class = engine_class

    def __call__(self, transport: Any) -> Any:
        transport.negotiated_kex = self.name
        return self.engine_class(transport)


def ssh_posture(transport: Any, peer: str) -> HopPosture:
    """The posture of an established :class:`paramiko.Transport` (fields None if unknown)."""
    cipher = _text(getattr(transport, "local_cipher", None))
    mac = _text(getattr(transport, "local_mac", None))
    if cipher is not None and any(marker in cipher for marker in _AEAD_MARKERS):
        mac = None  # an AEAD cipher authenticates itself; the negotiated MAC is unused
    return HopPosture(
        kind="ssh",
        peer=peer,
        kex=_kex_name(transport),
        cipher=cipher,
        version=_text(getattr(transport, "remote_version", None)),
        mac=mac,
    )


def ncclient_transport(manager: Any) -> Any:
    """The paramiko transport under an open ncclient ``Manager`` (None if it has none)."""
    return getattr(getattr(manager, "_session", None), "_transport", None)


def pyez_transport(device: Any) -> Any:
    """The paramiko transport under an open PyEZ ``Device`` (its ncclient manager's)."""
    return ncclient_transport(getattr(device, "_conn", None))


def measure_session(transport: Any, target: DeviceTarget) -> HopPosture | None:
    """An open session's posture, told to ``target.on_posture`` (None: no SSH transport, as
    with a test double)."""
    if transport is None:
        return None
    posture = ssh_posture(transport, f"{target.name} ({target.host}:{target.port})")
    report_posture(posture, target)
    return posture


def enforce_ssh_policy(
    posture: HopPosture, target: DeviceTarget, close: Callable[[], None]
) -> None:
    """Apply the target's ``ssh_policy`` to a measured session: under ``pq-required`` a
    classical one is closed (``close``) and :class:`DeviceTransportPolicyError` raised before
    any RPC is sent (only the NETCONF hello has been exchanged); under ``pq-preferred`` it is
    accepted and warned about once per process and posture (``hop_policy``)."""
    enforce_transport_policy(posture, target, close)


def _kex_name(transport: Any) -> str | None:
    recorded = getattr(transport, "negotiated_kex", None)
    if isinstance(recorded, str) and recorded:
        return recorded
    engine = getattr(transport, "kex_engine", None)  # only while a key exchange runs
    if engine is None:
        return None
    name = getattr(engine, "name", None)
    if isinstance(name, str) and name:
        return name
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# -- asyncssh (the async NETCONF path) ---------------------------------------------------------
def record_asyncssh_kex() -> None:
    """Make asyncssh note the agreed key-exchange method on each connection (it keeps the kex
    object only while the exchange runs). Idempotent; the same wrap as the paramiko one."""
    import asyncssh.connection as connection

    current: Any = getattr(connection, "get_kex")  # noqa: B009 - private export
    if getattr(current, "records_kex_name", False):
        return

    def naming(conn: Any, alg: bytes) -> Any:
        conn.qkd_negotiated_kex = alg.decode("ascii", "replace")
        return current(conn, alg)

    naming.records_kex_name = True  # type: ignore[attr-defined]
    setattr(connection, "get_kex", naming)  # noqa: B010 - see above


def asyncssh_aes256_first() -> list[str]:
    """asyncssh's default ciphers with :data:`AES256_FIRST` moved to the front (same set)."""
    from asyncssh.encryption import get_default_encryption_algs

    current = [alg.decode("ascii") for alg in get_default_encryption_algs()]
    first = [name for name in AES256_FIRST if name in current]
    return first + [name for name in current if name not in first]


def asyncssh_posture(conn: Any, peer: str) -> HopPosture:
    """The posture of an established ``asyncssh.SSHClientConnection``."""
    cipher = _text(conn.get_extra_info("send_cipher"))
    mac = _text(conn.get_extra_info("send_mac"))
    if cipher is not None and any(marker in cipher for marker in _AEAD_MARKERS):
        mac = None
    return HopPosture(
        kind="ssh",
        peer=peer,
        kex=_text(getattr(conn, "qkd_negotiated_kex", None)),
        cipher=cipher,
        version=_text(conn.get_extra_info("server_version")),
        mac=mac,
    )
