"""The router's NETCONF edges: its own configuration (local ``Device()``) and its peers.

On a router, ``Device()`` with no arguments is the local management session. The test harness
binds the same code to a simulated router by exporting ``QKD_ONBOX_LOCAL=HOST:PORT:USER`` (and the
login password in ``QKD_ONBOX_PASSWORD``); nothing else differs. Peers are reached over SSH with
their host key verified against the runtime's ``known_hosts``; the hand-off is the peer's own
script run as an op-script RPC, whose output carries the answer.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import tempfile
from typing import Any

from jnpr.junos import Device
from jnpr.junos.utils.config import Config

from qkd_macsec.devices.junos_time import StartTimeError, clock_from_uptime
from qkd_macsec.onbox.artifact.share_file import SHARE_FILE_MODE, ShareFile

SCRIPT_NAME = "qkd_onbox.py"
LOCAL_ENV = "QKD_ONBOX_LOCAL"
PASSWORD_ENV = "QKD_ONBOX_PASSWORD"  # noqa: S105 - the variable's name
NETCONF_TIMEOUT_S = 30
_CONFIG_FILTER = "<configuration><security/></configuration>"


class RouterIoError(Exception):
    """A NETCONF step on this router or a peer that failed (never carries key material)."""


def quiet_transport_logs() -> None:
    """ncclient and paramiko log whole RPCs (CAKs included) at DEBUG: keep them at WARNING."""
    for name in ("ncclient", "paramiko", "jnpr"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _password() -> str | None:
    return os.environ.get(PASSWORD_ENV) or None


def local_device() -> Any:
    """This router's own management session (or the simulated router the harness names)."""
    bound = os.environ.get(LOCAL_ENV)
    if not bound:
        return Device()
    host, port, user = bound.rsplit(":", 2)
    return Device(
        host=host,
        port=int(port),
        user=user,
        passwd=_password(),
        gather_facts=False,
        look_for_keys=False,
        allow_agent=False,
        hostkey_verify=False,
    )


def _ssh_config(known_hosts: str) -> str:
    if any(ch in known_hosts for ch in '"\n\r'):
        raise RouterIoError("known_hosts path holds quotes or newlines")
    fd, name = tempfile.mkstemp(prefix="qkd-onbox-ssh-", suffix=".conf")
    with os.fdopen(fd, "w") as handle:
        handle.write(
            f'Host *\n  UserKnownHostsFile "{os.path.abspath(known_hosts)}"\n'
            "  StrictHostKeyChecking yes\n"
        )
    return name


def peer_device(
    host: str, port: int, user: str, known_hosts: str, ssh_key: str | None, password: str | None
) -> Any:
    """An open NETCONF session to a peer, its host key checked against ``known_hosts``."""
    if not os.path.isfile(known_hosts):
        raise RouterIoError(f"known_hosts {known_hosts} not found: refusing unverified peers")
    config = _ssh_config(known_hosts)
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "user": user,
        "gather_facts": False,
        "hostkey_verify": True,
        "ssh_config": config,
        "look_for_keys": False,
        "allow_agent": False,
        "conn_open_timeout": NETCONF_TIMEOUT_S,
    }
    if ssh_key is not None and os.path.isfile(ssh_key):
        kwargs["ssh_private_key_file"] = ssh_key
    else:
        kwargs["passwd"] = password
    try:
        dev = Device(**kwargs)
        dev.open()
    except Exception as exc:
        raise RouterIoError(
            f"cannot open NETCONF to peer {host}:{port}: {type(exc).__name__}"
        ) from None
    finally:
        os.unlink(config)
    quiet_transport_logs()
    return dev


def open_local() -> Any:
    dev = local_device()
    try:
        dev.open()
    except Exception as exc:
        raise RouterIoError(
            f"cannot open the local management session: {type(exc).__name__}"
        ) from None
    quiet_transport_logs()
    dev.timeout = NETCONF_TIMEOUT_S
    return dev


