"""A FakeOS device and its driver: the device keeps its committed configuration as FakeOS lines,
answers in FakeOS text, and (given a fabric) tells the simulator's MKA link fabric what each
interface's keys are, so that whether a link is live is decided by the real 802.1X derivation.

Not a NETCONF device: the driver calls the device in-process (the platform seam does not care
how a driver reaches its device). The recorded replies in ``replies/`` are this device's output.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qkd_macsec.devices.base import (
    CaConfigState,
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceDeadlineError,
    DeviceError,
    DeviceFacts,
    DeviceLoadError,
    DeviceTarget,
    DeviceUnreachableError,
    InterfaceState,
    MacsecConfigState,
    MkaSessionState,
    NtpState,
)
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.sim.config import ChainKey, InterfaceMacsec, StaticKey
from qkd_macsec.sim.fabric import Fabric
from support.fake_platform.parse import parse_key_chain, parse_mka_sessions, parse_start
from support.fake_platform.render import render, start_text


@dataclass
class _Ca:
    suite: str = CipherSuite.GCM_AES_XPN_256.value
    chain: str | None = None
    psk: tuple[str, bytes] | None = field(default=None, repr=False)  # (CKN, CAK)


@dataclass
class _State:
    cas: dict[str, _Ca] = field(default_factory=dict)
    #: chain -> slot -> (CKN, CAK, start as naive UTC on the device clock); never in a repr
    chains: dict[str, dict[int, tuple[str, bytes, datetime]]] = field(
        default_factory=dict, repr=False
    )
    bindings: dict[str, str] = field(default_factory=dict)  # interface -> CA


def _load(state: _State, text: str) -> _State:
    """``state`` with the FakeOS lines applied (a copy); :class:`ValueError` on a bad line."""
    new = copy.deepcopy(state)
    for line in text.splitlines():
        words = line.split(" ")
        match words:
            case ["delete", "key-chain", chain, "key", key]:
                new.chains.get(chain, {}).pop(int(key) - 1, None)
            case ["ca", ca, "suite", suite]:
                new.cas.setdefault(ca, _Ca()).suite = CipherSuite(suite).value
            case ["ca", ca, "key-chain", chain]:
                new.cas.setdefault(ca, _Ca()).chain = chain
            case ["ca", ca, "psk", ckn, cak]:
                new.cas.setdefault(ca, _Ca()).psk = (ckn, bytes.fromhex(cak))
            case ["interface", interface, "ca", ca]:
                new.bindings[interface] = ca
            case ["key-chain", chain, "key", key, "ckn", ckn, "cak", cak, "start", start]:
                when = parse_start(start).replace(tzinfo=None)
                new.chains.setdefault(chain, {})[int(key) - 1] = (ckn, bytes.fromhex(cak), when)
            case _:  # name the statement by its first words only: a CAK may follow
                raise ValueError(f"unknown statement {' '.join(words[:2])!r}...")
    return new


def _lines(state: _State) -> set[str]:
    """The state as comparable statements (for diffs)."""
    out = {f"interface {i} ca {ca}" for i, ca in state.bindings.items()}
    for name, ca in state.cas.items():
        out.add(f"ca {name} suite {ca.suite} chain {ca.chain} psk {ca.psk!r}")
    for chain, keys in state.chains.items():
        out |= {f"{chain} {slot} {key!r}" for slot, key in keys.items()}
    return out


def _zero_filled(cak: bytes, suite: str) -> bytes:
    return cak.ljust(CipherSuite(suite).key_bytes, b"\0")


class FakeOsDevice:
    """One FakeOS box: committed state, its ports, and (optionally) its place in a fabric."""

    def __init__(self, name: str, ports: Sequence[str], network: FakeOsNetwork) -> None:
        self.name = name
        self.ports = tuple(ports)
        self.state = _State()
        self.commits = 0
        self._network = network
        self._lock = threading.Lock()

    def now(self) -> datetime:
        fabric = self._network.fabric
        return fabric.device_time(self.name) if fabric is not None else datetime.now(UTC)

    def commit(self, text: str, *, dry_run: bool) -> int:
        """Load ``text``; unless ``dry_run``, make it the committed state. Returns the number of
        changed statements."""
        with self._lock:
            try:
                new = _load(self.state, text)
            except ValueError as exc:
                raise DeviceLoadError(self.name, str(exc)) from None
            changed = len(_lines(new) ^ _lines(self.state))
            if changed and not dry_run:
                self.state = new
                self.commits += 1
                fabric = self._network.fabric
                if fabric is not None:
                    fabric.commit_views(self.name, self._views(), time.time())
            return changed

    def _views(self) -> dict[str, InterfaceMacsec]:
        views: dict[str, InterfaceMacsec] = {}
        for interface, ca_name in self.state.bindings.items():
            ca = self.state.cas.get(ca_name)
            if ca is None:
                continue
            static = StaticKey(ca.psk[0], _zero_filled(ca.psk[1], ca.suite)) if ca.psk else None
            keys = self.state.chains.get(ca.chain, {}) if ca.chain else {}
            chain = tuple(
                sorted(
                    (
                        ChainKey(slot, ckn, _zero_filled(cak, ca.suite), start)
                        for slot, (ckn, cak, start) in keys.items()
                    ),
                    key=lambda k: (k.start, k.key_id),
                )
            )
            views[interface] = InterfaceMacsec(
                interface, ca_name, ca.suite, static, chain, ca.chain
            )
        return views

    def key_chain_reply(self, chain: str) -> str:
        keys = self.state.chains.get(chain, {})
        return "\n".join(
            f"key-chain {chain} key {slot + 1} ckn {ckn} start {start_text(start)}"
            for slot, (ckn, _cak, start) in sorted(keys.items())
        )

    def mka_reply(self, interfaces: Sequence[str] | None) -> str:
        fabric = self._network.fabric
        if fabric is None:
            return ""
        wanted = set(interfaces) if interfaces is not None else None
        return "\n".join(
            f"session {s.interface} ckn {s.cak_name.upper()} type {s.cak_type} state {s.status}"
            for s in fabric.sessions(self.name)
            if wanted is None or s.interface in wanted
        )


class FakeOsNetwork:
    """FakeOS devices by name; ``fabric`` may be attached after the devices are created."""

    def __init__(self, fabric: Fabric | None = None) -> None:
        self.fabric = fabric
        self.devices: dict[str, FakeOsDevice] = {}

    def add(self, name: str, ports: Sequence[str] = ("port1", "port2")) -> FakeOsDevice:
        self.devices[name] = FakeOsDevice(name, ports, self)
        return self.devices[name]

    def driver(self, target: DeviceTarget) -> FakeOsDriver:
        return FakeOsDriver(target, self)


class FakeOsDriver:
    """The FakeOS driver: every verb of the Driver contract, errors typed as the contract says."""

    def __init__(self, target: DeviceTarget, network: FakeOsNetwork) -> None:
        self.target = target
        self._network = network
        self._device: FakeOsDevice | None = None
        self._deadline: float | None = None

    def __repr__(self) -> str:
        return f"FakeOsDriver({self.target.name})"

    def _rpc(self, what: str) -> FakeOsDevice:
        if self._deadline is not None and time.time() >= self._deadline:
            raise DeviceDeadlineError(self.target.name, f"{what}: not sent, the deadline passed")
        if self._device is None:
            raise DeviceError(self.target.name, f"{what}: the session is not open")
        return self._device

    def open(self) -> None:
        if self._deadline is not None and time.time() >= self._deadline:
            raise DeviceDeadlineError(self.target.name, "open: not sent, the deadline passed")
        device = self._network.devices.get(self.target.name)
        if device is None:
            raise DeviceUnreachableError(self.target.name, "no such FakeOS device")
        self._device = device

    def close(self) -> None:
        self._device = None

    def is_alive(self) -> bool:
        return self._device is not None

    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    def device_time(self) -> DeviceClock:
        return DeviceClock(self._rpc("clock").now(), timedelta(0), "UTC")

    def render(self, changes: ChangeSet) -> str:
        return render(changes, True)

    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        text = render(changes, False)  # bad input is refused before any I/O
        started = time.monotonic()
        changed = self._rpc("commit").commit(text, dry_run=False) if text else 0
        return CommitResult(self.target.name, changed > 0, changed, time.monotonic() - started)

    def preview(self, changes: ChangeSet) -> int:
        text = render(changes, False)
        return self._rpc("preview").commit(text, dry_run=True) if text else 0

    def confirm_commit(self, *, comment: str) -> None:
        self._rpc("confirm")

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        return parse_key_chain(self._rpc("key-chain").key_chain_reply(chain), chain)

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        return parse_mka_sessions(self._rpc("mka").mka_reply(interfaces))

    def macsec_bindings(self) -> dict[str, str]:
        return dict(self._rpc("bindings").state.bindings)

    def facts(self) -> DeviceFacts:
        return DeviceFacts(self._rpc("facts").name, "fake-1", "1.0")

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        ports = self._rpc("interfaces").ports
        return {n: InterfaceState(n, n in ports, n in ports, n in ports) for n in names}

    def ntp_status(self) -> NtpState:
        self._rpc("ntp")
        return NtpState(True, "leap_none", "sync_ntp", 2, 0.1, "synchronised")

    def macsec_capable(self) -> bool:
        self._rpc("macsec")
        return True

    def macsec_config(self) -> MacsecConfigState:
        state = self._rpc("config").state
        cas = {
            name: CaConfigState(name, ca.suite, ca.psk[0] if ca.psk else None, ca.chain)
            for name, ca in state.cas.items()
        }
        return MacsecConfigState(cas, dict(state.bindings))

    def commit_check(self) -> bool:
        self._rpc("commit-check")
        return True


__all__ = ["FakeOsDevice", "FakeOsDriver", "FakeOsNetwork"]
