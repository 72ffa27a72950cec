"""Helpers shared by handlers: argument reading and device-error translation."""

from __future__ import annotations

from qkd_macsec.sim.config import ConfigError
from qkd_macsec.sim.device import CommitFailed, DeviceOperationError, LockDenied, PermissionDenied
from qkd_macsec.sim.netconf.errors import RpcErrorInfo, RpcFailure
from qkd_macsec.sim.netconf.xml import Element, local_name


def flag(op: Element, name: str) -> bool:
    """True when ``<name/>`` is a child (or ``name="name"`` an attribute, PyEZ vargs style)."""
    return op.find(name) is not None or op.get(name) is not None


def text_arg(op: Element, name: str) -> str | None:
    child = op.find(name)
    if child is not None:
        return (child.text or "").strip()
    value = op.get(name)
    return value.strip() if value is not None else None


def int_arg(op: Element, name: str, *, low: int, high: int) -> int | None:
    raw = text_arg(op, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_value(name, raw) from None
    if not low <= value <= high:
        raise invalid_value(name, raw)
    return value


def invalid_value(name: str, raw: str) -> RpcFailure:
    return RpcFailure(
        [
            RpcErrorInfo(
                f"invalid value for {name}: {raw!r}",
                tag="invalid-value",
                type="application",
                bad_element=name,
            )
        ]
    )


def device_failure(exc: DeviceOperationError, wrapper: tuple[str, ...] = ()) -> RpcFailure:
    """A device refusal as Junos reports it."""
    if isinstance(exc, LockDenied):
        info = RpcErrorInfo(
            exc.message, tag="lock-denied", session_id=exc.holder_session, path="[edit]"
        )
        return RpcFailure([info], wrapper)
    if isinstance(exc, PermissionDenied):
        # An authorization refusal is not a commit-check finding: a top-level rpc-error with
        # the RFC 6241 tag access-denied, not wrapped in <commit-results>.
        return RpcFailure([RpcErrorInfo(exc.message, tag="access-denied", type="application")])
    if isinstance(exc, CommitFailed):
        errors = [
            RpcErrorInfo(message, tag="operation-failed", type="application", path=path)
            for path, message in exc.problems
        ]
        errors.append(RpcErrorInfo("configuration check-out failed", type="application"))
        return RpcFailure(errors, wrapper)
    return RpcFailure([RpcErrorInfo(exc.message, path=exc.path)], wrapper)


def config_failure(exc: ConfigError, wrapper: tuple[str, ...] = ()) -> RpcFailure:
    """A load error (bad set line / text / XML) as Junos reports it."""
    message = str(exc)
    line = getattr(exc, "line", None)
    if line is not None and f"line {line}" not in message:
        message = f"{message} (line {line})"
    info = RpcErrorInfo(message, type="application", path=getattr(exc, "path", None))
    return RpcFailure([info], wrapper)


def child_named(op: Element, *names: str) -> Element | None:
    for child in op:
        if isinstance(child.tag, str) and local_name(child) in names:
            return child
    return None
