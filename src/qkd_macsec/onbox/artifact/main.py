"""Entry point: an event (timer) run, or an op-script run by a peer (``-action accept|withdraw
-message JSON``). Paths live under the script user's home (``/var/home/remote`` on Junos)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

try:
    import jcs  # type: ignore[import-not-found]
except ImportError:  # off the router (unit tests): trace to stderr
    jcs = None

from qkd_macsec.onbox.artifact.handoff import (
    Ack,
    HandoffError,
    parse_offer,
    parse_withdraw,
    share_file_in,
)
from qkd_macsec.onbox.artifact.junos_io import (
    PASSWORD_ENV,
    RouterIoError,
    apply_set_lines,
    call_peer_script,
    close_quietly,
    delete_share_file,
    open_local,
    peer_device,
    put_share_file,
    read_config,
    read_utc_offset,
)
from qkd_macsec.onbox.artifact.kme import KmeCallError, KmeEndpoint, dec_key, enc_key
from qkd_macsec.onbox.artifact.runtime import (
    Paths,
    PeerUnreachable,
    RouterIo,
    Runtime,
    RuntimeFailure,
)
from qkd_macsec.onbox.artifact.settings import LinkSettings, Peer
from qkd_macsec.onbox.artifact.share_file import (
    ShareFile,
    ShareFileError,
    discard_share_file,
    take_share_file,
)
from qkd_macsec.onbox.artifact.state import LockHeld, StateLock

REMOTE_HOME = "/var/home/remote"  # the script user's home on every router
QKD_DIR = "qkd"
# An op-script run (a master's offer or withdraw) waits this long for a run of ours to finish
# before refusing; the master treats a refused offer as "not staged" and retries a withdraw.
PEER_LOCK_WAIT_S = 10.0


def home() -> str:
    return os.environ.get("HOME") or REMOTE_HOME


def qkd_path(*parts: str) -> str:
    return os.path.join(home(), QKD_DIR, *parts)


def trace(message: str) -> None:
    if jcs is not None:
        jcs.trace(f"qkd-onbox: {message}")
    else:
        sys.stderr.write(f"qkd-onbox: {message}\n")


class JunosIo(RouterIo):
    """The real edges: local PyEZ session, KME over requests, peers over NETCONF/SSH."""

    def __init__(self) -> None:
        self._dev: Any = None
        self._offset: int | None = None

    def local(self) -> Any:
        if self._dev is None:
            self._dev = open_local()
        return self._dev

    def close(self) -> None:
        if self._dev is not None:
            close_quietly(self._dev)
            self._dev = None

    def read_config(self) -> Any:
        try:
            return read_config(self.local())
        except RouterIoError as exc:
            raise RuntimeFailure(str(exc)) from None

    def utc_offset_s(self) -> int:
        if self._offset is None:  # one zone per run: read once
            try:
                self._offset = read_utc_offset(self.local())
            except RouterIoError as exc:
                raise RuntimeFailure(str(exc)) from None
        return self._offset

    def commit_lines(self, lines: list[str], comment: str, secret_hex: str | None) -> None:
        try:
            apply_set_lines(self.local(), lines, comment, secret_hex)
        except RouterIoError as exc:
            raise RuntimeFailure(str(exc)) from None

    def _kme(self, link: LinkSettings) -> KmeEndpoint:
        ca = qkd_path("certs", "ca.crt") if link.kme_verify else None
        if ca is None:
            trace(f"link {link.link}: KME certificate NOT verified (kme-ca false)")
        return KmeEndpoint(
            link.kme_host,
            link.kme_port,
            qkd_path("certs", f"{link.sae}.crt"),
            qkd_path("certs", f"{link.sae}.key"),
            ca,
        )

    def enc_key(self, link: LinkSettings, slaves: list[str], bits: int) -> tuple[str, bytes]:
        try:
            return enc_key(self._kme(link), slaves, bits)
        except KmeCallError as exc:
            raise RuntimeFailure(str(exc)) from None

    def dec_key(self, link: LinkSettings, master: str, key_id: str) -> bytes:
        try:
            return dec_key(self._kme(link), master, key_id, link.kme_method)
        except KmeCallError as exc:
            raise RuntimeFailure(f"dec_keys for {key_id} failed: {exc}") from None

    def _known_hosts(self) -> str:
        return os.path.join(home(), ".ssh", "known_hosts")

    def _ssh_key(self) -> str:
        return os.path.join(home(), ".ssh", "id_ed25519")

    def call_peer(
        self,
        link: LinkSettings,
        peer: Peer,
        action: str,
        message: str,
        share: ShareFile | None = None,
    ) -> str:
        try:
            dev = peer_device(
                peer.host,
                peer.port,
                link.peer_user,
                self._known_hosts(),
                self._ssh_key(),
                os.environ.get(PASSWORD_ENV),
            )
        except RouterIoError as exc:
            raise PeerUnreachable(f"{exc}") from None
        try:
            if share is not None:
                try:
                    put_share_file(dev, share)
                except RouterIoError as exc:  # the script never ran: nothing can be staged
                    delete_share_file(dev, share.name)
                    raise PeerUnreachable(str(exc)) from None
            try:
                return call_peer_script(dev, action, message)
            except RouterIoError as exc:
                if share is not None:  # the peer's script may not have run to take it
                    delete_share_file(dev, share.name)
                raise RuntimeFailure(str(exc)) from None
        finally:
            close_quietly(dev)

    def take_share(self, name: str) -> bytes:
        try:
            return take_share_file(home(), name)
        except ShareFileError as exc:
            raise RuntimeFailure(str(exc)) from None

    def fetch_published(self, link: LinkSettings, peer: Peer) -> str | None:
        return self._scp_get(link, peer, f"{link.link}.json")

    def fetch_ack(self, link: LinkSettings, peer: Peer) -> str | None:
        return self._scp_get(link, peer, f"{link.link}.ack.json")

    def _scp_get(self, link: LinkSettings, peer: Peer, name: str) -> str | None:
        """One file of the peer's ``published/`` over SCP (host key verified); None if absent."""
        from jnpr.junos import Device
        from jnpr.junos.utils.scp import SCP

        remote = f"{REMOTE_HOME}/{QKD_DIR}/published/{name}"
        key = self._ssh_key()
        dev = Device(
            host=peer.host,
            port=peer.port,
            user=link.peer_user,
            gather_facts=False,
            hostkey_verify=True,
            look_for_keys=False,
            allow_agent=False,
            ssh_private_key_file=key if os.path.isfile(key) else None,
            passwd=None if os.path.isfile(key) else os.environ.get(PASSWORD_ENV),
        )
        with tempfile.TemporaryDirectory(prefix="qkd-onbox-") as tmp:
            local = os.path.join(tmp, "published.json")
            try:
                with SCP(dev) as scp:
                    scp.get(remote, local)
            except Exception as exc:
                if "No such file" in str(exc) or "not found" in str(exc).lower():
                    return None
                raise RuntimeFailure(f"SCP from {peer.sae} failed: {type(exc).__name__}") from None
            with open(local, encoding="utf-8") as handle:
                return handle.read(8192)

    def log(self, message: str) -> None:
        trace(message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qkd_onbox.py", add_help=False)
    parser.add_argument("-action", choices=("timer", "accept", "withdraw"), default="timer")
    parser.add_argument("-message", default="")
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    io = JunosIo()
    paths = Paths(qkd_path("state", "state.json"), qkd_path("published"))
    lock = StateLock(paths.state, 0.0 if args.action == "timer" else PEER_LOCK_WAIT_S)
    try:
        try:
            lock.acquire()
        except LockHeld as exc:
            if args.action == "timer":  # overlapping timer events: the running one carries on
                trace(f"{exc}: this run exits")
                return 0
            print(busy_answer(args.action, args.message, str(exc)).to_json())
            return 0
        runtime = Runtime(io, paths)
        if args.action == "accept":
            print(runtime.accept(args.message).to_json())
            return 0
        if args.action == "withdraw":
            print(runtime.withdraw(args.message).to_json())
            return 0
        report = runtime.on_timer()
        for link in report.rotated:
            trace(f"link {link}: rotated")
        for link, why in report.failed.items():
            trace(f"link {link}: FAILED: {why}")
        if jcs is not None and report.failed:
            jcs.syslog("external.warning", f"qkd-onbox: {len(report.failed)} link(s) failed")
        return 0 if report.ok else 1
    except Exception as exc:  # an event script must never die with a traceback holding data
        trace(f"run failed: {type(exc).__name__}: {exc}")
        return 2
    finally:
        if args.action == "accept":  # taken already, unless this run refused or failed early
            discard_share_file(home(), share_file_in(args.message))
        io.close()
        lock.release()


def busy_answer(action: str, message: str, why: str) -> Ack:
    """The refusal an op-script run gives while another run holds the lock (nothing staged or
    removed): for the rotation the message names, so the master can match it."""
    try:
        body = parse_offer(message) if action == "accept" else parse_withdraw(message)
    except HandoffError as exc:
        return Ack("invalid", "invalid", 0, False, reason=str(exc))
    return Ack(body.link, body.key_ID, body.slot, False, reason=f"busy: {why}")
