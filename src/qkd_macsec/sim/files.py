"""A simulated router's file system: a directory standing for ``/`` (chroot semantics).

What ``onbox deploy`` and ``certs renew`` need from a router: files uploaded over SCP/SFTP land
here (``/var/db/scripts/event/…``, ``/var/home/remote/…``), and ``file checksum sha-256 PATH``
(RPC ``get-sha256-checksum-information``) reports their digest. Attach a store to a device with
:func:`attach_file_store`; SSH endpoints that serve files are in ``sim.netconf.file_transfer``.
Importing this module registers the checksum RPC.
"""

from __future__ import annotations

import hashlib
import posixpath
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qkd_macsec.sim.netconf.dispatch import Reply, RpcContext, rpc
from qkd_macsec.sim.netconf.errors import failure
from qkd_macsec.sim.netconf.xml import Element, element, local_name, sub

if TYPE_CHECKING:
    from qkd_macsec.sim.device import SimDevice


class FileStoreError(ValueError):
    """A path outside the router's file system or otherwise unusable."""


@dataclass(frozen=True)
class DeviceFiles:
    root: Path

    def resolve(self, path: str) -> Path:
        """The host path for a router path; refuses anything escaping the root."""
        if not path.startswith("/"):
            raise FileStoreError(f"{path!r} is not an absolute router path")
        clean = posixpath.normpath(path).lstrip("/")
        resolved = (self.root / clean).resolve()
        if resolved != self.root.resolve() and self.root.resolve() not in resolved.parents:
            raise FileStoreError(f"{path!r} leaves the router's file system")
        return resolved

    def sha256(self, path: str) -> str | None:
        target = self.resolve(path)
        if not target.is_file():
            return None
        return hashlib.sha256(target.read_bytes()).hexdigest()

    def mode(self, path: str) -> int | None:
        target = self.resolve(path)
        return target.stat().st_mode & 0o777 if target.exists() else None


_STORES: weakref.WeakKeyDictionary[SimDevice, DeviceFiles] = weakref.WeakKeyDictionary()


#: Directories every Junos router has (uploads by SCP expect them to exist).
SKELETON = (
    "var/db/scripts/event",
    "var/db/scripts/op",
    "var/db/scripts/commit",
    "var/home/remote",
    "var/tmp",
)


def attach_file_store(device: SimDevice, root: Path) -> DeviceFiles:
    """Serve ``root`` as ``device``'s file system (creating the standard Junos directories)."""
    for directory in SKELETON:
        (root / directory).mkdir(parents=True, exist_ok=True)
    store = DeviceFiles(root)
    _STORES[device] = store
    return store


def file_store(device: SimDevice) -> DeviceFiles | None:
    return _STORES.get(device)


@rpc("get-sha256-checksum-information")
async def sha256_checksum(ctx: RpcContext, op: Element) -> Reply:
    path = next((c.text or "" for c in op if local_name(c) == "path"), "").strip()
    store = file_store(ctx.device)
    try:
        digest = store.sha256(path) if store is not None and path else None
    except FileStoreError as exc:
        raise failure(str(exc), type="application") from None
    if digest is None:
        raise failure(f"could not resolve file: {path}", type="application")
    info = element("checksum-information")
    item = sub(info, "file-checksum")
    sub(item, "computation-method", "SHA256")
    sub(item, "input-file", path)
    sub(item, "checksum", digest)
    return Reply([info])
