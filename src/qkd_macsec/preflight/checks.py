"""The preflight checks: pure functions from gathered facts and the inventory to findings.

Router checks (name: severity when it fails — why):

* ``netconf``: unreachable — refused, timed out, no route; nothing else can be checked.
* ``host-key``: blocker — the SSH host key is unknown or changed (known_hosts). ``n/a`` on a
  platform managed over HTTPS (``Platform.management``: NX-OS), which has no SSH host key.
* ``tls-certificate`` (HTTPS platforms only): blocker — the device's TLS certificate does not
  chain to ``tls_ca`` (or the system trust store) or does not name the host; ok when verified.
  Its TLS posture is judged by ``transport-pq`` like every hop's.
* ``login``: blocker — the credentials are refused.
* ``commit``: blocker — ``commit check`` on an unchanged candidate is refused (the login's class
  lacks configure/commit permission) or fails (the active configuration does not pass its own
  checks, so no commit of ours could); warning when another session holds the lock right now,
  or when a ``commit confirmed`` may be pending (``commit check`` would confirm it: not run).
* ``facts``: ok with version and model, warning when unreadable (informational).
* ``clock``: blocker when the device clock is surely further than ``clock_tolerance`` from ours
  (start-times are computed from measured clocks; beyond the tolerance the guard that keeps both
  ends switching together is exceeded), warning when the estimate exceeds half of it.
* ``time-zone``: ok with the zone and its offset now. Junos reads a written start-time in its
  configured zone (junos-field-evidence.md §1); the engine writes each start-time in the
  device's local time, from the offset measured in the staging session and, across a DST change,
  from the zone's rules. Warning when the controller's tz database does not know the zone (a DST
  change between staging and activation would then be missed) or when its rules disagree with
  the offset the device reports (an outdated tz database on one side).
* ``ntp``: blocker when ``show ntp status`` shows no sync source (leap_alarm, sync_unspec,
  sync_local, stratum 16): the README requires NTP; clocks that drift apart break hitless rollover.
* ``interface``: blocker when an inventory interface does not exist; warning when it is
  administratively down.
* ``macsec``: blocker when the device cannot report MACsec operational state (Junos: refuses
  ``show security macsec connections`` as an unknown command; IOS XR: no MKA operational
  model) — no MACsec on this platform/release. What cannot be checked read-only: whether the
  line card of each interface supports MACsec (Junos refuses that only at commit of a real
  ``security macsec interfaces`` statement); preflight never loads one.
* ``ca-conflict``: blocker when the inventory's connectivity association exists with a different
  cipher suite, with a ``pre-shared-key`` where key-chain mode is configured (or a key chain in
  pre-shared-key mode), or with another ``pre-shared-key-chain``.
* ``chain-conflict``: blocker when the inventory's key chain holds entries whose CKN this tool
  would not have made (prefix-uuid mode: prefix + 32 hex digits; sha256 mode: 64 hex digits):
  pruning would delete someone else's keys.
* ``binding-conflict``: blocker when an inventory interface is bound to another CA.

Each router's checks run through its own platform's driver; a check its platform declares it
cannot answer (``Platform.preflight_not_checked``, e.g. interface existence on IOS XR, whose
driver reads only the configured interfaces) is reported ``n/a`` with the reason, never failed.
Every router finding carries the router's platform.

KME checks (per SAE and peer, and per link):

* ``kme-tls``: blocker — the TLS handshake or the client certificate was refused; also when the
  KME hangs up on one SAE while answering others (TLS 1.3 checks the client certificate after
  the handshake, so a refused certificate can look like a dropped connection).
* ``kme``: unreachable — connection refused or timed out.
* ``kme-status``: blocker — status refused (unknown or unauthorised SAE) or malformed.
* ``key-size``: blocker when ``max_key_size`` < the cipher suite's CAK bits (or ``min_key_size``
  above it); warning when only the default ``key_size`` is smaller (the tool always sends
  ``size``, but some KMEs ignore it — ETSI014.md).
* ``sae-count``: blocker when a group CA needs more ``additional_slave_SAE_IDs`` than
  ``max_SAE_ID_count`` allows.
* ``key-pool``: warning when ``stored_key_count`` is 0 (a rotation would wait for key material).
* ``key-fetch`` (``--consume-key`` only): blocker when enc_keys/dec_keys fail or the copies differ.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qkd_macsec.devices.base import (
    DeviceAuthError,
    DeviceHostKeyError,
    DeviceLockError,
    DevicePermissionError,
)
from qkd_macsec.devices.platform import get_platform
from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.etsi014.errors import (
    KmeResponseError,
    KmeStatusError,
    KmeTimeoutError,
    KmeTlsError,
    KmeTransportError,
)
from qkd_macsec.macsec.keys import CknMode
from qkd_macsec.preflight.facts import KeyProbe, RouterFacts, StatusProbe
from qkd_macsec.preflight.model import Finding, Severity, Subject

__all__ = ["key_findings", "kme_findings", "router_findings"]

UTC_ZONES = frozenset({"UTC", "GMT", "Etc/UTC", "Etc/GMT", "Universal", "Zulu", "UCT"})
_HEX = re.compile(r"^[0-9a-f]+$")


def _router(name: str, check: str, severity: Severity, detail: str = "") -> Finding:
    return Finding(Subject.ROUTER, name, check, severity, detail)


def _kme(subject: str, check: str, severity: Severity, detail: str = "") -> Finding:
    return Finding(Subject.KME, subject, check, severity, detail)


def ours(ckn: str, link: LinkSpec) -> bool:
    """Could this tool have made ``ckn`` for ``link`` (see ``macsec.keys.derive_ckn``)?"""
    ckn = ckn.lower()
    if not _HEX.match(ckn):
        return False
    sha_shaped = len(ckn) == 64
    if link.ckn_mode is CknMode.PREFIX_UUID:
        prefixed = ckn.startswith(link.ckn_prefix) and len(ckn) == len(link.ckn_prefix) + 32
        return prefixed or sha_shaped  # non-UUID key IDs fall back to sha256
    return sha_shaped


def router_findings(
    facts: RouterFacts, links: Sequence[LinkSpec], clock_tolerance: float
) -> list[Finding]:
    """Every router check for one router (``links``: the inventory links it is an end of).

    With the router's platform known (``facts.platform``), every finding carries it, and each
    check the platform declares it cannot answer (``Platform.preflight_not_checked``) is one
    ``n/a`` finding with the reason instead of a verdict."""
    found = _router_checks(facts, links, clock_tolerance)
    if not facts.platform:
        return found
    platform = get_platform(facts.platform)
    reasons = dict(platform.preflight_not_checked)
    out: list[Finding] = []
    for finding in found:
        if finding.check in reasons:
            if any(f.check == finding.check for f in out):
                continue  # one n/a per check, however many findings it made
            why = f"not checked on {platform.display_name}: {reasons[finding.check]}"
            finding = _router(facts.name, finding.check, Severity.NOT_APPLICABLE, why)
        out.append(dataclasses.replace(finding, platform=platform.name))
    return out


def _router_checks(
    facts: RouterFacts, links: Sequence[LinkSpec], clock_tolerance: float
) -> list[Finding]:
    name = facts.name
    error = facts.connect_error
    https = bool(facts.platform) and get_platform(facts.platform).management == "https"
    if error is not None:
        if isinstance(error, DeviceHostKeyError):
            check = "tls-certificate" if https else "host-key"
            return [_router(name, check, Severity.BLOCKER, error.message)]
        if isinstance(error, DeviceAuthError):
            return [_router(name, "login", Severity.BLOCKER, error.message)]
        return [_router(name, "netconf", Severity.UNREACHABLE, error.message)]
    if https:
        out = [
            _router(name, "netconf", Severity.OK, "session open (HTTPS API)"),
            _router(name, "tls-certificate", Severity.OK, "TLS certificate verified"),
            _router(
                name,
                "host-key",
                Severity.NOT_APPLICABLE,
                "managed over HTTPS: no SSH host key (the TLS certificate is verified instead)",
            ),
        ]
    else:
        out = [_router(name, "netconf", Severity.OK, "session open, host key verified")]
    out.append(_commit_finding(facts))
    if facts.facts is not None:
        f = facts.facts
        title = get_platform(facts.platform).display_name if facts.platform else ""
        shown = " ".join(dict.fromkeys(part for part in (f.model, title, f.version) if part))
        out.append(_router(name, "facts", Severity.OK, shown))
    else:
        out.append(_router(name, "facts", Severity.WARNING, facts.errors.get("facts", "")))
    out.append(_clock_finding(facts, clock_tolerance))
    out.append(_time_zone_finding(facts))
    out.append(_ntp_finding(facts))
    out.extend(_interface_findings(facts, links))
    out.append(_macsec_finding(facts))
    out.extend(_conflict_findings(facts, links))
    return out


def _commit_finding(facts: RouterFacts) -> Finding:
    name, error = facts.name, facts.commit_error
    if error is None:
        if "commit" in facts.errors:
            return _router(name, "commit", Severity.WARNING, facts.errors["commit"])
        return _router(name, "commit", Severity.OK, "commit check passed (nothing changed)")
    if isinstance(error, DevicePermissionError):
        return _router(name, "commit", Severity.BLOCKER, error.message)
    if isinstance(error, DeviceLockError):
        return _router(
            name, "commit", Severity.WARNING, f"could not test: {error.message} (retry later)"
        )
    return _router(name, "commit", Severity.BLOCKER, error.message)


def _clock_finding(facts: RouterFacts, tolerance: float) -> Finding:
    """Judged on the whole interval the offset may lie in, so whole-second device clocks and
    the RPC's round trip never raise a false alarm."""
    name, clock = facts.name, facts.clock
    if clock is None:
        return _router(name, "clock", Severity.WARNING, facts.errors.get("clock", "not read"))
    text = f"offset {clock.low:+.1f}..{clock.high:+.1f}s (tolerance {tolerance:g}s)"
    if clock.low > tolerance or clock.high < -tolerance:
        return _router(name, "clock", Severity.BLOCKER, text)
    if clock.low > tolerance / 2 or clock.high < -tolerance / 2:
        return _router(name, "clock", Severity.WARNING, text)
    return _router(name, "clock", Severity.OK, text)


