"""Loading ``set`` / ``delete`` lines (``load set`` input)."""

from __future__ import annotations

from qkd_macsec.sim.config.errors import ConfigSyntaxError, shown
from qkd_macsec.sim.config.paths import Cursor, apply, delete, locate
from qkd_macsec.sim.config.schema import Schema
from qkd_macsec.sim.config.tokens import tokenize
from qkd_macsec.sim.config.tree import Node


def load_set_into(root: Node, schema: Schema, text: str) -> list[str]:
    """Apply each line; returns warnings (``delete`` of a statement that is not there)."""
    warnings: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        words = [token for token, _ in tokenize(stripped, line_offset=number - 1)]
        if not words:
            continue
        verb, rest = words[0], words[1:]
        if verb == "set":
            if not rest:
                raise ConfigSyntaxError("syntax error: 'set' needs a statement", line=number)
            apply(Cursor(root, schema), rest, line=number)
        elif verb == "delete":
            if not delete(Cursor(root, schema), rest, line=number):
                warnings.append(f"line {number}: statement not found")
        elif verb in ("activate", "deactivate"):
            # Junos keeps a deactivated statement (shown `inactive:`) without effect.
            target = locate(Cursor(root, schema), rest)
            if target is None or target is root:
                warnings.append(f"line {number}: statement not found")
            else:
                target.inactive = verb == "deactivate"
        else:
            raise ConfigSyntaxError(f"syntax error: unknown command '{shown(verb)}'", line=number)
    return warnings
