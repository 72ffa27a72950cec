"""The peer's side of the hybrid share hand-off: S comes in a 0600 file the master put in this
user's home (never on the command line); the file is deleted whatever happens, and only a
regular, single-link, own, 0600, 32-byte file is used."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.onbox.artifact import main as entry
from qkd_macsec.onbox.artifact import share_file as share_module
from qkd_macsec.onbox.artifact.handoff import Offer
from qkd_macsec.onbox.artifact.runtime import PeerUnreachable, RuntimeFailure
from qkd_macsec.onbox.artifact.settings import Peer
from qkd_macsec.onbox.artifact.share_file import (
    ShareFile,
    ShareFileError,
    discard_share_file,
    is_share_file_name,
    new_share_file_name,
    take_share_file,
)
from qkd_macsec.onbox.artifact.state import StateLock

S = bytes(range(0xA0, 0xC0))


def put(home: Path, data: bytes = S, mode: int = 0o600) -> str:
    name = new_share_file_name()
    (home / name).write_bytes(data)
    (home / name).chmod(mode)
    return name


def test_a_good_file_yields_s_and_is_gone(tmp_path: Path) -> None:
    name = put(tmp_path)
    assert take_share_file(str(tmp_path), name) == S
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ShareFileError, match="cannot be opened"):  # taken once only
        take_share_file(str(tmp_path), name)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_size_is_refused_and_deleted(tmp_path: Path, size: int) -> None:
    name = put(tmp_path, bytes(size))
    with pytest.raises(ShareFileError, match=f"holds {size} bytes"):
        take_share_file(str(tmp_path), name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o400, 0o700])
def test_wrong_mode_is_refused_and_deleted(tmp_path: Path, mode: int) -> None:
    name = put(tmp_path, mode=mode)
    with pytest.raises(ShareFileError, match=f"mode {mode:04o}"):
        take_share_file(str(tmp_path), name)
    assert list(tmp_path.iterdir()) == []


def test_symlink_is_refused_not_followed_and_removed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(S)
    target.chmod(0o600)
    name = new_share_file_name()
    (home / name).symlink_to(target)
    with pytest.raises(ShareFileError, match="symbolic link"):
        take_share_file(str(home), name)
    assert list(home.iterdir()) == []
    assert target.read_bytes() == S  # the link's target is neither read into use nor removed


def test_hard_link_directory_and_foreign_owner_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.write_bytes(S)
    other.chmod(0o600)
    linked = new_share_file_name()
    os.link(other, tmp_path / linked)
    with pytest.raises(ShareFileError, match="other links"):
        take_share_file(str(tmp_path), linked)
    assert not (tmp_path / linked).exists()
    directory = new_share_file_name()
    (tmp_path / directory).mkdir()
    with pytest.raises(ShareFileError, match="not a regular file"):
        take_share_file(str(tmp_path), directory)
    name = put(tmp_path)
    someone_else = os.geteuid() + 1
    monkeypatch.setattr(share_module.os, "geteuid", lambda: someone_else)
    with pytest.raises(ShareFileError, match="not owned"):
        take_share_file(str(tmp_path), name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "name", ["../x", "/etc/passwd", ".qkd-share-" + "A" * 32, ".qkd-share-ab", "x/.qkd-share-"]
)
def test_only_names_the_master_makes_are_touched(tmp_path: Path, name: str) -> None:
    assert not is_share_file_name(name)
    with pytest.raises(ShareFileError, match="not one the master makes"):
        take_share_file(str(tmp_path), name)
    discard_share_file(str(tmp_path), name)  # no-op, no error


def test_names_are_fresh_and_never_hold_s() -> None:
    names = {new_share_file_name() for _ in range(64)}
    assert len(names) == 64
    assert all(is_share_file_name(n) for n in names)


@pytest.mark.parametrize("busy", [False, True])
def test_the_op_script_deletes_the_file_on_a_refusal_or_while_busy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    busy: bool,
) -> None:
    """The script removes the file even when it never gets to the offer: no router here (the
    run fails reading its configuration), or another run holding the lock."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("QKD_ONBOX_LOCAL", "127.0.0.1:1:remote")  # nothing listens: run fails
    monkeypatch.setattr(entry, "PEER_LOCK_WAIT_S", 0.2)
    name = put(tmp_path)
    offer = Offer("L1", "kid-1", 3, "2027-01-15.08:00:30", (2,), "sae-a", name)
    lock = StateLock(str(tmp_path / "qkd" / "state" / "state.json"))
    if busy:
        lock.acquire()
    try:
        assert entry.main(["-action", "accept", "-message", offer.to_json()]) == 0
    finally:
        if busy:
            lock.release()
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["ok"] is False
    assert ("busy" in answer["reason"]) is busy
    assert not (tmp_path / name).exists()


