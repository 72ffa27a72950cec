"""The "transport" table of ``qkd-macsec status``: per hop the key travels (KME -> controller
over TLS, controller -> router over SSH), what it negotiated; classical hops in red."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from qkd_macsec.engine.posture_record import PostureEntry
from qkd_macsec.report.tables import Column, FitTable


def posture_table(entries: Mapping[str, PostureEntry]) -> FitTable:
    table = FitTable(
        "transport",
        [
            Column("hop"),
            Column("peer"),
            Column("posture"),
            Column("kex"),
            Column("cipher", optional=True),
            Column("measured", optional=True),
        ],
    )
    for _, entry in sorted(entries.items()):
        pq = entry.get("pq") is True
        table.add_row(
            str(entry.get("kind") or "?"),
            str(entry.get("peer") or "?"),
            Text("hybrid-PQ", style="green") if pq else Text("classical", style="bold red"),
            str(entry.get("kex") or "unknown"),
            str(entry.get("cipher") or "unknown"),
            str(entry.get("measured_at") or "")[:19],
        )
    return table


def classical_hops(entries: Mapping[str, PostureEntry]) -> list[str]:
    """``kind:peer`` of every hop last measured classical (what a report must mark)."""
    return sorted(key for key, entry in entries.items() if entry.get("pq") is not True)
