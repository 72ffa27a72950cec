"""Import the seed script's ``targets_dict`` (ETSIA v3.0) as an inventory.

The seed kept everything in one Python dict: a ``CA_server`` entry (certificate authority host
and credentials), a ``system`` entry (``maxthreads``, the event timer) and one entry per router
with its management ``ip``, ``role`` (master / slave / additional slave), the connectivity
association ``c_a``, the MACsec ``interfaces`` and its ``kme`` (name, ip, port and the
``apply-macro qkd`` knobs). Routers sharing a ``c_a`` form one link: the master plus its slaves
(more than one slave = a group CA keyed through ``additional_slave_SAE_IDs``).

What changes on the way, each said in :attr:`SeedImport.notes`:
- passwords are never copied: the inventory gets ``{env: NAME}`` references instead;
- TLS to the KME is verified (the seed's ``kme-ca false`` is not carried over);
- SSH host keys are verified against a ``known_hosts`` file;
- the ``CA_server`` entry is dropped (certificates: ``qkd-macsec certs``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qkd_macsec.inventory import InventoryError, RotationMode, parse_inventory
from qkd_macsec.secret import Secret

MAX_TARGETS_BYTES = 10 * 1024 * 1024
DEFAULT_CA = "CA_basic"
DEFAULT_USER = "remote"  # the seed hard-codes this user
SHARED_PASSWORD_ENV = "QKD_ROUTER_PASSWORD"  # noqa: S105 - a variable name, not a secret
_ROLES = {
    "master": "master",
    "primary": "master",
    "slave": "slave",
    "secondary": "slave",
    "additional_slave": "additional",
    "additional-slave": "additional",
    "additional slave": "additional",
    "additional_slaves": "additional",
    "additionalslave": "additional",
}
_ADDRESS_KEYS = ("ip", "host", "mgmt_ip", "address", "device_ip")
_CA_KEYS = ("c_a", "ca", "CA", "connectivity_association")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class SeedImportError(InventoryError):
    """The seed targets cannot be read or converted; problems name the offending entry."""


@dataclass(frozen=True)
class SeedImport:
    """The converted inventory (a plain document) and what the operator must know about it."""

    document: dict[str, Any]
    notes: tuple[str, ...]

    def to_yaml(self) -> str:
        header = (
            "# Imported from the seed script's targets_dict (qkd-macsec inventory import-seed).\n"
            "# Passwords are references: export the environment variables it names.\n"
        )
        return header + yaml.safe_dump(self.document, sort_keys=False, width=100)


def read_seed_targets(path: Path) -> dict[str, Any]:
    """The targets dict from a JSON file (or the seed's Python dict literal, pasted as is)."""
    display = str(path)
    try:
        if path.stat().st_size > MAX_TARGETS_BYTES:
            raise SeedImportError(display, [f"the file is larger than {MAX_TARGETS_BYTES} bytes"])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SeedImportError(display, ["the file is not UTF-8 text"]) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SeedImportError(display, [f"cannot read the file: {reason}"]) from None
    data: object
    try:
        data = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            data = ast.literal_eval(_strip_assignment(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise SeedImportError(
                display,
                [
                    f"line {json_error.lineno}, column {json_error.colno}: not valid JSON "
                    f"({json_error.msg}) nor a Python dict literal"
                ],
            ) from None
    except RecursionError:
        raise SeedImportError(display, ["the document nests too deeply"]) from None
    if not isinstance(data, dict):
        raise SeedImportError(display, ["the top level must be a dict of targets"])
    return data


def _strip_assignment(text: str) -> str:
    """Allow ``targets_dict = {...}`` as copied from the seed script."""
    match = re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*", text)
    return text[match.end() :] if match else text


@dataclass
class _Device:
    name: str
    address: str
    role: str
    ca: str
    interfaces: list[str]
    kme_key: tuple[str, int]
    user: str | None
    password: Secret | None
    sae_id: str | None
    keyid_check: bool


def import_seed_targets(
    targets: Mapping[str, Any],
    *,
    mode: RotationMode = RotationMode.KEY_CHAIN,
    certs_dir: str = "certs",
    source: str = "targets",
) -> SeedImport:
    """Convert a seed ``targets_dict`` to an inventory document (validated before returning)."""
    problems: list[str] = []
    notes: list[str] = []
    devices: list[_Device] = []
    kmes: dict[tuple[str, int], dict[str, Any]] = {}
    system: Mapping[str, Any] = {}
    ca_server: Mapping[str, Any] = {}
    for key, entry in targets.items():
        name = str(key)
        if not isinstance(entry, Mapping):
            notes.append(f"ignored entry {name!r}: not a dict")
        elif name.lower() == "system":
            system = entry
        elif "ca_server" in name.lower().replace("-", "_"):
            ca_server = entry
        elif any(str(k).lower() == "role" for k in entry):
            device = _device(name, entry, kmes, problems, notes)
            if device is not None:
                devices.append(device)
        else:
            notes.append(f"ignored entry {name!r}: no 'role', so not a router")
    if not devices:
        problems.append("no router entries (dicts with a 'role') found")
    if problems:
        raise SeedImportError(source, problems)
    document = _document(devices, kmes, system, ca_server, mode, certs_dir, notes, problems)
    if problems:
        raise SeedImportError(source, problems)
    try:
        parse_inventory(yaml.safe_dump(document), Path("imported-inventory.yaml"))
    except InventoryError as exc:
        raise SeedImportError(
            source, [f"the imported inventory would be invalid: {p}" for p in exc.problems]
        ) from None
    return SeedImport(document=document, notes=tuple(notes))


def _get(entry: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in entry:
            return entry[key]
    return None


def _device(
    name: str,
    entry: Mapping[str, Any],
    kmes: dict[tuple[str, int], dict[str, Any]],
    problems: list[str],
    notes: list[str],
) -> _Device | None:
    where = f"[{name!r}]"
    lowered = {str(k).lower(): v for k, v in entry.items()}
    raw_role = lowered.get("role")
    role = _ROLES.get(str(raw_role).strip().lower()) if isinstance(raw_role, str) else None
    if role is None:
        problems.append(
            f"{where}.role: {str(raw_role)[:40]!r} is not master, slave or additional_slave"
        )
    address = _get(entry, _ADDRESS_KEYS)
    if not isinstance(address, str) or not address:
        problems.append(f"{where}.ip: the router's management address is missing")
    interfaces = _get(entry, ("interfaces", "interface"))
    if isinstance(interfaces, str):
        interfaces = [interfaces]
    if (
        not isinstance(interfaces, list)
        or not interfaces
        or not all(isinstance(i, str) for i in interfaces)
    ):
        problems.append(f"{where}.interfaces: a list of interface names is required")
    ca = _get(entry, _CA_KEYS)
    if ca is None:
        notes.append(f"{name}: no c_a given, using the seed's {DEFAULT_CA}")
        ca = DEFAULT_CA
    if not isinstance(ca, str):
        problems.append(f"{where}.c_a: must be a string")
    kme_key, keyid_check = _kme(name, lowered.get("kme"), kmes, problems)
    password = lowered.get("password")
    if password is not None and not isinstance(password, str):
        problems.append(f"{where}.password: must be a string")
        password = None
    user = lowered.get("user") or lowered.get("username")
    if user is not None and not isinstance(user, str):
        problems.append(f"{where}.user: must be a string")
        user = None
    sae_id = lowered.get("sae_id")
    if role is None or not isinstance(address, str) or not isinstance(ca, str) or kme_key is None:
        return None
    if not isinstance(interfaces, list):
        return None
    return _Device(
        name=name,
        address=address,
        role=role,
        ca=ca,
        interfaces=[str(i) for i in interfaces],
        kme_key=kme_key,
        user=user,
        password=Secret.from_text(password) if password else None,
        sae_id=sae_id if isinstance(sae_id, str) else None,
        keyid_check=keyid_check,
    )


def _kme(
    device: str,
    raw: object,
    kmes: dict[tuple[str, int], dict[str, Any]],
    problems: list[str],
) -> tuple[tuple[str, int] | None, bool]:
    where = f"[{device!r}].kme"
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: required (a dict with name, ip, port)")
        return None, True
    name = raw.get("name") or raw.get("host") or raw.get("fqdn")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}.name: the KME's host name is required")
        return None, True
    port = raw.get("port", 443)
    if isinstance(port, str) and port.isascii() and port.isdigit() and len(port) <= 5:
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int):
        problems.append(f"{where}.port: must be a number")
        return None, True
    key = (name, port)
    record = kmes.setdefault(key, {"name": name, "port": port, "ip": None, "ca": True})
    ip = raw.get("ip") or raw.get("address")
    if isinstance(ip, str) and ip:
        record["ip"] = ip
    if raw.get("ca") is False or str(raw.get("ca")).lower() == "false":
        record["ca"] = False
    check = raw.get("keyid_check", raw.get("kme-keyid-check", True))
    keyid_check = not (check is False or str(check).lower() == "false")
    return key, keyid_check


def _document(
    devices: list[_Device],
    kmes: dict[tuple[str, int], dict[str, Any]],
    system: Mapping[str, Any],
    ca_server: Mapping[str, Any],
    mode: RotationMode,
    certs_dir: str,
    notes: list[str],
    problems: list[str],
) -> dict[str, Any]:
    ca_file = _ca_file(ca_server, certs_dir, notes)
    kme_names = _kme_names(kmes)
    document: dict[str, Any] = {"version": 1}
    defaults: dict[str, Any] = {"port": 830}
    users = {d.user or DEFAULT_USER for d in devices}
    if len(users) == 1:
        defaults["user"] = users.pop()
    first = devices[0].password
    shared_password = first is not None and all(d.password == first for d in devices)
    if shared_password:
        defaults["password"] = {"env": SHARED_PASSWORD_ENV}
        notes.append(
            f"passwords were NOT copied: export {SHARED_PASSWORD_ENV} (or switch to {{file: PATH}})"
        )
    defaults["known_hosts"] = "known_hosts"
    defaults["timeout"] = 30
    notes.append("SSH host keys are verified: put the routers' keys in known_hosts")
    document["defaults"] = defaults

    hosts: dict[str, Any] = {}
    env_names: list[str] = []
    for d in devices:
        host: dict[str, Any] = {"host": d.address}
        if "user" not in defaults:
            host["user"] = d.user or DEFAULT_USER
        if d.password is not None and not shared_password:
            env = "QKD_PASSWORD_" + re.sub(r"[^A-Z0-9]+", "_", d.name.upper()).strip("_")
            host["password"] = {"env": env}
            env_names.append(env)
        if d.sae_id and d.sae_id != d.name:
            host["sae_id"] = d.sae_id
        host["kme"] = kme_names[d.kme_key]
        host["tls"] = {"cert": f"{certs_dir}/{d.name}.crt", "key": f"{certs_dir}/{d.name}.key"}
        hosts[d.name] = host
    if env_names:
        notes.append(f"passwords were NOT copied: export {', '.join(env_names)}")
    document["hosts"] = hosts

    document["kmes"] = {}
    for key, record in kmes.items():
        url = f"https://{record['name']}" + ("" if record["port"] == 443 else f":{record['port']}")
        kme: dict[str, Any] = {"url": url}
        if ca_file is not None:
            kme["ca"] = ca_file
        if record["ip"]:
            kme["address"] = record["ip"]
        if not record["ca"]:
            notes.append(
                f"KME {record['name']}: the seed did not verify its TLS certificate (kme-ca "
                "false); the inventory does (set verify: false only if you must)"
            )
        document["kmes"][kme_names[key]] = kme

    suite = system.get("cipher_suite", "gcm-aes-xpn-256")
    prefix = system.get("ckn_prefix")
    document["links"] = _links(devices, mode, suite, prefix, problems)
    if mode.strategy.uses_key_chain:
        notes.append(
            "links use key-chain mode (hitless); pass --mode pre-shared-key to keep the seed's "
            "in-place pre-shared-key replacement"
        )
    policy: dict[str, Any] = {}
    interval = system.get("time_interval")
    if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
        policy["rotation_interval"] = interval
    threads = system.get("maxthreads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        policy["max_workers"] = min(threads, 1024)
    if "start_time" in system:
        notes.append("system.start_time dropped: the scheduler plans rotations itself")
    if policy:
        document["policy"] = policy
    return document


def _ca_file(ca_server: Mapping[str, Any], certs_dir: str, notes: list[str]) -> str | None:
    if not ca_server:
        notes.append("no CA_server entry: KME certificates are checked against the system CAs")
        return None
    notes.append(
        "CA_server dropped (and its password not copied): manage certificates with "
        "`qkd-macsec certs`"
    )
    cert = ca_server.get("ca_cert") or ca_server.get("cert")
    if isinstance(cert, str) and cert:
        return f"{certs_dir}/{Path(cert).name}"
    name = ca_server.get("name")
    return f"{certs_dir}/{name}.crt" if isinstance(name, str) and name else None


def _kme_names(kmes: dict[tuple[str, int], dict[str, Any]]) -> dict[tuple[str, int], str]:
    names: dict[tuple[str, int], str] = {}
    taken: set[str] = set()
    for key, record in kmes.items():
        base = _NOT_NAME.sub("-", str(record["name"]).split(".")[0]).strip("-._")[:60] or "kme"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names[key] = name
    return names


def _links(
    devices: list[_Device],
    mode: RotationMode,
    suite: object,
    prefix: object,
    problems: list[str],
) -> list[dict[str, Any]]:
    by_ca: dict[str, list[_Device]] = {}
    for d in devices:
        by_ca.setdefault(d.ca, []).append(d)
    links: list[dict[str, Any]] = []
    for ca, members in by_ca.items():
        masters = [d for d in members if d.role == "master"]
        slaves = [d for d in members if d.role == "slave"]
        slaves += [d for d in members if d.role == "additional"]
        if len(masters) != 1:
            found = ", ".join(d.name for d in masters) or "none"
            problems.append(f"c_a {ca!r}: needs exactly one master (found: {found})")
            continue
        if not slaves:
            problems.append(f"c_a {ca!r}: has a master but no slave")
            continue
        link: dict[str, Any] = {
            "name": ca,
            "master": _end(masters[0]),
            "slaves": [_end(d) for d in slaves],
            "connectivity_association": ca,
        }
        if mode.strategy.uses_key_chain:
            link["key_chain"] = ("KC_" + ca.removeprefix("CA_"))[:32]
        link["cipher_suite"] = suite
        link["mode"] = mode.value
        if prefix is not None:
            link["ckn_prefix"] = prefix
        link["kme_keyid_check"] = all(d.keyid_check for d in slaves)
        links.append(link)
    return links


def _end(device: _Device) -> dict[str, Any]:
    if len(device.interfaces) == 1:
        return {"host": device.name, "interface": device.interfaces[0]}
    return {"host": device.name, "interfaces": list(device.interfaces)}
