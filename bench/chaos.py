"""`make chaos`: the long chaos run (>= 5,000 rotations) and the docs/reliability.md table.

    .venv/bin/python -m bench.chaos [--seed N] [--rotations 5000] [--out docs/reliability.md]
                                    [--routers 16] [--chords 1,2,3] [--groups 4] [--iosxr 1]
                                    [--without-deadline-kinds] [--postgres]
                                    [--dir DIR] [--json] [--render DIR/report.json]

A bigger lab carries more rotations per wave (the run's cost is mostly per wave: sessions run in
parallel), so 5,000 rotations fit in about half an hour on two cores.

``--iosxr N`` makes N of the routers in no group Cisco IOS XR (the IOS XR simulator in the same
lab), so their ring and chord links are Junos ↔ IOS XR; the table then has a row per platform
pair (``junos-junos``, ``iosxr-junos``). ``--iosxr 0``: a Junos-only lab.

``--postgres`` runs every controller on a PostgreSQL journal (a throwaway local server,
testkit/postgres.py: TTL lease and fencing, as two HA hosts would) instead of the SQLite file.

Exit status 0 when the run's checks all passed (every link live on a shared key, zero outage,
nothing left open, every fault that acted was seen, no secret found), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from testkit.chaos import (
    ChaosLabShape,
    ChaosOptions,
    ChaosReport,
    render_markdown,
    run_chaos,
)
from testkit.chaos.faults import DEADLINE_KINDS
from testkit.postgres import start_postgres

DEFAULT_SEED = 1000
DEFAULT_ROTATIONS = 5000
DEFAULT_ROUTERS = 16
DEFAULT_CHORDS = "1,2,3"
DEFAULT_GROUPS = 4
DEFAULT_IOSXR = 1
WAITING = "waiting for deadline-true staging"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rotations", type=int, default=DEFAULT_ROTATIONS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the markdown table")
    parser.add_argument("--routers", type=int, default=DEFAULT_ROUTERS)
    parser.add_argument(
        "--chords", default=DEFAULT_CHORDS, help="ring distances that get links (1 = the ring)"
    )
    parser.add_argument("--groups", type=int, default=DEFAULT_GROUPS, help="group CAs")
    parser.add_argument(
        "--iosxr", type=int, default=DEFAULT_IOSXR, help="IOS XR routers (of those in no group)"
    )
    parser.add_argument(
        "--without-deadline-kinds",
        action="store_true",
        help="do not inject slow or hung commits (before deadline-true staging)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="journal in a throwaway local PostgreSQL server (the HA path; docs/ha.md)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="keep the run's files here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--render", type=Path, default=None, help="only re-render the table of a saved report.json"
    )
    args = parser.parse_args(argv)

    if args.render is not None:
        report = ChaosReport.from_json(json.loads(args.render.read_text()))
    else:
        shape = ChaosLabShape(
            routers=args.routers,
            chord_distances=tuple(int(d) for d in args.chords.split(",")),
            groups=args.groups,
            iosxr_routers=args.iosxr,
        )
        exclude = {kind: WAITING for kind in DEADLINE_KINDS} if args.without_deadline_kinds else {}
        options = ChaosOptions(
            seed=args.seed, min_rotations=args.rotations, shape=shape, exclude=exclude
        )
        with contextlib.ExitStack() as stack:
            if args.postgres:
                server = stack.enter_context(start_postgres())
                options = replace(options, journal=server.url(server.create_database()))
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="qkd-chaos-"))
            report = run_chaos(options, args.dir or Path(scratch))
    flags = f"--seed {args.seed} --rotations {args.rotations}"
    flags += f" --routers {args.routers} --chords {args.chords} --groups {args.groups}"
    flags += f" --iosxr {args.iosxr}"
    if args.without_deadline_kinds:
        flags += " --without-deadline-kinds"
    if args.postgres:
        flags += " --postgres"
    command = f"make chaos (python -m bench.chaos {flags})"
    table = render_markdown(report, command=command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(json.dumps(report.to_json(), indent=2) if args.json else table)
    print(f"table written to {args.out}", file=sys.stderr)
    return 0 if not report.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
