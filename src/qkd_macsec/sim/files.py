"""A simulated router's file system: a directory standing for ``/`` (chroot semantics).

What ``onbox deploy`` and ``certs renew`` need from a router: files uploaded over SCP/SFTP land
here (``/var/db/scripts/event/…``, ``/var/home/remote/…``), and ``file checksum sha-256 PATH``
(RPC ``get-sha256-checksum-information``) reports their digest, and the Junos XML ``file-put`` /
``file-delete`` RPCs write and remove files (the on-box master hands a peer its hybrid share that
way). Attach a store to a device with :func:`attach_file_store`; SSH endpoints that serve files are
in ``sim.netconf.file_transfer``. Importing this module registers these RPCs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
import re
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


def session_path(ctx: RpcContext, filename: str) -> str:
    """A router path for ``filename`` as a session names it: a relative name is relative to the
    session user's home (``/var/home/USER``), as the Junos XML file RPCs take it."""
    if filename.startswith("/"):
        return filename
    return posixpath.join("/var/home", ctx.session.user, filename)


def _literal(store: DeviceFiles, path: str) -> Path:
    """The host path of ``path`` itself (its directory resolved and checked, its last component
    not followed), so a symlink there is never written or removed through."""
    directory, name = posixpath.split(posixpath.normpath(path))
    if name in ("", ".", ".."):
        raise FileStoreError(f"{path!r} names no file")
    parent = store.resolve(directory or "/")
    if not parent.is_dir():
        raise FileStoreError(f"directory {directory} does not exist")
    return parent / name


def _permission(text: str | None) -> int:
    if text is None:
        return 0o644
    if not re.fullmatch(r"0?[0-7]{3}", text.strip()):
        raise failure(f"file-put: invalid permission {text!r}", type="application")
    return int(text.strip(), 8)


def _contents(encoding: str, text: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except binascii.Error:
            raise failure("file-put: file-contents is not base64", type="application") from None
    if encoding == "ascii":
        return text.encode("ascii", errors="strict")
    raise failure(f"file-put: unknown encoding {encoding!r}", type="application")


@rpc("file-put")
async def file_put(ctx: RpcContext, op: Element) -> Reply:
    """The Junos XML protocol ``file-put`` (Juniper, "Example: Export Files Using an Op Script"):
    ``<encoding>`` base64|ascii and ``<filename>`` are mandatory, ``<permission>`` sets the mode,
    ``<delete-if-exist/>`` allows replacing a file (else an existing one is an error), and
    ``<file-contents>`` must be the last element. A relative name is in the user's home; the
    directory must exist. Written into the device's file store; paths leaving it are refused."""
    children = list(op)
    fields = {local_name(child): child for child in children}
    contents = fields.get("file-contents")
    if contents is None or children[-1] is not contents:
        raise failure("file-put: file-contents must be the last element", bad_element="file-put")
    filename = (fields["filename"].text or "").strip() if "filename" in fields else ""
    encoding = (fields["encoding"].text or "").strip().lower() if "encoding" in fields else ""
    if not filename or not encoding:
        raise failure("file-put: filename and encoding are mandatory", bad_element="file-put")
    perm_field = fields.get("permission")
    mode = _permission(perm_field.text if perm_field is not None else None)
    data = _contents(encoding, contents.text or "")
    store = file_store(ctx.device)
    if store is None:
        raise failure("file-put: the device has no file system", type="application")
    try:
        target = _literal(store, session_path(ctx, filename))
    except FileStoreError as exc:
        raise failure(f"file-put: {exc}", type="application") from None
    if target.is_symlink() or target.exists():
        if "delete-if-exist" not in fields or target.is_dir():
            raise failure(f"file-put: {filename}: file exists", type="application")
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the requested mode exactly, whatever the umask
        os.write(fd, data)
    finally:
        os.close(fd)
    return Reply(ok=True)


@rpc("file-delete")
async def file_delete(ctx: RpcContext, op: Element) -> Reply:
    """``<file-delete><path>P</path></file-delete>``, the XML form of the CLI ``file delete``
    (Juniper CLI reference "file delete"): removes one file (a symlink itself, not its target);
    a relative path is in the session user's home."""
    path = next((c.text or "" for c in op if local_name(c) == "path"), "").strip()
    store = file_store(ctx.device)
    if not path or store is None:
        raise failure(f"could not delete: {path}", type="application")
    try:
        target = _literal(store, session_path(ctx, path))
    except FileStoreError as exc:
        raise failure(f"could not delete: {exc}", type="application") from None
    if target.is_dir() and not target.is_symlink():
        raise failure(f"could not delete: {path} is a directory", type="application")
    try:
        target.unlink()
    except FileNotFoundError:
        raise failure(
            f"could not delete: {path}: No such file or directory", type="application"
        ) from None
    return Reply(ok=True)
