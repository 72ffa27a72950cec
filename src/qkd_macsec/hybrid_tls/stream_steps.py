# ruff: noqa: ASYNC109 - httpcore's stream interface takes timeouts as arguments
"""The client side of one TLS stream as I/O steps, so a synchronous and an asynchronous httpcore
stream share one copy of the logic (handshake loop, record reads, writes, close).

Each operation is a generator over a :class:`~qkd_macsec.hybrid_tls.TlsEngine` that yields
what it needs done on the TCP stream — :class:`Send` (bytes to write) or :data:`RECEIVE` (read
some bytes; the reply is sent back in, ``b""`` at EOF) — and returns its result. The owner runs
it with its own I/O: :func:`run_sync` (``hybrid_tls/sync_http.py``, the NX-API driver) or
:func:`run_async` (``etsi014/hybrid_transport.py``, the ETSI 014 client).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

import httpcore

from qkd_macsec.hybrid_tls.engine import TlsEngine, TlsHandshakeError

__all__ = [
    "READ_CHUNK",
    "RECEIVE",
    "Receive",
    "Send",
    "Steps",
    "close_steps",
    "handshake_steps",
    "read_steps",
    "run_async",
    "run_sync",
    "write_steps",
]

READ_CHUNK = 65536
T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Write ``data`` to the TCP stream; with ``quiet`` a failure to write is ignored (an
    alert or close_notify on a connection that is ending anyway)."""

    data: bytes
    quiet: bool = False


@dataclass(frozen=True)
class Receive:
    """Read up to :data:`READ_CHUNK` bytes from the TCP stream (``b""``: EOF)."""


RECEIVE = Receive()
Steps = Generator[Send | Receive, bytes, T]


def _flush(engine: TlsEngine, *, quiet: bool = False) -> Generator[Send | Receive, bytes, None]:
    data = engine.outgoing()
    if data:
        yield Send(data, quiet)


def handshake_steps(engine: TlsEngine) -> Steps[None]:
    """Until the handshake is complete; a refusal is :class:`httpcore.ConnectError` (chained to
    the :class:`TlsHandshakeError`), after the alert has been offered to the server."""
    while True:
        try:
            done = engine.handshake()
        except TlsHandshakeError as exc:
            yield from _flush(engine, quiet=True)  # the alert tells the server why
            raise httpcore.ConnectError(str(exc)) from exc
        yield from _flush(engine)
        if done:
            return
        data = yield RECEIVE
        if not data:
            raise httpcore.ConnectError("the server closed the connection during the handshake")
        engine.receive(data)


def read_steps(engine: TlsEngine, max_bytes: int) -> Steps[bytes | None]:
    """Decrypted application data; ``None`` at the end of the stream (close_notify or EOF)."""
    while True:
        try:
            data = engine.read(max_bytes)
        except TlsHandshakeError as exc:
            raise httpcore.ReadError(str(exc)) from exc
        if data is None:
            return None
        if data:
            return data
        yield from _flush(engine)  # e.g. a key update answer
        raw = yield RECEIVE
        if not raw:
            return None
        engine.receive(raw)


def write_steps(engine: TlsEngine, buffer: bytes) -> Steps[None]:
    if not buffer:
        return
    try:
        engine.write(buffer)
    except TlsHandshakeError as exc:
        raise httpcore.WriteError(str(exc)) from exc
    yield from _flush(engine)


def close_steps(engine: TlsEngine) -> Steps[None]:
    """The close alert, best effort."""
    engine.close_notify()
    yield from _flush(engine, quiet=True)


#: What a failed write of a ``quiet`` step may raise and be ignored.
QUIET_ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, OSError)


def run_sync(steps: Steps[T], raw: httpcore.NetworkStream, timeout: float | None) -> T:
    """Run ``steps`` on a synchronous httpcore stream."""
    try:
        step = next(steps)
        while True:
            reply = b""
            if isinstance(step, Send):
                try:
                    raw.write(step.data, timeout)
                except QUIET_ERRORS:
                    if not step.quiet:
                        raise
            else:
                reply = raw.read(READ_CHUNK, timeout)
            step = steps.send(reply)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        steps.close()


async def run_async(steps: Steps[T], raw: httpcore.AsyncNetworkStream, timeout: float | None) -> T:
    """Run ``steps`` on an asynchronous httpcore stream."""
    try:
        step = next(steps)
        while True:
            reply = b""
            if isinstance(step, Send):
                try:
                    await raw.write(step.data, timeout)
                except QUIET_ERRORS:
                    if not step.quiet:
                        raise
            else:
                reply = await raw.read(READ_CHUNK, timeout)
            step = steps.send(reply)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        steps.close()
