"""Small in-memory fakes for executor unit tests (the integration tests use the real parts)."""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceClock,
    DeviceCommitError,
    DeviceFacts,
    DeviceLockError,
    DeviceTimeoutError,
    InterfaceState,
    MacsecConfigState,
    MkaSessionState,
    NtpState,
)
from qkd_macsec.engine.keysource import FetchedKey, KeySource
from qkd_macsec.engine.planner import KeyMode
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.macsec import CipherSuite, CknMode, derive_macsec_key
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX
from qkd_macsec.secret import Secret


@dataclass
class FakeRouter:
    name: str
    chains: dict[str, dict[int, tuple[str, datetime]]] = field(default_factory=dict)
    iface_chain: dict[str, str] = field(default_factory=dict)
    fail_next_commits: int = 0
    lose_next_reply: int = 0  # commit, then the session drops before the reply arrives
    # A slow commit: the next commit waits for this event, then lands. Meanwhile the router
    # is busy, as Junos is while committing: other sessions' commits and previews are refused.
    commit_gate: threading.Event | None = None
    busy: bool = False
    commits: int = 0
    caks: list[bytes] = field(default_factory=list)


class FakeNetwork:
    def __init__(self) -> None:
        self.routers: dict[str, FakeRouter] = {}
        self.lock = threading.Lock()

    def router(self, name: str) -> FakeRouter:
        return self.routers.setdefault(name, FakeRouter(name))

    def driver(self, name: str) -> FakeDriver:
        return FakeDriver(self, self.router(name))

    def active_ckn(self, device: str, interface: str) -> str | None:
        router = self.routers[device]
        chain = router.chains.get(router.iface_chain.get(interface, ""), {})
        now = datetime.now(UTC).replace(tzinfo=None)
        started = [(start, ckn) for ckn, start in chain.values() if start <= now]
        return max(started)[1] if started else None


class FakeDriver:
    def __init__(self, net: FakeNetwork, router: FakeRouter) -> None:
        self.net, self.router = net, router
        self.deadline: float | None = None

    def open(self) -> None: ...

    def close(self) -> None: ...

    def set_deadline(self, deadline: float | None) -> None:
        self.deadline = deadline

    def is_alive(self) -> bool:
        return True

    def device_time(self) -> DeviceClock:
        return DeviceClock(datetime.now(UTC))

    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        gate = self.router.commit_gate
        if gate is not None:
            with self.net.lock:
                self._refuse_if_busy()
                self.router.commit_gate, self.router.busy = None, True
            try:
                gate.wait()
                return self._commit(changes)
            finally:
                self.router.busy = False
        with self.net.lock:
            self._refuse_if_busy()
        return self._commit(changes)

    def _refuse_if_busy(self) -> None:
        if self.router.busy:
            raise DeviceLockError(self.router.name, "configuration locked: commit in progress")

    def preview(self, changes: ChangeSet) -> int:
        with self.net.lock:
            self._refuse_if_busy()
            chains = self.router.chains
            return sum(1 for chain, slot in changes.remove_entries if slot in chains.get(chain, {}))

    def _commit(self, changes: ChangeSet) -> CommitResult:
        with self.net.lock:
            if self.router.fail_next_commits:
                self.router.fail_next_commits -= 1
                raise DeviceCommitError(self.router.name, "injected commit failure")
            for binding in changes.bindings:
                if binding.key_chain:
                    self.router.iface_chain[binding.interface] = binding.key_chain
            for entry in changes.add_entries:
                self.router.chains.setdefault(entry.chain, {})[entry.slot] = (
                    entry.ckn,
                    entry.start_time,
                )
                self.router.caks.append(entry.cak.reveal())
            for chain, slot in changes.remove_entries:
                self.router.chains.get(chain, {}).pop(slot, None)
            self.router.commits += 1
            if self.router.lose_next_reply:
                self.router.lose_next_reply -= 1
                raise DeviceTimeoutError(self.router.name, "no reply to commit-configuration")
        return CommitResult(self.router.name, True, 1, 0.0)

    def confirm_commit(self, *, comment: str) -> None: ...

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        with self.net.lock:
            entries = self.router.chains.get(chain, {})
            return [
                ChainEntryState(chain, slot, ckn, start)
                for slot, (ckn, start) in sorted(entries.items())
            ]

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        out = []
        for interface in interfaces or list(self.router.iface_chain):
            ckn = self.net.active_ckn(self.router.name, interface)
            if ckn:
                out.append(MkaSessionState(interface, ckn.upper(), "primary", True, "live"))
        return out

    def macsec_bindings(self) -> dict[str, str]:
        return {}

    # Read-only preflight verbs: a healthy, empty router.
    def facts(self) -> DeviceFacts:
        return DeviceFacts(hostname=self.router.name, model="fake", version="0.0")

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        return {
            name: InterfaceState(name, exists=True, admin_up=True, oper_up=True) for name in names
        }

    def ntp_status(self) -> NtpState:
        return NtpState(True, "leap_none", "sync_ntp", 2, 0.1, "leap_none, sync_ntp")

    def macsec_capable(self) -> bool:
        return True

    def macsec_config(self) -> MacsecConfigState:
        return MacsecConfigState(cas={}, bindings={})  # the fake does not model CAs

    def commit_check(self) -> bool:
        return True


class FakeKeys(KeySource):
    def __init__(self) -> None:
        self.fetched = 0
        self.fail: set[str] = set()

    async def fetch(self, link: LinkSpec, recent_key_ids: Collection[str] = ()) -> FetchedKey:
        from qkd_macsec.engine.keysource import KeyFetchError

        if link.name in self.fail:
            raise KeyFetchError(f"{link.name}: injected")
        self.fetched += 1
        key_id = os.urandom(16).hex()
        key = derive_macsec_key(Secret(os.urandom(32)), key_id, link.suite)
        return FetchedKey(link.name, key, 0.0, 0.0)


def make_link(
    name: str, a: str, b: str, chain: str = "KC1", interface: str = "et-0/0/1"
) -> LinkSpec:
    return LinkSpec(
        name=name,
        master=EndSpec(a, (interface,), a, "KME_A"),
        slaves=(EndSpec(b, (interface,), b, "KME_B"),),
        ca=f"CA_{name}",
        key_chain=chain,
        suite=CipherSuite.GCM_AES_256,
        mode=KeyMode.KEY_CHAIN,
        rotation_interval=600,
        ckn_prefix=DEFAULT_CKN_PREFIX,
        ckn_mode=CknMode.PREFIX_UUID,
    )