def read_config(dev: Any) -> Any:
    """The committed ``security`` configuration as an lxml element."""
    from lxml import etree

    try:
        return dev.rpc.get_config(
            filter_xml=etree.XML(_CONFIG_FILTER), options={"database": "committed"}
        )
    except Exception as exc:
        raise RouterIoError(f"cannot read the configuration: {type(exc).__name__}") from None


def read_utc_offset(dev: Any) -> int:
    """This router's ``system time-zone`` offset now (seconds east of UTC), read the way the
    off-box driver reads it: ``get-system-uptime-information`` wall clock vs epoch seconds."""
    try:
        reply = dev.rpc.get_system_uptime_information()
    except Exception as exc:
        raise RouterIoError(f"cannot read the device clock: {type(exc).__name__}") from None
    try:
        return clock_from_uptime(reply)[1]
    except StartTimeError as exc:
        raise RouterIoError(f"cannot read the device clock: {exc}") from None


def apply_set_lines(
    dev: Any,
    lines: list[str],
    comment: str,
    secret_hex: str | None = None,
    only_if_changed: bool = False,
) -> bool:
    """lock → load set lines → (diff) → commit → unlock; True when a commit happened. Errors
    are reported without the lines. ``only_if_changed``: no commit when the load changes
    nothing (``onbox deploy`` re-run on a configured router)."""
    if not lines:
        return False
    config = Config(dev)
    try:
        config.lock()
    except Exception as exc:
        raise RouterIoError(f"cannot lock the configuration: {type(exc).__name__}") from None
    try:
        config.load("\n".join(lines), format="set")
        if only_if_changed and config.diff() is None:
            return False
        config.commit(comment=comment)
        return True
    except Exception as exc:
        detail = str(exc)
        if secret_hex:
            detail = detail.replace(secret_hex, "<masked>")
        with contextlib.suppress(Exception):
            config.rollback(0)
        raise RouterIoError(f"commit failed: {type(exc).__name__}: {detail[:300]}") from None
    finally:
        with contextlib.suppress(Exception):
            config.unlock()


def put_share_file(dev: Any, share: ShareFile) -> None:
    """Write S into ``share.name`` in the peer user's home with the Junos XML ``file-put`` RPC
    (Juniper, "Example: Export Files Using an Op Script"): base64, mode 0600, ``file-contents``
    last. No ``delete-if-exist``: a file already under that fresh name is refused, not
    overwritten. The error never carries the request (S is in it)."""
    from lxml import etree

    request = etree.Element("file-put")
    etree.SubElement(request, "encoding").text = "base64"
    etree.SubElement(request, "filename").text = share.name
    etree.SubElement(request, "permission").text = f"{SHARE_FILE_MODE:04o}"
    etree.SubElement(request, "file-contents").text = base64.b64encode(share.data).decode()
    try:
        dev.rpc(request)
    except Exception as exc:
        raise RouterIoError(f"file-put of the hybrid share failed: {type(exc).__name__}") from None


def delete_share_file(dev: Any, name: str) -> None:
    """Best effort: remove a share file the peer's script may not have taken (``file-delete``,
    the XML form of ``file delete``; a relative path is in the session user's home)."""
    from lxml import etree

    request = etree.Element("file-delete")
    etree.SubElement(request, "path").text = name
    with contextlib.suppress(Exception):
        dev.rpc(request)


def call_peer_script(dev: Any, action: str, message: str) -> str:
    """Run the peer's copy of this script as an op script; return its output text."""
    try:
        reply = dev.rpc.op_script(script=SCRIPT_NAME, action=action, message=message)
    except Exception as exc:
        raise RouterIoError(f"peer op-script failed: {type(exc).__name__}") from None
    text = "".join(reply.itertext()) if reply is not None else ""
    return str(text)


def close_quietly(dev: Any) -> None:
    with contextlib.suppress(Exception):
        dev.close()
