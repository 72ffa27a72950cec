"""Read-only RPCs ``qkd-macsec preflight`` sends that no other handler answers.

``get-ntp-status`` (``show ntp status``): Junos answers in one of two shapes (czerwonk/
junos_exporter issue #315): up to at least 18.4 the ntpq ``rv`` text inside ``<output>``, in
24.4 a structured ``<ntp-status>`` whose ``<status>`` holds the same words. The simulator
answers the text form below release 24 and the structured form from 24 on (the exact release
of the change is not documented; 23.4, the simulator's default, is taken as still text).

Physical interfaces: a simulated router has the interfaces its lab wires (fabric links), those
named in ``interfaces`` or ``security macsec interfaces`` of its committed configuration,
minus the ``absent_interfaces`` fault. ``get-interface-information`` for any other name
answers "device NAME not found", as Junos does (``error: device ge-0/0/0 not found``).
"""

from __future__ import annotations

from qkd_macsec.sim.config.macsec_view import macsec_interfaces
from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import failure
from qkd_macsec.sim.netconf.xml import Element, element, sub

__all__ = ["interface_information", "ntp_status_reply", "physical_interfaces"]

#: First major release assumed to answer ``get-ntp-status`` as XML (evidence: 24.4R2).
NTP_XML_FROM_MAJOR = 24


def physical_interfaces(ctx: RpcContext) -> set[str]:
    """The interfaces this device has (see the module docstring)."""
    device = ctx.device
    names: set[str] = set(macsec_interfaces(device.committed))
    xml = device.committed.to_xml()
    for interface in xml.findall("./interfaces/interface"):
        name = interface.findtext("name")
        if name:
            names.add(name.strip().split(".")[0])
    if ctx.fabric is not None:
        for link in ctx.fabric.links():
            for end in ctx.fabric.link_ends(link):
                if end.device == device.name:
                    names.add(end.interface)
    return names - set(device.faults.absent_interfaces)


def interface_information(ctx: RpcContext, wanted: str | None) -> Reply:
    """``show interfaces [NAME] terse`` for the physical interfaces."""
    present = physical_interfaces(ctx)
    if wanted and wanted.split(".")[0] not in present:
        raise failure(f"device {wanted} not found", type="application")
    info = element("interface-information", style="terse")
    for name in sorted(present):
        if wanted and wanted.split(".")[0] != name:
            continue
        physical = sub(info, "physical-interface")
        sub(physical, "name", name)
        sub(physical, "admin-status", "up")
        sub(physical, "oper-status", "up")
    return Reply([info])


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def ntp_status_reply(ctx: RpcContext) -> Element:
    device = ctx.device
    if device.faults.ntp_unsynchronised:
        status, leap, stratum, refid, offset = "c016 leap_alarm, sync_unspec", "11", 16, "", "0.000"
    else:
        status, leap, stratum, refid, offset = (
            "0644 leap_none, sync_ntp",
            "00",
            3,
            "192.0.2.123",
            "0.412",
        )
    if _major(device.version) >= NTP_XML_FROM_MAJOR:
        info = element("ntp-status")
        sub(info, "associd", "0")
        sub(info, "status", f"{status}, 4 events, clock_sync")
        sub(info, "leap", leap)
        sub(info, "stratum", str(stratum))
        sub(info, "refid", refid or "INIT")
        sub(info, "offset", offset)
        return info
    text = (
        f"\nstatus={status}, 4 events, clock_sync,\n"
        f'version="ntpd 4.2.0-a (1)", processor="amd64", system="JUNOS{device.version}",\n'
        f"leap={leap}, stratum={stratum}, precision=-23, rootdelay=1.204, rootdispersion=9.870,\n"
        f"refid={refid or 'INIT'}, poll=10, state=4, offset={offset}, frequency=-3.112,\n"
        f"jitter=0.120, stability=0.004\n"
    )
    return element("output", text)


@rpc("get-ntp-status")
async def get_ntp_status(ctx: RpcContext, op: Element) -> Reply:
    return Reply([ntp_status_reply(ctx)])
