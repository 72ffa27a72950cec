"""The simulator pieces on-box mode needs: a chrooted file store, its checksum RPC, op scripts."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from qkd_macsec.sim.device import SessionInfo, SimDevice
from qkd_macsec.sim.files import (
    DeviceFiles,
    FileStoreError,
    attach_file_store,
    file_delete,
    file_put,
    sha256_checksum,
)
from qkd_macsec.sim.netconf.dispatch import RpcContext
from qkd_macsec.sim.netconf.errors import RpcFailure
from qkd_macsec.sim.scripts import attach_script_runner, op_script


def _ctx(device: SimDevice) -> RpcContext:
    return RpcContext(device, SessionInfo(1, "lab", "127.0.0.1:1", datetime.now(UTC)), None)


def test_file_store_stays_inside_its_root(tmp_path: Path) -> None:
    store = DeviceFiles(tmp_path)
    assert store.resolve("/var/db/x.py") == (tmp_path / "var/db/x.py").resolve()
    assert store.resolve("/../outside") == (tmp_path / "outside").resolve()  # chroot: /.. is /
    with pytest.raises(FileStoreError, match="not an absolute"):
        store.resolve("relative.py")
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(FileStoreError, match="leaves"):
        store.resolve("/link/elsewhere")
    assert store.sha256("/missing") is None


async def test_checksum_rpc_reports_sha256_or_a_clear_error(tmp_path: Path) -> None:
    device = SimDevice("r1")
    store = attach_file_store(device, tmp_path)
    (tmp_path / "f.py").write_bytes(b"print(1)\n")
    op = etree.fromstring(
        "<get-sha256-checksum-information><path>/f.py</path></get-sha256-checksum-information>"
    )
    reply = await sha256_checksum(_ctx(device), op)
    assert reply.body[0].findtext(".//checksum") == hashlib.sha256(b"print(1)\n").hexdigest()
    assert store.mode("/f.py") is not None
    missing = etree.fromstring(
        "<get-sha256-checksum-information><path>/nope</path></get-sha256-checksum-information>"
    )
    with pytest.raises(RpcFailure, match="could not resolve file"):
        await sha256_checksum(_ctx(device), missing)
    (tmp_path / "up").symlink_to(tmp_path.parent)
    escape = etree.fromstring(
        "<get-sha256-checksum-information><path>/up/x</path></get-sha256-checksum-information>"
    )
    with pytest.raises(RpcFailure, match="leaves"):
        await sha256_checksum(_ctx(device), escape)


async def test_op_script_runs_the_attached_runner() -> None:
    device = SimDevice("r1")
    op = etree.fromstring(
        "<op-script><script>qkd_onbox.py</script><action>accept</action><message>{}</message></op-script>"
    )
    with pytest.raises(RpcFailure, match="invalid script"):
        await op_script(_ctx(device), op)
    calls: list[tuple[str, dict[str, str]]] = []

    async def runner(script: str, args: dict[str, str]) -> str:
        calls.append((script, args))
        return '{"ok": true}\n'

    attach_script_runner(device, runner)
    reply = await op_script(_ctx(device), op)
    assert reply.body[0].text == '{"ok": true}\n'
    assert calls == [("qkd_onbox.py", {"action": "accept", "message": "{}"})]
    with pytest.raises(RpcFailure, match="missing <script>"):
        await op_script(_ctx(device), etree.fromstring("<op-script/>"))
    attach_script_runner(device, None)
    with pytest.raises(RpcFailure, match="invalid script"):
        await op_script(_ctx(device), op)


def _put(filename: str, contents: str, *, extra: str = "", last: bool = True) -> etree._Element:
    body = f"<encoding>base64</encoding><filename>{filename}</filename>{extra}"
    item = f"<file-contents>{contents}</file-contents>"
    return etree.fromstring(f"<file-put>{body + item if last else item + body}</file-put>")


async def test_file_put_writes_into_the_users_home_with_the_mode_given(tmp_path: Path) -> None:
    device = SimDevice("r1")
    attach_file_store(device, tmp_path)
    (tmp_path / "var/home/lab").mkdir(parents=True)
    data = bytes(range(32))
    encoded = base64.b64encode(data).decode()
    await file_put(_ctx(device), _put(".s", encoded, extra="<permission>0600</permission>"))
    target = tmp_path / "var/home/lab/.s"  # relative: the session user's (lab's) home
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(RpcFailure, match="file exists"):  # no delete-if-exist: never replaced
        await file_put(_ctx(device), _put(".s", base64.b64encode(b"x").decode()))
    await file_put(_ctx(device), _put(".s", "eA==", extra="<delete-if-exist/>"))
    assert target.read_bytes() == b"x"
    await file_put(_ctx(device), _put("/var/tmp/abs", "eA=="))
    assert (tmp_path / "var/tmp/abs").read_bytes() == b"x"
    await file_delete(_ctx(device), etree.fromstring("<file-delete><path>.s</path></file-delete>"))
    assert not target.exists()
    with pytest.raises(RpcFailure, match="No such file"):
        await file_delete(
            _ctx(device), etree.fromstring("<file-delete><path>.s</path></file-delete>")
        )


async def test_file_put_refuses_escapes_symlinks_and_a_malformed_request(tmp_path: Path) -> None:
    device = SimDevice("r1")
    attach_file_store(device, tmp_path / "root")
    home = tmp_path / "root/var/home/lab"
    home.mkdir(parents=True)
    (tmp_path / "root/var/home/out").symlink_to(tmp_path)
    with pytest.raises(RpcFailure, match="leaves"):
        await file_put(_ctx(device), _put("/var/home/out/x", "eA=="))
    (home / "trap").symlink_to(tmp_path / "victim")
    with pytest.raises(RpcFailure, match="file exists"):
        await file_put(_ctx(device), _put("trap", "eA=="))
    assert not (tmp_path / "victim").exists()  # nothing written through the link
    with pytest.raises(RpcFailure, match="does not exist"):
        await file_put(_ctx(device), _put("nodir/x", "eA=="))
    with pytest.raises(RpcFailure, match="must be the last"):
        await file_put(_ctx(device), _put("y", "eA==", last=False))
    with pytest.raises(RpcFailure, match="not base64"):
        await file_put(_ctx(device), _put("y", "***"))
    with pytest.raises(RpcFailure, match="leaves"):
        await file_delete(
            _ctx(device),
            etree.fromstring("<file-delete><path>/var/home/out/x</path></file-delete>"),
        )
    assert list(home.iterdir()) == [home / "trap"]
