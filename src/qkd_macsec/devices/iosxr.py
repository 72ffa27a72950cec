"""The Cisco IOS XR driver: the :class:`~qkd_macsec.devices.base.Driver` contract over NETCONF
with ncclient's ``iosxr`` device handler.

A thin I/O layer: names and XML come from ``iosxr_names`` / ``iosxr_render``, replies are read by
``iosxr_parse``. Every change runs lock(candidate) → edit-config(candidate) → diff (candidate vs
running ``get-config`` of the subtrees we write: IOS XR offers no diff RPC, research Q3) →
commit (only with a diff) → unlock, discarding the candidate on any failure.

Sources: ``docs/vendors-research.md`` §1 — MACsec key chains and their key IDs [S2][S3], the
interface binding [S8], MKA operational state [S12][S13], the clock [S14], ncclient's handler
[S16][S18]. The models used and why are in ``iosxr_render``.

Host keys: ncclient's ``iosxr`` handler installs an ``unknown_host_cb`` that accepts EVERY
unknown host key [S18]. This driver connects through a subclass of that handler whose callback
refuses, and passes ``hostkey_verify`` with a private ``ssh_config`` naming only the target's
``known_hosts``: an unknown or changed key is :class:`DeviceHostKeyError`. Skipping the check
needs the target's explicit ``insecure_host_keys``.

Secrets: every CAK a change set carries is registered with the log redaction registry before
any RPC; ncclient and paramiko loggers (which log whole RPCs at DEBUG) are capped at WARNING with
the redaction filter; device error texts are scrubbed and never chained.

Transport posture: the session's negotiated key exchange, cipher and MAC are recorded like the
Junos driver's (``ssh_posture``: paramiko under ncclient), and ``policy.transport.ssh:
pq-required`` closes a classically key-exchanged session before any RPC.

Lifetimes are written in the device's wall clock: :meth:`device_time` reads
``system-time/clock`` and its ``time-zone`` (UTC or an IANA name), and the engine converts.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from ncclient import manager
from ncclient.devices.iosxr import IosxrDeviceHandler
from ncclient.operations import errors as nc_op_errors
from ncclient.operations import rpc as nc_rpc
from ncclient.transport import errors as nc_transport
from ncclient.transport import session as nc_session

from qkd_macsec.devices import iosxr_names as xr
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceAuthError,
    DeviceClock,
    DeviceCommitError,
    DeviceConnectError,
    DeviceDeadlineError,
    DeviceError,
    DeviceFacts,
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DevicePermissionError,
    DeviceReplyError,
    DeviceTarget,
    DeviceTimeoutError,
    DeviceUnreachableError,
    InterfaceState,
    MacsecConfigState,
    MkaSessionState,
    NtpState,
)
from qkd_macsec.devices.iosxr_parse import (
    IosxrReplyError,
    parse_bindings,
    parse_clock,
    parse_configured_interfaces,
    parse_key_chain,
    parse_mka_sessions,
    parse_policies,
    parse_time_source,
)
from qkd_macsec.devices.iosxr_render import (
    IFMGR_NS,
    KEYCHAIN_NS,
    MASK,
    POLICY_NS,
    Removals,
    render,
    render_masked,
)
from qkd_macsec.devices.ssh_posture import (
    enforce_ssh_policy,
    measure_session,
    ncclient_transport,
    prefer_aes256_ciphers,
    record_negotiated_kex,
)
from qkd_macsec.devices.target_driver import TargetDriver
from qkd_macsec.devices.transport_safety import (
    ErrorScrubber,
    cap_transport_loggers,
    exception_chain,
)
from qkd_macsec.obs.logging import SECRETS, get_logger
from qkd_macsec.secret import Secret

__all__ = ["IosxrDriver", "StrictIosxrDeviceHandler"]

log = get_logger("devices.iosxr")

#: ncclient polls its reply queue every TICK seconds (0.1 by default: a tenth of a second per
#: RPC); the Junos driver sets the same process-wide value.
nc_session.TICK = 0.01

TRANSPORT_LOGGERS = ("ncclient", "paramiko")
_MAX_MESSAGE = 300
SHELLUTIL_OPER_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-shellutil-oper"
MKA_OPER_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-crypto-macsec-mka-oper"
CLOCK_FILTER = f'<system-time xmlns="{SHELLUTIL_OPER_NS}"><clock/></system-time>'
MKA_FILTER = f'<macsec xmlns="{MKA_OPER_NS}"><mka><interfaces/></mka></macsec>'
CHAINS_FILTER = f'<mac-sec-keychains xmlns="{KEYCHAIN_NS}"/>'
POLICIES_FILTER = f'<macsec-policy xmlns="{POLICY_NS}"/>'
INTERFACES_FILTER = f'<interface-configurations xmlns="{IFMGR_NS}"/>'
#: What a change can touch: the diff compares these subtrees of candidate and running.
DIFF_FILTERS = (CHAINS_FILTER, POLICIES_FILTER, INTERFACES_FILTER)


def _refuse_unknown_host(host: str, fingerprint: str) -> bool:
    return False


class StrictIosxrDeviceHandler(IosxrDeviceHandler):  # type: ignore[misc]
    """ncclient's IOS XR handler, except that an unknown host key is refused, not accepted."""

    def add_additional_ssh_connect_params(self, kwargs: dict[str, Any]) -> None:
        kwargs["unknown_host_cb"] = _refuse_unknown_host


