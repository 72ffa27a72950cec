"""The CLI starts without plotting libraries: every command (and every CLI test) pays for what
the CLI imports at start, and matplotlib alone doubled that; only `report` needs it."""

from __future__ import annotations

import subprocess
import sys


def test_cli_start_does_not_import_matplotlib() -> None:
    code = "import sys, qkd_macsec.cli; print(sorted(m for m in sys.modules if 'matplotlib' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
