"""Tokenizing Junos set lines and curly-brace text, and quoting values for output."""

from __future__ import annotations

from qkd_macsec.sim.config.errors import ConfigSyntaxError

PUNCTUATION = frozenset("{};[]")
_NEEDS_QUOTES = frozenset(" \t\n\r{};[]\"'#\\")


class Punct(str):
    """An unquoted ``{ } ; [ ]`` (a quoted "[" is a plain word)."""

    __slots__ = ()


Token = str  # a word, or a Punct


def tokenize(text: str, *, line_offset: int = 0) -> list[tuple[Token, int]]:
    """Split into (token, 1-based line) pairs; drops ``#`` and ``/* */`` comments."""
    out: list[tuple[Token, int]] = []
    i, n, line = 0, len(text), 1 + line_offset
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ConfigSyntaxError("unterminated comment", line=line)
            line += text.count("\n", i, end)
            i = end + 2
        elif ch in PUNCTUATION:
            out.append((Punct(ch), line))
            i += 1
        elif ch == '"':
            start_line = line
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise ConfigSyntaxError("unterminated quoted string", line=start_line)
                c = text[i]
                if c == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                if c == "\n":
                    line += 1
                buf.append(c)
                i += 1
            out.append(("".join(buf), start_line))
        else:
            start = i
            while i < n and text[i] not in ' \t\r\n{};[]"':
                i += 1
            out.append((text[start:i], line))
    return out


def quote(value: str, *, force: bool = False) -> str:
    """A value as Junos prints it: bare when safe, else double-quoted with escapes."""
    safe = "/*" not in value and not any(c in _NEEDS_QUOTES or c.isspace() for c in value)
    if not force and value and safe:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def is_punct(token: Token, char: str | None = None) -> bool:
    return isinstance(token, Punct) and (char is None or token == char)
