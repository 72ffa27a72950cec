"""A real syslog receiver for tests: UDP, TCP (RFC 6587 octet counting) or a unix socket.

It keeps every frame it receives, in order, on a background thread, and parses RFC 5424 frames
into their parts so tests can assert on priority, header, structured data and message.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FRAME = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(?P<msg>.*)",
    re.DOTALL,
)
PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Frame:
    raw: bytes
    pri: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    message: str

    @property
    def severity(self) -> int:
        return self.pri % 8

    @property
    def facility(self) -> int:
        return self.pri // 8


def parse_frame(raw: bytes) -> Frame:
    match = FRAME.fullmatch(raw.decode())
    if match is None:
        raise AssertionError(f"not an RFC 5424 frame: {raw!r}")
    sd = match["sd"]
    sd_id = sd[1:].split(" ", 1)[0].rstrip("]") if sd != "-" else "-"
    params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in PARAM.findall(sd)}
    return Frame(
        raw,
        int(match["pri"]),
        match["ts"],
        match["host"],
        match["app"],
        match["pid"],
        match["msgid"],
        sd_id,
        params,
        match["msg"],
    )


@dataclass
class SyslogReceiver:
    transport: str  # udp | tcp | unix
    path: Path | None = None
    frames: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Condition()
        if self.transport == "unix":
            assert self.path is not None
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(str(self.path))
            self.address = f"unix://{self.path}"
        else:
            kind = socket.SOCK_DGRAM if self.transport == "udp" else socket.SOCK_STREAM
            self.sock = socket.socket(socket.AF_INET, kind)
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"{self.transport}://127.0.0.1:{self.sock.getsockname()[1]}"
        if self.transport != "tcp":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        else:
            self.sock.listen(8)
        self.sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _keep(self, frame: bytes) -> None:
        with self._lock:
            self.frames.append(frame)
            self._lock.notify_all()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "tcp":
                    conn, _ = self.sock.accept()
                    threading.Thread(target=self._serve_stream, args=(conn,), daemon=True).start()
                else:
                    self._keep(self.sock.recv(65536))
            except TimeoutError:
                continue
            except OSError:
                return

    def _serve_stream(self, conn: socket.socket) -> None:
        buffer = b""
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    self._keep(rest[: int(length)])
                    buffer = rest[int(length) :]

    def parsed(self) -> list[Frame]:
        with self._lock:
            return [parse_frame(raw) for raw in self.frames]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Frame]:
        """Frames once at least ``count`` have arrived (a deadline, not a sleep)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.frames) >= count, timeout)
        return self.parsed()

    def wait_until(
        self, predicate: Callable[[list[Frame]], bool], timeout: float = 10.0
    ) -> list[Frame]:
        """Frames once ``predicate`` holds for them (or the deadline passed)."""
        with self._lock:
            self._lock.wait_for(lambda: predicate([parse_frame(r) for r in self.frames]), timeout)
        return self.parsed()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()
