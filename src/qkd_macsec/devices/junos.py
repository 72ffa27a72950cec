"""The Junos driver: the :class:`~qkd_macsec.devices.base.Driver` contract mapped onto PyEZ.

A thin I/O layer: names are validated and lines rendered by ``junos_render``, replies parsed by
``junos_parse``; this module opens the session, runs the lock → load → diff → commit → unlock
sequence and translates PyEZ/ncclient exceptions into the ``DeviceError`` tree.

Host keys: PyEZ passes ``hostkey_verify`` and an OpenSSH ``ssh_config`` path to ncclient, which
loads the ``UserKnownHostsFile`` named there and refuses a server key not found in it for
``host`` or ``[host]:port``. The driver writes a private one-host ``ssh_config`` naming the
target's ``known_hosts`` (so ``~/.ssh/config`` and ``~/.ssh/known_hosts`` never apply),
deleted as soon as the session is up.

Secrets: every CAK a change set carries is registered with the log redaction registry before the
RPC is sent, ncclient/paramiko loggers (which log whole RPCs at DEBUG) are capped at WARNING with
the redaction filter, and exception texts from the device are scrubbed and never chained.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paramiko  # type: ignore[import-untyped]
from jnpr.junos import Device
from jnpr.junos import exception as ez
from jnpr.junos.utils.config import Config
from lxml import etree
from ncclient.operations import rpc as _nc_rpc  # noqa: F401  (creates its logger now)
from ncclient.transport import errors as nc_transport
from ncclient.transport import session as nc_session
from ncclient.transport import ssh as _nc_ssh  # noqa: F401  (creates its logger now)

from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceAuthError,
    DeviceClock,
    DeviceCommitError,
    DeviceCommitUncertainError,
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
from qkd_macsec.devices.junos_names import validate_interface_name, validate_key_chain_name
from qkd_macsec.devices.junos_options import DEFAULT_PORT, JunosTargetOptions
from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    count_diff_lines,
    key_chain_filter,
    macsec_filter,
    macsec_interfaces_filter,
    parse_commit_confirm_pending,
    parse_device_clock,
    parse_interface_information,
    parse_key_chain,
    parse_macsec_bindings,
    parse_macsec_config,
    parse_mka_sessions,
    parse_ntp_status,
    parse_software_information,
    parse_time_zone,
    time_zone_filter,
)
from qkd_macsec.devices.junos_render import MASK, render_set, render_set_masked
from qkd_macsec.devices.ssh_posture import (
    enforce_ssh_policy,
    measure_session,
    prefer_aes256_ciphers,
    pyez_transport,
    record_negotiated_kex,
)
from qkd_macsec.devices.transport_safety import (
    ErrorScrubber,
    cap_transport_loggers,
    exception_chain,
    rpc_budget,
)
from qkd_macsec.obs.logging import SECRETS, get_logger
from qkd_macsec.posture import HopPosture
from qkd_macsec.secret import Secret

__all__ = ["JunosDriver", "quiet_transport_loggers"]

log = get_logger("devices.junos")

#: Loggers of the transport libraries: ncclient logs every RPC and reply in full at DEBUG.
TRANSPORT_LOGGERS = ("ncclient", "paramiko", "jnpr")
#: Warnings ignored BY NAME (PyEZ's ``ignore_warning``: each pattern is a case-insensitive
#: regex; the call still raises when any warning matches none, or any error is present).
#: Load: deleting an absent statement warns "statement not found" (field evidence §6); removal
#: of a pruned key is idempotent, so that warning is harmless.
IGNORED_LOAD_WARNINGS = ["statement not found"]
#: Commit: a CKN shorter than 64 hex digits is committed with mgd's MACSEC_CKN_LENGTH_WARNING
#: (field evidence §4: "recommend configuring all 64 hexadecimal digits of pre-shared-key ckn");
#: the commit took effect, so it must not read as a failure.
IGNORED_COMMIT_WARNINGS = ["recommend configuring all 64 hexadecimal digits"]
_MAX_MESSAGE = 400
_DOLLAR9 = re.compile(r"\$9\$[^\s\"';]+")
#: The shortest RPC timeout a deadline leaves (below it an RPC is refused as too late).
#: How long ``close`` waits for the close-session reply once the deadline has passed.
CLOSE_AFTER_DEADLINE_S = 0.5


#: ncclient's session thread sends a queued RPC only when its select() times out, every TICK
#: seconds (0.1 by default): up to 100 ms added to every RPC. 10 ms keeps a wave's sessions
#: short at the price of a few hundred idle wake-ups per second per open session.
NCCLIENT_TICK_S = 0.01
nc_session.TICK = NCCLIENT_TICK_S


_known_hosts_lock = threading.Lock()
_known_hosts_cache: dict[str, tuple[tuple[int, int], paramiko.HostKeys]] = {}


def host_key_lines(known_hosts: Path, host: str, port: int) -> str:
    """The known_hosts lines for one target (``host`` and ``[host]:port``, hashed entries
    included), from a parsed copy of the file cached until it changes.

    paramiko parses the whole file on every connect: with one shared file for hundreds of
    routers that is most of a session's CPU. Each session now parses a file of one or two lines.
    """
    resolved = known_hosts.resolve()
    stat = resolved.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _known_hosts_lock:
        cached = _known_hosts_cache.get(str(resolved))
        if cached is None or cached[0] != stamp:
            keys = paramiko.HostKeys()
            keys.load(str(resolved))
            cached = _known_hosts_cache[str(resolved)] = (stamp, keys)
        keys = cached[1]
        lines = [
            f"{pattern} {keytype} {key.get_base64()}"
            for pattern in (host, f"[{host}]:{port}")
            for keytype, key in (keys.lookup(pattern) or {}).items()
        ]
    return "".join(f"{line}\n" for line in lines)


def quiet_transport_loggers() -> None:
    """Cap the transport libraries' loggers at WARNING and attach the redaction filter
    (idempotent; run again after each connect, as loggers are created on first use)."""
    cap_transport_loggers(TRANSPORT_LOGGERS)


class _Scrubber(ErrorScrubber):
    """Junos exception text made safe to show: also ``$9$…`` secrets (field evidence §1:
    obfuscated, not encrypted)."""

    def __init__(self, secrets: Sequence[Secret] = ()) -> None:
        super().__init__(
            secrets, patterns=((_DOLLAR9, "$9$" + MASK),), max_chars=_MAX_MESSAGE, mask=MASK
        )


_causes = exception_chain


def _only_warnings(err: ez.RpcError) -> bool:
    """Every ``<rpc-error>`` in the reply has severity warning (so the commit went through)."""
    errs = err.errs if isinstance(err.errs, list) else [err.rpc_error]
    severities = [str(e.get("severity") or "").strip().lower() for e in errs if isinstance(e, dict)]
    return bool(severities) and all(s == "warning" for s in severities)


def _rpc_message(err: ez.RpcError) -> str:
    parts = [str(err.message or "").strip()]
    details = err.rpc_error if isinstance(err.rpc_error, dict) else {}
    for key in ("edit_path", "bad_element"):
        value = details.get(key)
        if value:
            parts.append(f"{key.replace('_', '-')}: {value}")
    return "; ".join(part for part in parts if part) or type(err).__name__


class JunosDriver:
    """PyEZ-backed driver for one Junos device. One thread at a time (see ``Driver``)."""

    platform = "junos"

    def __init__(
        self,
        target: DeviceTarget,
        *,
        device_factory: Callable[..., Any] = Device,
        config_factory: Callable[[Any], Any] = Config,
    ) -> None:
        quiet_transport_loggers()
        prefer_aes256_ciphers()
        record_negotiated_kex()
        self.target = target
        #: What the current (or last) SSH session negotiated; None before the first open.
        self.posture: HopPosture | None = None
        self._device_factory = device_factory
        self._config_factory = config_factory
        self._dev: Any = None
        self._known_hosts_copy: Path | None = None
        self._deadline: float | None = None
        self._rpc_timeout = target.timeout
        if target.password is not None:
            SECRETS.add(target.password.reveal_text())

    def __repr__(self) -> str:
        return f"JunosDriver({self.target.name}@{self.target.host}:{self.port})"

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def port(self) -> int:
        return self.target.port if self.target.port is not None else DEFAULT_PORT

    def render(self, changes: ChangeSet) -> str:
        return render_set_masked(changes)

    # ------------------------------------------------------------------------------ deadline
    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline
        if self._dev is not None and deadline is None:
            self._set_rpc_timeout(self.target.timeout)  # each RPC re-arms from the deadline

    def _budget(self, phase: str) -> float:
        """The timeout for the next RPC: the target's, or the time left before the deadline."""
        return rpc_budget(self.name, phase, self.target.timeout, self._deadline)

    def _set_rpc_timeout(self, seconds: float) -> None:
        """PyEZ's ``Device.timeout`` setter truncates to whole seconds (0 for a deadline 0.9 s
        away); ncclient's manager takes the float as is."""
        self._rpc_timeout = seconds
        dev = self._dev
        conn = getattr(dev, "_conn", None)
        if conn is not None and hasattr(conn, "timeout"):
            conn.timeout = seconds
        elif dev is not None:
            dev.timeout = seconds

    def _arm(self, phase: str) -> None:
        """Before each RPC: fit its timeout into what is left of the deadline."""
        if self._deadline is not None:
            self._set_rpc_timeout(self._budget(phase))

    # ------------------------------------------------------------------------------- session
    def open(self) -> None:
        if self.is_alive():
            return
        self.close()
        target = self.target
        kwargs: dict[str, Any] = {
            "host": target.host,
            "port": self.port,
            "user": target.user,
            "gather_facts": _target_options(target).gather_facts,
            "conn_open_timeout": max(1, math.ceil(self._budget("open"))),
            "look_for_keys": False,
            "allow_agent": False,
            "auto_probe": 0,
        }
        if target.password is not None:
            kwargs["passwd"] = target.password.reveal_text()
        if target.ssh_key is not None:
            kwargs["ssh_private_key_file"] = str(target.ssh_key)
        if target.insecure_host_keys:
            log.warning("%s: SSH host key NOT verified (insecure_host_keys is set)", target.name)
        elif target.known_hosts is None or not target.known_hosts.is_file():
            raise DeviceHostKeyError(
                target.name, f"known_hosts file {target.known_hosts} not found"
            )
        kwargs["hostkey_verify"] = not target.insecure_host_keys
        ssh_config = self._write_ssh_config()
        kwargs["ssh_config"] = str(ssh_config)
        try:
            dev = self._device_factory(**kwargs)
            dev.open()
            dev.timeout = target.timeout
            self._dev = dev
            self._arm("open")
            quiet_transport_loggers()
        except DeviceDeadlineError:
            self.close()
            raise
        except Exception as err:
            self._dev = None
            raise self._connect_error(err) from None
        finally:
            ssh_config.unlink(missing_ok=True)  # read only while connecting
            if self._known_hosts_copy is not None:
                self._known_hosts_copy.unlink(missing_ok=True)
                self._known_hosts_copy = None
        self._dev = dev
        self._judge_transport(dev)
        log.debug("%s: NETCONF session open to %s:%d", target.name, target.host, self.port)

    def _judge_transport(self, dev: Any) -> None:
        """Record the session's posture; under pq-required close a classical one before any
        RPC is sent (``ssh_posture``)."""
        posture = measure_session(pyez_transport(dev), self.target)
        if posture is not None:
            self.posture = posture
            enforce_ssh_policy(posture, self.target, self.close)

    def _write_ssh_config(self) -> Path:
        """A private ssh_config: one ``Host *`` block naming a private known_hosts file that
        holds only this target's entries, taken from the target's known_hosts file."""
        lines = ["Host *"]
        if self.target.known_hosts is not None and not self.target.insecure_host_keys:
            entries = host_key_lines(self.target.known_hosts, self.target.host, self.port)
            fd, known = tempfile.mkstemp(prefix="qkd-macsec-known-", suffix=".hosts")
            with os.fdopen(fd, "w") as handle:
                handle.write(entries)
            self._known_hosts_copy = Path(known)
            lines += [f'  UserKnownHostsFile "{known}"', "  StrictHostKeyChecking yes"]
        fd, name = tempfile.mkstemp(prefix="qkd-macsec-ssh-", suffix=".conf")
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return Path(name)

    def _connect_error(self, err: Exception) -> DeviceError:
        target = self.target
        where = f"{target.host}:{self.port}"
        causes = _causes(err)
        if any(isinstance(c, nc_transport.SSHUnknownHostError) for c in causes):
            return DeviceHostKeyError(
                target.name,
                f"host key of {where} is unknown or has CHANGED "
                f"(not in {target.known_hosts}); refusing to connect",
            )
        if isinstance(err, ez.ConnectAuthError) or any(
            isinstance(c, nc_transport.AuthenticationError) for c in causes
        ):
            return DeviceAuthError(target.name, f"authentication as {target.user!r} refused")
        if isinstance(err, ez.ConnectTimeoutError | ez.ProbeError):
            return DeviceUnreachableError(target.name, f"{where} timed out")
        if isinstance(err, ez.ConnectUnknownHostError):
            return DeviceUnreachableError(target.name, f"{target.host} does not resolve")
        if isinstance(err, ez.ConnectRefusedError) or any(
            isinstance(c, ConnectionRefusedError) for c in causes
        ):
            return DeviceUnreachableError(target.name, f"{where} refused the NETCONF session")
        detail = _Scrubber()(getattr(err, "_orig", None) or type(err).__name__)
        return DeviceConnectError(target.name, f"cannot open NETCONF to {where}: {detail}")

    def close(self) -> None:
        """Close the session; past the deadline, wait briefly for the reply and then drop the
        transport (a device still busy with a commit answers nothing until it is done)."""
        dev, self._dev = self._dev, None
        if dev is None:
            return
        conn = getattr(dev, "_conn", None)
        if self._deadline is not None and conn is not None and hasattr(conn, "timeout"):
            left = self._deadline - time.time()
            conn.timeout = max(CLOSE_AFTER_DEADLINE_S, min(self.target.timeout, left))
        try:
            dev.close()
        except Exception as err:
            log.debug("%s: error while closing: %s", self.name, type(err).__name__)
        session = getattr(conn, "_session", None)
        try:
            if session is not None and getattr(session, "connected", False):
                session.close()  # close-session got no reply: drop the SSH transport
        except Exception as err:
            log.debug("%s: error dropping the transport: %s", self.name, type(err).__name__)

    def is_alive(self) -> bool:
        dev = self._dev
        if dev is None or not getattr(dev, "connected", False):
            return False
        conn = getattr(dev, "_conn", None)
        return conn is None or bool(getattr(conn, "connected", True))

    def _device(self) -> Any:
        if self._dev is None:
            raise DeviceConnectError(self.name, "session is not open")
        return self._dev

    # ------------------------------------------------------------------------------ errors
    def _translate(self, err: Exception, phase: str, scrub: _Scrubber) -> DeviceError:
        name = self.name
        if isinstance(err, DeviceError):
            return err
        if any(isinstance(c, ez.RpcTimeoutError) for c in _causes(err)):
            # PyEZ's Config.lock() re-raises a timeout as LockError: say it was no refusal,
            # but keep the type (no lock, so nothing was loaded or committed).
            silent = f"{phase}: no reply within {self._rpc_timeout:.3g}s"
            return (
                DeviceLockError(name, silent)
                if phase == "lock"
                else DeviceTimeoutError(name, silent)
            )
        if isinstance(err, ez.ConnectError) or any(
            isinstance(c, nc_transport.TransportError) for c in _causes(err)
        ):
            return DeviceConnectError(name, f"{phase}: session lost ({type(err).__name__})")
        if isinstance(err, ez.LockError):
            return DeviceLockError(name, f"configuration lock refused: {scrub(_rpc_message(err))}")
        if isinstance(err, ez.ConfigLoadError) or (
            isinstance(err, ez.RpcError) and phase == "load"
        ):
            return DeviceLoadError(name, f"load refused: {scrub(_rpc_message(err))}")
        if isinstance(err, ez.CommitError) or (isinstance(err, ez.RpcError) and phase == "commit"):
            if _only_warnings(err):
                return DeviceCommitUncertainError(
                    name, f"commit answered with warnings only: {scrub(_rpc_message(err))}"
                )
            return DeviceCommitError(name, f"commit failed: {scrub(_rpc_message(err))}")
        if isinstance(err, ez.RpcError):
            return DeviceReplyError(name, f"{phase}: rpc-error: {scrub(_rpc_message(err))}")
        if isinstance(err, MalformedReplyError):
            return DeviceReplyError(name, f"{phase}: {scrub(err)}")
        return DeviceReplyError(name, f"{phase}: unexpected reply ({type(err).__name__})")

    def _call(self, phase: str, func: Callable[[], Any], scrub: _Scrubber | None = None) -> Any:
        self._arm(phase)
        try:
            return func()
        except Exception as err:
            raise self._translate(err, phase, scrub or _Scrubber()) from None

    # ----------------------------------------------------------------------------- config
    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        started = time.monotonic()
        if changes.is_empty():
            return CommitResult(self.name, changed=False, diff_lines=0, seconds=0.0)
        if confirm_minutes is not None and not 1 <= confirm_minutes <= 65535:
            raise ValueError(f"confirm_minutes {confirm_minutes} is outside 1..65535")
        text = render_set(changes)  # refuses bad input before any I/O
        secrets = changes.secrets()
        for secret in secrets:
            SECRETS.add(secret.reveal())
        scrub = _Scrubber(secrets)
        log.debug("%s: loading\n%s", self.name, render_set_masked(changes))
        cu = self._config_factory(self._device())
        self._call("lock", cu.lock, scrub)
        try:
            diff_lines = self._load_and_commit(cu, text, comment, confirm_minutes, scrub)
        finally:
            self._unlock(cu)
        seconds = time.monotonic() - started
        log.debug("%s: %d diff lines, %.3fs", self.name, diff_lines, seconds)
        return CommitResult(self.name, diff_lines > 0, diff_lines, seconds)

    def _load_and_commit(
        self,
        cu: Any,
        text: str,
        comment: str | None,
        confirm_minutes: int | None,
        scrub: _Scrubber,
    ) -> int:
        """Load and diff; commit when there is a diff and a ``comment`` (None: preview only).
        The candidate is discarded on any failure."""
        phase = "load"
        try:
            self._arm(phase)
            cu.load(text, format="set", ignore_warning=IGNORED_LOAD_WARNINGS)
            phase = "diff"
            self._arm(phase)
            diff = cu.diff()
            diff_lines = count_diff_lines(diff)
            if diff_lines and comment is not None:
                phase = "commit"
                options: dict[str, Any] = {
                    "comment": comment,
                    "ignore_warning": IGNORED_COMMIT_WARNINGS,
                }
                if confirm_minutes is not None:
                    options["confirm"] = confirm_minutes
                self._arm(phase)
                cu.commit(**options)
            return diff_lines
        except Exception as err:
            self._discard(cu)
            raise self._translate(err, phase, scrub) from None

    def _discard(self, cu: Any) -> None:
        try:
            self._arm("rollback")
            cu.rollback(0)
        except DeviceDeadlineError:
            log.debug("%s: candidate left to the session's end (deadline passed)", self.name)
        except Exception as err:
            log.warning("%s: could not discard the candidate (%s)", self.name, type(err).__name__)

    def _unlock(self, cu: Any) -> None:
        try:
            self._arm("unlock")
            cu.unlock()
        except DeviceDeadlineError:
            log.debug("%s: lock left to the session's end (deadline passed)", self.name)
        except Exception as err:
            log.warning(
                "%s: could not unlock the configuration (%s)", self.name, type(err).__name__
            )

    def preview(self, changes: ChangeSet) -> int:
        if changes.is_empty():
            return 0
        text = render_set(changes)
        secrets = changes.secrets()
        for secret in secrets:
            SECRETS.add(secret.reveal())
        scrub = _Scrubber(secrets)
        cu = self._config_factory(self._device())
        self._call("lock", cu.lock, scrub)
        try:
            diff_lines = self._load_and_commit(cu, text, None, None, scrub)
            self._discard(cu)  # a preview never leaves its lines in the candidate
            return diff_lines
        finally:
            self._unlock(cu)

    def confirm_commit(self, *, comment: str) -> None:
        cu = self._config_factory(self._device())
        self._call("lock", cu.lock)
        try:
            self._call(
                "commit",
                lambda: cu.commit(comment=comment, ignore_warning=IGNORED_COMMIT_WARNINGS),
            )
        finally:
            self._unlock(cu)

    # ------------------------------------------------------------------------------ reads
    def device_time(self) -> DeviceClock:
        """The clock and zone offset from ``get-system-uptime-information`` (local text +
        ``junos:seconds``), and the configured ``system time-zone`` name (one more small
        get-configuration) so the engine can tell the offset at a future instant across DST."""
        reply = self._call("uptime", self._device().rpc.get_system_uptime_information)
        clock: DeviceClock = self._call("uptime", lambda: parse_device_clock(reply))
        zone_reply = self._get_config(time_zone_filter())
        zone: str | None = self._call("get-config", lambda: parse_time_zone(zone_reply))
        return DeviceClock(clock.now, clock.utc_offset, zone, resolution_s=clock.resolution_s)

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        name = validate_key_chain_name(chain)
        reply = self._get_config(key_chain_filter(name))
        entries: list[ChainEntryState] = self._call(
            "get-config", lambda: parse_key_chain(reply, name)
        )
        return entries

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        """Every CAK's MKA session, from the *detail* form: only it lists each CAK with its
        state (``session-live`` / ``session-cak``, evidence §3); the brief form names one CAK
        per interface. PyEZ returns ``True`` for an ``<rpc-reply>`` without children: no
        sessions."""
        wanted = None if interfaces is None else {validate_interface_name(i) for i in interfaces}
        rpc = self._device().rpc
        reply = self._call("mka", lambda: rpc.get_mka_session_information(detail=True))
        if reply is True:
            return []
        sessions: list[MkaSessionState] = self._call("mka", lambda: parse_mka_sessions(reply))
        return [s for s in sessions if wanted is None or s.interface in wanted]

    def macsec_bindings(self) -> dict[str, str]:
        reply = self._get_config(macsec_interfaces_filter())
        bindings: dict[str, str] = self._call("get-config", lambda: parse_macsec_bindings(reply))
        return bindings

    def _get_config(self, filter_xml: Any) -> Any:
        rpc = self._device().rpc
        return self._call(
            "get-config",
            lambda: rpc.get_config(
                filter_xml=filter_xml, options={"database": "committed", "format": "xml"}
            ),
        )

    # ------------------------------------------------------------------ preflight (read-only)
    def facts(self) -> DeviceFacts:
        reply = self._call("facts", self._device().rpc.get_software_information)
        facts: DeviceFacts = self._call("facts", lambda: parse_software_information(reply))
        return facts

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        """One ``show interfaces NAME terse`` per name. Junos answers an absent interface with
        an rpc-error "device NAME not found" (the CLI's ``error: device ge-0/0/0 not found``,
        seen on vQFX in public lab notes), which becomes ``exists=False`` here."""
        rpc = self._device().rpc
        states: dict[str, InterfaceState] = {}
        for name in names:
            validate_interface_name(name)
            try:
                reply = rpc.get_interface_information(interface_name=name, terse=True)
            except ez.RpcError as err:
                timed_out = any(isinstance(c, ez.RpcTimeoutError) for c in _causes(err))
                if not timed_out and "not found" in _rpc_message(err).lower():
                    states[name] = InterfaceState(name=name, exists=False)
                    continue
                raise self._translate(err, "interfaces", _Scrubber()) from None
            except Exception as err:
                raise self._translate(err, "interfaces", _Scrubber()) from None
            state: InterfaceState = self._call(
                "interfaces", functools.partial(parse_interface_information, reply, name)
            )
            states[name] = state
        return states

    def ntp_status(self) -> NtpState:
        reply = self._call("ntp", self._device().rpc.get_ntp_status)
        state: NtpState = self._call("ntp", lambda: parse_ntp_status(reply))
        return state

    def macsec_capable(self) -> bool:
        """Asks ``show security macsec connections``: a Junos without the feature refuses the
        RPC as an unknown one, ``rpc-error`` protocol/operation-failed "syntax error" with the
        RPC in ``bad-element`` (the shape Junos gives input it does not know: Juniper/netconf-perl
        issue #27; modelled in docs/simulator.md). Any other refusal raises."""
        try:
            self._device().rpc.get_macsec_connection_information()
        except ez.RpcError as err:
            timed_out = any(isinstance(c, ez.RpcTimeoutError) for c in _causes(err))
            details = err.rpc_error if isinstance(err.rpc_error, dict) else {}
            unknown = "syntax error" in _rpc_message(err).lower() or (
                details.get("bad_element") == "get-macsec-connection-information"
            )
            if unknown and not timed_out:
                return False
            raise self._translate(err, "macsec", _Scrubber()) from None
        except Exception as err:
            raise self._translate(err, "macsec", _Scrubber()) from None
        return True

    def macsec_config(self) -> MacsecConfigState:
        reply = self._get_config(macsec_filter())
        state: MacsecConfigState = self._call("get-config", lambda: parse_macsec_config(reply))
        return state

    def commit_check(self) -> bool:
        """Lock, ``commit check`` with nothing loaded, unlock (always). Nothing is committed:
        ``<commit-configuration><check/>`` only validates the candidate (JUNOS.md, PyEZ
        ``Config.commit_check``); with no change loaded the candidate is the active config.
        But ``commit check`` also confirms a pending ``commit confirmed`` (a Junos CLI tip
        recorded in public notes: "a commit check is enough to stop the rollback"), so the
        commit history is read first, under the lock, and nothing is checked if one may be
        pending."""
        cu = self._config_factory(self._device())
        phase = "lock"
        try:
            cu.lock()
            try:
                phase = "commit-information"
                reply = self._device().rpc.get_commit_information()
                if parse_commit_confirm_pending(reply):
                    return False
                phase = "commit"
                cu.commit_check()
            finally:
                self._unlock(cu)
        except Exception as err:
            if _permission_denied(err):
                raise DevicePermissionError(
                    self.name,
                    f"{phase}: the login may not commit ({_Scrubber()(_any_message(err))})",
                ) from None
            raise self._translate(err, phase, _Scrubber()) from None
        return True


#: Junos' answer to a login whose class lacks the ``configure`` permission.
def _target_options(target: DeviceTarget) -> JunosTargetOptions:
    options = target.options
    return options if isinstance(options, JunosTargetOptions) else JunosTargetOptions()


_PERMISSION_WORDS = ("permission denied", "access denied", "not authorized", "access-denied")


def _any_message(err: BaseException) -> str:
    return _rpc_message(err) if isinstance(err, ez.RpcError) else str(err)


def _permission_denied(err: BaseException) -> bool:
    for cause in _causes(err):
        text = _any_message(cause).lower()
        if isinstance(cause, ez.RpcError) and cause.rsp is not None:
            text += " " + _etree_text(cause.rsp).lower()
        if any(word in text for word in _PERMISSION_WORDS):
            return True
    return False


def _etree_text(node: Any) -> str:
    """All text and tags of an lxml element (to match an error-tag), never raising."""
    try:
        return str(etree.tostring(node, encoding="unicode"))
    except Exception:
        return ""