def _time_zone_finding(facts: RouterFacts) -> Finding:
    name = facts.name
    if "time-zone" in facts.errors:
        return _router(name, "time-zone", Severity.WARNING, facts.errors["time-zone"])
    zone = facts.time_zone
    offset = facts.clock.utc_offset if facts.clock is not None else timedelta(0)
    if zone is None or zone in UTC_ZONES:
        return _router(name, "time-zone", Severity.OK, zone or "UTC (not set)")
    shown = f"{zone} (UTC{_offset_text(offset)} now)"
    try:
        rules = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return _router(
            name,
            "time-zone",
            Severity.WARNING,
            f"{shown}: unknown to this controller's tz database; start-times use the measured "
            "offset, so a DST change between staging and activation would be missed",
        )
    if facts.clock is not None and facts.clock.device_now is not None:
        expected = facts.clock.device_now.astimezone(rules).utcoffset()
        if expected is not None and expected != offset:
            return _router(
                name,
                "time-zone",
                Severity.WARNING,
                f"{shown}: this controller's tz database says UTC{_offset_text(expected)}; "
                "update the tz data on one side",
            )
    return _router(name, "time-zone", Severity.OK, f"{shown}; start-times written in local time")


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _ntp_finding(facts: RouterFacts) -> Finding:
    name, ntp = facts.name, facts.ntp
    if ntp is None:
        return _router(name, "ntp", Severity.WARNING, facts.errors.get("ntp", "not read"))
    stratum = f", stratum {ntp.stratum}" if ntp.stratum is not None else ""
    text = f"{ntp.raw_status}{stratum}"
    return _router(name, "ntp", Severity.OK if ntp.synchronised else Severity.BLOCKER, text)


