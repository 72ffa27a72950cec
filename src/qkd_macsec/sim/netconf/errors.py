"""``<rpc-error>`` as data: handlers raise :class:`RpcFailure`; the session renders it.

Shapes follow what Junos sends (error-type, error-tag, error-severity, optional error-path,
error-message, error-info with bad-element or session-id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qkd_macsec.sim.netconf.xml import Element, element, sub


@dataclass(frozen=True)
class RpcErrorInfo:
    message: str
    tag: str = "operation-failed"
    type: str = "protocol"
    severity: str = "error"
    path: str | None = None
    bad_element: str | None = None
    session_id: int | None = None

    def to_element(self) -> Element:
        node = element("rpc-error")
        sub(node, "error-type", self.type)
        sub(node, "error-tag", self.tag)
        sub(node, "error-severity", self.severity)
        if self.path is not None:
            sub(node, "error-path", self.path)
        sub(node, "error-message", self.message)
        if self.bad_element is not None or self.session_id is not None:
            info = sub(node, "error-info")
            if self.bad_element is not None:
                sub(info, "bad-element", self.bad_element)
            if self.session_id is not None:
                sub(info, "session-id", str(self.session_id))
        return node


@dataclass
class RpcFailure(Exception):
    """One or more rpc-errors, optionally wrapped (``<load-configuration-results>``,
    ``<commit-results><routing-engine>``) the way Junos reports them for that RPC."""

    errors: Sequence[RpcErrorInfo]
    wrapper: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return "; ".join(error.message for error in self.errors)

    def body(self) -> Element:
        """The reply body: the errors, inside the wrapper elements if any."""
        if not self.wrapper:
            raise ValueError("use errors directly when there is no wrapper")
        root = element(self.wrapper[0])
        inner = root
        for tag in self.wrapper[1:]:
            inner = sub(inner, tag)
            if tag == "routing-engine":
                sub(inner, "name", "re0")
        for error in self.errors:
            inner.append(error.to_element())
        return root


def failure(message: str, **kwargs: str | int | None) -> RpcFailure:
    """Shorthand for a single-error failure."""
    return RpcFailure([RpcErrorInfo(message, **kwargs)])  # type: ignore[arg-type]


def unknown_rpc(name: str) -> RpcFailure:
    return RpcFailure(
        [RpcErrorInfo("syntax error, expecting <rpc> or <command>", bad_element=name)]
    )
