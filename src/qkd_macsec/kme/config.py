"""The KME network file: which KMEs listen where, which SAEs attach to which KME, which QKD links.

```yaml
kmes:
  - id: KME_A
    listen: {host: 127.0.0.1, port: 0}       # 0 = ephemeral; the real port is reported at start
    server_cert: certs/kme_a.pem              # paths are relative to this file
    server_key: certs/kme_a.key
    ca: certs/ca.pem                          # CA that SAE client certificates must chain to
    dialect: etsi                             # etsi | lenient (see kme/dialect.py)
    tls: hybrid                               # hybrid (X25519MLKEM768 offered) | classical
    faults: {latency_ms: 0, error_503_rate: 0.0, drop_rate: 0.0, seed: null}
    max_key_per_request: 128
    request_timeout_s: 10                     # headers, then body, each within this (slowloris)
saes:
  - {id: mx304-11, kme: KME_A}
links:
  - {kmes: [KME_A, KME_B], key_rate_bps: 1000000, pool_capacity_bits: 1048576,
     key_ttl_s: 600, key_size_bits: 256, sync_delay_ms: 0}
```

Validation is pure: :func:`parse_network` turns a mapping into a :class:`NetworkSpec` or raises
:class:`NetworkFileError` listing every problem as ``file: field.path: message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DialectName = Literal["etsi", "lenient"]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"


class NetworkFileError(ValueError):
    """The network file is unreadable or invalid; ``problems`` holds (field path, message) pairs."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [
            f"{self.path}: {field}: {message}" if field else f"{self.path}: {message}"
            for field, message in problems
        ]
        super().__init__("\n".join(lines))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class Faults(_Model):
    """Fault knobs: added latency, share of requests answered 503, share of connections dropped."""

    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    error_503_rate: float = Field(default=0.0, ge=0, le=1)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int | None = None


class PoolSpec(_Model):
    """Key generation for a pair of KMEs: rate, pool size, lifetime of issued keys, default size."""

    key_rate_bps: float = Field(default=1_000_000, gt=0)
    pool_capacity_bits: int = Field(default=1_048_576, gt=0)
    key_ttl_s: float = Field(default=600, gt=0)
    key_size_bits: int = Field(default=256, gt=0)
    #: Bits in the pool at start; None = full.
    initial_bits: int | None = Field(default=None, ge=0)

    @field_validator("key_size_bits")
    @classmethod
    def _multiple_of_8(cls, value: int) -> int:
        if value % 8:
            raise ValueError("must be a multiple of 8")
        return value


class KmeSpec(_Model):
    id: str = Field(pattern=_ID_PATTERN)
    listen: Listen = Listen()
    server_cert: Path
    server_key: Path
    ca: Path
    dialect: DialectName = "etsi"
    #: ``hybrid``: pyOpenSSL front offering X25519MLKEM768 first; ``classical``: the runtime's
    #: ssl (OpenSSL 3.0 here, no ML-KEM), i.e. a KME that withholds the PQ groups.
    tls: Literal["hybrid", "classical"] = "hybrid"
    faults: Faults = Faults()
    max_key_per_request: int = Field(default=128, ge=1, le=10_000)
    min_key_size: int = Field(default=64, ge=8)
    max_key_size: int = Field(default=8192, ge=8, le=1_048_576)
    max_sae_id_count: int = Field(default=4, ge=0, le=1000)
    #: Seconds a request's headers may take to arrive (else the connection is closed), and then
    #: its body (else 408): slow clients cannot hold connections open.
    request_timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: Key generation for master and slave SAEs attached to this same KME (no QKD link needed).
    local: PoolSpec = PoolSpec()


class SaeSpec(_Model):
    id: str = Field(pattern=_ID_PATTERN)
    kme: str


class LinkSpec(PoolSpec):
    kmes: tuple[str, str]
    #: Delay before a key issued at one end can be fetched at the other (tests a client's wait).
    sync_delay_ms: float = Field(default=0.0, ge=0, le=600_000)


