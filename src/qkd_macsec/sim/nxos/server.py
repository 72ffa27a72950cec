"""NX-API for the NX-OS simulator: an HTTPS JSON-RPC endpoint (``POST /ins``) per switch, real
TLS with a certificate from the project's PKI helpers, HTTP basic auth.

TLS: a switch with ``pq_kex`` (the default) serves through the KME's pyOpenSSL front
(``kme/tls_front.py``, the same layer), offering X25519MLKEM768 first; with ``pq_kex=False``
through the runtime's :mod:`ssl`, its groups pinned to P-256 — a switch whose NX-API has no
post-quantum group. Neither asks for a client certificate (NX-API authenticates by password).

A request is a JSON-RPC 2.0 batch (or one call) of ``{"method": "cli" | "cli_ascii",
"params": {"cmd": ..., "version": 1}, "id": n}`` [S28][S30]; ``cli_ascii`` answers
``{"msg": text}``, ``cli`` a structured ``{"body": ...}`` for the show commands that have one and
``null`` for configuration commands. The batch runs in one CLI context and stops at the first
command that fails, which answers a JSON-RPC error (``data.msg``: the CLI's message) with HTTP
500; the commands after it get no answer.

:func:`serve` is an async context manager (serve the switches on the running loop, next to other
simulators); :func:`run_nxos_in_thread` runs them on their own loop in a thread, for tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from OpenSSL import SSL
from uvicorn.protocols.http.h11_impl import H11Protocol

from qkd_macsec.hybrid_tls import TlsFiles, server_context
from qkd_macsec.kme.tls_front import tls_front
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.pki.ca import create_ca, issue_server_cert
from qkd_macsec.pki.files import save_certificate, save_private_key
from qkd_macsec.sim.nxos.device import BatchContext, CommandError, NxosSimDevice

__all__ = ["NxosEndpoints", "NxosLabThread", "NxosTls", "make_tls", "run_nxos_in_thread", "serve"]

log = get_logger("sim.nxos")

STOP_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class NxosTls:
    """The switches' certificate and key, and the CA bundle a client must trust."""

    ca: Path
    cert: Path
    key: Path


def make_tls(
    directory: Path,
    names: Sequence[str] = ("localhost",),
    addresses: Sequence[str] = ("127.0.0.1",),
) -> NxosTls:
    """A fresh CA and a server certificate for ``names`` / ``addresses``, written under
    ``directory`` (``ca.pem``, ``nxapi.pem``, ``nxapi.key``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = create_ca("qkd-macsec NX-OS sim CA")
    leaf = issue_server_cert(ca, list(names), list(addresses))
    tls = NxosTls(directory / "ca.pem", directory / "nxapi.pem", directory / "nxapi.key")
    save_certificate(ca.cert, tls.ca)
    save_certificate(leaf.cert, tls.cert)
    save_private_key(leaf.key, tls.key)
    return tls


def _classical_context(tls: NxosTls) -> ssl.SSLContext:
    """The runtime's ssl, one classical group (P-256): no ML-KEM whatever OpenSSL it links."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.set_ecdh_curve("prime256v1")
    context.load_cert_chain(str(tls.cert), str(tls.key))
    return context


def _hybrid_context(tls: NxosTls) -> SSL.Context:
    return server_context(TlsFiles(tls.cert, tls.key, None), client_certificates=False)


def _uvicorn_config(device: NxosSimDevice, tls: NxosTls) -> uvicorn.Config:
    """uvicorn for one switch: behind the pyOpenSSL front (``pq_kex``) or the runtime's TLS."""
    http: type[asyncio.Protocol] | str = "h11"
    factory: Callable[[Any, Any], ssl.SSLContext] | None = None
    if device.pq_kex:
        http = tls_front(H11Protocol, _hybrid_context(tls), HANDSHAKE_TIMEOUT_S)
    else:
        context = _classical_context(tls)
        factory = lambda _config, _default: context  # noqa: E731
    return uvicorn.Config(
        NxApi(device),
        http=http,
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
        ssl_context_factory=factory,
    )


def _error(request_id: object, message: str, code: int = -32602) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "error": {"code": code, "message": "Invalid params", "data": {"msg": message}},
        "id": request_id,
    }


