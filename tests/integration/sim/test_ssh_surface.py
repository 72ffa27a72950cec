"""The SSH surface seen by a plain SSH client (asyncssh): exec fallback, no shell, known_hosts."""

from __future__ import annotations

import asyncio

import asyncssh
import pytest

from qkd_macsec.sim.lab import Lab
from qkd_macsec.sim.netconf.framing import EOM

PASSWORD = "surface-Pw-4242"
HELLO = (
    b'<?xml version="1.0"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    b"<capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities>"
    b"</hello>" + EOM
)
RPC = (
    b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="m-1">'
    b"<get-software-information/></rpc>" + EOM
)


async def read_message(reader: asyncssh.SSHReader[bytes]) -> bytes:
    return (await asyncio.wait_for(reader.readuntil(EOM), 10))[: -len(EOM)]


async def test_exec_fallback_verified_host_key_and_no_shell() -> None:
    lab = Lab.from_dict({"devices": [{"name": "r1", "user": "lab", "password": PASSWORD}]})
    async with lab.serve() as running:
        options = {
            "port": running.port("r1"),
            "username": "lab",
            "password": PASSWORD,
            "known_hosts": str(running.known_hosts_path),
            "client_keys": None,
        }
        async with asyncssh.connect("127.0.0.1", **options) as conn:
            process = await conn.create_process("xml-mode netconf need-trailer", encoding=None)
            hello = await read_message(process.stdout)
            assert b"<session-id>" in hello
            process.stdin.write(HELLO + RPC)
            reply = await read_message(process.stdout)
            assert b'message-id="m-1"' in reply
            assert b"<host-name>r1</host-name>" in reply
            process.stdin.write_eof()
            process.close()
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.create_process()  # interactive shell: refused
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.create_process("cli show version")
        await running.rotate_host_key("r1")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await asyncssh.connect("127.0.0.1", **options)
