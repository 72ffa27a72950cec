"""A wrapper for key material that cannot leak through repr, str, logging or pickling.

Every QKD key, CAK and password the tool handles travels as a :class:`Secret`. Code that
really needs the bytes calls :meth:`Secret.reveal` — a greppable, deliberate act.
"""

from __future__ import annotations

import hmac
from typing import NoReturn


class Secret:
    """Opaque secret bytes. ``repr``/``str``/``format`` show only the length."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("Secret wraps bytes")
        self._value = bytes(value)

    @classmethod
    def from_text(cls, text: str) -> Secret:
        return cls(text.encode())

    def reveal(self) -> bytes:
        """The raw bytes. Call only where the secret must leave the process (wire, device)."""
        return self._value

    def reveal_text(self) -> str:
        return self._value.decode()

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret(<{len(self._value)} bytes hidden>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled")
