"""Fixtures: the built on-box script, and a way to load it in a fresh interpreter under an import
guard that refuses every module Junos's Python does not offer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.onbox.build import BuiltScript, build_script

# Runs in a clean interpreter: installs the guard, loads the script as module "qkd_onbox", then
# evaluates the JSON request on stdin against it and prints a JSON answer.
GUARD = r"""
import builtins, importlib.util, json, sys
ALLOWED_THIRD_PARTY = {"jnpr", "lxml", "requests", "jcs"}
refused = []
real_import = builtins.__import__

def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__")
    if importer == "qkd_onbox" and level == 0:
        top = name.split(".", 1)[0]
        if top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
            refused.append(name)
            raise ImportError(f"import guard: {name} is not available on Junos")
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = guarded
sys.path = [p for p in sys.path if "qkd_macsec" not in p]
spec = importlib.util.spec_from_file_location("qkd_onbox", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["qkd_onbox"] = module
try:
    spec.loader.exec_module(module)
except ImportError as exc:
    print(json.dumps({"load_error": str(exc), "refused": refused}))
    sys.exit(0)
request = json.load(sys.stdin)
answers = []
for case in request["derive"]:
    key = bytes.fromhex(case["key"])
    try:
        cak, truncated = module.cak_bytes_for(key, case["suite"])
        ckn = module.ckn_for(case["key_id"], case["prefix"], case["mode"])
        answers.append({"cak": cak.hex(), "ckn": ckn, "truncated": truncated})
    except module.DerivationError as exc:
        answers.append({"error": str(exc)})
slots = [
    module.next_free_slot(set(c["used"]), c["after"], module.KEY_CHAIN_SLOTS)
    for c in request["slots"]
]
print(json.dumps({
    "derive": answers,
    "slots": slots,
    "refused": refused,
    "qkd_macsec_loaded": any(m.startswith("qkd_macsec") for m in sys.modules),
    "forbidden_loaded": sorted(m for m in ("OpenSSL",) if m in sys.modules),
}))
"""


@pytest.fixture(scope="session")
def built_script(tmp_path_factory: pytest.TempPathFactory) -> BuiltScript:
    return build_script(tmp_path_factory.mktemp("onbox-build"))


GuardedRun = Callable[[Path, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def run_guarded() -> GuardedRun:
    def run(script: Path, request: dict[str, Any]) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-I", "-c", GUARD, str(script)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    return run
