"""Logging: the seed's NOTICE level, console + rotating file + optional JSON lines, redaction.

Secrets should never reach a log call in the first place (they travel as
:class:`~qkd_macsec.secret.Secret`); the :class:`RedactionFilter` is the second line of defence:
it masks any registered secret value and anything shaped like a long hex/base64 key.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from qkd_macsec.obs.syslog import (
    FACILITIES,
    Rfc5424Formatter,
    Rfc5424SyslogHandler,
    SyslogAddress,
    SyslogAddressError,
)

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

LOGGER_NAME = "qkd_macsec"
_MASK = "<redacted>"
# Long base64 runs holding at least one non-hex character: key-shaped material. Pure hex runs are
# left alone (CKNs are hex and public); hex secrets are caught through the registry instead.
_KEYISH = re.compile(
    r"(?<![0-9A-Za-z+/])(?=[A-Za-z0-9+/]*[g-zG-Z+/])[A-Za-z0-9+/]{40,}={0,2}(?![0-9A-Za-z+/])"
)
_REGISTRY_SIZE = 4096


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if not name.startswith(LOGGER_NAME) else name)


def notice(logger: logging.Logger, msg: str, *args: object, **kwargs: Any) -> None:
    logger.log(NOTICE, msg, *args, **kwargs)


class SecretRegistry:
    """Recent values that must never be printed (passwords, CAKs seen at run time).

    Bounded (least recently added dropped first) so a months-long ``run`` does not grow it.
    """

    def __init__(self, size: int = _REGISTRY_SIZE) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._values: OrderedDict[str, None] = OrderedDict()

    def add(self, value: str | bytes) -> None:
        texts = [value.hex(), value.hex().upper()] if isinstance(value, bytes) else [value]
        with self._lock:
            for text in texts:
                if len(text) >= 6:
                    self._values[text] = None
                    self._values.move_to_end(text)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, _MASK)
        return text


SECRETS = SecretRegistry()


def redact(text: str) -> str:
    """Mask registered secrets and key-shaped runs in a string."""
    return _KEYISH.sub(_MASK, SECRETS.scrub(text))


class RedactionFilter(logging.Filter):
    """Rewrites each record's final message with :func:`redact` (args are folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.msg = cleaned
        record.args = None
        return True


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (not the stream seen at set-up), so a
    replaced or closed stderr (test capture, daemonisation) never breaks logging."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the structured fields passed in ``extra``."""

    FIELDS = ("link", "device", "key_id", "phase", "kcv")

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                payload[field] = value
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, sort_keys=True)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(
    *,
    verbosity: int = 0,
    log_file: Path | None = None,
    trace_file: Path | None = None,
    json_lines: bool = False,
    console: bool = True,
    syslog: SyslogAddress | None = None,
    syslog_facility: str = "daemon",
) -> None:
    """Console at NOTICE (INFO with -v, DEBUG with -vv), optional rotating file, trace file and
    RFC 5424 syslog (at the console's level).

    Every handler carries the redaction filter; files are created 0600. A syslog destination
    that cannot be opened raises :class:`~qkd_macsec.obs.syslog.SyslogAddressError`.
    """
    root = logging.getLogger(LOGGER_NAME)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    level = NOTICE if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    formatter: logging.Formatter = JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = []
    if console:
        stream = CurrentStderrHandler()
        stream.setLevel(level)
        handlers.append(stream)
    if log_file is not None:
        _touch_private(log_file)
        rotating = PrivateRotatingFileHandler(log_file, maxBytes=10 * 1024 * 1024, backupCount=5)
        rotating.setLevel(min(level, logging.INFO))
        handlers.append(rotating)
    if trace_file is not None:
        _touch_private(trace_file)
        trace = logging.FileHandler(trace_file)
        trace.setLevel(logging.DEBUG)
        handlers.append(trace)
    for handler in handlers:
        handler.setFormatter(formatter)
    if syslog is not None:
        if syslog_facility not in FACILITIES:
            raise SyslogAddressError(f"unknown syslog facility {syslog_facility!r}")
        sink = Rfc5424SyslogHandler(syslog, FACILITIES[syslog_facility])
        sink.setLevel(level)
        sink.setFormatter(Rfc5424Formatter(scrub=redact))
        handlers.append(sink)
    for handler in handlers:
        handler.addFilter(RedactionFilter())
        root.addHandler(handler)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file is 0600: the first, and each new one after a rollover
    (the stock handler opens those with the process umask, typically 0644)."""

    def _open(self) -> Any:
        _touch_private(Path(self.baseFilename))
        return super()._open()


def _touch_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