class NetworkSpec(_Model):
    kmes: list[KmeSpec] = Field(min_length=1)
    saes: list[SaeSpec] = []
    links: list[LinkSpec] = []

    def kme(self, kme_id: str) -> KmeSpec:
        for kme in self.kmes:
            if kme.id == kme_id:
                return kme
        raise KeyError(kme_id)

    def sae(self, sae_id: str) -> SaeSpec:
        for sae in self.saes:
            if sae.id == sae_id:
                return sae
        raise KeyError(sae_id)

    def link(self, kme_a: str, kme_b: str) -> LinkSpec | None:
        wanted = {kme_a, kme_b}
        for link in self.links:
            if set(link.kmes) == wanted:
                return link
        return None


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _cross_check(spec: NetworkSpec) -> list[tuple[str, str]]:
    """References between sections: unique IDs, known KMEs, sane sizes."""
    problems: list[tuple[str, str]] = []
    kme_ids: set[str] = set()
    for i, kme in enumerate(spec.kmes):
        if kme.id in kme_ids:
            problems.append((f"kmes[{i}].id", f"duplicate KME ID {kme.id!r}"))
        kme_ids.add(kme.id)
        if kme.min_key_size > kme.max_key_size:
            problems.append((f"kmes[{i}].min_key_size", "must not exceed max_key_size"))
        if not kme.min_key_size <= kme.local.key_size_bits <= kme.max_key_size:
            problems.append((f"kmes[{i}].local.key_size_bits", "outside min/max_key_size"))
    sae_ids: set[str] = set()
    for i, sae in enumerate(spec.saes):
        if sae.id in sae_ids:
            problems.append((f"saes[{i}].id", f"duplicate SAE ID {sae.id!r}"))
        sae_ids.add(sae.id)
        if sae.kme not in kme_ids:
            problems.append((f"saes[{i}].kme", f"unknown KME {sae.kme!r}"))
    pairs: set[frozenset[str]] = set()
    for i, link in enumerate(spec.links):
        a, b = link.kmes
        for j, end in enumerate(link.kmes):
            if end not in kme_ids:
                problems.append((f"links[{i}].kmes[{j}]", f"unknown KME {end!r}"))
        if a == b:
            problems.append((f"links[{i}].kmes", "a link joins two different KMEs"))
        pair = frozenset(link.kmes)
        if pair in pairs:
            problems.append((f"links[{i}].kmes", f"duplicate link {a}-{b}"))
        pairs.add(pair)
        for end in link.kmes:
            if end in kme_ids:
                kme = spec.kme(end)
                if not kme.min_key_size <= link.key_size_bits <= kme.max_key_size:
                    problems.append(
                        (f"links[{i}].key_size_bits", f"outside {end}'s min/max_key_size")
                    )
    return problems


def parse_network(data: Any, source: Path | str = "<network>") -> NetworkSpec:
    """Validate a network mapping (already parsed YAML). Relative paths stay relative."""
    if not isinstance(data, Mapping):
        raise NetworkFileError(source, [("", "top level must be a mapping with kmes/saes/links")])
    try:
        spec = NetworkSpec.model_validate(data)
    except ValidationError as exc:
        problems = [(_field_path(err["loc"]), err["msg"]) for err in exc.errors()]
        raise NetworkFileError(source, problems) from None
    problems = _cross_check(spec)
    if problems:
        raise NetworkFileError(source, problems)
    return spec


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base / path)


def load_network_file(path: Path) -> NetworkSpec:
    """Read and validate a network YAML file; certificate paths become absolute (file-relative)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NetworkFileError(path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise NetworkFileError(path, [(where, "not valid YAML")]) from None
    spec = parse_network(data, path)
    base = path.parent.resolve()
    kmes = [
        kme.model_copy(
            update={
                "server_cert": _resolve(base, kme.server_cert),
                "server_key": _resolve(base, kme.server_key),
                "ca": _resolve(base, kme.ca),
            }
        )
        for kme in spec.kmes
    ]
    missing = [
        (f"kmes[{i}].{name}", f"file not found: {getattr(kme, name)}")
        for i, kme in enumerate(kmes)
        for name in ("server_cert", "server_key", "ca")
        if not getattr(kme, name).is_file()
    ]
    if missing:
        raise NetworkFileError(path, missing)
    return spec.model_copy(update={"kmes": kmes})
