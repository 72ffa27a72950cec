"""One simulated IOS XR router: candidate and running configuration, the candidate lock, commit
into the MKA link fabric, its clock in its own zone, and the operational MKA and clock replies
in the models ``devices/iosxr_parse`` reads (``Cisco-IOS-XR-crypto-macsec-mka-oper``,
``Cisco-IOS-XR-shellutil-oper``).

Commit semantics (RFC 6241 with IOS XR's candidate): the candidate is shared; while one session
holds the lock no other may edit, commit or discard it; a session that ends holding the lock
loses its uncommitted changes. Keys are chosen by the fabric as IOS XR does [S2]: among keys
whose start has passed, the latest start. (Key expiry after ``life-time`` is not simulated: the
tool writes a four-year lifetime and prunes well before.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from lxml import etree

from qkd_macsec.sim.config.macsec_view import ChainKey, InterfaceMacsec
from qkd_macsec.sim.config.zone import wall_to_utc
from qkd_macsec.sim.fabric import Fabric
from qkd_macsec.sim.iosxr.model import EditError, XrConfig, apply_edit, to_xml

__all__ = ["IosxrSimDevice", "LockError"]

SHELLUTIL_OPER_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-shellutil-oper"
MKA_OPER_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-crypto-macsec-mka-oper"
_SUITES = {
    "GCM-AES-128": "gcm-aes-128",
    "GCM-AES-256": "gcm-aes-256",
    "GCM-AES-XPN-128": "gcm-aes-xpn-128",
    "GCM-AES-XPN-256": "gcm-aes-xpn-256",
}
_SLOT_CARRIER_S = 4 * 365 * 86400


class LockError(Exception):
    """The candidate is locked by another session (``owner``)."""

    def __init__(self, owner: int, message: str | None = None) -> None:
        super().__init__(message or f"candidate is locked by session {owner}")
        self.owner = owner


@dataclass
class _Counters:
    commits: int = 0
    edits: int = 0
    #: NETCONF RPCs received after the hello, over all sessions.
    rpcs: int = 0
    #: NETCONF sessions that ended (whatever ended them).
    sessions_ended: int = 0
    #: Wall time (``time.time``) of every commit that changed the running configuration.
    commit_times: list[float] = field(default_factory=list)


class IosxrSimDevice:
    """See the module docstring. Thread-safe: one lock around the configuration."""

    def __init__(
        self,
        name: str,
        *,
        user: str,
        password: str,
        fabric: Fabric | None = None,
        time_zone: str = "UTC",
        pq_kex: bool = True,
    ) -> None:
        self.name = name
        #: Offer the post-quantum hybrid key exchanges asyncssh has (False: classical only).
        self.pq_kex = pq_kex
        self.user = user
        self._password = password
        self.fabric = fabric
        self.time_zone = time_zone
        self._zone: tzinfo = UTC if time_zone == "UTC" else ZoneInfo(time_zone)
        self.running = XrConfig()
        self.candidate = XrConfig()
        self.lock_owner: int | None = None
        self.counters = _Counters()
        #: Fault: every commit fails (as a commit check or a full disk would make it).
        self.refuse_commits = False
        #: Fault: this many next commits fail (counted down by each refused commit).
        self.failing_commits = 0
        #: Fault: a commit answers this long after it was asked (the server waits, off-lock).
        self.commit_latency_s = 0.0
        self._guard = threading.Lock()

    def check_password(self, user: str, password: str) -> bool:
        return user == self.user and password == self._password

    # --------------------------------------------------------------------------- datastores
    def _may_change(self, session: int) -> None:
        if self.lock_owner is not None and self.lock_owner != session:
            raise LockError(self.lock_owner)

    def lock(self, session: int) -> None:
        with self._guard:
            if self.lock_owner is not None:
                raise LockError(self.lock_owner)
            if self.candidate != self.running:  # RFC 6241 §7.5: no lock on a dirty candidate
                raise LockError(0, "the candidate holds uncommitted changes")
            self.lock_owner = session

    def unlock(self, session: int) -> None:
        with self._guard:
            if self.lock_owner != session:
                raise LockError(self.lock_owner or 0)
            self.lock_owner = None

    def session_ended(self, session: int) -> None:
        with self._guard:
            self.counters.sessions_ended += 1
            if self.lock_owner == session:
                self.lock_owner = None
                self.candidate = self.running.copy()

    def edit(self, session: int, config: etree._Element) -> None:
        with self._guard:
            self._may_change(session)
            self.candidate = apply_edit(self.candidate, config)
            self.counters.edits += 1

    def discard(self, session: int) -> None:
        with self._guard:
            self._may_change(session)
            self.candidate = self.running.copy()

    def commit(self, session: int) -> None:
        with self._guard:
            self._may_change(session)
            if self.refuse_commits or self.failing_commits > 0:
                self.failing_commits = max(0, self.failing_commits - 1)
                raise EditError("commit failed: 'sysdb' detected the 'fatal' condition (fault)")
            self._validate(self.candidate)
            if self.candidate == self.running:
                return
            self.running = self.candidate.copy()
            self.counters.commits += 1
            at = time.time()
            self.counters.commit_times.append(at)
            if self.fabric is not None:
                self.fabric.commit_views(self.name, self._views(self.running), at)

    def _validate(self, config: XrConfig) -> None:
        for itf, (chain, policy) in config.bindings.items():
            if policy not in config.policies:
                raise EditError(f"{itf}: macsec-policy {policy} is not configured")
            suite = config.policies[policy].get("cipher-suite", "GCM-AES-XPN-256")
            bits = 32 if suite.endswith("256") else 16
            for key_id, key in config.chains.get(chain, {}).items():
                if len(key.cak_hex) != 2 * bits:
                    raise EditError(f"{itf}: key {key_id} does not fit cipher-suite {suite}")

    def get_config(self, source: str, wanted: set[str], chain: str | None) -> list[etree._Element]:
        with self._guard:
            config = self.running if source == "running" else self.candidate
            return to_xml(config, wanted, chain)

    # --------------------------------------------------------------------------- the fabric
    def _views(self, config: XrConfig) -> dict[str, InterfaceMacsec]:
        views: dict[str, InterfaceMacsec] = {}
        for itf, (chain_name, policy) in config.bindings.items():
            leaves = config.policies.get(policy, {})
            suite = _SUITES.get(leaves.get("cipher-suite", ""), "gcm-aes-xpn-256")
            keys = []
            for index, (key_id, key) in enumerate(
                sorted(config.chains.get(chain_name, {}).items())
            ):
                start = datetime.min if key.start is None else wall_to_utc(key.start, self._zone)
                slot = index
                if key.lifetime_s is not None and key.lifetime_s >= _SLOT_CARRIER_S:
                    slot = key.lifetime_s - _SLOT_CARRIER_S
                keys.append(ChainKey(slot, key_id.lower(), bytes.fromhex(key.cak_hex), start))
            priority = leaves.get("key-server-priority", "16")
            views[itf] = InterfaceMacsec(
                itf,
                policy,
                suite,
                None,
                tuple(sorted(keys, key=lambda k: (k.start, k.key_id))),
                chain_name,
                key_server_priority=int(priority) if priority.isdigit() else 16,
            )
        return views

    def now(self) -> datetime:
        if self.fabric is not None:
            return self.fabric.device_time(self.name)
        return datetime.now(UTC)

    # -------------------------------------------------------------------------- operational
    def clock_xml(self) -> etree._Element:
        local = self.now().astimezone(self._zone)
        top = etree.Element(f"{{{SHELLUTIL_OPER_NS}}}system-time", nsmap={None: SHELLUTIL_OPER_NS})
        clock = etree.SubElement(top, f"{{{SHELLUTIL_OPER_NS}}}clock")
        for leaf, value in (
            ("year", local.year),
            ("month", local.month),
            ("day", local.day),
            ("hour", local.hour),
            ("minute", local.minute),
            ("second", local.second),
            ("millisecond", local.microsecond // 1000),
            ("wday", local.isoweekday() % 7),
            ("time-zone", self.time_zone),
            ("time-source", "ntp"),
        ):
            etree.SubElement(clock, f"{{{SHELLUTIL_OPER_NS}}}{leaf}").text = str(value)
        return top

    def mka_xml(self) -> etree._Element:
        """One ``interface`` per bound interface, a ``ca`` for its primary session: SECURED
        when that key is live on the link, else PENDING."""
        ns = MKA_OPER_NS
        top = etree.Element(f"{{{ns}}}macsec", nsmap={None: ns})
        interfaces = etree.SubElement(etree.SubElement(top, f"{{{ns}}}mka"), f"{{{ns}}}interfaces")
        sessions = self.fabric.sessions(self.name) if self.fabric is not None else []
        for s in sessions:
            if s.cak_type != "primary":
                continue
            itf = etree.SubElement(interfaces, f"{{{ns}}}interface")
            etree.SubElement(itf, f"{{{ns}}}name").text = s.interface
            session = etree.SubElement(itf, f"{{{ns}}}session")
            ca = etree.SubElement(session, f"{{{ns}}}ca")
            live = s.status == "live"
            for leaf, value in (
                ("is-key-server", "true" if s.key_server else "false"),
                ("num-live-peers", "1" if live else "0"),
                ("ckn", s.cak_name.upper()),
                ("my-mi", s.member_id),
                (
                    "status-description",
                    "SECURED - Secured MKA Session with MACsec"
                    if live
                    else "PENDING - Waiting for peers",
                ),
                ("authentication-mode", "PRIMARY-PSK"),
            ):
                etree.SubElement(ca, f"{{{ns}}}{leaf}").text = value
        return top
