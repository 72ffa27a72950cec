"""Async ETSI GS QKD 014 client: mutual TLS, keep-alive, retries, typed errors.

Policy lives here; parsing and error mapping are pure functions in :mod:`.responses` and
:mod:`.status_errors`; httpx errors are translated once, in :meth:`KmeClient._send`.
One ``httpx.AsyncClient`` per KME client, so connections are reused across calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

from qkd_macsec.etsi014.errors import (
    KeyNotFoundError,
    KmeError,
    KmePostureError,
    KmeResponseError,
    KmeStatusError,
    KmeTimeoutError,
    KmeTlsError,
    KmeTransportError,
)
from qkd_macsec.etsi014.hybrid_transport import HybridTlsBackend, HybridTlsTransport
from qkd_macsec.etsi014.models import JsonObject, KeyIdsRequest, KeyRequest, KmeStatus, QkdKey
from qkd_macsec.etsi014.responses import parse_keys, parse_status
from qkd_macsec.etsi014.retry import RetryPolicy, dec_keys_may_succeed_later, is_retryable
from qkd_macsec.etsi014.status_errors import Endpoint, error_for_status
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.hybrid_tls import hybrid_tls_available
from qkd_macsec.obs.logging import get_logger, notice, redact
from qkd_macsec.posture import ClassicalHopRefused, HopPosture, PqPolicy, Verdict, judge

log = get_logger("etsi014")

Method = Literal["POST", "GET"]
#: ``hybrid``: pyOpenSSL on the OpenSSL inside ``cryptography`` (X25519MLKEM768); ``stdlib``:
#: :mod:`ssl` (classical on a runtime linked to OpenSSL < 3.5); ``auto``: hybrid when available.
TlsStack = Literal["auto", "hybrid", "stdlib"]
Sleep = Callable[[float], Awaitable[None]]
API_PREFIX = "/api/v1/keys"
_MAX_TRANSPORT_TEXT = 160
# Failures before the request reached the KME: retrying them cannot consume a key twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP attempt, for metrics: ``status`` None when no answer came, ``error`` the class
    name of the :class:`KmeError` raised (None on success)."""

    method: str
    endpoint: Endpoint
    status: int | None
    seconds: float
    error: str | None


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts in seconds. ``dec_keys_wait`` bounds how long dec_keys keeps asking for a key the
    slave's KME does not have yet. ``keep_alive`` False opens a new connection per request."""

    timeout: float = 10.0
    connect_timeout: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dec_keys_wait: float = 10.0
    max_connections: int = 10
    http2: bool = False
    keep_alive: bool = True
    max_response_bytes: int = 4 * 1024 * 1024
    on_request: Callable[[RequestRecord], None] | None = None
    #: ``policy.transport.tls``: a classical KME connection is refused under ``pq-required``.
    tls_policy: PqPolicy = PqPolicy.PREFERRED
    tls_stack: TlsStack = "auto"
    #: Called with each new connection's posture (before the policy decides on it).
    on_posture: Callable[[HopPosture], None] | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("ClientOptions timeouts must be positive")
        if self.dec_keys_wait < 0:
            raise ValueError("ClientOptions.dec_keys_wait must not be negative")
        if self.max_connections < 1:
            raise ValueError("ClientOptions.max_connections must be at least 1")
        if self.max_response_bytes < 1024:
            raise ValueError("ClientOptions.max_response_bytes must be at least 1024")