def test_the_op_script_deletes_the_file_an_unparseable_offer_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    name = put(tmp_path)
    message = json.dumps({"type": "offer", "hybrid_share_file": name})  # no link, no key_ID
    assert entry.main(["-action", "accept", "-message", message]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["ok"] is False
    assert not (tmp_path / name).exists()


class FakeRpc:
    """A peer's PyEZ ``dev.rpc``: records what is sent; ``op_script`` may fail (lost answer)."""

    def __init__(self, script_fails: bool, put_fails: bool = False) -> None:
        self.requests: list[etree._Element] = []
        self.script_args: list[dict[str, str]] = []
        self.script_fails = script_fails
        self.put_fails = put_fails

    def __call__(self, request: etree._Element) -> bool:
        self.requests.append(request)
        if self.put_fails and request.tag == "file-put":
            raise TimeoutError
        return True

    def op_script(self, **kwargs: str) -> etree._Element:
        self.script_args.append(kwargs)
        if self.script_fails:
            raise TimeoutError
        return etree.fromstring('<output>{"type": "ack"}</output>')


class FakeDev:
    def __init__(self, rpc: FakeRpc) -> None:
        self.rpc = rpc

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("script_fails", "put_fails"), [(False, False), (True, False), (False, True)]
)
def test_master_puts_s_with_file_put_and_removes_it_when_the_call_fails(
    monkeypatch: pytest.MonkeyPatch, script_fails: bool, put_fails: bool
) -> None:
    rpc = FakeRpc(script_fails, put_fails)
    monkeypatch.setattr(entry, "peer_device", lambda *args, **kwargs: FakeDev(rpc))
    share = ShareFile(new_share_file_name(), S)
    link: Any = SimpleNamespace(peer_user="remote")
    message = Offer("L1", "kid-1", 3, "2027-01-15.08:00:30", (2,), "sae-a", share.name).to_json()
    call = lambda: entry.JunosIo().call_peer(  # noqa: E731
        link, Peer("sae-b", "10.0.0.2", 830), "accept", message, share
    )
    if put_fails:
        with pytest.raises(PeerUnreachable) as failed:  # the script never ran
            call()
    elif script_fails:
        with pytest.raises(RuntimeFailure) as failed:
            call()
    else:
        assert "ack" in call()
    put = rpc.requests[0]
    assert put.tag == "file-put"
    assert [c.tag for c in put] == ["encoding", "filename", "permission", "file-contents"]
    assert put.findtext("filename") == share.name  # relative: the peer user's home
    assert put.findtext("permission") == "0600"
    assert put.find("delete-if-exist") is None  # a name already there is refused, not replaced
    assert base64.b64decode(put.findtext("file-contents") or "") == S
    assert [a["message"] for a in rpc.script_args] == ([] if put_fails else [message])
    assert not [a for a in rpc.script_args if S.hex() in str(a)]
    deletes = [r.findtext("path") for r in rpc.requests if r.tag == "file-delete"]
    assert deletes == ([share.name] if script_fails or put_fails else [])
    if script_fails or put_fails:
        assert S.hex() not in str(failed.value)
