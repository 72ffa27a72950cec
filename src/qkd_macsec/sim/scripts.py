"""Op scripts on a simulated router: the ``<op-script>`` RPC runs a script the device "has".

A router runs its scripts with its own Python; the simulator has none, so whoever builds the lab
attaches a runner per device (the on-box harness runs the real bundled script in a subprocess
bound to that device). The RPC is ``<op-script><script>NAME</script><ARG>VALUE</ARG>…`` and the
reply is the script's standard output in ``<output>``, as Junos returns it.

Importing this module registers the RPC (hook request for the sim owner: list ``scripts`` in
``sim.netconf.dispatch._load_handlers`` so it is always known).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import failure
from qkd_macsec.sim.netconf.xml import Element, element, local_name

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SimDevice

ScriptRunner = Callable[[str, dict[str, str]], Awaitable[str]]
_RUNNERS: weakref.WeakKeyDictionary[SimDevice, ScriptRunner] = weakref.WeakKeyDictionary()


def attach_script_runner(device: SimDevice, runner: ScriptRunner | None) -> None:
    """Let ``device`` run op scripts through ``runner(script, args) -> output`` (None: remove)."""
    if runner is None:
        _RUNNERS.pop(device, None)
    else:
        _RUNNERS[device] = runner


@rpc("op-script")
async def op_script(ctx: RpcContext, op: Element) -> Reply:
    script = None
    args: dict[str, str] = {}
    for child in op:
        name = local_name(child)
        if name == "script":
            script = (child.text or "").strip()
        else:
            args[name] = child.text or ""
    if not script:
        raise failure("op-script: missing <script>", bad_element="op-script")
    runner = _RUNNERS.get(ctx.device)
    if runner is None:
        raise failure(f"invalid script: {script}", type="application")
    output = await runner(script, args)
    return Reply([element("output", output)])
