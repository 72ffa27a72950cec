"""One simulated NX-OS switch: running configuration, named configuration sessions (one open at
a time), commit into the MKA link fabric, its clock in its own zone, and the show commands the
driver reads (``show running-config``, ``show clock``, ``show macsec mka session [details]``,
``show version``).

Session semantics (Session Manager [S39]): ``configure session NAME`` opens (or re-enters) a
session holding a copy of the running configuration; commands change only that copy, each
checked as it is entered; ``verify`` checks the whole; ``commit`` verifies and replaces the
running configuration in one step (nothing of a failed commit lands); ``abort`` drops it. While
one session is open, another name is refused (the simulator's stand-in for a configuration
lock; the device allows more). A batch (one NX-API request) runs in one CLI context.

Keys follow the documented NX-OS rollover [S25]: MKA keeps the key it uses until that key's
lifetime ends, then takes the next key of the chain (by start). The fabric is given, for each
key, the instant it comes into use under that rule (``_activations``). Lifetimes are read in
UTC (the NX-OS default [S25]), whatever the clock's display zone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qkd_macsec.sim.config.macsec_view import ChainKey, InterfaceMacsec
from qkd_macsec.sim.fabric import Fabric
from qkd_macsec.sim.nxos.model import (
    CommandError,
    Mode,
    NxConfig,
    NxKey,
    apply_command,
    check,
    running_config,
)

__all__ = ["BatchContext", "CommandError", "NxosSimDevice"]

SLOTS = 8
NEVER = datetime(9999, 1, 1)
_SUITES = {
    "GCM-AES-128": "gcm-aes-128",
    "GCM-AES-256": "gcm-aes-256",
    "GCM-AES-XPN-128": "gcm-aes-xpn-128",
    "GCM-AES-XPN-256": "gcm-aes-xpn-256",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class _Counters:
    #: NX-API requests that reached the HTTP layer (after TLS), any command.
    requests: int = 0
    commits: int = 0
    sessions: int = 0
    aborts: int = 0
    #: Wall time (``time.time``) of every commit that changed the running configuration.
    commit_times: list[float] = field(default_factory=list)


@dataclass
class BatchContext:
    """The CLI context of one NX-API request: the session it is in and the mode."""

    session: str | None = None
    mode: Mode | None = None


class NxosSimDevice:
    """See the module docstring. Thread-safe: one lock around the configuration."""

    def __init__(
        self,
        name: str,
        *,
        user: str,
        password: str,
        fabric: Fabric | None = None,
        timezone: tuple[str, int, int] | None = None,
        pq_kex: bool = True,
    ) -> None:
        self.name = name
        #: NX-API offers the hybrid X25519MLKEM768 TLS group (False: classical groups only).
        self.pq_kex = pq_kex
        self.user = user
        self._password = password
        self.fabric = fabric
        self.running = NxConfig(timezone=timezone)
        self.session_name: str | None = None
        self._session: NxConfig | None = None
        self.counters = _Counters()
        #: Fault: every commit fails (as a verify against hardware resources would).
        self.refuse_commits = False
        #: Fault: this many next commits fail (counted down by each refused commit).
        self.failing_commits = 0
        #: Fault: a commit takes this long (the server waits before committing).
        self.commit_latency_s = 0.0
        self._guard = threading.Lock()

    def check_password(self, user: str, password: str) -> bool:
        return user == self.user and password == self._password

    @property
    def session_open(self) -> bool:
        return self.session_name is not None

    # ------------------------------------------------------------------------- commands
    def run_config(self, context: BatchContext, line: str) -> None:
        """One non-show command of a batch (session control or configuration)."""
        words = line.split()
        with self._guard:
            if words[:2] == ["configure", "session"] and len(words) == 3:
                if self.session_name is not None and self.session_name != words[2]:
                    raise CommandError(
                        f"% Configuration session {self.session_name} is in progress"
                    )
                if self.session_name is None:
                    self.session_name = words[2]
                    self._session = self.running.copy()
                    self.counters.sessions += 1
                context.session, context.mode = words[2], Mode()
                return
            if context.session is None or self._session is None:
                raise CommandError("% Not in a configuration session")
            if line == "verify":
                check(self._session)
                return
            if line == "abort":
                self._drop()
                context.session = context.mode = None
                self.counters.aborts += 1
                return
            if line == "commit":
                self._commit()
                context.session = context.mode = None
                return
            assert context.mode is not None
            apply_command(self._session, context.mode, line)

    def _drop(self) -> None:
        self.session_name = None
        self._session = None

    def _commit(self) -> None:
        assert self._session is not None
        candidate = self._session
        if self.refuse_commits or self.failing_commits > 0:
            self.failing_commits = max(0, self.failing_commits - 1)
            self._drop()
            raise CommandError("% Commit failed: verification against hardware failed (fault)")
        try:
            check(candidate)
        except CommandError:
            self._drop()
            raise
        self._drop()
        if candidate == self.running:
            return
        self.running = candidate
        self.counters.commits += 1
        at = time.time()
        self.counters.commit_times.append(at)
        if self.fabric is not None:
            self.fabric.commit_views(self.name, self._views(candidate), at)

    # --------------------------------------------------------------------------- the fabric
    @staticmethod
    def _activations(keys: dict[str, NxKey]) -> list[tuple[datetime, str, NxKey]]:
        """Each key with the instant it comes into use: its start, or the end of the key
        before it when that is later (MKA stays on a key until its lifetime ends [S25])."""
        ordered = sorted(keys.items(), key=lambda item: (item[1].start or datetime.min, item[0]))
        out: list[tuple[datetime, str, NxKey]] = []
        previous_end: datetime | None = datetime.min
        for key_id, key in ordered:
            start = key.start or datetime.min
            # the key before never ends: this one is never used
            active = NEVER if previous_end is None else max(start, previous_end)
            out.append((active, key_id, key))
            if key.start is None or key.duration_s is None:
                previous_end = None
            else:
                previous_end = key.start + timedelta(seconds=key.duration_s)
        return out

    def _views(self, config: NxConfig) -> dict[str, InterfaceMacsec]:
        views: dict[str, InterfaceMacsec] = {}
        for itf, (chain_name, policy) in config.bindings.items():
            leaves = config.policies.get(policy, {})
            suite = _SUITES.get(leaves.get("cipher-suite", ""), "gcm-aes-xpn-256")
            keys = [
                ChainKey(
                    key.duration_s % SLOTS if key.duration_s is not None else index,
                    key_id.lower(),
                    bytes.fromhex(key.cak_hex),
                    active,
                )
                for index, (active, key_id, key) in enumerate(
                    self._activations(config.chains.get(chain_name, {}))
                )
                if key.cak_hex
            ]
            priority = leaves.get("key-server-priority", "16")
            views[itf] = InterfaceMacsec(
                itf,
                policy,
                suite,
                None,
                tuple(sorted(keys, key=lambda k: (k.start, k.ckn))),
                chain_name,
                key_server_priority=int(priority) if priority.isdigit() else 16,
            )
        return views

    def now(self) -> datetime:
        if self.fabric is not None:
            return self.fabric.device_time(self.name)
        return datetime.now(UTC)

    # -------------------------------------------------------------------------- show commands
    def show(self, command: str) -> str:
        """A show command's text (``cli_ascii``)."""
        words = command.split()
        if command == "show running-config":
            with self._guard:
                return running_config(self.running, self.name)
        if command == "show clock":
            return self._clock_text()
        if words[:4] == ["show", "macsec", "mka", "session"]:
            return self._mka_text(details=words[-1] == "details")
        if command == "show version":
            return f"Cisco Nexus Operating System (NX-OS) Software\n  NXOS: 10.4(3)\n{self.name}\n"
        raise CommandError(f"% Invalid command at '^' marker: {command[:40]}")

    def show_json(self, command: str) -> dict[str, Any]:
        """A show command's structured body (``cli``)."""
        if command == "show version":
            return {"host_name": self.name, "chassis_id": "Nexus9000 C93180YC-FX (sim)",
                    "nxos_ver_str": "10.4(3)"}  # fmt: skip
        if command == "show clock":
            return {"simple_time": self._clock_text().splitlines()[0], "time_source": "NTP"}
        raise CommandError(f"% Structured output is not supported for {command[:40]!r}")

    def _offset(self) -> tuple[str, timedelta]:
        zone = self.running.timezone
        if zone is None:
            return "UTC", timedelta(0)
        name, hours, minutes = zone
        return name, timedelta(hours=hours, minutes=(-1 if hours < 0 else 1) * minutes)

    def _clock_text(self) -> str:
        name, offset = self._offset()
        local = self.now().astimezone(UTC).replace(tzinfo=None) + offset
        return (
            f"{local:%H:%M:%S}.{local.microsecond // 1000:03d} {name} {DAYS[local.weekday()]} "
            f"{MONTHS[local.month - 1]} {local:%d} {local.year}\nTime source is NTP\n"
        )

    def _mka_text(self, *, details: bool) -> str:
        sessions = self.fabric.sessions(self.name) if self.fabric is not None else []
        primary = [s for s in sessions if s.cak_type == "primary"]
        with self._guard:
            bindings = dict(self.running.bindings)
            policies = {k: dict(v) for k, v in self.running.policies.items()}
        if not details:
            lines = [
                "Interface          Local-TxSCI                      # Peers            "
                "Status             Key-Server         Auth Mode",
            ]
            for s in primary:
                status = "Secured" if s.status == "live" else "Pending"
                lines.append(
                    f"{s.interface:<19}{'c4f7.d530.1485/0001':<33}{len(s.peers):<19}"
                    f"{status:<19}{'Yes' if s.key_server else 'No':<19}PRIMARY-PSK"
                )
            lines.append(f"Total Number of Sessions : {len(primary)}")
            return "\n".join(lines) + "\n"
        lines = ["Detailed Status for MKA Session", "-----------------------------------", ""]
        for s in primary:
            live = s.status == "live"
            policy = bindings.get(s.interface, ("", ""))[1]
            priority = policies.get(policy, {}).get("key-server-priority", "16")
            lines += [
                f"Interface Name          : {s.interface}",
                "    Session Status                      : "
                + (
                    "SECURED - Secured MKA Session with MACsec"
                    if live
                    else "PENDING - Waiting for a peer with a matching CAK"
                ),
                f"    CAK Name (CKN)                      : {s.cak_name.upper()}",
                "    CA Authentication Mode              : PRIMARY-PSK",
                f"    Member Identifier (MI)              : {s.member_id.upper()}",
                f"    MKA Policy Name                     : {policy}",
                f"    Key Server Priority                 : {priority}",
                f"    Key Server                          : {'Yes' if s.key_server else 'No'}",
                f"    CA Peer Count                       : {len(s.peers)}",
                "Peer Status:",
            ]
            for peer in s.peers:
                lines += [
                    f"    Peer MI                             : {peer.member_id.upper()}",
                    "    Peer CAK                            : Match",
                ]
            lines.append("")
        return "\n".join(lines) + "\n"
