"""The "transport" table of ``qkd-macsec status``: per hop the key travels (KME -> controller
over TLS, controller -> router over SSH), what it negotiated; classical hops in red."""

from __future__ import annotations

import html
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


def posture_html(entries: Mapping[str, PostureEntry]) -> str:
    """The report's "Transport" section: one row per hop, classical ones marked."""
    if not entries:
        return "<p>No hop measured yet (the journal has no transport posture).</p>"
    rows = []
    for _, entry in sorted(entries.items()):
        pq = entry.get("pq") is True
        mark = "hybrid-PQ" if pq else "CLASSICAL"
        cells = (
            entry.get("kind"),
            entry.get("peer"),
            mark,
            entry.get("kex") or "unknown",
            entry.get("cipher") or "unknown",
            entry.get("version") or "",
            entry.get("measured_at") or "",
        )
        row = "".join(f"<td>{html.escape(str(c or ''))}</td>" for c in cells)
        rows.append(f'<tr class="{"pq" if pq else "classical"}">{row}</tr>')
    classical = len(classical_hops(entries))
    return (
        f"<p>{len(entries)} hop(s), {classical} classical: a recording of a classical hop can be "
        "decrypted by a future quantum computer (docs/quantum-safe.md).</p>\n"
        '<table class="transport"><thead><tr><th>hop</th><th>peer</th><th>posture</th>'
        "<th>kex</th><th>cipher</th><th>version</th><th>measured (UTC)</th></tr></thead>"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table>"
    )