class KmeClient:
    """Client of one KME, acting as one SAE (the identity's certificate).

    ``transport`` replaces the network (unit tests use ``httpx.MockTransport``); ``sleep``,
    ``clock`` and ``rng`` make backoff and the dec_keys wait window testable without waiting.
    """

    def __init__(
        self,
        base_url: str,
        identity: TlsIdentity,
        options: ClientOptions | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "https" or not url.host:
            raise ValueError(f"KME base URL must be https://host[:port][/prefix], got {base_url!r}")
        self.base_url = base_url
        self.identity = identity
        self.options = options or ClientOptions()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # jitter only, not cryptography
        #: The posture of the newest connection to the KME (None before the first).
        self.posture: HopPosture | None = None
        self._flagged = False
        limits = httpx.Limits(
            max_connections=self.options.max_connections,
            max_keepalive_connections=self.options.max_connections
            if self.options.keep_alive
            else 0,
        )
        stack = self.options.tls_stack
        self.hybrid = transport is None and (
            stack == "hybrid" or (stack == "auto" and hybrid_tls_available())
        )
        verify: ssl.SSLContext | bool = True
        if self.hybrid:
            backend = HybridTlsBackend(
                identity.hybrid_context(http2=self.options.http2),
                verify=identity.verify,
                on_handshake=self._on_handshake,
                peer_label=f"{url.host}:{url.port or 443}",
            )
            transport = HybridTlsTransport(backend, limits=limits, http2=self.options.http2)
        elif transport is None:
            verify = identity.ssl_context()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            verify=verify,
            http2=self.options.http2,
            timeout=httpx.Timeout(self.options.timeout, connect=self.options.connect_timeout),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )

    async def __aenter__(self) -> KmeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"KmeClient({self.base_url!r}, cert={str(self.identity.cert)!r})"

    # -- posture ----------------------------------------------------------------------------------

    def _on_handshake(self, posture: HopPosture) -> None:
        """Each new TLS connection, before a request is sent on it: refuse or record."""
        self.posture = posture
        hook = self.options.on_posture
        if hook is not None:
            try:
                hook(posture)
            except Exception:
                log.warning("on_posture hook failed; ignoring", exc_info=True)
        verdict = judge(posture, self.options.tls_policy)  # raises under pq-required
        if verdict is Verdict.FLAGGED and not self._flagged:
            self._flagged = True
            notice(log, "%s (policy pq-preferred: accepted, flagged)", posture.describe())

    def _check_stdlib_posture(self, method: str, path: str) -> None:
        """The stdlib stack cannot negotiate a PQ group here: refuse before connecting."""
        if self.hybrid or self.options.tls_policy is not PqPolicy.REQUIRED:
            return
        url = httpx.URL(self.base_url)
        posture = HopPosture(
            kind="tls", peer=f"{url.host}:{url.port or 443}", kex=None, cipher=None
        )
        try:
            judge(posture, PqPolicy.REQUIRED)
        except ClassicalHopRefused as exc:
            text = f"{method} {path}: {exc} (this TLS stack offers no ML-KEM group)"
            raise KmePostureError(text, posture=posture, method=method, path=path) from None

    # -- the three ETSI 014 methods ------------------------------------------------------------

    async def get_status(self, slave_sae_id: str) -> KmeStatus:
        path = _path(slave_sae_id, "status", "slave_sae_id")
        body = await self._call("GET", "status", path)
        with _located("GET", path):
            return parse_status(body, what=f"GET {path}")

    async def get_keys(
        self,
        slave_sae_id: str,
        *,
        size: int,
        number: int = 1,
        additional_slave_sae_ids: Sequence[str] = (),
        extension_mandatory: list[JsonObject] | None = None,
        extension_optional: list[JsonObject] | None = None,
        method: Method = "POST",
    ) -> list[QkdKey]:
        """enc_keys, as the master SAE: ``number`` new keys of at least ``size`` bits.

        ``size`` is always sent. Keys longer than asked are returned as they are.
        """
        path = _path(slave_sae_id, "enc_keys", "slave_sae_id")
        _check_size(size)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"number must be a positive integer, got {number!r}")
        extra_slaves = list(additional_slave_sae_ids)
        for extra in extra_slaves:
            _check_sae_id(extra, "additional_slave_sae_ids")
        if method == "GET":
            if extra_slaves or extension_mandatory or extension_optional:
                raise ValueError(
                    "GET enc_keys carries only number and size; use POST for additional "
                    "slaves or extensions"
                )
            body = await self._call(
                "GET", "enc_keys", path, params={"number": number, "size": size}
            )
        elif method == "POST":
            request = KeyRequest(
                number=number,
                size=size,
                additional_slave_sae_ids=extra_slaves or None,
                extension_mandatory=extension_mandatory,
                extension_optional=extension_optional,
            )
            body = await self._call("POST", "enc_keys", path, json_body=request.wire())
        else:
            raise ValueError(f"method must be POST or GET, got {method!r}")
        with _located(method, path):
            keys = parse_keys(body, what=f"{method} {path}", size=size, number=number)
        log.debug("enc_keys for %s: key IDs %s", slave_sae_id, [key.key_id for key in keys])
        return keys

    async def get_keys_with_ids(
        self,
        master_sae_id: str,
        key_ids: Sequence[str],
        *,
        size: int | None = None,
        method: Method = "POST",
        wait: float | None = None,
    ) -> list[QkdKey]:
        """dec_keys, as a slave SAE: the keys the master got, in the order asked.

        A key not (yet) known to this KME is asked for again with backoff until ``wait`` seconds
        (default ``options.dec_keys_wait``) have passed, then the last error is raised (usually
        :class:`KeyNotFoundError`; see :func:`.retry.dec_keys_may_succeed_later` for the other
        answers that may mean "not there yet").
        ``size`` is not sent (the spec has no such parameter); when given, shorter keys are
        refused.
        """
        path = _path(master_sae_id, "dec_keys", "master_sae_id")
        ids = _check_key_ids(key_ids)
        if size is not None:
            _check_size(size)
        window = self.options.dec_keys_wait if wait is None else wait
        if window < 0:
            raise ValueError("wait must not be negative")
        if method == "GET" and len(ids) != 1:
            raise ValueError("GET dec_keys takes exactly one key ID; use POST for several")
        if method not in ("GET", "POST"):
            raise ValueError(f"method must be POST or GET, got {method!r}")

        deadline = self._clock() + window
        retry = 0
        while True:
            try:
                if method == "GET":
                    body = await self._call("GET", "dec_keys", path, params={"key_ID": ids[0]})
                else:
                    wire = KeyIdsRequest(key_ids=ids).wire()
                    body = await self._call("POST", "dec_keys", path, json_body=wire)
                break
            except KmeStatusError as exc:
                remaining = deadline - self._clock()
                if remaining <= 0 or not dec_keys_may_succeed_later(exc):
                    raise
                delay = min(self.options.retry.delay(retry, self._rng), remaining)
                retry += 1
                log.debug(
                    "dec_keys %s: key IDs %s not there yet (HTTP %d), asking again in %.2f s",
                    master_sae_id,
                    ids,
                    exc.status_code,
                    delay,
                )
                await self._sleep(delay)
        with _located(method, path):
            keys = parse_keys(body, what=f"{method} {path}", size=size, key_ids=ids)
        log.debug("dec_keys from %s: key IDs %s", master_sae_id, ids)
        return keys

    # -- transport ------------------------------------------------------------------------------

    async def _call(
        self,
        method: Method,
        endpoint: Endpoint,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: JsonObject | None = None,
    ) -> bytes:
        """Body of a 2xx answer, retrying what :func:`is_retryable` allows."""
        policy = self.options.retry
        answer_lost = False
        for attempt in range(policy.attempts):
            try:
                return await self._send(method, endpoint, path, params, json_body)
            except KmeError as exc:
                if answer_lost and isinstance(exc, KeyNotFoundError):
                    notice(
                        log,
                        "%s %s: key not found after an earlier answer was lost; that attempt "
                        "may have consumed the key",
                        method,
                        path,
                    )
                if attempt + 1 >= policy.attempts or not is_retryable(exc):
                    raise
                answer_lost = answer_lost or (
                    endpoint == "dec_keys"
                    and isinstance(exc, KmeTransportError)
                    and not isinstance(exc.__cause__, _NOT_SENT)
                )
                delay = policy.delay(attempt, self._rng)
                log.info(
                    "%s %s failed (%s), retry %d/%d in %.2f s",
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    policy.attempts - 1,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable: RetryPolicy.attempts >= 1")

    async def _send(
        self,
        method: Method,
        endpoint: Endpoint,
        path: str,
        params: dict[str, Any] | None,
        json_body: JsonObject | None,
    ) -> bytes:
        """One attempt; every httpx error becomes a :class:`KmeError` here."""
        started = time.perf_counter()
        status: int | None = None
        error: KmeError | None = None
        try:
            self._check_stdlib_posture(method, path)
            request = self._http.build_request(method, path, params=params, json=json_body)
            try:
                response = await self._http.send(request, stream=True)
                try:
                    status = response.status_code
                    body = await _read_limited(
                        response, self.options.max_response_bytes, method, path
                    )
                finally:
                    await response.aclose()
            except ClassicalHopRefused as exc:
                text = f"{method} {path}: {exc}"
                raise KmePostureError(text, posture=exc.posture, method=method, path=path) from None
            except httpx.TimeoutException as exc:
                text = _transport_text(method, path, exc)
                raise KmeTimeoutError(text, method=method, path=path) from exc
            except httpx.TransportError as exc:
                kind = KmeTlsError if _is_tls_failure(exc) else KmeTransportError
                raise kind(_transport_text(method, path, exc), method=method, path=path) from exc
            except httpx.HTTPError as exc:  # e.g. a broken content encoding
                text = _transport_text(method, path, exc)
                raise KmeResponseError(text, method=method, path=path) from exc
            if not 200 <= response.status_code <= 299:
                raise error_for_status(
                    response.status_code, body, method=method, path=path, endpoint=endpoint
                )
            return body
        except KmeError as exc:
            error = exc
            raise
        finally:
            seconds = time.perf_counter() - started
            log.debug(
                "%s %s -> %s in %.1f ms%s",
                method,
                path,
                status if status is not None else "no answer",
                seconds * 1000,
                f" ({type(error).__name__})" if error is not None else "",
            )
            self._record(method, endpoint, status, seconds, error)

    def _record(
        self,
        method: str,
        endpoint: Endpoint,
        status: int | None,
        seconds: float,
        error: KmeError | None,
    ) -> None:
        hook = self.options.on_request
        if hook is None:
            return
        record = RequestRecord(
            method, endpoint, status, seconds, type(error).__name__ if error else None
        )
        try:
            hook(record)
        except Exception:
            log.warning("on_request hook failed; ignoring", exc_info=True)


async def _read_limited(response: httpx.Response, limit: int, method: str, path: str) -> bytes:
    too_big = f"{method} {path}: answer exceeds the {limit}-byte limit"
    declared = response.headers.get("content-length", "")
    # ASCII digits only ('²'.isdigit() is True); a length check first, as int() refuses
    # more than 4300 digits.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise KmeResponseError(too_big, method=method, path=path)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise KmeResponseError(too_big, method=method, path=path)
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _located(method: str, path: str) -> Iterator[None]:
    """Stamp method and path onto a :class:`KmeResponseError` raised by a parser."""
    try:
        yield
    except KmeResponseError as exc:
        exc.method, exc.path = method, path
        raise


def _path(sae_id: str, endpoint: Endpoint, name: str) -> str:
    _check_sae_id(sae_id, name)
    return f"{API_PREFIX}/{quote(sae_id, safe='')}/{endpoint}"


def _check_sae_id(sae_id: object, name: str) -> None:
    if not isinstance(sae_id, str) or not sae_id:
        raise ValueError(f"{name} must be a non-empty string, got {sae_id!r}")


def _check_size(size: object) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size % 8:
        raise ValueError(f"size must be a positive multiple of 8 bits, got {size!r}")


def _check_key_ids(key_ids: Sequence[str]) -> list[str]:
    if isinstance(key_ids, str):
        raise ValueError("key_ids must be a sequence of key IDs, not a single string")
    ids = list(key_ids)
    if not ids:
        raise ValueError("key_ids must name at least one key")
    for key_id in ids:
        if not isinstance(key_id, str) or not key_id:
            raise ValueError(f"key IDs must be non-empty strings, got {key_id!r}")
    if len(set(ids)) != len(ids):
        raise ValueError("key_ids must not repeat a key ID")
    return ids


def _is_tls_failure(exc: BaseException) -> bool:
    """A refused handshake or certificate somewhere in the cause chain (not a TLS-level EOF)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) and not isinstance(
            seen, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _transport_text(method: str, path: str, exc: BaseException) -> str:
    detail = redact(str(exc)).replace("\n", " ")[:_MAX_TRANSPORT_TEXT]
    text = f"{method} {path}: {type(exc).__name__}" + (f": {detail}" if detail else "")
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc):
        # Under TLS 1.3 the client's certificate is checked after the handshake; a KME that
        # refuses it may just hang up, with no TLS alert to tell this apart from a crash.
        text += " (if this persists, check that the KME accepts this client certificate)"
    return text
