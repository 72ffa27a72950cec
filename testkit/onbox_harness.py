"""Run a whole on-box network against a testbed: one runtime per simulated router, no controller.

Each router gets a directory standing for its file system (``var/db/scripts/{event,op}`` with the
bundled script, the script user's home with its SAE certificate, CA and ``known_hosts``), a ``jcs``
shim that writes the trace file there, and an environment binding the script's local ``Device()``
to that router's simulated NETCONF port. A timer event is one run of the real script in its own
process; a peer hand-off is the simulator's ``<op-script>`` RPC running the peer's script in
another process. Nothing here decides anything: the script does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qkd_macsec.inventory import Inventory
from qkd_macsec.onbox.build import SCRIPT_NAME, build_script
from qkd_macsec.onbox.config import OnboxOptions, router_lines
from qkd_macsec.onbox.deploy import commit_lines
from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.files import attach_file_store, file_store
from qkd_macsec.sim.netconf.file_transfer import FileTransferEndpoint, serve_files
from qkd_macsec.sim.netconf.hostkeys import known_hosts_line
from qkd_macsec.sim.scripts import ScriptRunner, attach_script_runner
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed

SCRIPT_TIMEOUT_S = 90.0
JCS_SHIM = '''"""jcs shim (on-box harness): trace and syslog go to files in the user's home."""
import os
import time


