"""The inventory file's shape, as written (pydantic v2, unknown keys refused).

This layer checks each value on its own: types, ranges, host names and addresses
(:mod:`qkd_macsec.devices.names`), and that a ``platform:`` is registered. Names that reach a
device's configuration follow its platform's rules (``NameRules`` of
:mod:`qkd_macsec.devices.platform`): an interface those of its end's host, a link-level name
(CA, key chain, CKN prefix, MKA settings) those of every end's host (a mixed link must suit
each vendor). A host's platform is inherited (host → groups → defaults), so it is read from the
raw document first and handed down to the field validators in context variables; errors keep
their exact field. Cross-references and the rest of inheritance are the resolver's job
(:mod:`.resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from qkd_macsec.core.key_modes import KeyMode
from qkd_macsec.devices import names
from qkd_macsec.devices.platform import NameRules, get_platform, platform_names
from qkd_macsec.inventory.credentials import SecretRef, parse_secret_ref
from qkd_macsec.inventory.durations import parse_duration
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX, CknMode, KeyDerivation
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.posture import PqPolicy

DEFAULT_PLATFORM = "junos"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SAE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,127}")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_URL_PATH = re.compile(r"(?:/[A-Za-z0-9_.~-]*)*")


#: How a new key reaches the CA: a key-chain entry (hitless) or ``pre-shared-key`` in place.
#: One enum with the engine's: its rules are the mode's strategy (``mode.strategy``).
RotationMode = KeyMode


def _name(what: str) -> Any:
    def check(value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"{value[:40]!r} is not a valid {what}: 1-64 letters, digits, '_', '.', '-', "
                "starting with a letter or digit"
            )
        return value

    return AfterValidator(check)


def _keep_if_valid(validator: Any) -> Any:
    """Validate with ``validator`` but keep the value as written (names are case-preserved)."""

    def check(value: str) -> str:
        validator(value)
        return value

    return AfterValidator(check)


def _pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a valid {what}")
        return value

    return AfterValidator(check)


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ValueError("must be a non-empty file path")
    return Path(value).expanduser()


# Characters that change what an ssh_config line means: a quote or backslash ends or escapes
# the quoted value, a newline starts a new directive (``ProxyCommand ...``), '%' is a token.
_SSH_CONFIG_UNSAFE = re.compile(r'["\\%\x00-\x1f\x7f]')


def ssh_config_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be written into an ssh_config value, or None when it can."""
    bad = _SSH_CONFIG_UNSAFE.search(path)
    if bad is None:
        return None
    return (
        f"{path[:60]!r} cannot be used in an ssh_config: it holds {bad.group()!r} "
        "(quotes, backslashes, '%' and control characters such as newlines are refused)"
    )


def _ssh_config_path(value: object) -> Path:
    path = _path(value)
    problem = ssh_config_path_problem(str(path))
    if problem is not None:
        raise ValueError(problem)
    return path


