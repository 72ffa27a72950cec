"""Loading curly-brace configuration text (``load merge|replace|override`` input)."""

from __future__ import annotations

from qkd_macsec.sim.config.errors import ConfigSyntaxError
from qkd_macsec.sim.config.paths import Cursor, apply, delete, enter, locate
from qkd_macsec.sim.config.schema import Schema
from qkd_macsec.sim.config.tokens import Token, is_punct, tokenize
from qkd_macsec.sim.config.tree import Node

_TAGS = {"replace:": "replace", "delete:": "delete", "inactive:": "inactive"}
_UNSUPPORTED_TAGS = frozenset({"protect:", "active:", "unprotect:"})


def load_text_into(root: Node, schema: Schema, text: str, *, honour_replace: bool) -> list[str]:
    """Apply statements in ``text`` to ``root``; returns warnings (e.g. deletes of nothing)."""
    warnings: list[str] = []
    stack: list[Cursor] = [Cursor(root, schema)]
    words: list[Token] = []
    tag: str | None = None
    line = 1
    for token, line in tokenize(text):
        if is_punct(token, ";"):
            if words:
                _statement(stack[-1], words, tag, honour_replace, line, warnings)
            elif tag is not None:
                raise ConfigSyntaxError(f"missing statement after '{tag}:'", line=line)
            words, tag = [], None
        elif is_punct(token, "{"):
            if not words:
                raise ConfigSyntaxError("syntax error: unexpected '{'", line=line)
            if tag == "delete":
                raise ConfigSyntaxError("'delete:' must tag a statement ending in ';'", line=line)
            if tag == "replace" and honour_replace:
                delete(stack[-1], words, line=line)
            inner = enter(stack[-1], words, line=line)
            if tag == "inactive" and inner.pending is None:
                inner.node.inactive = True
            stack.append(inner)
            words, tag = [], None
        elif is_punct(token, "}"):
            if words:
                raise ConfigSyntaxError("syntax error: missing ';'", line=line)
            if len(stack) == 1:
                raise ConfigSyntaxError("syntax error: unbalanced '}'", line=line)
            stack.pop()
        elif not words and tag is None and not is_punct(token) and token in _TAGS:
            tag = _TAGS[token]
        elif not words and not is_punct(token) and token in _UNSUPPORTED_TAGS:
            raise ConfigSyntaxError(f"'{token}' is not supported by the simulator", line=line)
        else:
            words.append(token)
    if words or tag is not None:
        raise ConfigSyntaxError("syntax error: missing ';' at end of input", line=line)
    if len(stack) > 1:
        raise ConfigSyntaxError("syntax error: missing '}' at end of input", line=line)
    return warnings


def _statement(
    cursor: Cursor,
    words: list[Token],
    tag: str | None,
    honour_replace: bool,
    line: int,
    warnings: list[str],
) -> None:
    if tag == "delete":
        if not delete(cursor, words, line=line):
            warnings.append(f"line {line}: statement not found")
        return
    if tag == "replace" and honour_replace:
        delete(cursor, words, line=line)
    apply(cursor, words, line=line)
    if tag == "inactive":
        target = locate(cursor, words)
        if target is not None:
            target.inactive = True