class NxApi:
    """The ASGI application of one switch."""

    def __init__(self, device: NxosSimDevice) -> None:
        self.device = device

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/ins" or scope["method"] != "POST":
            await self._respond(send, 404, {"error": "not found"})
            return
        self.device.counters.requests += 1
        if not self._authorised(scope):
            await self._respond(send, 401, {"error": "authentication failed"}, auth=True)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            payload = json.loads(body)
        except ValueError:
            await self._respond(send, 400, _error(None, "malformed JSON", -32700))
            return
        calls = payload if isinstance(payload, list) else [payload]
        answers, failed = await self._run(calls)
        reply: Any = answers if isinstance(payload, list) else (answers[0] if answers else None)
        await self._respond(send, 500 if failed else 200, reply)

    def _authorised(self, scope: dict[str, Any]) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization" and value.startswith(b"Basic "):
                try:
                    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
                except ValueError:
                    return False
                return self.device.check_password(user, password)
        return False

    async def _run(self, calls: list[Any]) -> tuple[list[dict[str, Any]], bool]:
        context = BatchContext()
        answers: list[dict[str, Any]] = []
        for call in calls:
            request_id = call.get("id") if isinstance(call, dict) else None
            params = call.get("params") if isinstance(call, dict) else None
            command = params.get("cmd") if isinstance(params, dict) else None
            method = call.get("method") if isinstance(call, dict) else None
            if not isinstance(command, str) or method not in ("cli", "cli_ascii"):
                answers.append(_error(request_id, "bad JSON-RPC call", -32600))
                return answers, True
            try:
                result = await self._command(context, method, command.strip())
            except CommandError as exc:
                answers.append(_error(request_id, str(exc)))
                return answers, True
            answers.append({"jsonrpc": "2.0", "result": result, "id": request_id})
        return answers, False

    async def _command(self, context: BatchContext, method: str, command: str) -> Any:
        device = self.device
        if command.startswith("show "):
            if method == "cli_ascii":
                return {"msg": device.show(command)}
            return {"body": device.show_json(command)}
        if command == "commit" and device.commit_latency_s > 0:
            await asyncio.sleep(device.commit_latency_s)
        device.run_config(context, command)
        return None

    @staticmethod
    async def _respond(send: Send, status: int, payload: Any, *, auth: bool = False) -> None:
        data = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json-rpc"),
            (b"content-length", b"%d" % len(data)),
        ]
        if auth:
            headers.append((b"www-authenticate", b'Basic realm="nxapi"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield  # the owner handles signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@dataclass
class NxosEndpoints:
    """Where each served switch listens, and the CA bundle its certificate chains to."""

    host: str
    ca: Path
    ports: dict[str, int] = field(default_factory=dict)

    def port(self, name: str) -> int:
        return self.ports[name]


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


@contextlib.asynccontextmanager
async def serve(
    devices: Iterable[NxosSimDevice],
    *,
    host: str = "127.0.0.1",
    tls: NxosTls | None = None,
    ports: dict[str, int] | None = None,
) -> AsyncIterator[NxosEndpoints]:
    """Serve NX-API for each switch on the running loop; inside the block all accept.

    ``tls``: the certificate to serve (default: a fresh CA and a certificate for ``localhost``
    and 127.0.0.1, in a temporary directory kept while serving). ``ports``: fixed ports by
    switch name (default: ephemeral)."""
    with contextlib.ExitStack() as stack:
        if tls is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nxos-sim-")))
            tls = make_tls(directory)
        endpoints = NxosEndpoints(host, tls.ca)
        servers: list[tuple[_Server, asyncio.Task[None], socket.socket]] = []
        try:
            for device in devices:
                config = _uvicorn_config(device, tls)
                sock = _bind(host, (ports or {}).get(device.name, 0))
                server = _Server(config)
                task = asyncio.create_task(server.serve(sockets=[sock]), name=f"nxos-{device.name}")
                servers.append((server, task, sock))
                ready = asyncio.create_task(server.ready.wait())
                await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    raise RuntimeError(f"NX-OS simulator {device.name} stopped during start-up")
                endpoints.ports[device.name] = sock.getsockname()[1]
                log.info(
                    "%s: NX-API on https://%s:%d/ins",
                    device.name,
                    host,
                    endpoints.ports[device.name],
                )
            yield endpoints
        finally:
            for server, _, _ in servers:
                server.should_exit = True
            for _, task, sock in servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, STOP_TIMEOUT_S)
                sock.close()


class NxosLabThread:
    """:func:`serve` on a private event loop in a thread: ``start``/``stop`` (or ``with``);
    ``port(name)``, ``ca`` (the CA bundle to trust). Stopping makes the ports refuse
    connections (the unreachable fault); starting again serves on the same ports."""

    def __init__(self, devices: Iterable[NxosSimDevice], *, tls: NxosTls | None = None) -> None:
        self.devices = {d.name: d for d in devices}
        self._tls = tls
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._ports: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.host = "127.0.0.1"

    @property
    def ca(self) -> Path:
        assert self._tls is not None
        return self._tls.ca

    def port(self, name: str) -> int:
        return self._ports[name]

    def start(self) -> None:
        if self._tls is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="nxos-sim-")
            self._tls = make_tls(Path(self._tmp.name))
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                async with serve(
                    self.devices.values(), tls=self._tls, ports=dict(self._ports)
                ) as endpoints:
                    self._ports.update(endpoints.ports)
                    ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                failure.append(exc)
            finally:
                ready.set()

        self._thread = threading.Thread(
            target=lambda: loop.run_until_complete(main()), name="nxos-sim", daemon=True
        )
        self._thread.start()
        if not ready.wait(30.0):
            raise TimeoutError("NX-OS simulator did not start")
        if failure:
            raise failure[0]

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(30.0)
        loop.close()
        self._loop = self._stop = self._thread = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> NxosLabThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_nxos_in_thread(
    devices: Iterable[NxosSimDevice], *, tls: NxosTls | None = None
) -> NxosLabThread:
    return NxosLabThread(devices, tls=tls)