def quiet_transport_loggers() -> None:
    """Cap ncclient's and paramiko's loggers at WARNING, with the redaction filter attached."""
    cap_transport_loggers(TRANSPORT_LOGGERS)


class _Scrubber(ErrorScrubber):
    """Device or library text made safe to show: no CAK (either case), no password."""

    def __init__(self, secrets: Sequence[Secret] = ()) -> None:
        super().__init__(secrets, max_chars=_MAX_MESSAGE, mask=MASK)


_causes = exception_chain


def _xml_text(reply: Any) -> str:
    text = getattr(reply, "xml", None)
    if not isinstance(text, str):
        raise IosxrReplyError("reply carries no XML")
    return text


def _count_diff(before: str, after: str) -> int:
    return sum(
        1
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


_COMPARE = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True
)


def _canonical(text: str) -> str:
    """A get-config reply without its message-id, pretty-printed, for comparison."""
    root = etree.fromstring(text.encode(), _COMPARE)
    data = root.find("{*}data")
    node = data if data is not None else root
    result: str = etree.tostring(node, pretty_print=True, encoding="unicode")
    return result


class IosxrDriver(TargetDriver):
    """ncclient-backed driver for one IOS XR device. One thread at a time (see ``Driver``)."""

    DEFAULT_PORT = xr.DEFAULT_PORT

    platform = "iosxr"

    def __init__(
        self, target: DeviceTarget, *, connect: Callable[..., Any] = manager.connect
    ) -> None:
        quiet_transport_loggers()
        prefer_aes256_ciphers()
        record_negotiated_kex()
        super().__init__(target)
        self._connect = connect
        self._mgr: Any = None

    def render(self, changes: ChangeSet) -> str:
        return render_masked(changes)

    # ------------------------------------------------------------------------------- session
    def open(self) -> None:
        if self.is_alive():
            return
        self.close()
        target = self.target
        budget = self._budget("open")
        kwargs: dict[str, Any] = {
            "host": target.host,
            "port": self.port,
            "username": target.user,
            "timeout": budget,
            "allow_agent": False,
            "look_for_keys": False,
            "hostkey_verify": not target.insecure_host_keys,
            "device_params": {"name": "iosxr", "handler": StrictIosxrDeviceHandler},
            "manager_params": {"timeout": target.timeout},
        }
        if target.password is not None:
            kwargs["password"] = target.password.reveal_text()
        if target.ssh_key is not None:
            kwargs["key_filename"] = str(target.ssh_key)
        if target.insecure_host_keys:
            log.warning("%s: SSH host key NOT verified (insecure_host_keys is set)", target.name)
        elif target.known_hosts is None or not target.known_hosts.is_file():
            raise DeviceHostKeyError(
                target.name, f"known_hosts file {target.known_hosts} not found"
            )
        ssh_config = self._write_ssh_config()
        kwargs["ssh_config"] = str(ssh_config)
        try:
            self._mgr = self._connect(**kwargs)
        except Exception as err:
            self._mgr = None
            raise self._connect_error(err) from None
        finally:
            ssh_config.unlink(missing_ok=True)
        quiet_transport_loggers()
        posture = measure_session(ncclient_transport(self._mgr), target)
        if posture is not None:
            self.posture = posture
            enforce_ssh_policy(posture, target, self._drop)
        log.debug("%s: NETCONF session open to %s:%d", target.name, target.host, self.port)

    def _write_ssh_config(self) -> Path:
        """A private ssh_config naming only the target's known_hosts (never ~/.ssh's)."""
        lines = ["Host *"]
        if self.target.known_hosts is not None and not self.target.insecure_host_keys:
            lines += [
                f'  UserKnownHostsFile "{self.target.known_hosts.resolve()}"',
                "  StrictHostKeyChecking yes",
            ]
        fd, name = tempfile.mkstemp(prefix="qkd-macsec-iosxr-", suffix=".conf")
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return Path(name)

    def _connect_error(self, err: Exception) -> DeviceError:
        target = self.target
        where = f"{target.host}:{self.port}"
        causes = _causes(err)
        if isinstance(err, DeviceError):
            return err
        if any(isinstance(c, nc_transport.SSHUnknownHostError) for c in causes):
            return DeviceHostKeyError(
                target.name,
                f"host key of {where} is unknown or has CHANGED "
                f"(not in {target.known_hosts}); refusing to connect",
            )
        if any(isinstance(c, nc_transport.AuthenticationError) for c in causes):
            return DeviceAuthError(target.name, f"authentication as {target.user!r} refused")
        if any(isinstance(c, TimeoutError) for c in causes):
            return DeviceUnreachableError(target.name, f"{where} timed out")
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or (
            isinstance(err, nc_transport.SSHError) and "open socket" in str(err)
        ):
            return DeviceUnreachableError(target.name, f"{where} refused the NETCONF session")
        if any(isinstance(c, OSError) for c in causes):
            return DeviceUnreachableError(target.name, f"{where}: {type(err).__name__}")
        detail = _Scrubber()(type(err).__name__)
        return DeviceConnectError(target.name, f"cannot open NETCONF to {where}: {detail}")

    def close(self) -> None:
        mgr, self._mgr = self._mgr, None
        if mgr is None:
            return
        try:
            mgr.timeout = min(self.target.timeout, 5.0)
            mgr.close_session()
        except Exception as err:
            log.debug("%s: error while closing: %s", self.name, type(err).__name__)
        session = getattr(mgr, "_session", None)
        try:
            if session is not None and getattr(session, "connected", False):
                session.close()
        except Exception as err:
            log.debug("%s: error dropping the transport: %s", self.name, type(err).__name__)

    def _drop(self) -> None:
        """Close the transport without a ``close-session`` RPC (a refused session sends none)."""
        mgr, self._mgr = self._mgr, None
        session = getattr(mgr, "_session", None)
        try:
            if session is not None and getattr(session, "connected", False):
                session.close()
        except Exception as err:
            log.debug("%s: error dropping the transport: %s", self.name, type(err).__name__)

    def is_alive(self) -> bool:
        return self._mgr is not None and bool(getattr(self._mgr, "connected", False))

    def _manager(self) -> Any:
        if self._mgr is None:
            raise DeviceConnectError(self.name, "session is not open")
        return self._mgr

    # ------------------------------------------------------------------------------ errors
    def _translate(self, err: Exception, phase: str, scrub: _Scrubber) -> DeviceError:
        name = self.name
        if isinstance(err, DeviceError):
            return err
        if isinstance(err, nc_op_errors.TimeoutExpiredError):
            return DeviceTimeoutError(name, f"{phase}: no reply in time")
        if isinstance(err, nc_transport.TransportError):
            return DeviceConnectError(name, f"{phase}: session lost ({type(err).__name__})")
        if isinstance(err, nc_rpc.RPCError):
            tag = getattr(err, "tag", None) or ""
            message = scrub(getattr(err, "message", None) or tag or "rpc-error")
            if tag in ("lock-denied", "in-use") or phase == "lock":
                return DeviceLockError(name, f"configuration lock refused: {message}")
            if tag == "access-denied":
                return DevicePermissionError(name, f"{phase}: access denied: {message}")
            if phase == "load":
                return DeviceLoadError(name, f"edit-config refused: {message}")
            if phase in ("commit", "validate"):
                return DeviceCommitError(name, f"{phase} failed: {message}")
            return DeviceReplyError(name, f"{phase}: rpc-error: {message}")
        if isinstance(err, IosxrReplyError | etree.XMLSyntaxError):
            return DeviceReplyError(name, f"{phase}: {scrub(err)}")
        return DeviceReplyError(name, f"{phase}: unexpected reply ({type(err).__name__})")

    def _call(self, phase: str, func: Callable[[Any], Any], scrub: _Scrubber | None = None) -> Any:
        mgr = self._manager()
        try:
            mgr.timeout = self._budget(phase)
            return func(mgr)
        except Exception as err:
            raise self._translate(err, phase, scrub or _Scrubber()) from None

    def _get_config(self, source: str, subtree: str) -> str:
        reply = self._call(
            "get-config", lambda m: m.get_config(source=source, filter=("subtree", subtree))
        )
        return _xml_text(reply)

    def _get(self, phase: str, subtree: str) -> str:
        return _xml_text(self._call(phase, lambda m: m.get(filter=("subtree", subtree))))

    # ----------------------------------------------------------------------------- config
    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        """``comment`` is logged only: IOS XR's NETCONF commit takes none."""
        started = time.monotonic()
        if changes.is_empty():
            return CommitResult(self.name, changed=False, diff_lines=0, seconds=0.0)
        if confirm_minutes is not None and not 1 <= confirm_minutes <= 65535:
            raise ValueError(f"confirm_minutes {confirm_minutes} is outside 1..65535")
        render(changes, False, {})  # refuses bad input before any I/O
        diff_lines = self._transaction(changes, commit=True, confirm_minutes=confirm_minutes)
        seconds = time.monotonic() - started
        log.debug("%s: %d diff lines, %.3fs (%s)", self.name, diff_lines, seconds, comment)
        return CommitResult(self.name, diff_lines > 0, diff_lines, seconds)

    def preview(self, changes: ChangeSet) -> int:
        if changes.is_empty():
            return 0
        render(changes, False, {})
        return self._transaction(changes, commit=False, confirm_minutes=None)

    def _transaction(self, changes: ChangeSet, *, commit: bool, confirm_minutes: int | None) -> int:
        secrets = changes.secrets()
        for secret in secrets:
            SECRETS.add(secret.reveal())
        scrub = _Scrubber(secrets)
        self._call("lock", lambda m: m.lock(target="candidate"), scrub)
        phase = "resolve"
        try:
            removals = self._removals(changes) if changes.remove_entries else {}
            text = render(changes, False, removals)
            log.debug("%s: loading\n%s", self.name, render(changes, True, removals))
            phase = "load"
            self._call(phase, lambda m: m.edit_config(target="candidate", config=text), scrub)
            phase = "diff"
            diff_lines = self._diff()
            if diff_lines and commit:
                phase = "commit"
                if confirm_minutes is not None:
                    seconds = str(confirm_minutes * 60)
                    self._call(phase, lambda m: m.commit(confirmed=True, timeout=seconds), scrub)
                else:
                    self._call(phase, lambda m: m.commit(), scrub)
            else:
                self._discard()
            return diff_lines
        except Exception as err:
            self._discard()
            raise self._translate(err, phase, scrub) from None
        finally:
            self._unlock()

    def _removals(self, changes: ChangeSet) -> Removals:
        """Each removed (chain, slot) → the CKN the candidate holds there (read under lock)."""
        found: dict[tuple[str, int], str] = {}
        for chain in {c for c, _ in changes.remove_entries}:
            name = xr.key_chain(chain)
            text = self._get_config("candidate", _chain_filter(name))
            for entry in parse_key_chain(text, name):
                found[(name, entry.slot)] = entry.ckn
        return found

    def _diff(self) -> int:
        total = 0
        for subtree in DIFF_FILTERS:
            running = _canonical(self._get_config("running", subtree))
            candidate = _canonical(self._get_config("candidate", subtree))
            total += _count_diff(running, candidate)
        return total

    def _discard(self) -> None:
        try:
            self._call("discard", lambda m: m.discard_changes())
        except DeviceDeadlineError:
            log.debug("%s: candidate left to the session's end (deadline passed)", self.name)
        except Exception as err:
            log.warning("%s: could not discard the candidate (%s)", self.name, type(err).__name__)

    def _unlock(self) -> None:
        try:
            self._call("unlock", lambda m: m.unlock(target="candidate"))
        except DeviceDeadlineError:
            log.debug("%s: lock left to the session's end (deadline passed)", self.name)
        except Exception as err:
            log.warning("%s: could not unlock the candidate (%s)", self.name, type(err).__name__)

    def confirm_commit(self, *, comment: str) -> None:
        """A plain commit confirms a pending confirmed commit (RFC 6241 §8.4)."""
        self._call("commit", lambda m: m.commit())

    def commit_check(self) -> bool:
        """Lock, ``validate`` the unchanged candidate, unlock."""
        self._call("lock", lambda m: m.lock(target="candidate"))
        try:
            self._call("validate", lambda m: m.validate(source="candidate"))
        finally:
            self._unlock()
        return True

    # ------------------------------------------------------------------------------- reads
    def device_time(self) -> DeviceClock:
        text = self._get("clock", CLOCK_FILTER)
        clock: DeviceClock = self._call("clock", lambda _m: parse_clock(text))
        return clock

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        """The chain's keys, each ``start_time`` the instant it denotes (UTC). IOS XR keeps a
        lifetime start as wall-clock time in the router's zone with no offset (the parser reads
        the fields as they are), so it is converted from the zone the router's clock reports in
        the same session — as the offset in a Junos read-back does it there."""
        name = xr.key_chain(chain)
        text = self._get_config("running", _chain_filter(name))
        entries: list[ChainEntryState] = self._call(
            "get-config", lambda _m: parse_key_chain(text, name)
        )
        if not entries:
            return entries
        clock = self.device_time()
        return [
            dataclasses.replace(e, start_time=_wall_to_utc(e.start_time, clock)) for e in entries
        ]

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        wanted = None if interfaces is None else {xr.interface_identity(i) for i in interfaces}
        text = self._get("mka", MKA_FILTER)
        sessions: list[MkaSessionState] = self._call("mka", lambda _m: parse_mka_sessions(text))
        return [
            s for s in sessions if wanted is None or xr.interface_identity(s.interface) in wanted
        ]

    def macsec_bindings(self) -> dict[str, str]:
        text = self._get_config("running", INTERFACES_FILTER)
        bindings: dict[str, str] = self._call("get-config", lambda _m: parse_bindings(text))
        return bindings

    def facts(self) -> DeviceFacts:
        """IOS XR over NETCONF: the host name from the SSH banner is not exposed; the session's
        server capabilities name the software (no recorded reply yet: research note)."""
        mgr = self._manager()
        caps = " ".join(getattr(mgr, "server_capabilities", []) or [])
        version = "unknown"
        marker = "Cisco-IOS-XR-"
        if marker in caps:
            version = "IOS XR"
        return DeviceFacts(hostname=self.target.name, model="IOS XR", version=version)

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        """Configured interfaces (``interface-configurations``); operational state unread."""
        text = self._get_config("running", INTERFACES_FILTER)
        present: dict[str, bool] = self._call(
            "get-config", lambda _m: parse_configured_interfaces(text)
        )
        return {
            name: InterfaceState(name, exists=name in present, admin_up=present.get(name))
            for name in names
        }

    def ntp_status(self) -> NtpState:
        """From ``system-time/clock/time-source`` [S14]: ``ntp`` means synchronised."""
        text = self._get("clock", CLOCK_FILTER)
        source: str | None = self._call("clock", lambda _m: parse_time_source(text))
        return NtpState(
            synchronised=source == "ntp",
            leap=None,
            sync_source=source,
            stratum=None,
            offset_ms=None,
            raw_status=f"time-source {source or 'unknown'}",
        )

    def macsec_capable(self) -> bool:
        try:
            self._get("mka", MKA_FILTER)
        except DeviceReplyError:
            return False
        return True

    def macsec_config(self) -> MacsecConfigState:
        bindings = self._get_config("running", INTERFACES_FILTER)
        policies = self._get_config("running", POLICIES_FILTER)
        state: MacsecConfigState = self._call(
            "get-config",
            lambda _m: MacsecConfigState(
                cas=parse_policies(policies, bindings), bindings=parse_bindings(bindings)
            ),
        )
        return state


def _chain_filter(chain: str) -> str:
    return (
        f'<mac-sec-keychains xmlns="{KEYCHAIN_NS}"><mac-sec-keychain>'
        f"<chain-name>{chain}</chain-name></mac-sec-keychain></mac-sec-keychains>"
    )


def _wall_to_utc(start: datetime, clock: DeviceClock) -> datetime:
    """A start read as the router's wall clock (labelled UTC by the parser) -> its instant."""
    wall = start.replace(tzinfo=None)
    if clock.zone is not None and clock.zone != "UTC":
        return wall.replace(tzinfo=ZoneInfo(clock.zone)).astimezone(UTC)
    return (wall - clock.utc_offset).replace(tzinfo=UTC)
