"""The Junos driver on asyncio: the engine's verbs over :mod:`qkd_macsec.transport.netconf_ssh`.

The same RPCs as the PyEZ driver (``devices/junos.py``), byte for byte where it matters — the
element names and attributes PyEZ sends were read off the simulator's wire: ``lock-configuration``,
``load-configuration action="set" format="text"`` with ``configuration-set``,
``get-configuration compare="rollback" rollback="0" format="text"`` (the diff),
``commit-configuration`` with ``log``, ``load-configuration compare="rollback" rollback="0"``
(discard), ``unlock-configuration``, ``get-configuration database="committed" format="xml"``
with the same subtree filters, ``get-system-uptime-information`` and
``get-mka-session-information`` with ``detail``. Replies go to the same parsers
(``junos_parse``) in the shape PyEZ hands them over (the reply's first child; ``True`` for an
empty reply), and configuration is rendered by ``junos_render``: the Junos evidence behind the
PyEZ driver holds for this one.

Warnings are handled as PyEZ's ``ignore_warning`` does (a reply whose every ``rpc-error`` is a
warning matching a pattern is a success); errors become the ``DeviceError`` tree with texts
scrubbed of every CAK and ``$9$`` secret. Host keys are verified by asyncssh against the
target's known_hosts during the key exchange, before the password is sent; the SSH posture is
recorded and judged as on the PyEZ path (``devices/ssh_posture.py``, ``posture/``).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import asyncssh
from lxml import etree

from qkd_macsec.devices.async_base import AsyncDriver
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
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DeviceReplyError,
    DeviceTarget,
    DeviceTimeoutError,
    DeviceTransportPolicyError,
    DeviceUnreachableError,
    MkaSessionState,
)
from qkd_macsec.devices.junos_names import validate_interface_name, validate_key_chain_name
from qkd_macsec.devices.junos_options import DEFAULT_PORT
from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    count_diff_lines,
    key_chain_filter,
    macsec_interfaces_filter,
    parse_device_clock,
    parse_key_chain,
    parse_macsec_bindings,
    parse_mka_sessions,
    parse_time_zone,
    time_zone_filter,
)
from qkd_macsec.devices.junos_render import MASK, render_set, render_set_masked
from qkd_macsec.devices.ssh_posture import (
    asyncssh_aes256_first,
    asyncssh_posture,
    record_asyncssh_kex,
)
from qkd_macsec.devices.transport_safety import ErrorScrubber, cap_transport_loggers, rpc_budget
from qkd_macsec.obs.logging import SECRETS, get_logger
from qkd_macsec.posture import ClassicalHopRefused, HopPosture, Verdict, judge
from qkd_macsec.secret import Secret
from qkd_macsec.transport.netconf_ssh import (
    NetconfClosedError,
    NetconfError,
    NetconfSession,
    NetconfTimeoutError,
    local_name,
)

__all__ = ["AsyncJunosDriver"]

log = get_logger("devices.junos_async")

TRANSPORT_LOGGERS = ("asyncssh",)
#: The same warning patterns the PyEZ driver ignores (see ``devices/junos.py``).
IGNORED_LOAD_WARNINGS = ("statement not found",)
IGNORED_COMMIT_WARNINGS = ("recommend configuring all 64 hexadecimal digits",)
_DOLLAR9 = re.compile(r"\$9\$[^\s\"';]+")
_MAX_MESSAGE = 400
#: How long ``close`` waits for the close-session reply once the deadline has passed.
CLOSE_AFTER_DEADLINE_S = 0.5

_known_hosts_lock = threading.Lock()
_known_hosts_cache: dict[str, tuple[tuple[int, int], Any]] = {}
_flagged: set[str] = set()


def known_hosts_for(path: Path) -> Any:
    """asyncssh's parsed known_hosts, cached until the file changes (one shared file for
    hundreds of routers is parsed once, not once per session); asyncssh matches ``host`` and
    ``[host]:port`` entries itself."""
    resolved = path.resolve()
    stat = resolved.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _known_hosts_lock:
        cached = _known_hosts_cache.get(str(resolved))
        if cached is None or cached[0] != stamp:
            cached = _known_hosts_cache[str(resolved)] = (
                stamp,
                asyncssh.read_known_hosts(str(resolved)),
            )
        return cached[1]


class _Scrubber(ErrorScrubber):
    def __init__(self, secrets: Sequence[Secret] = ()) -> None:
        super().__init__(
            secrets, patterns=((_DOLLAR9, "$9$" + MASK),), max_chars=_MAX_MESSAGE, mask=MASK
        )


def _strip_namespaces(root: etree._Element) -> etree._Element:
    """Tags by local name (PyEZ hands the parsers namespace-free tags; attributes keep theirs,
    which the parsers match by local name)."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = local_name(element.tag)
    return root


