"""From the file's shape to the resolved inventory: inheritance, paths, cross-references.

Inheritance is Nornir's: a host's own value wins, then its groups in the order listed, then
``defaults``, then the built-in default. All problems are collected, then raised together.

Two spellings of one interface are one claim: the end's platform says what a name denotes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qkd_macsec.devices.limits import LinkAsk, ckn_digits
from qkd_macsec.devices.platform import get_platform
from qkd_macsec.inventory.credentials import SecretRef
from qkd_macsec.inventory.errors import InventoryError, field_path
from qkd_macsec.inventory.model import (
    DEFAULT_TIMEOUT_S,
    Host,
    Inventory,
    Kme,
    Link,
    LinkEnd,
    MkaSettings,
    Policy,
    SaeIdentity,
    _frozen_map,
)
from qkd_macsec.inventory.schema import (
    DEFAULT_PLATFORM,
    ConnectionSpec,
    HostSpec,
    InventorySpec,
    LinkSpec,
    ssh_config_path_problem,
)
from qkd_macsec.posture import TransportPolicy


class _Problems:
    """Ordered, de-duplicated problem lines."""

    def __init__(self) -> None:
        self._lines: dict[str, None] = {}

    def add(self, field: str, message: str) -> None:
        self._lines[f"{field}: {message}"] = None

    def __bool__(self) -> bool:
        return bool(self._lines)

    def lines(self) -> list[str]:
        return list(self._lines)


def resolve_inventory(spec: InventorySpec, source: Path, display: str) -> Inventory:
    """Resolve ``spec`` (read from ``source``; ``display`` names it in messages)."""
    base = source.absolute().parent
    problems = _Problems()
    kmes = {
        name: Kme(
            name=name,
            url=kme.url,
            ca=_under(base, kme.ca),
            verify=kme.verify,
            address=kme.address,
        )
        for name, kme in spec.kmes.items()
    }
    hosts = _resolve_hosts(spec, base, display, kmes, problems)
    policy = _resolve_policy(spec, base, problems)
    links = _resolve_links(spec, hosts, policy, problems)
    if problems:
        raise InventoryError(display, problems.lines())
    return Inventory(
        source=source,
        hosts=_frozen_map(hosts),
        kmes=_frozen_map(kmes),
        links=tuple(links),
        policy=policy,
        group_names=tuple(spec.groups),
    )


def _under(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    return path if path.is_absolute() else base / path


def _resolve_hosts(
    spec: InventorySpec, base: Path, display: str, kmes: dict[str, Kme], problems: _Problems
) -> dict[str, Host]:
    hosts: dict[str, Host] = {}
    sae_owner: dict[str, str] = {}
    lower_owner: dict[str, str] = {}
    for name, h in spec.hosts.items():
        where = field_path(("hosts", name))
        if name.lower() in lower_owner:
            problems.add(where, f"differs only in case from host {lower_owner[name.lower()]!r}")
        lower_owner.setdefault(name.lower(), name)
        layers = _layers(where, h, spec, problems)
        user, _ = _pick(layers, "user")
        if user is None:
            problems.add(f"{where}.user", "not set on the host, its groups or defaults")
        password = _password(_pick(layers, "password"), spec, base, display, problems)
        platform = str(_pick(layers, "platform")[0] or DEFAULT_PLATFORM)
        management = get_platform(platform).management
        if management == "ssh":
            insecure, known_hosts, ssh_key = _ssh_settings(where, layers, base, problems)
        else:
            insecure, known_hosts, ssh_key = False, None, None
            _https_settings(where, h, platform, password, problems)
        sae_id = h.sae_id or name
        if sae_id in sae_owner:
            problems.add(
                f"{where}.sae_id", f"{sae_id!r} is already the SAE ID of host {sae_owner[sae_id]!r}"
            )
        sae_owner.setdefault(sae_id, name)
        kme = None
        if h.kme is not None:
            kme = kmes.get(h.kme)
            if kme is None:
                known = ", ".join(kmes) or "none defined"
                problems.add(f"{where}.kme", f"unknown KME {h.kme!r} (known: {known})")
        hosts[name] = Host(
            name=name,
            host=h.host or name,
            port=_int(_pick(layers, "port")[0], get_platform(platform).default_port),
            user=str(user or ""),
            password=password,
            ssh_key=ssh_key,
            known_hosts=known_hosts,
            insecure_host_keys=insecure,
            timeout=_float(_pick(layers, "timeout")[0], DEFAULT_TIMEOUT_S),
            platform=platform,
            groups=tuple(h.groups),
            sae_id=sae_id,
            kme=h.kme if kme is not None else None,
            tls=_tls(h, base, kme),
            clock_offset_s=h.clock_offset_s,
            tls_ca=_as_path(_pick(layers, "tls_ca")[0], base),
            options=_options(layers, platform),
        )
    return hosts


def _ssh_settings(
    where: str, layers: list[tuple[str, ConnectionSpec]], base: Path, problems: _Problems
) -> tuple[bool, Path | None, Path | None]:
    """``insecure_host_keys``, ``known_hosts`` and ``ssh_key`` of a host managed over SSH:
    host keys are verified unless the operator explicitly says not to."""
    insecure = bool(_pick(layers, "insecure_host_keys")[0])
    picked_known_hosts, known_hosts_origin = _pick(layers, "known_hosts")
    known_hosts = _as_path(picked_known_hosts, base)
    unsafe = ssh_config_path_problem(str(known_hosts)) if known_hosts is not None else None
    if unsafe is not None:  # the value was checked; this is the folder it is relative to
        problems.add(f"{known_hosts_origin}.known_hosts", unsafe)
    if known_hosts is None and not insecure:
        problems.add(
            f"{where}.known_hosts",
            "required (on the host, a group or defaults) unless insecure_host_keys: true",
        )
    return insecure, known_hosts, _as_path(_pick(layers, "ssh_key")[0], base)


#: Settings of the SSH transport, meaningless for a platform managed over HTTPS.
SSH_ONLY_SETTINGS = ("known_hosts", "insecure_host_keys", "ssh_key")


def _https_settings(
    where: str, h: HostSpec, platform: str, password: SecretRef | None, problems: _Problems
) -> None:
    """A host managed over HTTPS: SSH settings inherited from groups or defaults are ignored
    (one ``defaults`` can serve a mixed network), set on the host itself they are refused —
    the operator meant something that does not apply (``insecure_host_keys`` never loosens
    TLS). The API authenticates by password; the certificate is checked against ``tls_ca``
    or, without one, the system trust store."""
    title = get_platform(platform).display_name
    for setting in SSH_ONLY_SETTINGS:
        if getattr(h, setting) is not None:
            problems.add(
                f"{where}.{setting}",
                f"an SSH setting, but {title} is managed over HTTPS (its TLS certificate is "
                "verified against tls_ca, or the system trust store); remove it",
            )
    if password is None:
        problems.add(
            f"{where}.password",
            f"required: {title} is managed over HTTPS and authenticates by password",
        )


def _layers(
    where: str, h: HostSpec, spec: InventorySpec, problems: _Problems
) -> list[tuple[str, ConnectionSpec]]:
    """Where a host's settings come from, first match wins: host, its groups, defaults."""
    layers: list[tuple[str, ConnectionSpec]] = [(where, h)]
    for index, group in enumerate(h.groups):
        if group not in spec.groups:
            known = ", ".join(spec.groups) or "none defined"
            problems.add(f"{where}.groups[{index}]", f"unknown group {group!r} (known: {known})")
        elif h.groups.index(group) != index:
            problems.add(f"{where}.groups[{index}]", f"group {group!r} is listed twice")
        else:
            layers.append((field_path(("groups", group)), spec.groups[group]))
    layers.append(("defaults", spec.defaults))
    return layers