def _wanted_interfaces(facts: RouterFacts, links: Sequence[LinkSpec]) -> list[tuple[str, str]]:
    """(interface, link) pairs this router is an end of."""
    return [
        (interface, link.name)
        for link in links
        for end in link.ends
        if end.device == facts.name
        for interface in end.interfaces
    ]


def _interface_findings(facts: RouterFacts, links: Sequence[LinkSpec]) -> list[Finding]:
    name = facts.name
    if "interfaces" in facts.errors:
        return [_router(name, "interface", Severity.WARNING, facts.errors["interfaces"])]
    out = []
    for interface, link in _wanted_interfaces(facts, links):
        state = facts.interfaces.get(interface)
        if state is None or not state.exists:
            out.append(
                _router(name, "interface", Severity.BLOCKER, f"{interface} ({link}): not found")
            )
        elif state.admin_up is False:
            out.append(
                _router(name, "interface", Severity.WARNING, f"{interface} ({link}): admin down")
            )
    if not out:
        names = ", ".join(sorted({i for i, _ in _wanted_interfaces(facts, links)}))
        out.append(_router(name, "interface", Severity.OK, names or "no interfaces in inventory"))
    return out


def _macsec_finding(facts: RouterFacts) -> Finding:
    name = facts.name
    if facts.macsec_capable is None:
        return _router(name, "macsec", Severity.WARNING, facts.errors.get("macsec", "not read"))
    if not facts.macsec_capable:
        return _router(
            name,
            "macsec",
            Severity.BLOCKER,
            "the MACsec operational state cannot be read (no MACsec on this platform or release)",
        )
    return _router(name, "macsec", Severity.OK, "MACsec commands answer (line cards not checked)")


