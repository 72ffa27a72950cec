"""The Cisco NX-OS driver: the :class:`~qkd_macsec.devices.base.Driver` contract over NX-API
(JSON-RPC over HTTPS, ``POST /ins``) with httpx.

A thin I/O layer: names and commands come from ``nxos_names`` / ``nxos_render``, replies are
read by ``nxos_parse``. Sources: ``docs/vendors-research.md`` §2 — NX-API CLI carries show and
configuration commands and answers JSON-RPC 2.0 batches of ``{"method": "cli" | "cli_ascii",
"params": {"cmd", "version": 1}}`` posted as ``application/json-rpc`` [S28][S29][S30][S31];
MACsec key chains, the rollover and the UTC lifetimes [S19][S20][S25]; MKA state [S27].

Atomic change (research Q7): NX-OS configuration sessions — ``configure session NAME``, the
commands, ``verify``, ``commit`` (atomic: a failure reverts to the original configuration) or
``abort`` [S39]. One change is one JSON-RPC batch, so the session never outlives the request
that opened it unless the request dies; each batch therefore starts by entering and aborting
our own session name (a crashed run's leftovers are dropped, never committed). The Junos
discipline maps onto it as: *lock* = opening our named session (a refusal is
:class:`DeviceLockError`; the simulator refuses while another session is open, stricter than
NX-OS, which allows up to 32 [S40]); *load* = the commands inside it; *diff* =
the commands :func:`~qkd_macsec.devices.nxos_render.render_plan` derives against the running
configuration read at the start (NX-OS shows no candidate diff); *commit* = ``verify`` +
``commit``; *unlock/discard* = ``abort`` on any failure. Some platform guides restrict
configuration sessions to ACLs [S40]; a device that refuses MACsec commands in a session
answers with an error the driver reports as a load failure, having changed nothing.

TLS: httpx over :mod:`qkd_macsec.hybrid_tls` (pyOpenSSL on the OpenSSL inside
``cryptography``: X25519MLKEM768 offered first, X25519 / P-256 as fallback, TLS >= 1.2,
AES-256-GCM first), verification always on — chain against the target's ``tls_ca`` bundle
(or the system's trust store), host name by ``service_identity`` — with no way to turn it off.
Each connection's negotiated group, cipher and version is its posture
(``HopPosture(kind="tls")``), told to ``DeviceTarget.on_posture`` and judged by the target's
``tls_policy`` (``policy.transport.tls``, which governs every TLS hop: KMEs and NX-API)
between the handshake and the first request byte (``hop_policy``): under ``pq-required`` a
classical switch is refused with :class:`DeviceTransportPolicyError` before any RPC.
NX-API's backend is nginx (Cisco Nexus 9000 NX-OS Programmability Guide 7.x / 10.1(x),
"About NX-API CLI"); whether it offers a hybrid group depends on its OpenSSL build, so the
posture is measured, never assumed. Credentials: HTTP basic auth with the
password resolved at connect time, registered with the log redaction registry; httpx and
httpcore loggers are capped at WARNING; device error texts are scrubbed and never chained.

Lifetimes are written in UTC (NX-OS reads them in UTC unless a chain says ``local`` [S25]);
:meth:`device_time` reads ``show clock`` and the configured zone lines to know the instant.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Sequence
from typing import Any

import httpx
from OpenSSL import SSL

from qkd_macsec.devices import nxos_names as nx
from qkd_macsec.devices.base import (
    ChainEntryState,
    ChangeSet,
    CommitResult,
    DeviceAuthError,
    DeviceClock,
    DeviceCommitError,
    DeviceConnectError,
    DeviceError,
    DeviceFacts,
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DevicePermissionError,
    DeviceReplyError,
    DeviceTarget,
    DeviceTimeoutError,
    DeviceTransportPolicyError,
    DeviceUnreachableError,
    InterfaceState,
    MacsecConfigState,
    MkaSessionState,
    NtpState,
)
from qkd_macsec.devices.hop_policy import enforce_transport_policy, report_posture
from qkd_macsec.devices.nxos_config import NxosReplyError, parse_running
from qkd_macsec.devices.nxos_parse import (
    parse_bindings,
    parse_clock,
    parse_key_chain,
    parse_mka_sessions,
    parse_policies,
    parse_time_source,
)
from qkd_macsec.devices.nxos_render import MASK, render, render_masked, render_plan
from qkd_macsec.devices.target_driver import TargetDriver
from qkd_macsec.devices.transport_safety import (
    ErrorScrubber,
    cap_transport_loggers,
    exception_chain,
)
from qkd_macsec.hybrid_tls import TlsSetupError, anonymous_client_context
from qkd_macsec.hybrid_tls.sync_http import SyncHybridTlsBackend, SyncHybridTlsTransport
from qkd_macsec.obs.logging import SECRETS, get_logger
from qkd_macsec.posture import HopPosture
from qkd_macsec.secret import Secret

__all__ = ["SESSION_NAME", "NxosDriver"]

log = get_logger("devices.nxos")

TRANSPORT_LOGGERS = ("httpx", "httpcore")
SESSION_NAME = "qkd-macsec"
_MAX_MESSAGE = 300
_CONTENT_TYPE = "application/json-rpc"
RUNNING = "show running-config"
CLOCK = "show clock"
MKA = "show macsec mka session details"


class _Scrubber(ErrorScrubber):
    def __init__(self, secrets: Sequence[Secret] = ()) -> None:
        super().__init__(secrets, max_chars=_MAX_MESSAGE, mask=MASK)


class _CommandError(Exception):
    """A JSON-RPC error for the command at ``index`` of a batch (message unscrubbed)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _tls_context(target: DeviceTarget) -> SSL.Context:
    """Verification on (chain here, host name after the handshake), TLS >= 1.2, the hybrid
    group first; the target's CA bundle or the system's."""
    return anonymous_client_context(target.tls_ca)


