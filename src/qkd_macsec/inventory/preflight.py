"""Before a run: do the files an inventory names exist, and are the private ones private?

Loading never touches these files (the demo writes them after loading); ``inventory check``
and the executor's start-up call :func:`check_local_files` to fail early with every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qkd_macsec.inventory.credentials import private_file_problem
from qkd_macsec.inventory.errors import CredentialError, field_path
from qkd_macsec.inventory.model import Inventory


def check_local_files(
    inventory: Inventory,
    *,
    credentials: bool = True,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems (``field: message``) with referenced files; with ``credentials``, passwords too.

    Private keys and secret files must exist and be inaccessible to group/others; certificates,
    CA bundles and known_hosts files must exist. Nothing secret is returned or printed.
    """
    problems: dict[str, None] = {}

    def need(field: str, path: Path | None, what: str) -> None:
        if path is not None and not path.is_file():
            problems[f"{field}: {what} {path} does not exist"] = None

    def private(field: str, path: Path | None, what: str) -> None:
        if path is not None:
            found = private_file_problem(path, what)
            if found is not None:
                problems[f"{field}: {found}"] = None

    for name, host in inventory.hosts.items():
        where = field_path(("hosts", name))
        private(f"{where}.ssh_key", host.ssh_key, "SSH private key")
        need(f"{where}.known_hosts", host.known_hosts, "known_hosts file")
        need(f"{where}.tls_ca", host.tls_ca, "CA bundle")
        if host.tls is not None:
            need(f"{where}.tls.cert", host.tls.cert, "certificate")
            private(f"{where}.tls.key", host.tls.key, "TLS private key")
            need(f"{where}.tls.ca", host.tls.ca, "CA bundle")
        if credentials and host.password is not None:
            try:
                host.resolve_password(environ)
            except CredentialError as exc:
                problems.update(dict.fromkeys(exc.problems))
    for name, kme in inventory.kmes.items():
        need(field_path(("kmes", name, "ca")), kme.ca, "CA bundle")
    return list(problems)
