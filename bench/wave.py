"""Benchmark: one full rotation wave with the real Controller over a generated lab.

For each scenario (lab shape x simulator commit latency) a fresh *worker* process runs the
controller, so its CPU time and peak RSS are the controller's own; the worker in turn starts
the KMEs and simulated routers in a third process (:mod:`qkd_macsec.testbed.serve`). The worker:

1. bootstraps every link (first wave: initial MACsec configuration + first key; not measured),
2. measures one full wave of every link: wall time until every link is staged on both ends,
   per-link time from the wave's start (ENC) until all of its ends committed (p50/p99), the
   activation delay and verification after it, controller CPU per link rotation, peak RSS,
   KME key requests per link, commits per router (counted by the simulator) and outage,
3. runs a sample of links through the deliberately serial path (one link at a time, one device
   session at a time, PyEZ, activation not awaited — generous to the baseline) and extrapolates
   it to every link for the ratio.

Each shape x latency runs once per device client (``--clients``): ``async`` (the asyncio NETCONF
driver with one session per router per wave, the default off-box path) and ``pyez`` — the
threaded PyEZ path as it was before sessions were pooled (one session per step), the baseline
the issue's ratios are measured against, in the same run on the same machine.

    .venv/bin/python -m bench.wave [--routers D --links L] [--shapes ring,mesh,group]
                                   [--latencies 0,2] [--clients async,pyez] [--workers W]
                                   [--serial-sample K] [--full] [--profile] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import yaml
from bench.labgen import SHAPES, LabShape, Shape, lab_document

PASSWORD_ENV = "QKD_ROUTER_PASSWORD"
START_TIMEOUT_S = 300.0
STATS_TIMEOUT_S = 120.0
BENCH_POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "5s"}
#: The issue's targets (issue 15; 500 routers / 1000 links on this 2-core machine, simulator
#: included), as ratios against the baseline client measured in the same run where they can be.
TARGETS = {
    "cpu_per_link_ratio_min": 5.0,  # baseline CPU/link ÷ this client's
    "staged_at_0_ratio_min": 4.0,  # baseline staged time at 0 s ÷ this client's
    "staged_2_minus_0_max_s": 3.0,  # commits overlap
    "speedup_at_0_min": 50.0,  # over the serial path
    "speedup_at_2_min": 400.0,
    "rss_mb": 300.0,
    "commits_per_router": 1,
    "outage_s": 0.0,
}
CLIENTS = ("async", "pyez")
BASELINE = "pyez"
DEFAULT_SIZE = (50, 100)
FULL_SIZE = (500, 1000)


@dataclass(frozen=True)
class Scenario:
    routers: int
    links: int
    shape: Shape
    commit_latency: float
    workers: int
    serial_sample: int
    profile: bool = False
    ncclient_tick: float | None = None  # experiment: ncclient's send-queue poll (default 0.1 s)
    split_known_hosts: bool = False  # one known_hosts file per router instead of one shared
    client: str = "async"  # async | pyez (pyez: the threaded baseline, one session per step)

    @property
    def lab(self) -> LabShape:
        links = self.routers if self.shape == "ring" else self.links
        return LabShape(self.routers, links, self.shape)


# -- the testbed process ---------------------------------------------------------------------
class TestbedProcess:
    """``python -m qkd_macsec.testbed.serve`` as a child; ``stats(since)`` asks it questions."""

    __test__ = False

    def __init__(self, proc: subprocess.Popen[str], inventory: Path) -> None:
        self.proc = proc
        self.inventory = inventory

    def stats(self, since: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"stats {since}\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(_readline(self.proc.stdout, STATS_TIMEOUT_S))
        return reply


def _readline(stream: IO[str], timeout: float) -> str:
    """One line from a child's stdout, or TimeoutError (the child may be stuck)."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        raise TimeoutError(f"no answer from the testbed process within {timeout:g} s")
    return box[0]


