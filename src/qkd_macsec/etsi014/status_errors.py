"""From an HTTP error answer to the typed error, for every KME dialect (no I/O).

Status codes carry most of the meaning; the server's message settles what the code alone cannot
(a 400 for an empty pool vs. an unknown key, a 404 for an unknown SAE vs. a consumed key).
A *refusal* is a message saying the caller is not authorised, not a slave of the key, not served
by this KME, an unknown SAE, not involved in any key exchange, or without a client
certificate. An HTML error page (a proxy's or an application server's) is reduced to its text.

=====  ===========================================================================
400    "not enough key material"/"insufficient"/"exceeds the generated key count"/...
       -> KeyPoolExhaustedError;
       "expired" -> KeyExpiredError; a refusal (above) -> UnauthorizedError;
       "not found" about keys -> KeyNotFoundError; otherwise KmeBadRequestError
401    UnauthorizedError
403    "expired" -> KeyExpiredError; a refusal, or status/enc_keys -> UnauthorizedError;
       otherwise (dec_keys) KeyExpiredError
404    a refusal -> UnauthorizedError; dec_keys -> KeyNotFoundError;
       status/enc_keys: UnauthorizedError when the message names an SAE, else
       KmeBadRequestError (a wrong base URL also answers 404)
429    KmeUnavailableError (retryable)
5xx    KeyPoolExhaustedError when the message says so, else KmeUnavailableError
4xx    KmeBadRequestError
=====  ===========================================================================
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any, Literal

from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeBadRequestError,
    KmeStatusError,
    KmeUnavailableError,
    UnauthorizedError,
)
from qkd_macsec.obs.logging import redact

Endpoint = Literal["status", "enc_keys", "dec_keys"]

MAX_MESSAGE_CHARS = 200
_EXHAUSTED = re.compile(
    r"not\s+enough\s+key|insufficient|exhaust|deplet|out\s+of\s+key|pool\s+(is\s+)?empty"
    r"|no\s+(more\s+)?keys?\s+(material\s+)?(is\s+|are\s+)?available"
    r"|exceed\w*\s+(the\s+)?(generated|available|stored)\s+key",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"not\s+(be\s+)?found|unknown|no\s+such|(do|does)\s+not\s+exist|don'?t\s+exist"
    r"|already\s+(been\s+)?"
    r"(consumed|delivered|retrieved|used|fetched)",
    re.IGNORECASE,
)
_EXPIRED = re.compile(r"expir", re.IGNORECASE)
# The caller is refused or the SAE unknown, whatever the status code says.
_REFUSED = re.compile(
    r"authori[sz]|forbidden|not\s+allowed|permission|not\s+(a|an|the)\s+(slave|master)"
    r"|not\s+served|unknown\s+sae|(?<![a-z])sae\b.*\bnot\s+(found|known|registered)"
    r"|client\s+certificate|not\s+involved\s+in",
    re.IGNORECASE,
)
_SAE = re.compile(r"(?<![a-z])sae", re.IGNORECASE)
_KEY = re.compile(r"\bkeys?\b|key_?ids?", re.IGNORECASE)
_OTHER_PARTIES = re.compile(r"not\s+(a|an|the)\s+(slave|master)", re.IGNORECASE)
_CERTIFICATE = re.compile(r"certificate|\bcert\b|\btls\b|\bssl\b", re.IGNORECASE)
# Leading comments allowed; each one cannot span a "-->" (a lazy ".*?" here backtracks
# exponentially on a run of empty comments).
_HTML_START = re.compile(
    r"\s*(?:<!--(?:(?!-->).)*-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_TAG_LEFT = re.compile(r"<[^>]*>?|>")
#: Only the start of an HTML page is read: the message is cut to MAX_MESSAGE_CHARS anyway.
_HTML_SCAN_CHARS = 64 * 1024
_WHITESPACE = re.compile(r"\s+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def error_for_status(
    status_code: int, body: bytes, *, method: str, path: str, endpoint: Endpoint
) -> KmeStatusError:
    """The typed error for an HTTP error answer (the caller raises it)."""
    message = server_message(body)
    kind = _classify(status_code, message, endpoint)
    return kind(status_code=status_code, message=message, method=method, path=path)


def _classify(status_code: int, message: str, endpoint: Endpoint) -> type[KmeStatusError]:
    about_keys = endpoint == "dec_keys" or bool(_KEY.search(message))
    refused = bool(_REFUSED.search(message))
    if status_code == 401:
        return UnauthorizedError
    if status_code == 400:
        if _EXHAUSTED.search(message):
            return KeyPoolExhaustedError
        if _EXPIRED.search(message) and about_keys:
            return KeyExpiredError
        if refused:
            return UnauthorizedError
        if _NOT_FOUND.search(message) and about_keys:
            return KeyNotFoundError
        return KmeBadRequestError
    if status_code == 403:
        if _EXPIRED.search(message):
            return KeyExpiredError
        if refused or endpoint != "dec_keys":
            return UnauthorizedError
        return KeyExpiredError
    if status_code == 404:
        if refused:
            return UnauthorizedError
        if endpoint == "dec_keys":
            return KeyNotFoundError
        return UnauthorizedError if _SAE.search(message) else KmeBadRequestError
    if status_code == 429:
        return KmeUnavailableError
    if 500 <= status_code <= 599:
        return KeyPoolExhaustedError if _EXHAUSTED.search(message) else KmeUnavailableError
    if 400 <= status_code <= 499:
        return KmeBadRequestError
    return KmeStatusError


def server_message(body: bytes) -> str:
    """The server's explanation from any error-body dialect, cleaned, redacted and truncated.

    Handles no body, non-JSON text, ``{"message": ...}`` (spec), ``{"detail": str | object}``,
    ``{"details": [...]}`` and any other JSON.
    """
    if not body.strip():
        return ""
    text = body.decode("utf-8", errors="replace")
    if _HTML_START.match(text[:_HTML_SCAN_CHARS]):
        return _clean(html_text(text[:_HTML_SCAN_CHARS]))
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return _clean(text)
    if isinstance(data, dict):
        parts = [
            _as_text(data[name])
            for name in ("message", "detail", "error", "error_description")
            if data.get(name) not in (None, "", [], {})
        ]
        if data.get("details"):
            parts.append("details: " + _as_text(data["details"]))
        return _clean("; ".join(parts) if parts else _as_text(data))
    return _clean(_as_text(data))


def about_keys_not_certificates(message: str) -> bool:
    """A refusal that speaks of keys and not of the client certificate (for dec_keys: maybe the
    key has not reached this KME yet, rather than a wrong identity)."""
    return bool(_KEY.search(message)) and not _CERTIFICATE.search(message)


def names_other_parties(message: str) -> bool:
    """The KME knows the key and says the caller is not its slave (or master): definitive."""
    return bool(_OTHER_PARTIES.search(message))


class _TextOfHtml(HTMLParser):
    """Collects the visible text of a page (and its title), skipping scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.body: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        (self.title if self._in_title else self.body).append(data)


def html_text(page: str) -> str:
    """The words of an HTML error page, no markup: its title, then its text if that says more.

    Application servers put the useful sentence in the body ("Message: key not found"),
    proxies only in the title; entities are decoded and anything tag-like that is left (an
    unterminated tag, an encoded ``&lt;script&gt;``) is removed.
    """
    parser = _TextOfHtml()
    try:
        parser.feed(page)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read
        pass
    title = _WHITESPACE.sub(" ", " ".join(parser.title)).strip()
    body = _WHITESPACE.sub(" ", " ".join(parser.body)).strip()
    text = body if not title or body.startswith(title) else f"{title}: {body}" if body else title
    return _TAG_LEFT.sub(" ", text)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def _clean(text: str) -> str:
    text = _WHITESPACE.sub(" ", _UNPRINTABLE.sub(" ", redact(text))).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text
