"""Credentials by reference: ``{env: NAME}`` or ``{file: PATH}``, resolved only at connect time.

An inventory never needs to hold a password: it names where to find it. The value is read as
late as possible (``Host.resolve_password()``), wrapped in :class:`~qkd_macsec.secret.Secret`
at once and registered with the log redaction filter. Errors name the inventory field and the
variable or file, never the value. Secret files must not be readable by group or others.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from qkd_macsec.inventory.errors import CredentialError
from qkd_macsec.obs.logging import SECRETS
from qkd_macsec.secret import Secret

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_SECRET_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives. ``field`` is the inventory field that names it (for messages)."""

    env: str | None = None
    file: Path | None = None
    inline: Secret | None = None
    field: str = "password"
    source: str = "inventory"

    @property
    def kind(self) -> Literal["env", "file", "inline"]:
        if self.env is not None:
            return "env"
        return "file" if self.file is not None else "inline"

    def describe(self) -> str:
        """Safe to print: the variable or file name, or ``inline`` (never the value)."""
        if self.env is not None:
            return f"env {self.env}"
        if self.file is not None:
            return f"file {self.file}"
        return "inline"

    def resolve(self, environ: Mapping[str, str] | None = None) -> Secret:
        """Read the secret now. Raises :class:`CredentialError` naming field and source."""
        if self.inline is not None:
            value = self.inline
        elif self.env is not None:
            env = os.environ if environ is None else environ
            text = env.get(self.env)
            if text is None:
                self._fail(f"environment variable {self.env} is not set")
            if text == "":
                self._fail(f"environment variable {self.env} is empty")
            value = Secret.from_text(text)
        elif self.file is not None:
            value = Secret(self._read_file(self.file))
        else:  # pragma: no cover - the parser never builds an empty reference
            self._fail("empty credential reference")
        _register(value)
        return value

    def _read_file(self, path: Path) -> bytes:
        problem = private_file_problem(path)
        if problem is not None:
            self._fail(problem)
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._fail(f"cannot read secret file {path}: {exc.strerror or type(exc).__name__}")
        if len(data) > _MAX_SECRET_FILE:
            self._fail(f"secret file {path} is larger than {_MAX_SECRET_FILE} bytes")
        data = data.removesuffix(b"\n").removesuffix(b"\r")
        if not data:
            self._fail(f"secret file {path} is empty")
        try:
            data.decode()
        except UnicodeDecodeError:
            self._fail(f"secret file {path} is not UTF-8 text")
        return data

    def _fail(self, message: str) -> NoReturn:
        raise CredentialError(self.source, [f"{self.field}: {message}"])


def _register(value: Secret) -> None:
    """Tell the log redaction filter about a resolved secret (as text when it is text)."""
    try:
        SECRETS.add(value.reveal().decode())
    except UnicodeDecodeError:
        SECRETS.add(value.reveal())


def private_file_problem(path: Path, what: str = "secret file") -> str | None:
    """Why ``path`` is not a usable private file (missing, not a file, group/world access)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{what} {path} does not exist"
    except OSError as exc:
        return f"cannot access {what} {path}: {exc.strerror or type(exc).__name__}"
    if not stat.S_ISREG(info.st_mode):
        return f"{what} {path} is not a regular file"
    if info.st_mode & 0o077:
        return (
            f"{what} {path} is accessible by group/others (mode {stat.S_IMODE(info.st_mode):04o});"
            f" refusing it: run chmod 600 {path}"
        )
    return None


def parse_secret_ref(value: object) -> SecretRef | None:
    """The YAML value of a ``password`` field → an unresolved :class:`SecretRef`.

    Paths stay as written (the loader makes them relative to the inventory); inline strings
    are wrapped at once and refused later unless ``allow_inline_secrets`` is set. Error messages
    never repeat the value.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            raise ValueError("an inline password must not be empty")
        return SecretRef(inline=Secret.from_text(value))
    if isinstance(value, dict) and len(value) == 1:
        ((key, target),) = value.items()
        if key == "env":
            if not isinstance(target, str) or not _ENV_NAME.fullmatch(target):
                raise ValueError(
                    "{env: NAME} needs an environment variable name "
                    "(letters, digits and '_', not starting with a digit)"
                )
            return SecretRef(env=target)
        if key == "file":
            if not isinstance(target, str) or not target or "\x00" in target:
                raise ValueError("{file: PATH} needs a file path")
            return SecretRef(file=Path(target).expanduser())
    raise ValueError("must be a reference {env: NAME} or {file: PATH}")
