"""The inventory's one error type, and how a field's location is written in messages.

Every problem is reported as ``FILE: FIELD: what is wrong`` (``inventory.yaml:
links[0].master.interface: 'et-0/0/9;x' is not a valid Junos interface name``); all problems
found in one pass are collected into a single :class:`InventoryError` so an operator fixes them
in one go. Messages never repeat a password or any other secret value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class InventoryError(ValueError):
    """The inventory is unreadable or invalid; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = f"{source}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  {source}: {problem}" for problem in self.problems)
            text = f"{source}: {len(self.problems)} problems:\n{lines}"
        super().__init__(text)


class CredentialError(InventoryError):
    """A credential reference (``{env: NAME}`` / ``{file: PATH}``) cannot be resolved."""


def field_path(loc: Iterable[object]) -> str:
    """``("links", 0, "master", "interface")`` → ``links[0].master.interface``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out or "(top level)"


def problem(field: str, message: str) -> str:
    return f"{field}: {message}"
