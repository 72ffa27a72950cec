"""An SSH endpoint that serves files (SFTP and SCP) next to NETCONF, for devices with a file store.

asyncssh routes sessions to its SFTP/SCP servers only through its stream sessions, so this
endpoint bridges the NETCONF subsystem (and the ``xml-mode netconf need-trailer`` exec) from a
stream handler to the same :class:`NetconfSession` the plain endpoint uses; ``sftp`` and
``scp -t/-f`` go to an SFTP server chrooted to the device's file store. Logins, host keys and the
refuse-connections fault behave exactly as in :class:`DeviceEndpoint`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

import asyncssh

from qkd_macsec.sim.files import DeviceFiles, attach_file_store
from qkd_macsec.sim.netconf.session import NetconfSession
from qkd_macsec.sim.netconf.ssh import LOGIN_TIMEOUT_S, NETCONF_EXEC, DeviceEndpoint, _SshServer

if TYPE_CHECKING:
    from qkd_macsec.sim.lab import RunningLab


class FileTransferEndpoint(DeviceEndpoint):
    """:class:`DeviceEndpoint` plus SFTP/SCP into ``files``."""

    def __init__(self, *args: object, files: DeviceFiles, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.files = files

    def _sftp(self, chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(self.files.root).encode())

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.listen(
            self.host,
            self.port,
            server_factory=lambda: _SshServer(self),
            server_host_keys=[self.host_key],
            session_factory=self._session,
            sftp_factory=self._sftp,
            allow_scp=True,
            encoding=None,
            allow_pty=False,
            x11_forwarding=False,
            agent_forwarding=False,
            login_timeout=LOGIN_TIMEOUT_S,
            reuse_address=True,
        )
        self.port = self._acceptor.get_port()

    async def _session(
        self,
        stdin: asyncssh.SSHReader[bytes],
        stdout: asyncssh.SSHWriter[bytes],
        stderr: asyncssh.SSHWriter[bytes],
    ) -> None:
        chan = cast("asyncssh.SSHServerChannel[bytes]", stdout.channel)
        command = (chan.get_command() or "").strip()
        if chan.get_subsystem() != "netconf" and command != NETCONF_EXEC:
            stderr.write(b"only NETCONF, SFTP and SCP are served\n")
            chan.exit(1)
            return
        conn = chan.get_extra_info("connection")
        peer = conn.get_extra_info("peername") if conn is not None else None
        closed = asyncio.Event()

        def close() -> None:
            closed.set()
            chan.close()

        session = NetconfSession(
            self.device,
            self.fabric,
            user=str(conn.get_extra_info("username") or ""),
            peer=f"{peer[0]}:{peer[1]}" if peer else "unknown",
            send=stdout.write,
            close=close,
            abort=lambda: conn.abort(),
        )
        session.start()
        try:
            while not closed.is_set():
                data = await stdin.read(65536)
                if not data:
                    break
                session.data_received(data)
        except (asyncssh.Error, ConnectionError):
            pass
        finally:
            session.connection_lost()


async def serve_files(running: RunningLab, name: str, root: Path) -> FileTransferEndpoint:
    """A second listener for lab device ``name`` (same host key) that also serves ``root`` as its
    file system. The caller closes it. (Until the lab builds these endpoints itself.)"""
    plain = running.endpoints[name]
    endpoint = FileTransferEndpoint(
        plain.device,
        plain.fabric,
        plain.host_key,
        host=plain.host,
        port=0,
        files=attach_file_store(plain.device, root),
    )
    await endpoint.start()
    return endpoint
