"""The canary scan: every secret the run put on the routers, or holds in files, searched for in
every log, trace, output and journal file the tool wrote.

Secrets: the router password, every CAK any router ever committed (hex either case, base64),
and the body of every private key file of the testbed (SAE, CA, KME, SSH host keys).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from pathlib import Path

from qkd_macsec.sim.iosxr.device import IosxrSimDevice
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed

_CAK = re.compile(r"\b(?:secret|cak) \"?([0-9a-fA-F]{32,})")
_PEM_LINE = re.compile(rb"^[A-Za-z0-9+/=]{40,}$", re.MULTILINE)

Needle = tuple[str, bytes]  # (label safe to print, the secret bytes)


def cak_needles(cak_hex: str, label: str) -> list[Needle]:
    raw = bytes.fromhex(cak_hex)
    return [
        (label, cak_hex.lower().encode()),
        (label, cak_hex.upper().encode()),
        (label + " (base64)", base64.b64encode(raw)),
    ]


def collect_secrets(testbed: Testbed) -> list[Needle]:
    needles: list[Needle] = []
    password = os.environ.get(PASSWORD_ENV)
    if password:
        needles.append(("router password", password.encode()))
    seen: set[str] = set()
    for name in testbed.inventory.hosts:
        for cak in _committed_caks(testbed, name):
            if cak.lower() not in seen:
                seen.add(cak.lower())
                needles += cak_needles(cak, f"CAK #{len(seen)} (committed on {name})")
    for path in sorted(testbed.directory.rglob("*")):
        if path.is_file() and (path.suffix == ".key" or path.name.endswith("_ed25519")):
            for line in _PEM_LINE.findall(path.read_bytes())[:3]:
                needles.append((f"private key {path.name}", line))
    return needles


def _committed_caks(testbed: Testbed, name: str) -> list[str]:
    """CAKs (hex) the router holds or held: every commit a Junos router kept; the running key
    chains of an IOS XR router (its pruned keys are the ones its Junos peers kept in history:
    every IOS XR link of the chaos lab has a Junos end)."""
    if testbed.lab.platform(name) == "iosxr":
        router = testbed.lab.device_of(name, IosxrSimDevice)
        return [key.cak_hex for chain in router.running.chains.values() for key in chain.values()]
    return [
        cak
        for record in testbed.lab.device(name).history
        for cak in _CAK.findall(record.config.to_set())
    ]


def scan_files(files: Iterable[Path], needles: list[Needle]) -> list[str]:
    """``file: label`` for every secret found in a file (the secret itself is never shown)."""
    hits: list[str] = []
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        found = sorted({label for label, needle in needles if needle in data})
        hits += [f"{path.name}: {label}" for label in found]
    return hits
