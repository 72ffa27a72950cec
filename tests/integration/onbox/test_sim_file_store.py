"""A lab device with ``files_dir`` serves that directory over SFTP and SCP next to NETCONF."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncssh
from jnpr.junos import Device

from qkd_macsec.sim.lab import Lab, run_lab_in_thread

PASSWORD = "lab-pass-123"


def test_lab_device_serves_files_and_checksums(tmp_path: Path) -> None:
    root = tmp_path / "r1"
    lab = Lab.from_dict(
        {"devices": [{"name": "r1", "password": PASSWORD, "files_dir": str(root)}]},
        state_dir=tmp_path / "state",
    )
    payload = b"print('on-box')\n"
    (tmp_path / "local.py").write_bytes(payload)
    with run_lab_in_thread(lab) as running:
        port = running.port("r1")
        known = str(running.known_hosts_path)

        async def transfer() -> bytes:
            async with asyncssh.connect(
                "127.0.0.1", port, username="lab", password=PASSWORD, known_hosts=known
            ) as conn:
                async with conn.start_sftp_client() as sftp:
                    await sftp.makedirs("/var/db/scripts/event", exist_ok=True)
                    await sftp.put(str(tmp_path / "local.py"), "/var/db/scripts/event/x.py")
                await asyncssh.scp((conn, "/var/db/scripts/event/x.py"), str(tmp_path / "back"))
            return (tmp_path / "back").read_bytes()

        assert asyncio.run(transfer()) == payload
        assert (root / "var/db/scripts/event/x.py").read_bytes() == payload
        dev = Device(
            host="127.0.0.1",
            port=port,
            user="lab",
            passwd=PASSWORD,
            gather_facts=False,
            hostkey_verify=False,
        )
        dev.open()
        try:
            reply = dev.rpc.get_sha256_checksum_information(path="/var/db/scripts/event/x.py")
            assert reply.findtext(".//checksum") == hashlib.sha256(payload).hexdigest()
            assert dev.rpc.get_software_information() is not None  # NETCONF still served
        finally:
            dev.close()