def _url(target: DeviceTarget, port: int) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"https://{host}:{port}/ins"


class NxosDriver(TargetDriver):
    """httpx-backed NX-API driver for one NX-OS switch. One thread at a time (see ``Driver``)."""

    DEFAULT_PORT = nx.DEFAULT_PORT

    platform = "nxos"

    def __init__(self, target: DeviceTarget) -> None:
        cap_transport_loggers(TRANSPORT_LOGGERS)
        super().__init__(target)
        self._client: httpx.Client | None = None

    def render(self, changes: ChangeSet) -> str:
        return render_masked(changes)

    # ------------------------------------------------------------------------------- session
    def open(self) -> None:
        if self.is_alive():
            return
        self.close()
        target = self.target
        budget = self._budget("open")
        if target.password is None:
            raise DeviceAuthError(target.name, "NX-API needs a password (basic auth)")
        try:
            context = _tls_context(target)
        except TlsSetupError as err:
            raise DeviceConnectError(target.name, f"cannot load the TLS CA bundle: {err}") from None
        backend = SyncHybridTlsBackend(
            context,
            peer_label=f"{target.name} ({target.host}:{self.port})",
            on_handshake=self._on_handshake,
        )
        self._client = httpx.Client(
            transport=SyncHybridTlsTransport(backend, limits=httpx.Limits(max_connections=1)),
            auth=httpx.BasicAuth(target.user, target.password.reveal_text()),
            timeout=budget,
            headers={"content-type": _CONTENT_TYPE},
            trust_env=False,
        )
        try:
            self._batch("open", [CLOCK], method="cli_ascii")
        except DeviceError:
            self.close()
            raise
        cap_transport_loggers(TRANSPORT_LOGGERS)
        log.debug("%s: NX-API reachable at %s:%d", target.name, target.host, self.port)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.close()
        except Exception as err:
            log.debug("%s: error while closing: %s", self.name, type(err).__name__)

    def is_alive(self) -> bool:
        return self._client is not None and not self._client.is_closed

    def _on_handshake(self, posture: HopPosture) -> None:
        """Each new NX-API connection, after its handshake and before its first request byte:
        record the posture, then let ``policy.transport.tls`` refuse it: the
        :class:`DeviceTransportPolicyError` passes through httpx, which closes the connection,
        and :meth:`_post` drops the client."""
        self.posture = posture
        report_posture(posture, self.target)
        enforce_transport_policy(posture, self.target, close=lambda: None)

    # ------------------------------------------------------------------------------ JSON-RPC
    def _post(self, phase: str, body: list[dict[str, Any]]) -> Any:
        client = self._client
        if client is None:
            raise DeviceConnectError(self.name, "session is not open")
        where = f"{self.target.host}:{self.port}"
        try:
            reply = client.post(
                _url(self.target, self.port), json=body, timeout=self._budget(phase)
            )
        except httpx.TimeoutException:
            if phase == "open":
                raise DeviceUnreachableError(self.name, f"{where} timed out") from None
            raise DeviceTimeoutError(self.name, f"{phase}: no reply in time") from None
        except httpx.TransportError as err:
            raise self._transport_error(err, phase) from None
        except DeviceTransportPolicyError:
            self.close()  # the refused connection is closed; no request was sent on it
            raise
        if reply.status_code == 401:
            raise DeviceAuthError(self.name, f"authentication as {self.target.user!r} refused")
        if reply.status_code == 403:
            raise DevicePermissionError(self.name, f"{phase}: NX-API refused the request (403)")
        try:
            return reply.json()
        except ValueError:
            raise DeviceReplyError(
                self.name, f"{phase}: HTTP {reply.status_code}, not a JSON-RPC reply"
            ) from None

    def _transport_error(self, err: Exception, phase: str) -> DeviceError:
        where = f"{self.target.host}:{self.port}"
        causes = exception_chain(err)
        if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
            reason = next(
                (
                    getattr(c, "verify_message", None) or "certificate verify failed"
                    for c in causes
                    if isinstance(c, ssl.SSLCertVerificationError)
                ),
                "",
            )
            return DeviceHostKeyError(
                self.name, f"TLS certificate of {where} not trusted ({reason}); refusing"
            )
        if any(isinstance(c, ssl.SSLError) for c in causes):
            return DeviceConnectError(self.name, f"TLS with {where} failed")
        if phase == "open" or isinstance(err, httpx.ConnectError):
            return DeviceUnreachableError(
                self.name, f"{where} refused NX-API ({type(err).__name__})"
            )
        return DeviceConnectError(self.name, f"{phase}: connection lost ({type(err).__name__})")

    def _batch(self, phase: str, commands: Sequence[str], *, method: str = "cli") -> list[Any]:
        """Run ``commands`` as one JSON-RPC batch; each result in order. The first command
        answering an error raises :class:`_CommandError` (index, message)."""
        body = [
            {"jsonrpc": "2.0", "method": method, "params": {"cmd": cmd, "version": 1}, "id": i + 1}
            for i, cmd in enumerate(commands)
        ]
        reply = self._post(phase, body)
        items = reply if isinstance(reply, list) else [reply]
        by_id: dict[int, Any] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise DeviceReplyError(self.name, f"{phase}: malformed JSON-RPC reply")
            by_id[item["id"]] = item
        results: list[Any] = []
        for index in range(len(commands)):
            item = by_id.get(index + 1)
            if item is None:
                raise _CommandError(index, "no answer (an earlier command failed)")
            error = item.get("error")
            if error is not None:
                data = error.get("data") if isinstance(error, dict) else None
                message = (data.get("msg") if isinstance(data, dict) else None) or (
                    error.get("message") if isinstance(error, dict) else str(error)
                )
                raise _CommandError(index, str(message))
            results.append(item.get("result"))
        return results

    def _show(self, phase: str, commands: Sequence[str]) -> list[str]:
        """Show commands as text (``cli_ascii``)."""
        try:
            results = self._batch(phase, commands, method="cli_ascii")
        except _CommandError as err:
            raise DeviceReplyError(self.name, f"{phase}: {_Scrubber()(err)}") from None
        texts = []
        for result in results:
            msg = result.get("msg") if isinstance(result, dict) else None
            if not isinstance(msg, str):
                raise DeviceReplyError(self.name, f"{phase}: reply carries no text")
            texts.append(msg)
        return texts

    def _parsed(self, phase: str, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except (NxosReplyError, ValueError) as err:
            raise DeviceReplyError(self.name, f"{phase}: {_Scrubber()(err)}") from None

    # ----------------------------------------------------------------------------- config
    def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        """``comment`` is logged only (a configuration session takes none). NX-OS sessions
        have no confirmed commit: ``confirm_minutes`` is refused before any I/O."""
        started = time.monotonic()
        if changes.is_empty():
            return CommitResult(self.name, changed=False, diff_lines=0, seconds=0.0)
        if confirm_minutes is not None:
            raise ValueError("NX-OS configuration sessions have no confirmed commit")
        render(changes, False)  # refuses bad input before any I/O
        diff_lines = self._transaction(changes, commit=True)
        seconds = time.monotonic() - started
        log.debug("%s: %d diff lines, %.3fs (%s)", self.name, diff_lines, seconds, comment)
        return CommitResult(self.name, diff_lines > 0, diff_lines, seconds)

    def preview(self, changes: ChangeSet) -> int:
        if changes.is_empty():
            return 0
        render(changes, False)
        return self._transaction(changes, commit=False)

    def _transaction(self, changes: ChangeSet, *, commit: bool) -> int:
        secrets = changes.secrets()
        for secret in secrets:
            SECRETS.add(secret.reveal())
        scrub = _Scrubber(secrets)
        (running,) = self._show("read", [RUNNING])
        current = self._parsed("read", parse_running, running)
        plan = render_plan(changes, False, current)
        if plan.changed == 0:
            return 0
        log.debug("%s: loading\n%s", self.name, render_plan(changes, True, current).text)
        opener = f"configure session {SESSION_NAME}"
        commands = [opener, "abort", opener, *(line.strip() for line in plan.lines)]
        load_end = len(commands)
        commands += ["verify", "commit" if commit else "abort"]
        try:
            self._batch("commit" if commit else "verify", commands)
        except _CommandError as err:
            self._abort()
            message = scrub(err)
            if err.index < 3:
                raise DeviceLockError(
                    self.name, f"configuration session refused: {message}"
                ) from None
            if err.index < load_end:
                raise DeviceLoadError(self.name, f"command refused: {message}") from None
            raise DeviceCommitError(self.name, f"verify/commit failed: {message}") from None
        except DeviceError:
            self._abort()
            raise
        return plan.changed

    def _abort(self) -> None:
        """Drop our configuration session (best effort: a dead device keeps nothing)."""
        try:
            self._batch("abort", [f"configure session {SESSION_NAME}", "abort"])
        except Exception as err:
            log.debug("%s: could not abort the session (%s)", self.name, type(err).__name__)

    def confirm_commit(self, *, comment: str) -> None:
        """Nothing to confirm: :meth:`apply` never leaves a confirmed commit pending."""

    def commit_check(self) -> bool:
        """Open our session, ``verify`` it empty, ``abort``: proves the login may configure."""
        try:
            self._batch(
                "validate",
                [
                    f"configure session {SESSION_NAME}",
                    "abort",
                    f"configure session {SESSION_NAME}",
                    "verify",
                    "abort",
                ],
            )
        except _CommandError as err:
            self._abort()
            raise DevicePermissionError(
                self.name, f"may not configure: {_Scrubber()(err)}"
            ) from None
        return True

    # ------------------------------------------------------------------------------- reads
    def device_time(self) -> DeviceClock:
        clock, running = self._show("clock", [CLOCK, RUNNING])
        result: DeviceClock = self._parsed("clock", parse_clock, clock, running)
        return result

    def key_chain(self, chain: str) -> list[ChainEntryState]:
        name = nx.key_chain(chain)
        (running,) = self._show("read", [RUNNING])
        entries: list[ChainEntryState] = self._parsed("read", parse_key_chain, running, name)
        return entries

    def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        wanted = None if interfaces is None else {nx.interface_identity(i) for i in interfaces}
        (text,) = self._show("mka", [MKA])
        sessions: list[MkaSessionState] = self._parsed("mka", parse_mka_sessions, text)
        return [
            s for s in sessions if wanted is None or nx.interface_identity(s.interface) in wanted
        ]

    def macsec_bindings(self) -> dict[str, str]:
        (running,) = self._show("read", [RUNNING])
        bindings: dict[str, str] = self._parsed("read", parse_bindings, running)
        return bindings

    def facts(self) -> DeviceFacts:
        """``show version`` as JSON (``host_name``, ``chassis_id``, ``nxos_ver_str``)."""
        try:
            (body,) = self._batch("facts", ["show version"])
        except _CommandError as err:
            raise DeviceReplyError(self.name, f"facts: {_Scrubber()(err)}") from None
        data = body.get("body") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            data = {}
        return DeviceFacts(
            hostname=str(data.get("host_name") or self.target.name),
            model=str(data.get("chassis_id") or "NX-OS"),
            version=str(data.get("nxos_ver_str") or data.get("kickstart_ver_str") or "unknown"),
        )

    def interfaces(self, names: Sequence[str]) -> dict[str, InterfaceState]:
        """Configured interfaces (``show running-config``); operational state unread."""
        (running,) = self._show("read", [RUNNING])
        present = self._parsed("read", parse_running, running).interfaces
        by_identity = {nx.interface_identity(n): up for n, up in present.items()}
        states = {}
        for name in names:
            up = by_identity.get(nx.interface_identity(name))
            states[name] = InterfaceState(name, exists=up is not None, admin_up=up)
        return states

    def ntp_status(self) -> NtpState:
        """From ``show clock``'s ``Time source is …`` line: ``NTP`` means synchronised."""
        (clock,) = self._show("clock", [CLOCK])
        source = parse_time_source(clock)
        return NtpState(
            synchronised=(source or "").upper() == "NTP",
            leap=None,
            sync_source=source,
            stratum=None,
            offset_ms=None,
            raw_status=f"time source {source or 'unknown'}",
        )

    def macsec_capable(self) -> bool:
        try:
            self._show("mka", [MKA])
        except DeviceReplyError:
            return False
        return True

    def macsec_config(self) -> MacsecConfigState:
        (running,) = self._show("read", [RUNNING])
        state: MacsecConfigState = self._parsed(
            "read",
            lambda text: MacsecConfigState(cas=parse_policies(text), bindings=parse_bindings(text)),
            running,
        )
        return state