def _conflict_findings(facts: RouterFacts, links: Sequence[LinkSpec]) -> list[Finding]:
    name, config = facts.name, facts.macsec
    if config is None:
        detail = facts.errors.get("config", "not read")
        return [_router(name, "config", Severity.WARNING, detail)]
    out: list[Finding] = []
    for link in links:
        ca = config.cas.get(link.ca)
        if ca is not None:
            if ca.cipher_suite is not None and ca.cipher_suite != link.suite.value:
                out.append(
                    _router(
                        name,
                        "ca-conflict",
                        Severity.BLOCKER,
                        f"{link.ca} has cipher-suite {ca.cipher_suite}, inventory says "
                        f"{link.suite.value}",
                    )
                )
            if link.mode.strategy.uses_key_chain:
                if ca.pre_shared_key_ckn is not None:
                    out.append(
                        _router(
                            name,
                            "ca-conflict",
                            Severity.BLOCKER,
                            f"{link.ca} has a pre-shared-key; inventory uses key chain "
                            f"{link.key_chain}",
                        )
                    )
                if ca.pre_shared_key_chain not in (None, link.key_chain):
                    out.append(
                        _router(
                            name,
                            "ca-conflict",
                            Severity.BLOCKER,
                            f"{link.ca} uses key chain {ca.pre_shared_key_chain}, inventory "
                            f"says {link.key_chain}",
                        )
                    )
            elif ca.pre_shared_key_chain is not None:
                out.append(
                    _router(
                        name,
                        "ca-conflict",
                        Severity.BLOCKER,
                        f"{link.ca} uses key chain {ca.pre_shared_key_chain}; inventory uses "
                        "pre-shared-key mode",
                    )
                )
        if link.key_chain is not None and link.mode.strategy.uses_key_chain:
            foreign = [e for e in facts.chains.get(link.key_chain, []) if not ours(e.ckn, link)]
            if foreign:
                slots = ", ".join(str(e.slot) for e in foreign)
                out.append(
                    _router(
                        name,
                        "chain-conflict",
                        Severity.BLOCKER,
                        f"{link.key_chain} key(s) {slots} not made by qkd-macsec",
                    )
                )
        for interface, link_name in _wanted_interfaces(facts, [link]):
            bound = config.bindings.get(interface)
            if bound is not None and bound != link.ca:
                out.append(
                    _router(
                        name,
                        "binding-conflict",
                        Severity.BLOCKER,
                        f"{interface} ({link_name}) is bound to {bound}, inventory says {link.ca}",
                    )
                )
    if not out:
        out.append(_router(name, "config", Severity.OK, "no conflicting MACsec configuration"))
    return out