def validate_kme_url(value: str) -> str:
    """An ``https://host[:port][/base]`` URL; no credentials, query or fragment."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not a valid URL") from None
    if "@" in parts.netloc:
        raise ValueError("a KME URL must not carry credentials (user:password@)")
    if parts.scheme != "https":
        raise ValueError(f"{value[:60]!r}: a KME URL must start with https://")
    if not parts.hostname:
        raise ValueError(f"{value[:60]!r}: a KME URL needs a host")
    names.validate_host(parts.hostname)
    if port == 0:
        raise ValueError(f"{value[:60]!r}: port 0 is not a valid KME port")
    if parts.query or parts.fragment or not _URL_PATH.fullmatch(parts.path):
        raise ValueError(
            f"{value[:60]!r}: a KME URL may hold a base path, "
            "but no query, fragment or odd characters"
        )
    return value.rstrip("/")


HostName = Annotated[str, _keep_if_valid(names.validate_hostname)]
HostAddress = Annotated[str, AfterValidator(names.validate_host)]
IpAddress = Annotated[str, AfterValidator(names.validate_ip_address)]
# ------------------------------------------------------------- names checked by platform rules
#: host name -> platform, read from the raw document (set while an InventorySpec validates).
_HOST_PLATFORMS: ContextVar[Mapping[str, str] | None] = ContextVar("host_platforms", default=None)
#: The platforms of the link (or link end) being validated; empty: the default platform.
_LINK_PLATFORMS: ContextVar[tuple[str, ...]] = ContextVar("link_platforms", default=())
_END_PLATFORMS: ContextVar[tuple[str, ...]] = ContextVar("end_platforms", default=())
#: The end hosts of the link being validated (to name them in a mixed link's refusals).
_LINK_HOSTS: ContextVar[tuple[str, ...]] = ContextVar("link_hosts", default=())


def _raw_platform(layer: object) -> str | None:
    value = layer.get("platform") if isinstance(layer, Mapping) else None
    return value if isinstance(value, str) else None


def _raw_host_platforms(data: object) -> dict[str, str]:
    """Each host's inherited platform as the raw document says (bad shapes are skipped: the
    schema reports them)."""
    if not isinstance(data, Mapping):
        return {}
    hosts, groups = data.get("hosts"), data.get("groups")
    groups = groups if isinstance(groups, Mapping) else {}
    out: dict[str, str] = {}
    for name, host in (hosts if isinstance(hosts, Mapping) else {}).items():
        listed = host.get("groups") if isinstance(host, Mapping) else None
        listed = listed if isinstance(listed, list) else []
        layers = [host, *(groups.get(g) for g in listed if isinstance(g, str))]
        found = [p for p in map(_raw_platform, [*layers, data.get("defaults")]) if p]
        out[str(name)] = found[0] if found else DEFAULT_PLATFORM
    return out


def _end_hosts(data: object) -> list[str]:
    ends = [data.get("master")] if isinstance(data, Mapping) else []
    slaves = data.get("slaves") if isinstance(data, Mapping) else None
    ends += list(slaves) if isinstance(slaves, list) else []
    return [e["host"] for e in ends if isinstance(e, Mapping) and isinstance(e.get("host"), str)]


@contextmanager
def _platforms(var: ContextVar[tuple[str, ...]], hosts: list[str]) -> Iterator[None]:
    known = _HOST_PLATFORMS.get() or {}
    names = tuple(dict.fromkeys(known.get(h, DEFAULT_PLATFORM) for h in hosts))
    token = var.set(names)
    try:
        yield
    finally:
        var.reset(token)


def _hosts_of(platform: str) -> list[str]:
    """The link's end hosts of ``platform`` (while a link validates; empty otherwise)."""
    known = _HOST_PLATFORMS.get() or {}
    return [h for h in _LINK_HOSTS.get() if known.get(h, DEFAULT_PLATFORM) == platform]


def _chosen(platforms: tuple[str, ...]) -> list[str]:
    registered = set(platform_names())
    return [p for p in platforms if p in registered] if platforms else [DEFAULT_PLATFORM]


def _rules(platforms: tuple[str, ...]) -> list[NameRules]:
    return [get_platform(p).names for p in _chosen(platforms)]


def _by_platform(rule: Callable[[NameRules], Callable[[Any], Any]], *, end: bool = False) -> Any:
    """Check a value by every platform in scope (the end's, else the link's); the first
    platform's normalised value is kept. On a mixed link a refusal names the hosts and the
    platform whose rule refused."""

    def check(value: Any) -> Any:
        scope = (_END_PLATFORMS.get() if end else ()) or _LINK_PLATFORMS.get()
        chosen = _chosen(scope)
        kept = value
        for number, platform in enumerate(chosen):
            try:
                checked = rule(get_platform(platform).names)(value)
            except ValueError as exc:
                hosts = _hosts_of(platform) if len(chosen) > 1 else []
                if not hosts:
                    raise
                raise ValueError(
                    f"{exc} (on host {', '.join(hosts)}, platform {platform})"
                ) from None
            if number == 0:
                kept = checked
        return kept

    return AfterValidator(check)