def _options(layers: list[tuple[str, ConnectionSpec]], platform: str) -> object | None:
    """The host's platform's options: the first layer (host, groups, defaults) with a block
    for that platform, read by the platform (checked already by the schema)."""
    parse = get_platform(platform).target_options
    for _origin, layer in layers:
        if layer.options is not None and platform in layer.options and parse is not None:
            return parse(layer.options[platform])
    return None


def _pick(layers: list[tuple[str, ConnectionSpec]], attr: str) -> tuple[object, str]:
    """The first layer (host, groups in order, defaults) that sets ``attr``, and its name."""
    for origin, layer in layers:
        value = getattr(layer, attr)
        if value is not None:
            return value, origin
    return None, layers[0][0]


def _password(
    picked: tuple[object, str],
    spec: InventorySpec,
    base: Path,
    display: str,
    problems: _Problems,
) -> SecretRef | None:
    ref, origin = picked
    if not isinstance(ref, SecretRef):
        return None
    field = f"{origin}.password"
    if ref.kind == "inline" and not spec.allow_inline_secrets:
        problems.add(
            field,
            "inline passwords are refused: use {env: NAME} or {file: PATH} "
            "(or set allow_inline_secrets: true)",
        )
    return dataclasses.replace(ref, field=field, source=display, file=_under(base, ref.file))


