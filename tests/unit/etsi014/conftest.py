"""Fakes for the client's unit tests: a scripted KME behind httpx.MockTransport, fake time."""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity

BASE_URL = "https://kme-a.test"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeTime:
    """A clock that only moves when the client sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ScriptedKme:
    """Answers from a list (the last one repeats) and remembers every request."""

    answers: list[httpx.Response | Exception]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests) - 1, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def container(*pairs: tuple[str, bytes], field_name: str = "keys") -> dict[str, Any]:
    return {field_name: [{"key_ID": key_id, "key": b64(key)} for key_id, key in pairs]}


def ok(payload: Any) -> httpx.Response:
    return httpx.Response(200, json=payload)


def error(status: int, payload: Any = None, *, text: str | None = None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text)
    if payload is None:
        return httpx.Response(status)
    return httpx.Response(status, json=payload)


def fast_options(**changes: Any) -> ClientOptions:
    retry = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, jitter=0.5)
    return ClientOptions(**{"retry": retry, "dec_keys_wait": 1.0, **changes})


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Callable[..., KmeClient]:
    def build(handler: Handler, options: ClientOptions | None = None) -> KmeClient:
        return KmeClient(
            BASE_URL,
            TlsIdentity(Path("/nonexistent/sae.pem"), Path("/nonexistent/sae.key")),
            options or fast_options(),
            transport=httpx.MockTransport(handler),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            rng=random.Random(7),
        )

    return build


class LogCapture(logging.Handler):
    """Collects the etsi014 logger's messages at DEBUG, whatever the global logging setup."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


@pytest.fixture
def etsi_log() -> Iterator[LogCapture]:
    logger = logging.getLogger("qkd_macsec.etsi014")
    capture = LogCapture()
    capture.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(previous)
