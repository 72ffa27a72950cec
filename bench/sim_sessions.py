"""Simulator scale check: N devices in ONE simulator process, N concurrent PyEZ sessions.

Each session: open, lock, load (set), commit, unlock, MKA read, close. Reports the wall time of
the whole wave and the simulator process's peak RSS (VmHWM). Targets for N=500: <= 10 s, <= 300 MB.

    .venv/bin/python -m bench.sim_sessions [--devices N] [--workers W]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PASSWORD_ENV = "QKD_SIM_BENCH_PW"
# A fresh password per run; spawned client processes inherit it through the environment.
PASSWORD = os.environ.setdefault(PASSWORD_ENV, secrets.token_urlsafe(18))
TARGET_WALL_S = 10.0
TARGET_RSS_MB = 300.0


def lab_yaml(devices: int) -> str:
    lines = ["preceding_hold_s: 5", "devices:"]
    for i in range(devices):
        lines += [f"  - name: r{i:04d}", "    user: bench", f"    password_env: {PASSWORD_ENV}"]
    lines.append("links:")
    for i in range(0, devices - 1, 2):
        lines.append(f'  - {{a: "r{i:04d}:et-0/0/0", b: "r{i + 1:04d}:et-0/0/0"}}')
    if devices < 2:
        lines[-1] = "links: []"
    return "\n".join(lines) + "\n"


def start_simulator(lab_file: Path, state: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    code = "from qkd_macsec.cli import main; main()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "sim",
            "serve",
            "--lab",
            str(lab_file),
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    ports: dict[str, int] = {}
    while True:
        line = out.get(timeout=120)
        if line == "ready":
            return proc, ports
        if line.startswith("r") and ":" in line and not line.startswith("link"):
            name, address = line.split()
            ports[name] = int(address.rsplit(":", 1)[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def one_session(port: int, index: int) -> float:
    from jnpr.junos import Device
    from jnpr.junos.utils.config import Config

    started = time.perf_counter()
    with Device(
        "127.0.0.1",
        port=port,
        user="bench",
        password=PASSWORD,
        gather_facts=False,
        look_for_keys=False,
    ) as dev:
        cu = Config(dev)
        cu.lock()
        try:
            cu.load(f"set system location building b{index}", format="set")
            cu.commit(comment="bench")
        finally:
            cu.unlock()
        dev.rpc.get_mka_session_information(summary=True)
    return time.perf_counter() - started


def run_slice(ports: list[int], first_index: int, workers: int) -> tuple[list[float], float]:
    """One client process: its share of the sessions on a thread pool; (durations, CPU s)."""
    cpu_before = time.process_time()
    indexes = range(first_index, first_index + len(ports))
    with ThreadPoolExecutor(max_workers=workers or len(ports)) as pool:
        durations = list(pool.map(one_session, ports, indexes))
    return durations, time.process_time() - cpu_before


def _warm() -> None:
    import jnpr.junos.utils.config  # noqa: F401 - import cost paid before the clock starts


def _ready(_: int) -> None:
    time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--workers", type=int, default=0, help="threads per client process")
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="client processes sharing the sessions (PyEZ/paramiko CPU is GIL-bound)",
    )
    args = parser.parse_args(argv)
    n = args.devices
    with tempfile.TemporaryDirectory(prefix="qkd-sim-bench-") as tmp:
        lab_file = Path(tmp) / "lab.yaml"
        lab_file.write_text(lab_yaml(n))
        t0 = time.perf_counter()
        proc, ports = start_simulator(lab_file, Path(tmp) / "state")
        startup = time.perf_counter() - t0
        try:
            names = sorted(ports)
            sim_cpu_before = cpu_seconds(proc.pid)
            procs = max(1, min(args.client_procs, n))
            slices = [
                ([ports[m] for m in names[i::procs]], i * n, args.workers) for i in range(procs)
            ]
            context = multiprocessing.get_context("spawn")
            with context.Pool(procs, initializer=_warm) as pool:
                pool.map(_ready, range(procs * 4), chunksize=1)
                wave_start = time.perf_counter()
                results = pool.starmap(run_slice, slices)
                wall = time.perf_counter() - wave_start
            durations = [d for slice_durations, _ in results for d in slice_durations]
            client_cpu = sum(cpu for _, cpu in results)
            rss = peak_rss_mb(proc.pid)
            sim_cpu = cpu_seconds(proc.pid) - sim_cpu_before
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    durations.sort()
    rows = [
        ("devices / sessions", f"{n}", f"{procs} client processes"),
        ("simulator startup", f"{startup:.2f} s", ""),
        ("wave wall time", f"{wall:.2f} s", f"target <= {TARGET_WALL_S:.0f} s"),
        ("session p50 / max", f"{durations[n // 2]:.2f} / {durations[-1]:.2f} s", ""),
        ("CPU simulator / client", f"{sim_cpu:.1f} / {client_cpu:.1f} s", ""),
        ("simulator peak RSS", f"{rss:.0f} MB", f"target <= {TARGET_RSS_MB:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>14}  {note}")
    ok = rss <= TARGET_RSS_MB and (n < 500 or wall <= TARGET_WALL_S)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
