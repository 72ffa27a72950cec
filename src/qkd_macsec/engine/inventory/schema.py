"""The inventory file's shape, as written (pydantic v2, unknown keys refused).

This layer checks each value on its own: types, ranges, and every name that can reach Junos
configuration against :mod:`qkd_macsec.devices.junos_names`. Cross-references and inheritance
(hosts → groups → defaults) are the resolver's job (:mod:`.resolve`).
"""

from __future__ import annotations

import re
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
    model_validator,
)

from qkd_macsec.core.key_modes import KeyMode
from qkd_macsec.devices import junos_names
from qkd_macsec.engine.inventory.credentials import SecretRef, parse_secret_ref
from qkd_macsec.engine.inventory.durations import parse_duration
from qkd_macsec.macsec.keys import DEFAULT_CKN_PREFIX, CknMode
from qkd_macsec.macsec.suites import CipherSuite

KNOWN_PLATFORMS = frozenset({"junos"})
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
    junos_names.validate_host(parts.hostname)
    if port == 0:
        raise ValueError(f"{value[:60]!r}: port 0 is not a valid KME port")
    if parts.query or parts.fragment or not _URL_PATH.fullmatch(parts.path):
        raise ValueError(
            f"{value[:60]!r}: a KME URL may hold a base path, "
            "but no query, fragment or odd characters"
        )
    return value.rstrip("/")


HostName = Annotated[str, _keep_if_valid(junos_names.validate_hostname)]
HostAddress = Annotated[str, AfterValidator(junos_names.validate_host)]
IpAddress = Annotated[str, AfterValidator(junos_names.validate_ip_address)]
InterfaceName = Annotated[str, AfterValidator(junos_names.validate_interface_name)]
CaName = Annotated[str, AfterValidator(junos_names.validate_ca_name)]
KeyChainName = Annotated[str, AfterValidator(junos_names.validate_key_chain_name)]
Protocol = Annotated[str, AfterValidator(junos_names.validate_protocol)]
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
CknPrefix = Annotated[str, AfterValidator(junos_names.validate_ckn_prefix)]
Password = Annotated[SecretRef | None, PlainValidator(parse_secret_ref)]


def _platform(value: str) -> str:
    if value not in KNOWN_PLATFORMS:
        raise ValueError(
            f"{value[:40]!r} is not a supported platform ({', '.join(KNOWN_PLATFORMS)})"
        )
    return value


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
    timeout: Annotated[Duration, Field(gt=0)] | None = None
    platform: Annotated[str, AfterValidator(_platform)] | None = None


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

    @model_validator(mode="after")
    def _one_way_to_name_interfaces(self) -> LinkEndSpec:
        if (self.interface is None) == (self.interfaces is None):
            raise ValueError("give exactly one of 'interface' or 'interfaces'")
        if self.interfaces is not None:
            if not self.interfaces:
                raise ValueError("'interfaces' must not be empty")
            same = [junos_names.interface_identity(name) for name in self.interfaces]
            if len(set(same)) != len(same):
                raise ValueError(
                    "'interfaces' lists an interface twice (unit 0 is the interface itself: "
                    "et-0/0/9.0 is et-0/0/9)"
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
    key_server_priority: (
        Annotated[int, AfterValidator(junos_names.validate_key_server_priority)] | None
    ) = None
    transmit_interval_ms: (
        Annotated[int, AfterValidator(junos_names.validate_transmit_interval_ms)] | None
    ) = None


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
