"""`make bench` / ``python -m bench``: every benchmark module, one summary table.

Each module in :data:`BENCHES` exposes ``run(**kwargs) -> dict``; a module without ``run`` (or one
that fails) is listed as skipped with the reason, so one broken benchmark does not hide the rest.
The rotation-wave benchmark (:mod:`bench.wave`) adds its own per-scenario table after the summary.

    .venv/bin/python -m bench [--full] [--only kme_client,sim_sessions,wave] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bench import wave

#: name -> (default kwargs, full-size kwargs); default `make bench` stays well under 10 minutes.
BENCHES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "kme_client": ({"seconds": 4}, {"seconds": 10}),
    "sim_sessions": ({"devices": 100}, {"devices": 500}),
    "wave": (
        {"routers": wave.DEFAULT_SIZE[0], "links": wave.DEFAULT_SIZE[1]},
        {"routers": wave.FULL_SIZE[0], "links": wave.FULL_SIZE[1], "shapes": ("mesh", "group")},
    ),
}


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Scalar leaves of nested dicts as (dotted.key, value); lists are summarised by length."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        elif isinstance(value, list | tuple):
            yield name, f"[{len(value)} item(s)]"
        else:
            yield name, value


def run_bench(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Import ``bench.NAME`` and call its ``run``; failures become ``{"skipped": reason}``."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except Exception as exc:
        return {"skipped": f"import failed: {type(exc).__name__}: {exc}"}
    runner: Callable[..., dict[str, Any]] | None = getattr(module, "run", None)
    if runner is None:
        return {"skipped": "module has no run()"}
    started = time.monotonic()
    try:
        result = runner(**kwargs)
    except Exception as exc:
        traceback.print_exc()
        return {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    result = dict(result)
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    return result


def summary_table(results: Mapping[str, dict[str, Any]]) -> str:
    """One table: bench | measurement | value (the wave's scenarios get their own table)."""
    rows: list[tuple[str, str, str]] = []
    for name, result in results.items():
        if "skipped" in result:
            rows.append((name, "skipped", str(result["skipped"])))
            continue
        if name == "wave":
            for scenario in result["scenarios"]:
                client = scenario["scenario"].get("client", "async")
                latency = scenario["scenario"]["commit_latency"]
                label = f"{scenario['lab']} {client} @ {latency:g}s"
                if "error" in scenario:
                    rows.append((name, label, f"error: {scenario['error']}"))
                    continue
                met = wave.verdicts(scenario)
                missed = [k for k, ok in met.items() if not ok]
                staged = scenario["wave"]["staged_s"]
                ratio = scenario.get("serial", {}).get("speedup")
                text = f"staged {staged} s, {ratio}x vs serial; "
                text += "all targets met" if not missed else "missed: " + ", ".join(missed)
                rows.append((name, label, text))
            rows.append((name, "bench_seconds", str(result["bench_seconds"])))
            continue
        rows.extend((name, key, str(value)) for key, value in flatten(result))
    widths = [
        max(len(row[i]) for row in [("bench", "measurement", "value"), *rows]) for i in range(3)
    ]
    lines = [
        " | ".join(
            h.ljust(w) for h, w in zip(("bench", "measurement", "value"), widths, strict=True)
        ),
        "-+-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's full sizes (slow)")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--json", action="store_true", help="also print raw results as JSON")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench(es) {unknown}; choose from {', '.join(BENCHES)}")
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        default, full = BENCHES[name]
        print(f"running {name} ...", flush=True)
        results[name] = run_bench(name, full if args.full else default)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    print(f"\nmachine: {wave.machine()}\n")
    print(summary_table(results))
    if "wave" in results and "scenarios" in results["wave"]:
        print("\nrotation wave (✗ = target missed, * = serial time extrapolated from a sample):")
        print(wave.table(results["wave"]["scenarios"]))
        print("\nratio targets (against the threaded PyEZ baseline, measured in this run):")
        print(wave.ratio_table(results["wave"].get("ratios", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