@contextmanager
def testbed_process(scenario: Scenario, directory: Path) -> Iterator[TestbedProcess]:
    document = directory / "lab.yaml"
    document.write_text(yaml.safe_dump(lab_document(scenario.lab), sort_keys=False))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qkd_macsec.testbed.serve",
            str(document),
            str(directory / "testbed"),
            "--commit-latency",
            str(scenario.commit_latency),
            "--policy",
            json.dumps(BENCH_POLICY),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(_readline(proc.stdout, START_TIMEOUT_S))
        yield TestbedProcess(proc, Path(ready["inventory"]))
    finally:
        if proc.stdin is not None:
            try:
                proc.stdin.write("quit\n")
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the worker: one scenario -----------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _measure(scenario: Scenario, testbed: TestbedProcess) -> dict[str, Any]:
    from qkd_macsec.engine.controller import Controller, ControllerOptions
    from qkd_macsec.engine.events import KmeRequestDone, WaveStep
    from qkd_macsec.engine.observers import on
    from qkd_macsec.etsi014.client import RequestRecord
    from qkd_macsec.inventory import load_inventory

    inventory_path = testbed.inventory
    if scenario.split_known_hosts:
        inventory_path = split_known_hosts(inventory_path)
    inventory = load_inventory(inventory_path)
    ends_per_link = {link.name: len(inventory.link_ends(link)) for link in inventory.links}
    key_requests: list[RequestRecord] = []

    def on_request(event: KmeRequestDone) -> None:
        if event.record.endpoint in ("enc_keys", "dec_keys"):
            key_requests.append(event.record)

    steps: dict[str, float] = {}  # the measured wave's steps, seconds after rotate() began
    step_origin = [time.monotonic()]

    def on_step(event: WaveStep) -> None:
        steps.setdefault(event.step, round(time.monotonic() - step_origin[0], 3))

    baseline = scenario.client == BASELINE
    options = ControllerOptions(
        max_workers=scenario.workers,
        device_client=scenario.client,
        session_reuse=not baseline,  # the baseline as it was: a session per step
    )
    out: dict[str, Any] = {"scenario": asdict(scenario), "lab": scenario.lab.label}
    observers = [on(KmeRequestDone, on_request), on(WaveStep, on_step)]
    async with Controller(inventory, options, observers=observers) as controller:
        out["bootstrap"] = await _bootstrap(controller)
        before = testbed.stats(0.0)
        key_requests.clear()
        since = time.time()
        sampler_cm: Any = nullcontext()
        if scenario.profile:
            from bench.sampler import Sampler

            sampler_cm = Sampler()
        cpu0, main0, t0 = time.process_time(), time.thread_time(), time.monotonic()
        steps.clear()
        step_origin[0] = t0
        with sampler_cm as sampler:
            wave = await controller.rotate(all_links=True)
        cpu, main_cpu = time.process_time() - cpu0, time.thread_time() - main0
        wall = time.monotonic() - t0
        after = testbed.stats(since)
    per_link = [r.stage_seconds for r in wave.rotations.values() if r.stage_seconds > 0]
    links = len(wave.rotations)
    activation_s = (
        (wave.activation - wave.started).total_seconds() if wave.activation is not None else None
    )
    verify_s = (
        (wave.finished - wave.activation).total_seconds()
        if wave.activation is not None and wave.finished is not None
        else None
    )
    commits = list(after["commits"].values())
    outage = sum(after["outage"][k] - before["outage"].get(k, 0.0) for k in after["outage"])
    out["wave"] = {
        "ok": wave.ok,
        "links": links,
        "failed": wave.failed_links[:5],
        "staged_s": round(wave.staged_seconds, 3),
        "link_p50_s": round(percentile(per_link, 50), 3) if per_link else None,
        "link_p99_s": round(percentile(per_link, 99), 3) if per_link else None,
        "activation_delay_s": None if activation_s is None else round(activation_s, 3),
        "predicted_staging_s": None
        if wave.predicted_staging_s is None
        else round(wave.predicted_staging_s, 3),
        "undo_budget_s": None if wave.undo_budget_s is None else round(wave.undo_budget_s, 3),
        "verify_s": None if verify_s is None else round(verify_s, 3),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_link": round(1000 * cpu / max(links, 1), 2),
        "event_loop_cpu_s": round(main_cpu, 3),
        "device_threads_cpu_s": round(cpu - main_cpu, 3),
        "kme_key_requests": len(key_requests),
        "kme_requests_per_link": round(len(key_requests) / max(links, 1), 3),
        "kme_requests_expected_per_link": round(
            sum(ends_per_link.values()) / max(len(ends_per_link), 1), 3
        ),
        "commits_per_router_min": min(commits) if commits else 0,
        "commits_per_router_max": max(commits) if commits else 0,
        "controller_commits_max": max((d.commits for d in wave.devices.values()), default=0),
        "logins_per_router_max": max(after.get("logins", {}).values(), default=None),
        "outage_s": round(outage, 6),
        # where the wall time goes: reconcile (reads) → planned → keys fetched → staging
        # begins → staged on every end (then T, verification): seconds after rotate() began
        "steps_s": dict(steps),
        "links_live": sum(1 for live in after["live"].values() if live),
    }
    if sampler is not None:
        out["profile"] = sampler.summary()
    out["serial"] = await _serial_baseline(scenario, inventory, wave.staged_seconds)
    out["rss_mb"] = round(peak_rss_mb(), 1)
    return out


