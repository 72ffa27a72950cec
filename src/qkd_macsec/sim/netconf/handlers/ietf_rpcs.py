"""RFC 6241 base operations (ncclient's generic manager): get-config, edit-config, lock, unlock,
commit, discard-changes, validate, get, close-session, kill-session — mapped onto the same device
model as the Junos RPCs (Junos exposes one shared candidate either way)."""

from __future__ import annotations

from qkd_macsec.sim.config import ConfigError
from qkd_macsec.sim.device import DeviceOperationError
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import RpcErrorInfo, RpcFailure, failure
from qkd_macsec.sim.netconf.handlers.common import (
    config_failure,
    device_failure,
    flag,
    int_arg,
    invalid_value,
)
from qkd_macsec.sim.netconf.handlers.config_rpcs import lock_configuration, unlock_configuration
from qkd_macsec.sim.netconf.xml import Element, element, local_name

DATASTORES = ("running", "candidate")


def _datastore(op: Element, holder: str) -> str:
    node = op.find(holder)
    if node is None or len(node) != 1:
        raise failure(f"missing <{holder}>", tag="missing-element", bad_element=holder)
    name = local_name(node[0])
    if name not in DATASTORES:
        raise invalid_value(holder, name)
    return name


@rpc("get-config")
async def get_config(ctx: RpcContext, op: Element) -> Reply:
    source = _datastore(op, "source")
    config = ctx.device.committed if source == "running" else ctx.device.candidate()
    selector = op.find("filter/configuration")
    if selector is not None and len(selector):
        config = config.filtered(selector)
    data = element("data")
    data.append(config.to_xml())
    return Reply([data])


@rpc("get")
async def get(ctx: RpcContext, op: Element) -> Reply:
    return Reply([element("data")])


@rpc("edit-config")
async def edit_config(ctx: RpcContext, op: Element) -> Reply:
    _datastore(op, "target")
    default_operation = (op.findtext("default-operation") or "merge").strip()
    if default_operation not in ("merge", "replace", "none"):
        raise invalid_value("default-operation", default_operation)
    action = {"merge": None, "none": None, "replace": "override"}[default_operation]
    xml_config = op.find("config/configuration")
    text_config = op.find("config-text/configuration-text")
    try:
        with ctx.device.editing(ctx.session) as work:
            if xml_config is not None:
                work.load_xml(xml_config, action)
            elif text_config is not None:
                work.load_text(text_config.text or "", action or "merge")
            else:
                raise failure("missing <config>", tag="missing-element", bad_element="config")
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    except ConfigError as exc:
        raise config_failure(exc) from None
    return Reply(ok=True)


@rpc("lock")
async def lock(ctx: RpcContext, op: Element) -> Reply:
    """RFC 6241 lock: the one shared candidate, as Junos' lock-configuration."""
    _datastore(op, "target")
    return await lock_configuration(ctx, op)


@rpc("unlock")
async def unlock(ctx: RpcContext, op: Element) -> Reply:
    _datastore(op, "target")
    return await unlock_configuration(ctx, op)


@rpc("commit")
async def commit(ctx: RpcContext, op: Element) -> Reply:
    confirm: float | None = None
    if flag(op, "confirmed"):
        seconds = int_arg(op, "confirm-timeout", low=1, high=4_294_967_295) or 600
        confirm = seconds / 60.0
    try:
        await ctx.device.commit(ctx.session, confirm_minutes=confirm)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    return Reply(ok=True)


@rpc("discard-changes")
async def discard_changes(ctx: RpcContext, op: Element) -> Reply:
    try:
        ctx.device.discard_changes(ctx.session)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    return Reply(ok=True)


@rpc("validate")
async def validate(ctx: RpcContext, op: Element) -> Reply:
    problems = ctx.device.candidate().check()
    if problems:
        raise RpcFailure([RpcErrorInfo(str(p), type="application", path=p.path) for p in problems])
    return Reply(ok=True)


@rpc("close-session")
async def close_session(ctx: RpcContext, op: Element) -> Reply:
    return Reply(ok=True, close_session=True)


@rpc("kill-session")
async def kill_session(ctx: RpcContext, op: Element) -> Reply:
    target = int_arg(op, "session-id", low=1, high=2**31)
    if target is None:
        raise failure("missing <session-id>", tag="missing-element", bad_element="session-id")
    try:
        ctx.device.kill_session(target, ctx.session)
    except DeviceOperationError as exc:
        raise failure(exc.message, tag="invalid-value") from None
    return Reply(ok=True)
