"""A testbed in its own process, so a benchmark's controller measures only its own CPU and memory.

    python -m qkd_macsec.testbed.serve DOC.yaml DIR [--commit-latency S] [--policy JSON]

Starts KMEs and simulated routers for the inventory document, writes ``DIR/inventory.yaml``
and prints one JSON line ``{"inventory": PATH}`` on stdout. Then it answers one JSON line per
command line read from stdin:

* ``stats SINCE`` — ``{"outage": {link: s}, "live": {link: bool}, "commits": {device: n},
  "logins": {device: n}, "platforms": {device: name}}``, commits and NETCONF logins counted
  since the epoch instant SINCE (the simulator's own records; commits on every platform,
  logins on Junos devices);
* ``quit`` (or end of input) — stop everything and exit 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, start_testbed


def stats(testbed: Testbed, since: float) -> dict[str, Any]:
    """Outage and liveness per inventory link, commits per device since ``since``."""
    links = [link.name for link in testbed.inventory.links]
    return {
        "outage": {name: testbed.outage_seconds(name) for name in links},
        "live": {name: all(ckn is not None for ckn in testbed.live_ckns(name)) for name in links},
        "commits": {name: testbed.commits(name, since) for name in testbed.inventory.hosts},
        "logins": {
            name: sum(1 for at in testbed.lab.device(name).logins if at >= since)
            for name in testbed.inventory.hosts
            if testbed.platform(name) == "junos"
        },
        "platforms": {name: testbed.platform(name) for name in testbed.inventory.hosts},
    }


def answer(testbed: Testbed, line: str) -> dict[str, Any] | None:
    """The reply to one command line; None means stop."""
    words = line.split()
    if not words or words[0] == "quit":
        return None
    if words[0] == "stats":
        try:
            since = float(words[1]) if len(words) > 1 else 0.0
        except ValueError:
            return {"error": f"stats: {words[1][:40]!r} is not an epoch time"}
        return stats(testbed, since)
    return {"error": f"unknown command {words[0][:40]!r} (stats SINCE | quit)"}


def serve(testbed: Testbed, commands: TextIO, replies: TextIO) -> None:
    replies.write(json.dumps({"inventory": str(testbed.inventory_path)}) + "\n")
    replies.flush()
    for line in commands:
        reply = answer(testbed, line)
        if reply is None:
            return
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("document", type=Path, help="inventory document (YAML)")
    parser.add_argument("directory", type=Path, help="where the testbed writes its files")
    parser.add_argument("--commit-latency", type=float, default=0.0)
    parser.add_argument("--preceding-hold", type=float, default=30.0)
    parser.add_argument("--policy", default="{}", help="inventory policy overrides (JSON)")
    args = parser.parse_args(argv)
    document = yaml.safe_load(args.document.read_text())
    options = TestbedOptions(
        commit_latency_s=args.commit_latency,
        preceding_hold_s=args.preceding_hold,
        policy=json.loads(args.policy),
        # Plenty of key material: the benchmark measures the controller, not key supply.
        kme_link={"key_rate_bps": 100_000_000, "pool_capacity_bits": 1 << 28},
    )
    with start_testbed(document, args.directory, options) as testbed:
        serve(testbed, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
