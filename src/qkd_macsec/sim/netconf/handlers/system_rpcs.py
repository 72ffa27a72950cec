"""System and inventory RPCs — enough for PyEZ fact gathering and the device clock.

PyEZ 2.8 facts send (jnpr/junos/facts/*.py): ``command`` "show version invoke-on
all-routing-engines" (XML), get-route-engine-information, get-chassis-inventory,
get-virtual-chassis-information, get-chassis-cluster-status, get-jnu-satellites-information,
get-ethernet-switching-table-information then ``command`` "show bridge mac-table count",
get-interface-information (terse, routing-instance __juniper_private1__), file-show
(/etc/hosts.junos, /usr/share/cevo/cevo_version, /etc/resolv.conf), file-list (path ~),
request-shell-execute (sysctl vmhost mode), get-configuration (system domain-name).
A single-RE MX answers the virtual-chassis, cluster, satellite and switching-table RPCs with errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import failure, unknown_rpc
from qkd_macsec.sim.netconf.handlers.common import text_arg
from qkd_macsec.sim.netconf.handlers.preflight_rpcs import interface_information
from qkd_macsec.sim.netconf.xml import JUNOS_NS, Element, element, sub

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SimDevice

HOSTS_JUNOS = "128.0.0.1 master\n128.0.0.4 re0\n128.0.0.5 re1\n128.0.0.6 backup\n"
RESOLV_CONF = "nameserver 127.0.0.1\n"
VMHOST_SYSCTL = "sysctl -n hw.re.vmhost_mode"


def software_information(device: SimDevice) -> Element:
    info = element("software-information")
    sub(info, "host-name", device.hostname)
    sub(info, "product-model", device.model.lower())
    sub(info, "product-name", device.model.lower())
    sub(info, "junos-version", device.version)
    package = sub(info, "package-information")
    sub(package, "name", "junos")
    sub(package, "comment", f"JUNOS OS Kernel 64-bit  [{device.version}]")
    return info


def software_information_all(device: SimDevice) -> Element:
    """``show version invoke-on all-routing-engines`` on a single-RE box."""
    results = element("multi-routing-engine-results")
    item = sub(results, "multi-routing-engine-item")
    sub(item, "re-name", "re0")
    item.append(software_information(device))
    return results


def route_engine_information(device: SimDevice) -> Element:
    info = element("route-engine-information")
    engine = sub(info, "route-engine")
    sub(engine, "slot", "0")
    sub(engine, "mastership-state", "master")
    sub(engine, "mastership-priority", "master (default)")
    sub(engine, "status", "OK")
    sub(engine, "model", f"RE-{device.model.upper()}")
    sub(engine, "serial-number", device.serial_number + "RE")
    sub(engine, "start-time", _stamp(device, device.booted_at))
    sub(engine, "up-time", _duration(device.now() - device.booted_at))
    sub(engine, "last-reboot-reason", "Router rebooted after a normal shutdown.")
    return info


def chassis_inventory(device: SimDevice) -> Element:
    inventory = element("chassis-inventory")
    chassis = sub(inventory, "chassis", style="inventory")
    sub(chassis, "name", "Chassis")
    sub(chassis, "serial-number", device.serial_number)
    sub(chassis, "description", device.model.upper())
    module = sub(chassis, "chassis-module")
    sub(module, "name", "Routing Engine 0")
    sub(module, "serial-number", device.serial_number + "RE")
    sub(module, "description", f"RE-{device.model.upper()}")
    return inventory


def uptime_information(device: SimDevice) -> Element:
    """``show system uptime``: current-time is the DEVICE clock (real time + offset)."""
    info = element("system-uptime-information")
    now = device.now()
    current = sub(info, "current-time")
    current.append(_date_time(device, now))
    sub(info, "time-source", " LOCAL CLOCK ")
    booted = sub(info, "system-booted-time")
    booted.append(_date_time(device, device.booted_at))
    sub(booted, "time-length", _duration(now - device.booted_at))
    started = sub(info, "protocols-started-time")
    started.append(_date_time(device, device.booted_at))
    sub(started, "time-length", _duration(now - device.booted_at))
    last = device.history[0]
    configured = sub(info, "last-configured-time")
    configured.append(_date_time(device, last.at))
    sub(configured, "time-length", _duration(now - last.at))
    sub(configured, "user", last.user)
    uptime = sub(info, "uptime-information")
    uptime.append(_date_time(device, now))
    sub(uptime, "up-time", _duration(now - device.booted_at))
    sub(uptime, "active-user-count", str(len(device.sessions())))
    for minutes in ("1", "5", "15"):
        sub(uptime, f"load-average-{minutes}", "0.01")
    return info


def uptime_text(device: SimDevice) -> str:
    now = device.now()
    return (
        f"Current time: {_local(device, now)}\n"
        f"Time Source:  LOCAL CLOCK\n"
        f"System booted: {_local(device, device.booted_at)} "
        f"({_duration(now - device.booted_at)} ago)\n"
        f"Last configured: {_local(device, device.history[0].at)} by {device.history[0].user}\n"
    )


def system_information(device: SimDevice) -> Element:
    info = element("system-information")
    sub(info, "hardware-model", device.model.lower())
    sub(info, "os-name", "junos")
    sub(info, "os-version", device.version)
    sub(info, "serial-number", device.serial_number)
    sub(info, "host-name", device.hostname)
    return info


def commit_information(device: SimDevice) -> Element:
    """``show system commit``: the rollback history, newest first."""
    info = element("commit-information")
    for index, record in enumerate(device.history):
        entry = sub(info, "commit-history")
        sub(entry, "sequence-number", str(index))
        sub(entry, "user", record.user)
        sub(entry, "client", record.client)
        entry.append(_date_time(device, record.at))
        if index == 0 and device.confirm_pending:
            # Shape: napalm's Junos commit-pending fixture (<comment> beside <log>).
            sub(entry, "comment", "commit confirmed, rollback in 10mins")
        if record.comment:
            sub(entry, "log", record.comment)
    return info


def _date_time(device: SimDevice, real: float) -> Element:
    node = etree.Element("date-time", nsmap={"junos": JUNOS_NS.format(version=device.version)})
    node.set(
        f"{{{JUNOS_NS.format(version=device.version)}}}seconds",
        str(int(real + device.clock_offset_s)),
    )
    node.text = _local(device, real)
    return node


def _local(device: SimDevice, real: float) -> str:
    """Local wall-clock time in the device's ``system time-zone`` with its abbreviation, as
    real Junos prints ``date-time`` (the ``junos:seconds`` attribute carries the epoch)."""
    return device.local_time_text(real)


def _stamp(device: SimDevice, real: float) -> str:
    return _local(device, real)


def _duration(seconds: float) -> str:
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    prefix = f"{days} days, " if days else ""
    return f"{prefix}{hours}:{minutes:02d}:{secs:02d}"


@rpc("get-software-information")
async def get_software_information(ctx: RpcContext, op: Element) -> Reply:
    return Reply([software_information(ctx.device)])


@rpc("get-route-engine-information")
async def get_route_engine_information(ctx: RpcContext, op: Element) -> Reply:
    return Reply([route_engine_information(ctx.device)])


@rpc("get-chassis-inventory")
async def get_chassis_inventory(ctx: RpcContext, op: Element) -> Reply:
    return Reply([chassis_inventory(ctx.device)])


@rpc("get-virtual-chassis-information")
async def get_virtual_chassis_information(ctx: RpcContext, op: Element) -> Reply:
    raise failure("the virtual-chassis-control subsystem is not running")


@rpc(
    "get-chassis-cluster-status",
    "get-jnu-satellites-information",
    "get-ethernet-switching-table-information",
    "get-system-nodes-information",
)
async def not_on_this_platform(ctx: RpcContext, op: Element) -> Reply:
    raise unknown_rpc(op.tag)


@rpc("get-system-uptime-information")
async def get_system_uptime_information(ctx: RpcContext, op: Element) -> Reply:
    if (op.get("format") or "").lower() == "text":
        return Reply([element("output", uptime_text(ctx.device))])
    return Reply([uptime_information(ctx.device)])


@rpc("get-system-information")
async def get_system_information(ctx: RpcContext, op: Element) -> Reply:
    return Reply([system_information(ctx.device)])


@rpc("get-commit-information")
async def get_commit_information(ctx: RpcContext, op: Element) -> Reply:
    return Reply([commit_information(ctx.device)])


@rpc("get-interface-information")
async def get_interface_information(ctx: RpcContext, op: Element) -> Reply:
    info = element("interface-information", style="terse")
    if text_arg(op, "routing-instance") == "__juniper_private1__":
        physical = sub(info, "physical-interface")
        sub(physical, "name", "em0")
        logical = sub(physical, "logical-interface")
        sub(logical, "name", "em0.0")
        family = sub(logical, "address-family")
        sub(family, "address-family-name", "inet")
        for address in ("128.0.0.1/2", "128.0.0.4/2"):
            sub(sub(family, "interface-address"), "ifa-local", address)
        return Reply([info])
    return interface_information(ctx, text_arg(op, "interface-name"))


@rpc("file-show")
async def file_show(ctx: RpcContext, op: Element) -> Reply:
    filename = text_arg(op, "filename") or ""
    contents = {"/etc/hosts.junos": HOSTS_JUNOS, "/etc/resolv.conf": RESOLV_CONF}.get(filename)
    if contents is None:
        raise failure(f"could not resolve file: {filename}", type="application")
    return Reply([element("file-content", contents, filename=filename)])


@rpc("file-list")
async def file_list(ctx: RpcContext, op: Element) -> Reply:
    path = text_arg(op, "path") or "~"
    home = f"/var/home/{ctx.session.user}/"
    root = home if path in ("~", "~/", home) else path
    listing = element("directory-list", root_path=root)
    directory = sub(listing, "directory", name=root)
    sub(directory, "total-file-blocks", "0")
    return Reply([listing])


@rpc("request-shell-execute")
async def request_shell_execute(ctx: RpcContext, op: Element) -> Reply:
    if (text_arg(op, "command") or "") == VMHOST_SYSCTL:
        return Reply([element("output", "0\n")])
    raise failure("permission denied: shell access is not simulated", type="application")