def _as_path(value: object, base: Path) -> Path | None:
    return _under(base, value) if isinstance(value, Path) else None


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: object, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _tls(h: HostSpec, base: Path, kme: Kme | None) -> SaeIdentity | None:
    if h.tls is None:
        return None
    cert, key = _under(base, h.tls.cert), _under(base, h.tls.key)
    assert cert is not None
    assert key is not None
    ca = _under(base, h.tls.ca) if h.tls.ca is not None else (kme.ca if kme else None)
    return SaeIdentity(cert=cert, key=key, ca=ca, verify=kme.verify if kme else True)


def _resolve_policy(spec: InventorySpec, base: Path, problems: _Problems) -> Policy:
    p = spec.policy
    if p.activation_delay is not None and p.activation_delay < p.min_activation_delay:
        problems.add(
            "policy.activation_delay",
            f"{p.activation_delay:g}s is below policy.min_activation_delay "
            f"({p.min_activation_delay:g}s)",
        )
    journal = _under(base, p.journal)
    assert journal is not None
    return Policy(
        rotation_interval=p.rotation_interval,
        activation_delay=p.activation_delay,
        min_activation_delay=p.min_activation_delay,
        clock_tolerance=p.clock_tolerance,
        keep_previous=p.keep_previous,
        dec_keys_wait=p.dec_keys_wait,
        max_workers=p.max_workers,
        journal=journal,
        log_file=_under(base, p.log_file),
        transport=TransportPolicy(ssh=p.transport.ssh, tls=p.transport.tls),
        device_client=p.device_client,
        sessions_per_device=p.sessions.per_device,
        connections_per_minute=p.sessions.connections_per_minute,
        sessions_per_controller=p.sessions.controller,
    )


