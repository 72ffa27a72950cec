"""Syslog in RFC 5424 form, with the rotation's fields as structured data.

Operators collect logs with syslog; a controller that only writes files is invisible there. The
standard library's :class:`~logging.handlers.SysLogHandler` does the transport (UDP, TCP, a local
unix socket such as ``/dev/log``) but formats BSD-style lines with no structure and maps no
NOTICE level. This module adds an RFC 5424 formatter (version 1, RFC 3339 UTC timestamps, the
link / key ID / phase / device / kcv of a record as one SD-ELEMENT), the NOTICE → ``notice``
severity, and RFC 6587 octet-counting frames over TCP. Every record passes the same
:class:`~qkd_macsec.obs.logging.RedactionFilter` as the other sinks before it is formatted.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

__all__ = [
    "FACILITIES",
    "STRUCTURED_FIELDS",
    "Rfc5424Formatter",
    "Rfc5424SyslogHandler",
    "SyslogAddress",
    "SyslogAddressError",
    "parse_syslog_address",
]

#: The SD-ID of our structured data: a name plus the RFC 5612 documentation enterprise number
#: (no private enterprise number is registered for this project).
SD_ID = "qkd-macsec@32473"
APP_NAME = "qkd-macsec"
STRUCTURED_FIELDS = ("link", "device", "key_id", "phase", "kcv")
DEFAULT_PORT = 514
DEFAULT_SOCKET = "/dev/log"
FACILITIES = {
    name: code
    for name, code in logging.handlers.SysLogHandler.facility_names.items()
    if name in {"user", "daemon", "auth", "syslog"} or name.startswith("local")
}
_SEVERITIES = {
    "DEBUG": "debug",
    "INFO": "info",
    "NOTICE": "notice",
    "WARNING": "warning",
    "ERROR": "error",
    "CRITICAL": "critical",
}


class SyslogAddressError(ValueError):
    """A ``--syslog`` address that cannot be used."""


@dataclass(frozen=True)
class SyslogAddress:
    """Where syslog goes: ``transport`` is ``udp``, ``tcp`` or ``unix``."""

    transport: str
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""

    def __str__(self) -> str:
        if self.transport == "unix":
            return f"unix://{self.path}"
        return f"{self.transport}://{self.host}:{self.port}"


def parse_syslog_address(text: str | None) -> SyslogAddress:
    """``udp://host[:port]``, ``tcp://host[:port]``, ``unix:///path`` or ``/path``; ``host[:port]``
    means UDP; empty means the local socket ``/dev/log``."""
    if not text:
        return SyslogAddress("unix", path=DEFAULT_SOCKET)
    if text.startswith("/"):
        return SyslogAddress("unix", path=text)
    if "://" not in text:
        text = f"udp://{text}"
    parts = urlsplit(text)
    if parts.scheme == "unix":
        if not parts.path:
            raise SyslogAddressError(f"syslog address {text!r} names no socket path")
        return SyslogAddress("unix", path=parts.path)
    if parts.scheme not in ("udp", "tcp"):
        raise SyslogAddressError(
            f"syslog address {text!r}: transport must be udp, tcp or unix, not {parts.scheme!r}"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise SyslogAddressError(f"syslog address {text!r} has a bad port") from None
    if not parts.hostname or parts.path not in ("", "/"):
        raise SyslogAddressError(f"syslog address {text!r} is not transport://host[:port]")
    return SyslogAddress(parts.scheme, host=parts.hostname, port=port)


def _sd_name_safe(value: str) -> str:
    """An SD-PARAM value with ``"``, ``\\`` and ``]`` escaped (RFC 5424 §6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit`` octets, or ``-``."""
    cleaned = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


class Rfc5424Formatter(logging.Formatter):
    """``1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`` (the handler prepends ``<PRI>``).

    MSGID is the record's phase when it has one; the structured data carries every field of
    :data:`STRUCTURED_FIELDS` the record has (passed as logging ``extra``).
    """

    def __init__(self, *, hostname: str | None = None, scrub: Callable[[str], str] = str) -> None:
        super().__init__()
        self.hostname = _header_field(hostname or socket.gethostname(), 255)
        self.scrub = scrub  # the message is redacted by the handler's filter; fields here

    def format(self, record: logging.LogRecord) -> str:
        redact = self.scrub
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")
        stamp = stamp.replace("+00:00", "Z")
        params = [
            f'{name}="{_sd_name_safe(redact(str(value)))}"'
            for name in STRUCTURED_FIELDS
            if (value := getattr(record, name, None)) is not None
        ]
        params.append(f'logger="{_sd_name_safe(record.name)}"')
        structured = f"[{SD_ID} {' '.join(params)}]"
        msgid = _header_field(str(getattr(record, "phase", "") or ""), 32)
        message = record.getMessage()
        if record.exc_text:
            message = f"{message} | {record.exc_text}"
        message = message.replace("\n", " | ")
        header = f"1 {stamp} {self.hostname} {APP_NAME} {os.getpid()} {msgid}"
        return f"{header} {structured} {message}"


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


class Rfc5424SyslogHandler(logging.handlers.SysLogHandler):
    """The standard handler's transport with RFC 5424 frames and syslog's own severities."""

    def __init__(self, address: SyslogAddress, facility: int) -> None:
        where: str | tuple[str, int] = (
            address.path if address.transport == "unix" else (address.host, address.port)
        )
        socktype = socket.SOCK_STREAM if address.transport == "tcp" else socket.SOCK_DGRAM
        if address.transport == "unix" and not _is_socket(address.path):
            # The stdlib ignores a missing local socket (as openlog() does); a command line
            # that asks for syslog wants to know at once.
            raise SyslogAddressError(f"cannot open syslog {address}: no socket at {address.path}")
        try:
            super().__init__(where, facility, socktype if address.transport != "unix" else None)
        except OSError as exc:
            raise SyslogAddressError(
                f"cannot open syslog {address}: {exc.strerror or exc}"
            ) from None
        self.destination = address
        self._complained = False

    def mapPriority(self, levelName: str) -> str:
        return _SEVERITIES.get(levelName, "warning")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            priority = self.encodePriority(self.facility, self.mapPriority(record.levelname))
            frame = f"<{priority}>{self.format(record)}".encode()
            if self.destination.transport == "tcp":
                frame = f"{len(frame)} ".encode() + frame  # RFC 6587 octet counting
            sock: socket.socket = self.socket  # type: ignore[attr-defined]
            if self.unixsocket:
                try:
                    sock.send(frame)
                except OSError:
                    sock.close()
                    self._connect_unixsocket(self.destination.path)  # type: ignore[attr-defined]
                    self.socket.send(frame)  # type: ignore[attr-defined]
            elif self.socktype == socket.SOCK_DGRAM:
                sock.sendto(frame, (self.destination.host, self.destination.port))
            else:
                sock.sendall(frame)
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """One line on stderr the first time a record cannot be sent; never a traceback (a
        syslog server that goes away must not flood the console of a long ``run``)."""
        if not self._complained:
            self._complained = True
            error = sys.exc_info()[1]
            detail = getattr(error, "strerror", None) or type(error).__name__
            sys.stderr.write(f"qkd-macsec: cannot send to syslog {self.destination}: {detail}\n")
