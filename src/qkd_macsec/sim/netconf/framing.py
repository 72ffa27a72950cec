"""NETCONF message framing (RFC 6242): ``]]>]]>`` end-of-message and chunked (base:1.1).

Pure byte juggling, no I/O: the SSH session feeds received bytes in and gets whole messages out.
"""

from __future__ import annotations

import re

EOM = b"]]>]]>"
_CHUNK_HEADER = re.compile(rb"\n#([1-9][0-9]{0,9})\n")
_END_OF_CHUNKS = b"\n##\n"
# What a header or end marker looks like before all of it has arrived.
_PARTIAL_HEADER = re.compile(rb"(\n(#(#|[1-9][0-9]{0,9})?)?)?")
MAX_CHUNK = 4_294_967_295
MAX_MESSAGE = 64 * 1024 * 1024


class FramingError(Exception):
    """The peer broke the framing rules; the session cannot continue."""


class FrameDecoder:
    """Splits a byte stream into NETCONF messages; switch to chunked mode after the hello."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._chunked = False
        self._parts: list[bytes] = []

    @property
    def chunked(self) -> bool:
        return self._chunked

    def use_chunked(self) -> None:
        self._chunked = True

    def feed(self, data: bytes) -> None:
        """Add received bytes; take messages out with :meth:`next_message`."""
        self._buffer += data
        if len(self._buffer) > MAX_MESSAGE:
            raise FramingError("message too large")

    def next_message(self) -> bytes | None:
        """The next complete message, or None until more bytes arrive.

        One at a time, because the hello decides the framing of everything after it.
        """
        return self._next_chunked() if self._chunked else self._next_eom()

    def _next_eom(self) -> bytes | None:
        end = self._buffer.find(EOM)
        if end < 0:
            return None
        message = bytes(self._buffer[:end])
        del self._buffer[: end + len(EOM)]
        return message

    def _next_chunked(self) -> bytes | None:
        while True:
            if self._buffer.startswith(_END_OF_CHUNKS):
                if not self._parts:
                    raise FramingError("end of chunks without a chunk")
                del self._buffer[: len(_END_OF_CHUNKS)]
                message = b"".join(self._parts)
                self._parts = []
                return message
            match = _CHUNK_HEADER.match(self._buffer)
            if match is None:
                if _PARTIAL_HEADER.fullmatch(self._buffer):
                    return None
                raise FramingError("bad chunk header")
            size = int(match.group(1))
            if size > MAX_CHUNK:
                raise FramingError("chunk too large")
            start = match.end()
            if len(self._buffer) < start + size:
                return None
            self._parts.append(bytes(self._buffer[start : start + size]))
            del self._buffer[: start + size]

    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete message."""
        return bytes(self._buffer)


def frame(message: bytes, *, chunked: bool) -> bytes:
    """Wrap one message for the wire."""
    if not chunked:
        return message + EOM
    if not message:
        raise ValueError("a chunked message cannot be empty")
    return b"\n#%d\n%s%s" % (len(message), message, _END_OF_CHUNKS)
