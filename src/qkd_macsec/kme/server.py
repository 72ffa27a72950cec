"""Serving a KME network over mutual TLS: one uvicorn server per KME, all in one event loop.

The listening sockets are bound before the servers start, so an ephemeral port (``port: 0``) is
known at once, and :func:`serve_network` returns only once every server has started accepting.
The TLS context requires a client certificate chaining to the KME's CA (``ssl.CERT_REQUIRED``).
A KME with ``tls: hybrid`` (the default) serves TLS through :mod:`.tls_front` (pyOpenSSL,
X25519MLKEM768 offered); ``tls: classical`` uses the runtime's :mod:`ssl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from qkd_macsec.hybrid_tls import TlsFiles, TlsSetupError, server_context
from qkd_macsec.kme.config import KmeSpec, Listen
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.tls_front import tls_front
from qkd_macsec.kme.tls_protocol import with_header_timeout
from qkd_macsec.obs.logging import get_logger

log = get_logger("kme")

STOP_TIMEOUT_S = 10.0


class KmeStartError(RuntimeError):
    """A KME could not start: unusable certificate/key/CA, or its address is taken."""


@dataclass(frozen=True)
class KmeEndpoint:
    kme_id: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


@dataclass
class RunningNetwork:
    """A started network: where each KME listens."""

    network: KmeNetwork
    endpoints: dict[str, KmeEndpoint] = field(default_factory=dict)

    def url(self, kme_id: str) -> str:
        """``https://HOST:PORT`` of a KME."""
        return self.endpoints[kme_id].url

    def url_for_sae(self, sae_id: str) -> str:
        """The URL of the KME an SAE is attached to."""
        return self.url(self.network.kme_of(sae_id))


def server_ssl_context(kme: KmeSpec) -> ssl.SSLContext:
    """TLS >= 1.2, the KME's certificate, client certificates required and checked against CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(str(kme.server_cert), str(kme.server_key))
    except (ssl.SSLError, OSError) as exc:
        raise KmeStartError(
            f"{kme.id}: cannot load server certificate {kme.server_cert} / key {kme.server_key}"
            f" ({type(exc).__name__})"
        ) from None
    try:
        context.load_verify_locations(cafile=str(kme.ca))
    except (ssl.SSLError, OSError) as exc:
        raise KmeStartError(f"{kme.id}: cannot load CA {kme.ca} ({type(exc).__name__})") from None
    return context


def _hybrid_config(app: Any, kme: KmeSpec) -> uvicorn.Config:
    """uvicorn without TLS of its own, each connection behind the pyOpenSSL front."""
    try:
        context = server_context(TlsFiles(kme.server_cert, kme.server_key, kme.ca))
    except TlsSetupError as exc:
        if exc.part == "ca":
            raise KmeStartError(f"{kme.id}: cannot load CA {kme.ca} ({exc})") from None
        raise KmeStartError(
            f"{kme.id}: cannot load server certificate {kme.server_cert} / key {kme.server_key}"
            f" ({exc})"
        ) from None
    http = tls_front(with_header_timeout(kme.request_timeout_s), context, kme.request_timeout_s)
    return _uvicorn_config(app, http, ssl_context=None)


def _bind(kme_id: str, listen: Listen) -> socket.socket:
    """A listening TCP socket. Created with ``IPPROTO_TCP`` explicitly: asyncio sets TCP_NODELAY
    on accepted connections only when the protocol number says TCP, and without it small TLS
    writes wait for delayed ACKs (~40 ms per request)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((listen.host, listen.port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise KmeStartError(
            f"{kme_id}: cannot listen on {listen.host}:{listen.port} ({exc.strerror or exc})"
        ) from None
    return sock


class _KmeServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its owner and says when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the CLI (or the test) owns SIGINT/SIGTERM, not each server

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def _config(app: Any, context: ssl.SSLContext, request_timeout_s: float) -> uvicorn.Config:
    return _uvicorn_config(app, with_header_timeout(request_timeout_s), ssl_context=context)


def _uvicorn_config(
    app: Any, http: type[asyncio.Protocol], *, ssl_context: ssl.SSLContext | None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=http,
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
        ssl_context_factory=None
        if ssl_context is None
        else (lambda _config, _default: ssl_context),
    )


async def _wait_ready(server: _KmeServer, task: asyncio.Task[None], kme_id: str) -> None:
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        error = task.exception() if not task.cancelled() else None
        raise KmeStartError(f"{kme_id}: server stopped during start-up ({error!r})")


@contextlib.asynccontextmanager
async def serve_network(network: KmeNetwork) -> AsyncIterator[RunningNetwork]:
    """Run every KME of ``network``; inside the block all of them accept connections."""
    running = RunningNetwork(network)
    servers: list[tuple[_KmeServer, asyncio.Task[None], socket.socket]] = []
    try:
        for kme in network.spec.kmes:
            app = network.app(kme.id)
            if kme.tls == "hybrid":
                config = _hybrid_config(app, kme)
            else:
                config = _config(app, server_ssl_context(kme), kme.request_timeout_s)
            sock = _bind(kme.id, kme.listen)
            server = _KmeServer(config)
            task = asyncio.create_task(server.serve(sockets=[sock]), name=f"kme-{kme.id}")
            servers.append((server, task, sock))
            await _wait_ready(server, task, kme.id)
            host, port = sock.getsockname()[:2]
            running.endpoints[kme.id] = KmeEndpoint(kme.id, host, port)
            log.info("%s listening on %s", kme.id, running.url(kme.id))
        yield running
    finally:
        for server, _, _ in servers:
            server.should_exit = True
        for _, task, sock in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, STOP_TIMEOUT_S)
            sock.close()


@contextlib.contextmanager
def run_network_in_thread(
    network: KmeNetwork, *, start_timeout: float = 30.0
) -> Iterator[RunningNetwork]:
    """:func:`serve_network` on its own event loop in a background thread, for sync code."""
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        state["loop"], state["stop"] = asyncio.get_running_loop(), stop
        async with serve_network(network) as running:
            state["running"] = running
            started.set()
            await stop.wait()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread below
            state["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=thread_main, name="kme-network", daemon=True)
    thread.start()
    if not started.wait(start_timeout):
        raise KmeStartError(f"KME network did not start within {start_timeout:g} s")
    if "error" in state:
        thread.join()
        raise state["error"]
    try:
        yield state["running"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(STOP_TIMEOUT_S + 5)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived server coroutine, on uvloop when it is installed (cheaper TLS + I/O)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(main)
        return
    uvloop.run(main)
