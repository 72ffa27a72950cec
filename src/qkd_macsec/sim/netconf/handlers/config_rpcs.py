"""Junos configuration RPCs: get/load/lock/unlock/commit-configuration (as PyEZ sends them)."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from qkd_macsec.sim.config import ConfigError, Configuration
from qkd_macsec.sim.device import CommitRecord, DeviceOperationError, SimDevice
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import RpcErrorInfo, RpcFailure, failure
from qkd_macsec.sim.netconf.handlers.common import (
    config_failure,
    device_failure,
    flag,
    int_arg,
    invalid_value,
    text_arg,
)
from qkd_macsec.sim.netconf.xml import JUNOS_NS, Element, element, sub

LOAD_RESULTS = ("load-configuration-results",)
COMMIT_RESULTS = ("commit-results", "routing-engine")
FORMATS = ("xml", "text", "set", "json")
LOAD_ACTIONS = ("merge", "replace", "override", "update", "set")
DEFAULT_CONFIRM_MINUTES = 10


def subtree_filter(op: Element) -> Element | None:
    """The ``<configuration>`` filter element, or None when it selects everything."""
    node = op.find("configuration")
    if node is None or len(node) == 0:
        return None
    return node


def render_config(
    config: Configuration, fmt: str, commit: tuple[CommitRecord, SimDevice] | None = None
) -> Reply:
    """A configuration (already presented: ``$9$`` secrets, normalised start-times) in one of
    the get-configuration formats. ``commit``: the commit it is, for the XML attributes."""
    if fmt == "xml":
        xml = config.to_xml()
        if commit is not None:
            xml = _with_commit_attributes(xml, *commit)
        return Reply([xml])
    if fmt == "text":
        return Reply([element("configuration-text", config.to_text())])
    if fmt == "set":
        return Reply([element("configuration-set", config.to_set())])
    return Reply(text="\n" + config.to_json() + "\n")


def _with_commit_attributes(xml: Element, record: CommitRecord, device: SimDevice) -> Element:
    """``<configuration junos:commit-seconds=… junos:commit-localtime=… junos:commit-user=…>``,
    as Junos stamps a committed configuration in XML (Junos XML protocol guide, "Request
    Configuration Data": the attributes of the opening <configuration> tag)."""
    ns = JUNOS_NS.format(version=device.version)
    stamped = etree.Element("configuration", nsmap={"junos": ns})
    stamped.set(f"{{{ns}}}commit-seconds", str(int(record.at + device.clock_offset_s)))
    stamped.set(f"{{{ns}}}commit-localtime", device.local_time_text(record.at))
    stamped.set(f"{{{ns}}}commit-user", record.user)
    stamped.extend(list(xml))
    return stamped


@rpc("get-configuration")
async def get_configuration(ctx: RpcContext, op: Element) -> Reply:
    fmt = (op.get("format") or "xml").lower()
    if fmt not in FORMATS:
        raise invalid_value("format", fmt)
    if op.get("compare") is not None:
        return _compare(ctx, op)
    database = op.get("database") or "candidate"
    record: CommitRecord | None = None
    if database == "committed":
        record = ctx.device.history[0]
        config = record.config
    elif database == "candidate":
        config = ctx.device.candidate()
    else:
        raise invalid_value("database", database)
    rollback = op.get("rollback")
    if rollback is not None:
        config = _rollback(ctx, rollback)
        record = _record(ctx, rollback)
    # Present before filtering: the zone (system time-zone) may be outside the filter.
    config = config.presented()
    selector = subtree_filter(op)
    if selector is not None:
        config = config.filtered(selector)
    return render_config(config, fmt, None if record is None else (record, ctx.device))


def _record(ctx: RpcContext, raw: str) -> CommitRecord | None:
    history = ctx.device.history
    index = int(raw)  # _rollback validated it
    return history[index] if 0 <= index < len(history) else None


def _rollback(ctx: RpcContext, raw: str) -> Configuration:
    try:
        index = int(raw)
    except ValueError:
        raise invalid_value("rollback", raw) from None
    try:
        return ctx.device.rollback_config(index)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None


def _compare(ctx: RpcContext, op: Element) -> Reply:
    if op.get("compare") != "rollback":
        raise invalid_value("compare", op.get("compare") or "")
    older = _rollback(ctx, op.get("rollback") or "0")
    # `show | compare` prints secrets as $9$ like every other read-back (evidence §1).
    diff = ctx.device.candidate().presented().diff(older.presented(), mask_secrets=False)
    info = element("configuration-information")
    sub(info, "configuration-output", diff if diff else "\n")
    return Reply([info])


@rpc("load-configuration")
async def load_configuration(ctx: RpcContext, op: Element) -> Reply:
    if op.get("compare") == "rollback" or (op.get("rollback") is not None and len(op) == 0):
        restored = _rollback(ctx, op.get("rollback") or "0")
        try:
            ctx.device.replace_candidate(ctx.session, restored)
        except DeviceOperationError as exc:
            raise device_failure(exc, LOAD_RESULTS) from None
        return _load_ok()
    if op.get("url") is not None:
        raise RpcFailure(
            failure("loading from a URL is not supported by the simulator").errors, LOAD_RESULTS
        )
    fmt = (op.get("format") or "xml").lower()
    action = op.get("action")
    if action is not None and action not in LOAD_ACTIONS:
        raise RpcFailure(invalid_value("action", action).errors, LOAD_RESULTS)
    set_node = op.find("configuration-set")
    text_node = op.find("configuration-text")
    xml_node = op.find("configuration")
    json_node = op.find("configuration-json")
    if action == "set" or set_node is not None:
        body = _text_of(set_node if set_node is not None else text_node)
        warnings = _edit(ctx, lambda work: work.load_set(body))
    elif fmt == "text" or text_node is not None:
        body = _text_of(text_node)
        warnings = _edit(ctx, lambda work: work.load_text(body, action or "merge"))
    elif fmt == "json" or json_node is not None:
        body = _text_of(json_node)
        warnings = _edit(ctx, lambda work: work.load_json(body, action))
    elif fmt == "xml" and xml_node is not None:
        warnings = _edit(ctx, lambda work: work.load_xml(xml_node, action))
    else:
        raise RpcFailure(
            failure(f"load-configuration: no configuration for format {fmt}").errors, LOAD_RESULTS
        )
    return _load_ok(warnings)


def _text_of(node: Element | None) -> str:
    if node is None:
        raise RpcFailure(failure("load-configuration: missing configuration").errors, LOAD_RESULTS)
    return str(node.text or "")


def _edit(ctx: RpcContext, change: Callable[[Configuration], None]) -> list[str]:
    """Apply a load to the candidate; returns its warnings."""
    try:
        with ctx.device.editing(ctx.session) as work:
            change(work)
            return list(work.warnings)
    except DeviceOperationError as exc:
        raise device_failure(exc, LOAD_RESULTS) from None
    except ConfigError as exc:
        raise config_failure(exc, LOAD_RESULTS) from None


def _load_ok(warnings: list[str] | None = None) -> Reply:
    """``<load-configuration-results>``: warnings as <rpc-error> of severity warning, then
    ``<ok/>``. Deleting an absent statement warns "statement not found" (field evidence §6);
    PyEZ raises on any such warning unless ``ignore_warning`` matches it."""
    results = element("load-configuration-results")
    for warning in warnings or ():
        results.append(_warning(warning).to_element())
    sub(results, "ok")
    return Reply([results])


def _warning(text: str, path: str | None = None) -> RpcErrorInfo:
    return RpcErrorInfo(
        text, tag="operation-failed", type="application", severity="warning", path=path
    )


@rpc("lock-configuration")
async def lock_configuration(ctx: RpcContext, op: Element) -> Reply:
    try:
        ctx.device.lock(ctx.session)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    return Reply(ok=True)


@rpc("unlock-configuration")
async def unlock_configuration(ctx: RpcContext, op: Element) -> Reply:
    try:
        ctx.device.unlock(ctx.session)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    return Reply(ok=True)


@rpc("commit-configuration")
async def commit_configuration(ctx: RpcContext, op: Element) -> Reply:
    check_only = flag(op, "check")
    confirm: float | None = None
    if flag(op, "confirmed"):
        confirm = float(
            int_arg(op, "confirm-timeout", low=1, high=65535) or DEFAULT_CONFIRM_MINUTES
        )
    if op.find("at-time") is not None:
        raise RpcFailure(failure("commit at is not supported by the simulator").errors)
    try:
        warnings = await ctx.device.commit(
            ctx.session, check_only=check_only, confirm_minutes=confirm, comment=text_arg(op, "log")
        )
    except DeviceOperationError as exc:
        raise device_failure(exc, COMMIT_RESULTS) from None
    results = element("commit-results")
    engine = sub(results, "routing-engine")
    for warning in warnings:
        # The commit took effect; the warning rides along (evidence §4, §6).
        engine.append(_warning(warning.message, warning.path).to_element())
    sub(engine, "name", "re0")
    if check_only:
        sub(engine, "commit-check-success")
    else:
        sub(engine, "commit-success")
        revision = sub(engine, "commit-revision-information")
        sub(revision, "new-db-revision", f"re0-{int(ctx.device.now())}-{len(ctx.device.history)}")
    return Reply([results])


@rpc("discard-changes-configuration")
async def discard_configuration(ctx: RpcContext, op: Element) -> Reply:
    try:
        ctx.device.discard_changes(ctx.session)
    except DeviceOperationError as exc:
        raise device_failure(exc) from None
    return Reply(ok=True)


@rpc("open-configuration", "close-configuration")
async def private_configuration(ctx: RpcContext, op: Element) -> Reply:
    raise failure(
        "private/exclusive configuration modes are not supported by the simulator;"
        " use lock-configuration",
        tag="operation-not-supported",
    )