# ------------------------------------------------------------------------------------- KMEs
def _kme_error(subject: str, probe: StatusProbe, answering: set[str]) -> Finding:
    error = probe.error
    assert error is not None
    where = f"{probe.sae}@{probe.kme}"
    if isinstance(error, KmeTlsError):
        return _kme(where, "kme-tls", Severity.BLOCKER, str(error))
    if isinstance(error, KmeTransportError) and not isinstance(error, KmeTimeoutError):
        if probe.kme in answering:
            # Under TLS 1.3 a KME checks the client certificate after the handshake and may
            # just hang up; it answered other SAEs, so this SAE's certificate is the suspect.
            return _kme(
                where,
                "kme-tls",
                Severity.BLOCKER,
                f"{probe.kme} answers other SAEs but dropped this one: its client certificate "
                f"is probably refused ({str(error).split(' (if this persists')[0]})",
            )
        return _kme(where, "kme", Severity.UNREACHABLE, str(error))
    if isinstance(error, KmeTransportError):
        return _kme(where, "kme", Severity.UNREACHABLE, str(error))
    if isinstance(error, KmeStatusError | KmeResponseError):
        return _kme(subject, "kme-status", Severity.BLOCKER, str(error))
    return _kme(subject, "kme-status", Severity.BLOCKER, f"{type(error).__name__}: {error}")


def kme_findings(probes: Iterable[StatusProbe], links: Sequence[LinkSpec]) -> list[Finding]:
    """Status checks for every SAE/peer probe, then the size and SAE-count checks per link."""
    by_pair = {(p.sae, p.peer): p for p in probes}
    answering = {
        p.kme
        for p in by_pair.values()
        if p.status is not None or isinstance(p.error, KmeStatusError | KmeResponseError)
    }
    out: list[Finding] = []
    for probe in by_pair.values():
        subject = f"{probe.sae}->{probe.peer}"
        if probe.error is not None:
            out.append(_kme_error(subject, probe, answering))
            continue
        status = probe.status
        assert status is not None
        out.append(
            _kme(
                subject,
                "kme-status",
                Severity.OK,
                f"{probe.kme}: {status.stored_key_count} keys stored, key_size {status.key_size}",
            )
        )
        if status.stored_key_count == 0:
            out.append(_kme(subject, "key-pool", Severity.WARNING, "no key stored right now"))
    for link in links:
        bits = link.suite.key_bits
        need_extra = len(link.slaves) - 1
        for sae, peer in _pairs(link):
            found = by_pair.get((sae, peer))
            if found is None or found.status is None:
                continue
            status = found.status
            subject = f"{link.name} ({sae}->{peer})"
            if status.max_key_size < bits or status.min_key_size > bits:
                out.append(
                    _kme(
                        subject,
                        "key-size",
                        Severity.BLOCKER,
                        f"{link.suite.value} needs {bits}-bit keys; KME allows "
                        f"{status.min_key_size}..{status.max_key_size}",
                    )
                )
            elif status.key_size < bits:
                out.append(
                    _kme(
                        subject,
                        "key-size",
                        Severity.WARNING,
                        f"default key_size {status.key_size} < {bits} (size is always sent)",
                    )
                )
            first_slave = sae == link.master.sae_id and peer == link.slaves[0].sae_id
            if first_slave and need_extra > 0 and status.max_sae_id_count < need_extra:
                out.append(
                    _kme(
                        link.name,
                        "sae-count",
                        Severity.BLOCKER,
                        f"group CA needs {need_extra} additional slave SAE IDs; "
                        f"max_SAE_ID_count is {status.max_sae_id_count}",
                    )
                )
    return out


def _pairs(link: LinkSpec) -> list[tuple[str, str]]:
    """(caller SAE, peer SAE) probes for one link: master to each slave, each slave to master."""
    master = link.master.sae_id
    pairs = [(master, slave.sae_id) for slave in link.slaves]
    pairs += [(slave.sae_id, master) for slave in link.slaves]
    return pairs


def status_pairs(links: Sequence[LinkSpec]) -> list[tuple[str, str]]:
    """Every distinct probe the gatherer should make, in a stable order."""
    return list(dict.fromkeys(pair for link in links for pair in _pairs(link)))


def key_findings(probes: Iterable[KeyProbe]) -> list[Finding]:
    out = []
    for probe in probes:
        if probe.outcome == "ok":
            out.append(_kme(probe.link, "key-fetch", Severity.OK, f"key {probe.key_id} delivered"))
        else:
            detail = probe.detail or (str(probe.error) if probe.error else probe.outcome)
            out.append(_kme(probe.link, "key-fetch", Severity.BLOCKER, detail))
    return out
