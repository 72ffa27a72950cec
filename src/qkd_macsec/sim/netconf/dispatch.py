"""RPC registry: local operation name → handler. Handlers are small async functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qkd_macsec.sim.netconf.errors import unknown_rpc
from qkd_macsec.sim.netconf.xml import Element

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SessionInfo, SimDevice
    from qkd_macsec.sim.fabric import Fabric


@dataclass
class RpcContext:
    """What a handler may use: the device, the calling session, the link fabric."""

    device: SimDevice
    session: SessionInfo
    fabric: Fabric | None


@dataclass
class Reply:
    """A successful reply body (errors are raised as ``RpcFailure``)."""

    body: list[Element | bytes] = field(default_factory=list)
    ok: bool = False
    text: str | None = None  # character data directly inside <rpc-reply> (JSON)
    close_session: bool = False


Handler = Callable[[RpcContext, Element], Awaitable[Reply]]

_HANDLERS: dict[str, Handler] = {}


def rpc(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler for one or more operation names."""

    def register(handler: Handler) -> Handler:
        for name in names:
            if name in _HANDLERS:
                raise RuntimeError(f"RPC {name} registered twice")
            _HANDLERS[name] = handler
        return handler

    return register


def handler_for(name: str) -> Handler:
    _load_handlers()
    try:
        return _HANDLERS[name]
    except KeyError:
        raise unknown_rpc(name) from None


def known_rpcs() -> list[str]:
    _load_handlers()
    return sorted(_HANDLERS)


def _load_handlers() -> None:
    # Imported for their registrations; late, to keep the import graph one-way.
    from qkd_macsec.sim import files, scripts  # noqa: F401  (checksum and op-script RPCs)
    from qkd_macsec.sim.netconf.handlers import (  # noqa: F401
        commands,
        config_rpcs,
        ietf_rpcs,
        mka_rpcs,
        preflight_rpcs,
        system_rpcs,
    )