def _resolve_links(
    spec: InventorySpec, hosts: dict[str, Host], policy: Policy, problems: _Problems
) -> list[Link]:
    links: list[Link] = []
    name_at: dict[str, int] = {}
    claims = _Claims(problems)
    for index, link in enumerate(spec.links):
        where = f"links[{index}]"
        if link.name in name_at:
            problems.add(
                f"{where}.name", f"{link.name!r} is already used by links[{name_at[link.name]}]"
            )
        name_at.setdefault(link.name, index)
        _check_mode(link, where, problems)
        rotation = link.rotation_interval or policy.rotation_interval
        floor = max(policy.min_activation_delay, policy.activation_delay or 0.0)
        if rotation <= floor:
            problems.add(
                f"{where}.rotation_interval"
                if link.rotation_interval
                else "policy.rotation_interval",
                f"{rotation:g}s must be longer than the activation delay ({floor:g}s)",
            )
        ends = [("master", link.master)] + [(f"slaves[{i}]", s) for i, s in enumerate(link.slaves)]
        seen: set[str] = set()
        for end_where, end in ends:
            field = f"{where}.{end_where}"
            host = hosts.get(end.host)
            if host is None:
                problems.add(f"{field}.host", f"unknown host {end.host!r}")
                continue
            if end.host in seen:
                problems.add(f"{field}.host", f"host {end.host!r} is already an end of this link")
                continue
            seen.add(end.host)
            owner = (index, link.name)
            _check_limits(link, where, host, problems)
            rules = get_platform(host.platform).names
            interfaces_field = f"{field}.interface" if end.interface else f"{field}.interfaces"
            for interface in end.interface_names:
                claims.claim(
                    "interface",
                    end.host,
                    interface,
                    owner,
                    interfaces_field,
                    identity=rules.interface_identity(interface),
                )
            claims.claim(
                "connectivity association",
                end.host,
                link.connectivity_association,
                owner,
                f"{where}.connectivity_association",
            )
            if link.key_chain is not None:
                claims.claim("key chain", end.host, link.key_chain, owner, f"{where}.key_chain")
            if host.kme is None:
                problems.add(
                    field_path(("hosts", end.host, "kme")),
                    f"required: the host is an end of link {link.name!r}",
                )
            if host.tls is None:
                problems.add(
                    field_path(("hosts", end.host, "tls")),
                    "required (the SAE's client certificate): "
                    f"the host is an end of link {link.name!r}",
                )
        links.append(
            Link(
                name=link.name,
                master=LinkEnd(link.master.host, link.master.interface_names),
                slaves=tuple(LinkEnd(s.host, s.interface_names) for s in link.slaves),
                connectivity_association=link.connectivity_association,
                key_chain=link.key_chain,
                cipher_suite=link.cipher_suite,
                mode=link.mode,
                rotation_interval=rotation,
                ckn_prefix=link.ckn_prefix,
                ckn_mode=link.ckn_mode,
                mka=MkaSettings(
                    should_secure=link.mka.should_secure,
                    exclude_protocols=tuple(dict.fromkeys(link.mka.exclude_protocols)),
                    key_server_priority=link.mka.key_server_priority,
                    transmit_interval_ms=link.mka.transmit_interval_ms,
                ),
                kme_keyid_check=link.kme_keyid_check,
                key_derivation=link.key_derivation or spec.policy.key_derivation,
            )
        )
    return links


def link_ask(link: LinkSpec) -> LinkAsk:
    """What the link asks of every end, for the platforms' declared limits."""
    return LinkAsk(
        cipher_suite=link.cipher_suite,
        mode=link.mode,
        ckn_hex=ckn_digits(link.ckn_prefix, link.ckn_mode),
        slaves=len(link.slaves),
        exclude_protocols=tuple(link.mka.exclude_protocols),
        transmit_interval_ms=link.mka.transmit_interval_ms,
        key_server_priority=link.mka.key_server_priority,
    )


def _check_limits(link: LinkSpec, where: str, host: Host, problems: _Problems) -> None:
    """Refuse what the end's platform cannot do, naming link, host, platform and reason."""
    platform = get_platform(host.platform)
    for field, reason in platform.limits.refusals(link_ask(link)):
        problems.add(
            f"{where}.{field}",
            f"link {link.name!r} cannot run on host {host.name!r} "
            f"(platform {platform.name}): {reason}",
        )


def _check_mode(link: LinkSpec, where: str, problems: _Problems) -> None:
    problem = link.mode.strategy.key_chain_problem(link.key_chain is not None)
    if problem is not None:
        problems.add(f"{where}.key_chain", problem)


class _Claims:
    """Per-host names (interfaces, CAs, key chains) each owned by one link.

    ``identity`` is what a name denotes when two spellings mean one thing (``et-0/0/9`` and
    ``et-0/0/9.0``); the error quotes the other spelling so the operator sees the clash.
    """

    def __init__(self, problems: _Problems) -> None:
        self._owners: dict[tuple[str, str, str], tuple[int, str, str]] = {}
        self._problems = problems

    def claim(
        self,
        what: str,
        host: str,
        name: str,
        owner: tuple[int, str],
        field: str,
        *,
        identity: str | None = None,
    ) -> None:
        key = (what, host, name if identity is None else identity)
        first = self._owners.setdefault(key, (*owner, name))
        if first[0] != owner[0]:
            same = "" if first[2] == name else f" (as {first[2]!r}: the same {what})"
            self._problems.add(
                field, f"{what} {name!r} on {host} is already used by link {first[1]!r}{same}"
            )