InterfaceName = Annotated[str, _by_platform(lambda r: r.interface, end=True)]
CaName = Annotated[str, _by_platform(lambda r: r.connectivity_association)]
KeyChainName = Annotated[str, _by_platform(lambda r: r.key_chain)]
Protocol = Annotated[str, _by_platform(lambda r: r.protocol)]
KeyServerPriority = Annotated[int, _by_platform(lambda r: r.key_server_priority)]
TransmitIntervalMs = Annotated[int, _by_platform(lambda r: r.transmit_interval_ms)]
LinkName = Annotated[str, _name("link name")]
GroupName = Annotated[str, _name("group name")]
KmeName = Annotated[str, _name("KME name")]
SaeId = Annotated[str, _pattern(_SAE_ID, "SAE ID")]
UserName = Annotated[str, _pattern(_USER, "user name")]
Duration = Annotated[float, BeforeValidator(parse_duration)]
FilePath = Annotated[Path, PlainValidator(_path)]
#: A path written into an ssh_config (``UserKnownHostsFile "..."``) by on-box deploy.
SshConfigPath = Annotated[Path, PlainValidator(_ssh_config_path)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
KmeUrl = Annotated[str, AfterValidator(validate_kme_url)]
CknPrefix = Annotated[str, _by_platform(lambda r: r.ckn_prefix)]
Password = Annotated[SecretRef | None, PlainValidator(parse_secret_ref)]


def _platform(value: str) -> str:
    known = platform_names()
    if value not in known:
        raise ValueError(f"{value[:40]!r} is not a supported platform ({', '.join(known)})")
    return value


def _platform_options(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``options: {<platform>: {...}}``: each block read by its platform (a platform with no
    options of its own refuses one); blocks for other platforms than a host's are not used."""
    for name, block in value.items():
        platform = get_platform(_platform(name))
        if platform.target_options is None:
            raise ValueError(f"platform {name!r} takes no options")
        try:
            platform.target_options(block)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return value


PlatformOptions = Annotated[dict[str, dict[str, Any]], AfterValidator(_platform_options)]


def _activation_delay(value: object) -> float | None:
    """``auto`` (or null) → None: derive from measured commit latency; else a duration."""
    if value is None or value == "auto":
        return None
    return parse_duration(value)


def _empty(value: object) -> object:
    """``r1:`` with nothing under it is a host (or group) with no settings of its own."""
    return {} if value is None else value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class ConnectionSpec(_Spec):
    """Connection settings; hosts inherit them from their groups, then from ``defaults``."""

    port: Port | None = None
    user: UserName | None = None
    password: Password = None
    ssh_key: FilePath | None = None
    known_hosts: SshConfigPath | None = None
    insecure_host_keys: StrictBool | None = None
    #: The CA bundle an HTTPS-managed device's certificate must chain to (NX-OS NX-API).
    tls_ca: FilePath | None = None
    timeout: Annotated[Duration, Field(gt=0)] | None = None
    platform: Annotated[str, AfterValidator(_platform)] | None = None
    #: Per-platform driver options (``{junos: {gather_facts: true}}``), inherited per platform.
    options: PlatformOptions | None = None


class TlsSpec(_Spec):
    """The SAE's client identity towards its KME (``ca`` defaults to the KME's ``ca``)."""

    cert: FilePath
    key: FilePath
    ca: FilePath | None = None


class HostSpec(ConnectionSpec):
    host: HostAddress | None = None
    groups: list[GroupName] = []
    sae_id: SaeId | None = None
    kme: KmeName | None = None
    tls: TlsSpec | None = None
    clock_offset_s: Annotated[float, Field(allow_inf_nan=False)] = 0.0  # informational


class KmeSpec(_Spec):
    url: KmeUrl
    ca: FilePath | None = None
    verify: StrictBool = True
    address: IpAddress | None = None  # for static-host-mapping of the URL's host name


class LinkEndSpec(_Spec):
    host: HostName
    interface: InterfaceName | None = None
    interfaces: list[InterfaceName] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _with_end_platform(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        with _platforms(_END_PLATFORMS, _end_hosts({"master": data})):
            return handler(data)

    @model_validator(mode="after")
    def _one_way_to_name_interfaces(self) -> LinkEndSpec:
        if (self.interface is None) == (self.interfaces is None):
            raise ValueError("give exactly one of 'interface' or 'interfaces'")
        if self.interfaces is not None:
            if not self.interfaces:
                raise ValueError("'interfaces' must not be empty")
            platform = (_HOST_PLATFORMS.get() or {}).get(self.host, DEFAULT_PLATFORM)
            for rules in _rules((platform,)):
                same = [rules.interface_identity(name) for name in self.interfaces]
                if len(set(same)) != len(same):
                    raise ValueError(
                        "'interfaces' lists an interface twice (two spellings of one interface "
                        "count once: on Junos, unit 0 is the interface itself)"
                    )
        return self

    @property
    def interface_names(self) -> tuple[str, ...]:
        if self.interfaces is not None:
            return tuple(self.interfaces)
        assert self.interface is not None
        return (self.interface,)


class MkaSpec(_Spec):
    should_secure: StrictBool = False
    exclude_protocols: list[Protocol] = []
    key_server_priority: KeyServerPriority | None = None
    transmit_interval_ms: TransmitIntervalMs | None = None


class LinkSpec(_Spec):
    name: LinkName
    master: LinkEndSpec
    slaves: Annotated[list[LinkEndSpec], Field(min_length=1)]
    connectivity_association: CaName
    key_chain: KeyChainName | None = None
    cipher_suite: CipherSuite = CipherSuite.GCM_AES_XPN_256
    mode: RotationMode = RotationMode.KEY_CHAIN
    rotation_interval: Annotated[Duration, Field(gt=0)] | None = None
    ckn_prefix: CknPrefix = DEFAULT_CKN_PREFIX
    ckn_mode: CknMode = CknMode.PREFIX_UUID
    mka: MkaSpec = MkaSpec()
    kme_keyid_check: StrictBool = True
    #: seed | hybrid; unset: ``policy.key_derivation``.
    key_derivation: KeyDerivation | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _with_link_platforms(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        hosts = _end_hosts(data)
        token = _LINK_HOSTS.set(tuple(hosts))
        try:
            with _platforms(_LINK_PLATFORMS, hosts):
                return handler(data)
        finally:
            _LINK_HOSTS.reset(token)


class TransportSpec(_Spec):
    """``policy.transport``: per hop kind, pq-required | pq-preferred | any."""

    ssh: PqPolicy = PqPolicy.PREFERRED
    tls: PqPolicy = PqPolicy.PREFERRED


class SessionsSpec(_Spec):
    """``policy.sessions``: device-session limits (Junos' own defaults: 75 NETCONF sessions,
    150 new connections a minute per source)."""

    per_device: Annotated[StrictInt, Field(ge=1, le=1024)] = 75
    connections_per_minute: Annotated[StrictInt, Field(ge=1, le=100_000)] = 150
    controller: Annotated[StrictInt, Field(ge=1, le=100_000)] = 1024


class PolicySpec(_Spec):
    rotation_interval: Annotated[Duration, Field(gt=0)] = 600.0
    activation_delay: Annotated[float | None, PlainValidator(_activation_delay)] = None
    min_activation_delay: Duration = 10.0
    clock_tolerance: Duration = 5.0
    keep_previous: Annotated[StrictInt, Field(ge=0, le=62)] = 1
    dec_keys_wait: Duration = 10.0
    max_workers: Annotated[StrictInt, Field(ge=1, le=1024)] = 32
    journal: FilePath = Path("state/journal.sqlite")
    log_file: FilePath | None = None
    transport: TransportSpec = TransportSpec()
    #: Every link's default (``links[].key_derivation`` overrides); seed keeps the seed's CAKs.
    key_derivation: KeyDerivation = KeyDerivation.SEED
    #: Off-box device client: ``async`` (asyncio NETCONF, where the platform has one) or
    #: ``pyez`` (the threaded vendor clients for every platform).
    device_client: Literal["async", "pyez"] = "async"
    sessions: SessionsSpec = SessionsSpec()


class InventorySpec(_Spec):
    version: Literal[1] = 1
    allow_inline_secrets: StrictBool = False
    defaults: ConnectionSpec = ConnectionSpec()
    groups: dict[GroupName, Annotated[ConnectionSpec, BeforeValidator(_empty)]] = {}
    hosts: Annotated[
        dict[HostName, Annotated[HostSpec, BeforeValidator(_empty)]], Field(min_length=1)
    ]
    kmes: dict[KmeName, KmeSpec] = {}
    links: list[LinkSpec] = []
    policy: PolicySpec = PolicySpec()

    @model_validator(mode="wrap")
    @classmethod
    def _with_host_platforms(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        token = _HOST_PLATFORMS.set(_raw_host_platforms(data))
        try:
            return handler(data)
        finally:
            _HOST_PLATFORMS.reset(token)