def _errors(reply: etree._Element) -> list[dict[str, str]]:
    out = []
    for error in reply.iter("rpc-error"):
        fields = {}
        for child in error.iter():
            name = local_name(child.tag)
            if name in ("error-severity", "error-message", "bad-element", "edit-path"):
                fields[name] = (child.text or "").strip()
        out.append(fields)
    return out


def _message(errors: Sequence[dict[str, str]]) -> str:
    parts = []
    for error in errors:
        text = [error.get("error-message", "")]
        for key in ("edit-path", "bad-element"):
            if error.get(key):
                text.append(f"{key}: {error[key]}")
        parts.append("; ".join(t for t in text if t))
    return " | ".join(p for p in parts if p) or "rpc-error"


class AsyncJunosDriver(AsyncDriver):
    """One Junos NETCONF session on asyncio (see the module docstring)."""

    platform = "junos"

    def __init__(self, target: DeviceTarget) -> None:
        cap_transport_loggers(TRANSPORT_LOGGERS)
        record_asyncssh_kex()
        self.target = target
        self.name = target.name
        self.posture: HopPosture | None = None
        self._nc: NetconfSession | None = None
        self._deadline: float | None = None
        if target.password is not None:
            SECRETS.add(target.password.reveal_text())

    def __repr__(self) -> str:
        return f"AsyncJunosDriver({self.target.name}@{self.target.host}:{self.port})"

    @property
    def port(self) -> int:
        return self.target.port if self.target.port is not None else DEFAULT_PORT

    def render(self, changes: ChangeSet) -> str:
        return render_set_masked(changes)

    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    def _budget(self, phase: str) -> float:
        return rpc_budget(self.name, phase, self.target.timeout, self._deadline)

    # ------------------------------------------------------------------------------- session
    async def open(self) -> None:
        if self.is_alive():
            return
        await self.close()
        target = self.target
        where = f"{target.host}:{self.port}"
        known: Any = None
        if target.insecure_host_keys:
            log.warning("%s: SSH host key NOT verified (insecure_host_keys is set)", target.name)
        elif target.known_hosts is None or not target.known_hosts.is_file():
            raise DeviceHostKeyError(
                target.name, f"known_hosts file {target.known_hosts} not found"
            )
        else:
            known = known_hosts_for(target.known_hosts)
        budget = self._budget("open")
        try:
            self._nc = await NetconfSession.connect(
                host=target.host,
                port=self.port,
                username=target.user,
                password=target.password.reveal_text() if target.password else None,
                client_keys=[str(target.ssh_key)] if target.ssh_key else None,
                known_hosts=known,
                within_s=budget,
                encryption_algs=asyncssh_aes256_first(),
            )
        except asyncssh.HostKeyNotVerifiable:
            raise DeviceHostKeyError(
                target.name,
                f"host key of {where} is unknown or has CHANGED "
                f"(not in {target.known_hosts}); refusing to connect",
            ) from None
        except asyncssh.PermissionDenied:
            refused = f"authentication as {target.user!r} refused"
            raise DeviceAuthError(target.name, refused) from None
        except ConnectionRefusedError:
            raise DeviceUnreachableError(
                target.name, f"{where} refused the NETCONF session"
            ) from None
        except TimeoutError:
            raise DeviceUnreachableError(target.name, f"{where} timed out") from None
        except socket.gaierror:
            raise DeviceUnreachableError(target.name, f"{target.host} does not resolve") from None
        except (NetconfError, asyncssh.Error, OSError) as err:
            detail = _Scrubber()(type(err).__name__)
            raise DeviceConnectError(
                target.name, f"cannot open NETCONF to {where}: {detail}"
            ) from None
        self._judge_transport(self._nc)
        log.debug("%s: NETCONF session open to %s", target.name, where)

    def _judge_transport(self, nc: NetconfSession) -> None:
        target = self.target
        self.posture = asyncssh_posture(nc.conn, f"{target.name} ({target.host}:{target.port})")
        if target.on_posture is not None:
            try:
                target.on_posture(self.posture)
            except Exception:
                log.warning("%s: on_posture hook failed; ignoring", target.name, exc_info=True)
        try:
            verdict = judge(self.posture, target.ssh_policy)
        except ClassicalHopRefused as exc:
            nc.abort()
            self._nc = None
            raise DeviceTransportPolicyError(target.name, str(exc)) from None
        described = self.posture.describe()
        if verdict is Verdict.FLAGGED and described not in _flagged:
            _flagged.add(described)
            log.warning("%s (policy pq-preferred: accepted, flagged)", described)

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is None:
            return
        wait = self.target.timeout
        if self._deadline is not None:
            wait = max(CLOSE_AFTER_DEADLINE_S, min(wait, self._deadline - time.time()))
        try:
            await nc.close(wait)
        except Exception as err:
            log.debug("%s: error while closing: %s", self.name, type(err).__name__)
            nc.abort()

    def is_alive(self) -> bool:
        return self._nc is not None and self._nc.is_alive()

    # ------------------------------------------------------------------------------ RPCs
    async def _rpc(
        self,
        phase: str,
        operation: str,
        scrub: _Scrubber | None = None,
        ignore: Sequence[str] = (),
    ) -> etree._Element:
        """One RPC; the reply (namespaces stripped) or the ``DeviceError`` it amounts to."""
        nc = self._nc
        if nc is None:
            raise DeviceConnectError(self.name, "session is not open")
        budget = self._budget(phase)
        scrub = scrub or _Scrubber()
        try:
            reply = _strip_namespaces(await nc.rpc(operation.encode(), budget))
        except NetconfTimeoutError:
            silent = f"{phase}: no reply within {budget:.3g}s"
            if phase == "lock":  # as on the PyEZ path: no lock, so nothing loaded or committed
                raise DeviceLockError(self.name, silent) from None
            raise DeviceTimeoutError(self.name, silent) from None
        except (NetconfClosedError, asyncssh.Error, OSError):
            raise DeviceConnectError(self.name, f"{phase}: session lost") from None
        except NetconfError as err:
            raise DeviceReplyError(self.name, f"{phase}: {scrub(err)}") from None
        errors = _errors(reply)
        if errors:
            remaining = [
                e
                for e in errors
                if not (
                    e.get("error-severity") == "warning"
                    and any(re.search(p, e.get("error-message", ""), re.I) for p in ignore)
                )
            ]
            if remaining:
                raise self._refusal(phase, remaining, scrub)
        return reply

    def _refusal(
        self, phase: str, errors: Sequence[dict[str, str]], scrub: _Scrubber
    ) -> DeviceError:
        text = scrub(_message(errors))
        warnings_only = all(e.get("error-severity") == "warning" for e in errors)
        if phase == "lock":
            return DeviceLockError(self.name, f"configuration lock refused: {text}")
        if phase == "load":
            return DeviceLoadError(self.name, f"load refused: {text}")
        if phase == "commit":
            if warnings_only:
                return DeviceCommitUncertainError(
                    self.name, f"commit answered with warnings only: {text}"
                )
            return DeviceCommitError(self.name, f"commit failed: {text}")
        return DeviceReplyError(self.name, f"{phase}: rpc-error: {text}")

    @staticmethod
    def _first_child(reply: etree._Element) -> Any:
        """What PyEZ returns for a reply: its first child element, or ``True`` if empty."""
        for child in reply:
            if isinstance(child.tag, str):
                return child
        return True

    def _parse(self, phase: str, parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except MalformedReplyError as err:
            raise DeviceReplyError(self.name, f"{phase}: {_Scrubber()(err)}") from None
        except (ValueError, TypeError, AttributeError) as err:
            raise DeviceReplyError(
                self.name, f"{phase}: unexpected reply ({type(err).__name__})"
            ) from None

    async def _get_config(self, filter_xml: etree._Element) -> Any:
        body = etree.tostring(filter_xml, encoding="unicode")
        reply = await self._rpc(
            "get-config",
            f'<get-configuration database="committed" format="xml">{body}</get-configuration>',
        )
        return self._first_child(reply)

    # ----------------------------------------------------------------------------- config
    async def apply(
        self, changes: ChangeSet, *, comment: str, confirm_minutes: int | None = None
    ) -> CommitResult:
        started = time.monotonic()
        if changes.is_empty():
            return CommitResult(self.name, changed=False, diff_lines=0, seconds=0.0)
        if confirm_minutes is not None and not 1 <= confirm_minutes <= 65535:
            raise ValueError(f"confirm_minutes {confirm_minutes} is outside 1..65535")
        diff_lines = await self._locked(changes, comment, confirm_minutes)
        return CommitResult(self.name, diff_lines > 0, diff_lines, time.monotonic() - started)

    async def preview(self, changes: ChangeSet) -> int:
        if changes.is_empty():
            return 0
        return await self._locked(changes, None, None)

    async def _locked(
        self, changes: ChangeSet, comment: str | None, confirm_minutes: int | None
    ) -> int:
        """Lock, load, diff, commit when there is a diff and a ``comment`` (None: preview,
        the candidate discarded), unlock; the candidate is discarded on any failure."""
        text = render_set(changes)  # refuses bad input before any I/O
        secrets = changes.secrets()
        for secret in secrets:
            SECRETS.add(secret.reveal())
        scrub = _Scrubber(secrets)
        log.debug("%s: loading\n%s", self.name, render_set_masked(changes))
        await self._rpc("lock", "<lock-configuration/>", scrub)
        try:
            phase = "load"
            try:
                await self._rpc(
                    phase,
                    '<load-configuration format="text" action="set"><configuration-set>'
                    f"{escape(text)}</configuration-set></load-configuration>",
                    scrub,
                    IGNORED_LOAD_WARNINGS,
                )
                phase = "diff"
                reply = await self._rpc(
                    phase, '<get-configuration compare="rollback" rollback="0" format="text"/>'
                )
                diff_lines = count_diff_lines(reply.findtext(".//configuration-output"))
                if diff_lines and comment is not None:
                    phase = "commit"
                    confirm = ""
                    if confirm_minutes is not None:
                        confirm = (
                            f"<confirmed/><confirm-timeout>{confirm_minutes}</confirm-timeout>"
                        )
                    await self._rpc(
                        phase,
                        f"<commit-configuration>{confirm}<log>{escape(comment)}</log>"
                        "</commit-configuration>",
                        scrub,
                        IGNORED_COMMIT_WARNINGS,
                    )
                elif comment is None:
                    await self._discard()
                return diff_lines
            except Exception:
                await self._discard()
                raise
        finally:
            await self._unlock()

    async def _discard(self) -> None:
        try:
            await self._rpc("rollback", '<load-configuration compare="rollback" rollback="0"/>')
        except DeviceError as err:
            self._drop("discard", err)

    async def _unlock(self) -> None:
        try:
            await self._rpc("unlock", "<unlock-configuration/>")
        except DeviceError as err:
            self._drop("unlock", err)

    def _drop(self, what: str, err: DeviceError) -> None:
        """A candidate or lock that could not be released is released by ending the session
        (Junos discards a session's candidate and lock when it goes)."""
        level = "debug" if isinstance(err, DeviceDeadlineError) else "warning"
        why = type(err).__name__
        getattr(log, level)("%s: %s failed (%s); session dropped", self.name, what, why)
        if self._nc is not None:
            self._nc.abort()

    # ------------------------------------------------------------------------------ reads
    async def device_time(self) -> DeviceClock:
        reply = await self._rpc("uptime", "<get-system-uptime-information/>")
        clock: DeviceClock = self._parse("uptime", parse_device_clock, self._first_child(reply))
        zone_reply = await self._get_config(time_zone_filter())
        zone: str | None = self._parse("get-config", parse_time_zone, zone_reply)
        return DeviceClock(clock.now, clock.utc_offset, zone, resolution_s=clock.resolution_s)

    async def key_chain(self, chain: str) -> list[ChainEntryState]:
        name = validate_key_chain_name(chain)
        reply = await self._get_config(key_chain_filter(name))
        entries: list[ChainEntryState] = self._parse("get-config", parse_key_chain, reply, name)
        return entries

    async def mka_sessions(self, interfaces: Sequence[str] | None = None) -> list[MkaSessionState]:
        wanted = None if interfaces is None else {validate_interface_name(i) for i in interfaces}
        reply = await self._rpc(
            "mka", "<get-mka-session-information><detail/></get-mka-session-information>"
        )
        first = self._first_child(reply)
        if first is True:
            return []
        sessions: list[MkaSessionState] = self._parse("mka", parse_mka_sessions, first)
        return [s for s in sessions if wanted is None or s.interface in wanted]

    async def macsec_bindings(self) -> dict[str, str]:
        reply = await self._get_config(macsec_interfaces_filter())
        bindings: dict[str, str] = self._parse("get-config", parse_macsec_bindings, reply)
        return bindings
