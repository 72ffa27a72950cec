"""Errors raised by the simulated Junos configuration model.

Exception tree::

    ConfigError            base: .message, .line (1-based or None), .path (edit path or None)
    ├── ConfigSyntaxError  a set/text/xml/json load failed (the configuration is unchanged)
    └── CommitCheckError   one commit-check finding (``Configuration.check`` returns a list)

Messages never contain CAK or key-chain secret values.
"""

from __future__ import annotations

import re

_LONG_HEX = re.compile(r"^[0-9a-fA-F]{16,}$")


def shown(word: str) -> str:
    """A word safe to echo in an error: long hex strings may be key material, so hidden."""
    return "<hex value>" if _LONG_HEX.match(word) else word


class ConfigError(Exception):
    """A configuration problem, located by input line and/or statement path when known."""

    def __init__(self, message: str, *, line: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(f"[edit {self.path}]")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{' '.join(where)}: {self.message}" if where else self.message


class ConfigSyntaxError(ConfigError):
    """Bad set line, text, XML or JSON; the load was refused as a whole."""


class CommitCheckError(ConfigError):
    """A commit-check finding, worded like Junos' ``error:`` lines."""