def split_known_hosts(inventory_path: Path) -> Path:
    """The same inventory with one known_hosts file per router (only its own host key).

    paramiko parses the whole known_hosts file on every connect: with one shared file of N
    routers that is O(N) work per session. Per-router files make it O(1).
    """
    document = yaml.safe_load(inventory_path.read_text())
    shared = Path(document["defaults"]["known_hosts"])
    lines = shared.read_text().splitlines()
    folder = inventory_path.parent / "known_hosts.d"
    folder.mkdir(mode=0o700, exist_ok=True)
    for name, host in document["hosts"].items():
        marker = f"[{host['host']}]:{host['port']} "
        own = folder / name
        own.write_text("".join(f"{line}\n" for line in lines if line.startswith(marker)))
        host["known_hosts"] = str(own)
    split = inventory_path.with_name("inventory-split.yaml")
    split.write_text(yaml.safe_dump(document, sort_keys=False))
    split.chmod(0o600)
    return split


async def _bootstrap(controller: Any, attempts: int = 3) -> list[dict[str, Any]]:
    """First waves (initial configuration + first key) until every link is up; not measured.

    Links a wave could not stage in time are aborted safely by the engine and retried here
    (the next wave's activation delay uses the session time the first one measured).
    """
    waves = []
    failed: list[str] = []
    for attempt in range(attempts):
        t = time.monotonic()
        # Retries name the failed links: the planner would otherwise back off from them.
        result = await controller.rotate(all_links=attempt == 0, force=failed)
        failed = result.failed_links
        waves.append(
            {
                "links": len(result.rotations),
                "failed": len(result.failed_links),
                "first_error": next((r.error for r in result.rotations.values() if r.error), None),
                "staged_s": round(result.staged_seconds, 3),
                "total_s": round(time.monotonic() - t, 3),
            }
        )
        if result.ok:
            break
    return waves


async def _serial_baseline(
    scenario: Scenario, inventory: Any, parallel_staged_s: float
) -> dict[str, Any]:
    """A sample of links, one at a time, one device session at a time; extrapolated."""
    from qkd_macsec.engine.controller import Controller, ControllerOptions

    sample = [link.name for link in inventory.links][: scenario.serial_sample]
    if not sample:
        return {}
    times: list[float] = []
    serial = ControllerOptions(max_workers=1, device_client="pyez", session_reuse=False)
    async with Controller(inventory, serial) as controller:
        executor = controller.executor
        executor.options = replace(executor.options, wait_for_activation=False)
        for name in sample:
            result = await executor.run_wave(executor.plan(force={name}))
            if not result.ok and result.failed_links:
                failed = result.rotations[name]
                if failed.error is not None:
                    return {"error": f"{name}: {failed.error}"}
            times.append(result.staged_seconds)
    per_link = statistics.fmean(times)
    total = per_link * len(inventory.links)
    return {
        "sampled_links": len(sample),
        "per_link_s": round(per_link, 3),
        "extrapolated_total_s": round(total, 1),
        "extrapolated": len(sample) < len(inventory.links),
        "speedup": round(total / parallel_staged_s, 1) if parallel_staged_s > 0 else None,
    }