def _append(name, *messages):
    path = os.path.join(os.environ["HOME"], "qkd", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(time.strftime("%H:%M:%S ") + " ".join(str(m) for m in messages) + "\\n")


def trace(*messages):
    _append("trace.log", *messages)


def syslog(priority, *messages):
    _append("syslog.log", priority, *messages)
'''


@dataclass(frozen=True)
class RunResult:
    router: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class RouterHost:
    name: str
    root: Path
    env: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Fault: once an op-script run with one of these actions has finished (its answer still
    #: goes back), the router stops accepting connections, as if it went down right after.
    unreachable_after: set[str] = field(default_factory=set)

    @property
    def home(self) -> Path:
        return self.root / "var" / "home" / "remote"

    @property
    def script(self) -> Path:
        return self.root / "var" / "db" / "scripts" / "event" / SCRIPT_NAME

    @property
    def op_script(self) -> Path:
        return self.root / "var" / "db" / "scripts" / "op" / SCRIPT_NAME

    def environment(self) -> dict[str, str]:
        return {**self.env, **self.extra_env}


class OnboxHarness:
    """On-box runtimes for every router of ``testbed`` (see the module docstring)."""

    def __init__(
        self, testbed: Testbed, directory: Path, options: OnboxOptions, *, serve_files: bool = False
    ) -> None:
        self.testbed = testbed
        self.directory = directory
        self.options = options
        self.built = build_script(directory / "build")
        self.routers: dict[str, RouterHost] = {}
        self.inventory: Inventory = testbed.inventory
        self._file_endpoints: list[FileTransferEndpoint] = []
        #: Every op-script command line run on any router (router, argv), for secret scans.
        self.op_argv: list[tuple[str, list[str]]] = []
        if serve_files:
            self._serve_files()
        shim = directory / "shim"
        shim.mkdir(parents=True, exist_ok=True)
        (shim / "jcs.py").write_text(JCS_SHIM)
        password = os.environ[PASSWORD_ENV]
        for name, host in self.inventory.hosts.items():
            root = self.root(name)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": str(shim),
                "HOME": str(root / "var" / "home" / "remote"),
                "QKD_ONBOX_LOCAL": f"{host.host}:{host.port}:{host.user}",
                "QKD_ONBOX_PASSWORD": password,
            }
            router = RouterHost(name, root, env)
            self._install(router)
            self.routers[name] = router
            device = testbed.lab.device(name)
            if file_store(device) is None:  # the script user's home is the one file-put writes
                attach_file_store(device, root)
            attach_script_runner(device, self._runner(router))

    def root(self, name: str) -> Path:
        return self.directory / "routers" / name

    def _serve_files(self) -> None:
        """Give every router a file system served over SFTP/SCP (a second, file-serving listener
        per device, same host key); from then on everything talks to those listeners."""
        lab = self.testbed.lab
        endpoints = {}
        for name in self.inventory.hosts:
            endpoint = lab.call(
                lambda name=name: serve_files(lab.running, name, self.root(name))  # type: ignore[misc]
            )
            self._file_endpoints.append(endpoint)
            endpoints[name] = (lab.host, endpoint.port)
        with open(lab.known_hosts_path, "a", encoding="utf-8") as handle:
            for endpoint in self._file_endpoints:
                handle.write(known_hosts_line(lab.host, endpoint.port, endpoint.host_key) + "\n")
        self.inventory = self.inventory.with_endpoints(endpoints)

    def _install(self, router: RouterHost) -> None:
        host = self.inventory.hosts[router.name]
        for path in (router.script, router.op_script):
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.built.path, path)
        certs = router.home / "qkd" / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        assert host.tls is not None
        shutil.copyfile(host.tls.cert, certs / f"{host.sae_id}.crt")
        write_private(certs / f"{host.sae_id}.key", host.tls.key.read_bytes())
        kme = self.inventory.kmes[host.kme or ""]
        assert kme.ca is not None
        shutil.copyfile(kme.ca, certs / "ca.crt")
        self._alias_home(router)
        ssh = router.home / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(self.testbed.lab.known_hosts_path, ssh / "known_hosts")

    def _alias_home(self, router: RouterHost) -> None:
        """The peers log in as ``options.script_user``, whose home is where ``file-put`` writes
        (``/var/home/USER``); on a router that is the script's home too. The harness keeps the
        script's home at ``var/home/remote``, so another user's home is that same directory."""
        user = self.options.script_user
        alias = router.root / "var" / "home" / user
        if user and alias != router.home and not alias.exists():
            alias.parent.mkdir(parents=True, exist_ok=True)
            alias.symlink_to(router.home.name, target_is_directory=True)

    def _runner(self, router: RouterHost) -> ScriptRunner:
        async def run(script: str, args: dict[str, str]) -> str:
            if script != SCRIPT_NAME:
                raise FileNotFoundError(script)
            argv = [sys.executable, str(router.op_script)]
            for name, value in args.items():
                argv += [f"-{name}", value]
            self.op_argv.append((router.name, argv))
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=router.environment(),
                cwd=str(router.home),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), SCRIPT_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return ""
            self._keep_stderr(router, err)
            if args.get("action") in router.unreachable_after:
                router.unreachable_after.clear()
                await self.testbed.lab.running.refuse_connections(router.name)
            return out.decode(errors="replace")

        return run

    def _keep_stderr(self, router: RouterHost, err: bytes) -> None:
        if err:
            with open(router.home / "qkd" / "stderr.log", "ab") as handle:
                handle.write(err)

    def configure(self) -> None:
        """Commit each router's on-box configuration (what ``onbox deploy`` commits)."""
        for name in self.routers:
            host = self.inventory.hosts[name]
            lines = router_lines(self.inventory, name, self.built.sha256, self.options)
            commit_lines(host, lines, "qkd-onbox harness configure")

    def fire_timer(self, router: str, extra_env: Mapping[str, str] | None = None) -> RunResult:
        """One timer event on ``router``: run its script to completion."""
        host = self.routers[router]
        env = {**host.environment(), **(extra_env or {})}
        done = subprocess.run(
            [sys.executable, str(host.script)],
            env=env,
            cwd=str(host.home),
            capture_output=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
        self._keep_stderr(host, done.stderr)
        return RunResult(router, done.returncode, done.stdout.decode(), done.stderr.decode())

    def run_op(self, router: str, action: str, message: str) -> RunResult:
        """Run ``router``'s op script as a peer's hand-off would (``-action``, ``-message``)."""
        host = self.routers[router]
        done = subprocess.run(
            [sys.executable, str(host.op_script), "-action", action, "-message", message],
            env=host.environment(),
            cwd=str(host.home),
            capture_output=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
        self._keep_stderr(host, done.stderr)
        return RunResult(router, done.returncode, done.stdout.decode(), done.stderr.decode())

    def state_lock_path(self, router: str) -> Path:
        """The runtime's lock file (``flock`` on it to hold off that router's runs)."""
        return self.routers[router].home / "qkd" / "state" / "state.json.lock"

    def masters(self) -> list[str]:
        return sorted({link.master.host for link in self.inventory.links})

    def trace(self, router: str) -> str:
        path = self.routers[router].home / "qkd" / "trace.log"
        return path.read_text() if path.exists() else ""

    def share_files(self) -> list[Path]:
        """Hybrid share files (``.qkd-share-*``) left anywhere in any router's file system."""
        return sorted(p for r in self.routers.values() for p in r.root.rglob(".qkd-share-*"))

    def files(self) -> list[Path]:
        """Every file the runtimes wrote (state, hand-off, trace), for secret scans."""
        out = []
        for router in self.routers.values():
            base = router.home / "qkd"
            out += [p for p in base.rglob("*") if p.is_file() and "certs" not in p.parts]
        return out

    def close(self) -> None:
        for name in self.routers:
            attach_script_runner(self.testbed.lab.device(name), None)
        for endpoint in self._file_endpoints:
            self.testbed.lab.call(endpoint.close)
        self._file_endpoints.clear()
