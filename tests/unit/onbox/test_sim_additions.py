"""The simulator pieces on-box mode needs: a chrooted file store, its checksum RPC, op scripts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from qkd_macsec.sim.device import SessionInfo, SimDevice
from qkd_macsec.sim.files import DeviceFiles, FileStoreError, attach_file_store, sha256_checksum
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