def measure(scenario: Scenario) -> dict[str, Any]:
    """Run one scenario in THIS process (the worker) and return its numbers."""
    os.environ.setdefault(PASSWORD_ENV, secrets.token_urlsafe(18))
    if scenario.ncclient_tick is not None:
        import ncclient.transport.session

        import qkd_macsec.devices.junos  # noqa: F401 - it sets its own TICK on import: first

        ncclient.transport.session.TICK = scenario.ncclient_tick
    with (
        tempfile.TemporaryDirectory(prefix="bench-wave-") as tmp,
        testbed_process(scenario, Path(tmp)) as testbed,
    ):
        return asyncio.run(_measure(scenario, testbed))


# -- the driver: every scenario, each in a fresh worker ----------------------------------------
def run_scenario(scenario: Scenario, timeout: float = 1200.0) -> dict[str, Any]:
    label = f"{scenario.lab.label} @ {scenario.commit_latency:g}s"
    print(f"  wave: {label} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = _run_worker(scenario, timeout)
    print(f"  wave: {label} done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return result


def _run_worker(scenario: Scenario, timeout: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.wave", "--one", json.dumps(asdict(scenario))],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # The worker is killed; its testbed process exits when its stdin closes.
        return {"scenario": asdict(scenario), "error": f"no result within {timeout:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {
            "scenario": asdict(scenario),
            "error": " | ".join(tail) or f"exit {proc.returncode}",
        }
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def scenarios(
    routers: int,
    links: int,
    shapes: Sequence[Shape] = SHAPES,
    latencies: Sequence[float] = (0.0, 2.0),
    workers: int | None = None,
    serial_sample: int = 10,
    profile: bool = False,
    ncclient_tick: float | None = None,
    split_hosts: bool = False,
    clients: Sequence[str] = CLIENTS,
) -> list[Scenario]:
    return [
        Scenario(
            routers=routers,
            links=links,
            shape=shape,
            commit_latency=latency,
            workers=workers or min(routers, 64),
            serial_sample=serial_sample,
            profile=profile,
            ncclient_tick=ncclient_tick,
            split_known_hosts=split_hosts,
            client=client,
        )
        for shape in shapes
        for latency in latencies
        for client in clients
    ]


def run(
    routers: int = DEFAULT_SIZE[0],
    links: int = DEFAULT_SIZE[1],
    *,
    shapes: Sequence[Shape] = SHAPES,
    latencies: Sequence[float] = (0.0, 2.0),
    workers: int | None = None,
    serial_sample: int = 10,
    profile: bool = False,
    ncclient_tick: float | None = None,
    split_hosts: bool = False,
    clients: Sequence[str] = CLIENTS,
) -> dict[str, Any]:
    """Every scenario, each in its own worker process; ``{"scenarios": [...], "targets": ...,
    "ratios": [...]}`` (the issue's ratio targets, per shape, against the baseline client)."""
    results = [
        run_scenario(s)
        for s in scenarios(
            routers,
            links,
            shapes,
            latencies,
            workers,
            serial_sample,
            profile,
            ncclient_tick,
            split_hosts,
            clients,
        )
    ]
    return {
        "scenarios": results,
        "targets": TARGETS,
        "ratios": ratios(results),
        "machine": machine(),
    }


def _find(
    results: Sequence[dict[str, Any]], shape: str, latency: float, client: str
) -> dict[str, Any] | None:
    for result in results:
        scenario = result["scenario"]
        if (
            scenario["shape"] == shape
            and scenario["commit_latency"] == latency
            and scenario.get("client", "async") == client
            and "wave" in result
        ):
            return result
    return None


def ratios(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per shape and non-baseline client: the issue's ratio targets, measured in this run."""
    out = []
    keys = sorted(
        {
            (r["scenario"]["shape"], r["scenario"].get("client", "async"))
            for r in results
            if r["scenario"].get("client", "async") != BASELINE
        }
    )
    for shape, client in keys:
        row: dict[str, Any] = {"shape": shape, "client": client}
        new0, new2 = _find(results, shape, 0.0, client), _find(results, shape, 2.0, client)
        base0 = _find(results, shape, 0.0, BASELINE)
        if new0 is not None and base0 is not None:
            cpu = new0["wave"]["cpu_ms_per_link"]
            row["cpu_per_link_ratio"] = round(base0["wave"]["cpu_ms_per_link"] / cpu, 2)
            row["staged_at_0_ratio"] = round(
                base0["wave"]["staged_s"] / new0["wave"]["staged_s"], 2
            )
        if new0 is not None and new2 is not None:
            row["staged_2_minus_0_s"] = round(
                new2["wave"]["staged_s"] - new0["wave"]["staged_s"], 3
            )
        for latency, new in ((0, new0), (2, new2)):
            if new is not None:
                row[f"speedup_at_{latency}"] = new.get("serial", {}).get("speedup")
        row["met"] = ratio_verdicts(row)
        out.append(row)
    return out


def ratio_verdicts(row: dict[str, Any]) -> dict[str, bool]:
    checks = {
        "cpu_per_link_ratio": ("cpu_per_link_ratio_min", True),
        "staged_at_0_ratio": ("staged_at_0_ratio_min", True),
        "staged_2_minus_0_s": ("staged_2_minus_0_max_s", False),
        "speedup_at_0": ("speedup_at_0_min", True),
        "speedup_at_2": ("speedup_at_2_min", True),
    }
    met = {}
    for key, (target, at_least) in checks.items():
        value = row.get(key)
        if value is None:
            continue
        met[key] = value >= TARGETS[target] if at_least else value <= TARGETS[target]
    return met


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPU(s) {model}{mem}, Python {sys.version.split()[0]}"


# -- reporting --------------------------------------------------------------------------------
def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's per-scenario targets one scenario met (the ratio targets are in
    :func:`ratios`): activation delay within staged time + undo budget (which includes the
    clock tolerance), p99 ENC → both ends committed within the staged time, RSS, one commit per
    router, KME requests, outage 0."""
    wave = result["wave"]
    delay, budget = wave.get("activation_delay_s"), wave.get("undo_budget_s")
    return {
        "delay": delay is not None
        and budget is not None
        and delay <= wave["staged_s"] + budget + 1.0,  # + T's rounding up to a whole second
        "p99": wave["link_p99_s"] is not None and wave["link_p99_s"] <= wave["staged_s"],
        "rss": result["rss_mb"] <= TARGETS["rss_mb"],
        "commits": wave["commits_per_router_min"] == 1 == wave["commits_per_router_max"],
        "kme": wave["kme_requests_per_link"] == wave["kme_requests_expected_per_link"],
        "outage": wave["outage_s"] == 0.0,
    }


COLUMNS = (
    ("lab", 18),
    ("client", 6),
    ("commit", 6),
    ("staged s", 8),
    ("p50 s", 6),
    ("p99 s", 6),
    ("act s", 6),
    ("pred s", 6),
    ("verify s", 8),
    ("cpu ms/link", 11),
    ("RSS MB", 7),
    ("KME req/link", 12),
    ("commits/rtr", 11),
    ("logins/rtr", 10),
    ("outage s", 8),
    ("serial s", 9),
    ("ratio", 6),
)


def _mark(value: object, met: bool) -> str:
    return f"{value}" if met else f"{value} ✗"


def _row(result: dict[str, Any]) -> list[str]:
    scenario = result["scenario"]
    shape = scenario["shape"]
    links = scenario["routers"] if shape == "ring" else scenario["links"]
    lab = LabShape(scenario["routers"], links, shape).label
    latency = f"{scenario['commit_latency']:g}s"
    if scenario.get("ncclient_tick") is not None:
        lab += f" tick {scenario['ncclient_tick']:g}"
    if scenario.get("split_known_hosts"):
        lab += " split-kh"
    client = scenario.get("client", "async")
    if "error" in result:
        return [lab, client, latency, f"error: {result['error']}"]
    wave, serial = result["wave"], result.get("serial", {})
    ok = verdicts(result)
    kme = f"{wave['kme_requests_per_link']} (exp {wave['kme_requests_expected_per_link']})"
    commits = f"{wave['commits_per_router_min']}..{wave['commits_per_router_max']}"
    serial_s = serial.get("extrapolated_total_s")
    star = "*" if serial.get("extrapolated") else ""
    return [
        lab,
        client,
        latency,
        f"{wave['staged_s']}",
        f"{wave['link_p50_s']}",
        _mark(wave["link_p99_s"], ok["p99"]),
        _mark(wave["activation_delay_s"], ok["delay"]),
        f"{wave.get('predicted_staging_s')}",
        f"{wave['verify_s']}",
        f"{wave['cpu_ms_per_link']}",
        _mark(result["rss_mb"], ok["rss"]),
        _mark(kme, ok["kme"]),
        _mark(commits, ok["commits"]),
        f"{wave.get('logins_per_router_max')}",
        _mark(wave["outage_s"], ok["outage"]),
        "-" if serial_s is None else f"{serial_s}{star}",
        "-" if serial.get("speedup") is None else f"{serial['speedup']}x",
    ]


def ratio_table(rows: Sequence[dict[str, Any]]) -> str:
    """The ratio targets per shape (✗ = missed), against the baseline measured in the run."""
    names = (
        ("cpu_per_link_ratio", "CPU/link x lower"),
        ("staged_at_0_ratio", "staged@0 x shorter"),
        ("staged_2_minus_0_s", "staged(2)-staged(0) s"),
        ("speedup_at_0", "vs serial @0"),
        ("speedup_at_2", "vs serial @2"),
    )
    lines = ["| shape | client | " + " | ".join(title for _, title in names) + " |"]
    lines.append("|" + "---|" * (len(names) + 2))
    for row in rows:
        cells = []
        for key, _ in names:
            value = row.get(key)
            met = row["met"].get(key, True)
            cells.append("-" if value is None else _mark(value, met))
        lines.append(f"| {row['shape']} | {row['client']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table (what the README shows); ✗ marks a missed target,
    * an extrapolated serial time."""
    rows = ["| " + " | ".join(name for name, _ in COLUMNS) + " |"]
    rows.append("|" + "|".join("-" * (width + 2) for _, width in COLUMNS) + "|")
    rows.extend("| " + " | ".join(_row(result)) + " |" for result in results)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # worker mode: one scenario as JSON
    parser.add_argument("--routers", type=int, default=None)
    parser.add_argument("--links", type=int, default=None)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--latencies", default="0,2", help="simulator commit latencies (s)")
    parser.add_argument("--workers", type=int, default=None, help="device sessions in parallel")
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"device clients to measure (baseline {BASELINE}: threaded, a session per step)",
    )
    parser.add_argument("--serial-sample", type=int, default=10)
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"{FULL_SIZE[0]} routers / {FULL_SIZE[1]} links (the issue's target size)",
    )
    parser.add_argument("--profile", action="store_true", help="sample where time goes")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument(
        "--ncclient-tick",
        type=float,
        default=None,
        help="experiment: set ncclient's send-queue poll interval (library default 0.1 s)",
    )
    parser.add_argument(
        "--split-known-hosts",
        action="store_true",
        help="one known_hosts file per router (paramiko parses the whole file per connect)",
    )
    args = parser.parse_args(argv)
    if args.one:
        data = json.loads(args.one)
        print(json.dumps(measure(Scenario(**data))), flush=True)
        return 0
    routers, links = FULL_SIZE if args.full else DEFAULT_SIZE
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {', '.join(SHAPES)}")
    result = run(
        args.routers or routers,
        args.links or links,
        shapes=shapes,  # type: ignore[arg-type]
        latencies=[float(x) for x in args.latencies.split(",") if x],
        workers=args.workers,
        serial_sample=args.serial_sample,
        profile=args.profile,
        ncclient_tick=args.ncclient_tick,
        split_hosts=args.split_known_hosts,
        clients=[c for c in args.clients.split(",") if c],
    )
    if args.json:
        print(json.dumps(result, indent=2))
    print(f"machine: {result['machine']}")
    print(table(result["scenarios"]))
    print(f"\nratio targets (against {BASELINE}, measured in this run):")
    print(ratio_table(result["ratios"]))
    for scenario in result["scenarios"]:
        if "profile" in scenario:
            client = scenario["scenario"].get("client", "async")
            latency = scenario["scenario"]["commit_latency"]
            print(f"\nprofile {scenario['lab']} {client} @ {latency:g}s:")
            for name, share in scenario["profile"]["busy_by_package"]:
                print(f"  {share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
