"""Which Junos statements are containers, keyed lists, leaves, flags or leaf-lists.

The schema only says how words group: everything else (values, references) is checked by
``checks``. Statements the schema does not know are kept with a generic shape (see ``tree``),
so unknown configuration still round-trips through set/text/XML/JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(Enum):
    CONTAINER = "container"  # `name { ... }`
    LIST = "list"  # `name KEY { ... }` (XML: <name><name>KEY</name>...</name>)
    LEAF = "leaf"  # `name value;`
    FLAG = "flag"  # `name;`
    LEAF_LIST = "leaf-list"  # `name [ a b ];`, one set line per value
    MACRO = "macro"  # `apply-macro NAME { key [value]; }`


@dataclass(frozen=True)
class Schema:
    kind: Kind
    children: dict[str, Schema] = field(default_factory=dict)
    #: LIST shown grouped in text: `interfaces { et-0/0/9 { ... } }` (set: `interfaces et-0/0/9`).
    grouped: bool = False
    #: CONTAINER whose bare-word children are entries of this (invisible) list keyword,
    #: e.g. top-level `interfaces et-0/0/9` = <interfaces><interface><name>et-0/0/9</name>.
    hidden_list: str | None = None
    #: CONTAINER where a bare word sets this leaf, e.g. `traceoptions file script.log`.
    positional: str | None = None
    #: Entries rendered on one line in text when they hold only known leaves and flags.
    oneliner: bool = False
    #: LEAF holding key material: masked on request, never put in error messages.
    secret: bool = False
    #: LEAF always shown quoted (Junos quotes start-times).
    quoted: bool = False
    #: LEAF allowed values (checked at load time like Junos' syntax check).
    choices: tuple[str, ...] | None = None
    #: LIST key element name in XML/JSON.
    key_name: str = "name"
    #: CONTAINER that accepts only the children listed (unknown words are syntax errors).
    closed: bool = False

    def child(self, word: str) -> Schema | None:
        return self.children.get(word) or GLOBAL_CHILDREN.get(word)


def container(
    children: dict[str, Schema] | None = None,
    *,
    hidden_list: str | None = None,
    positional: str | None = None,
    oneliner: bool = False,
) -> Schema:
    return Schema(
        Kind.CONTAINER,
        children or {},
        hidden_list=hidden_list,
        positional=positional,
        oneliner=oneliner,
    )


def keyed(
    children: dict[str, Schema] | None = None, *, grouped: bool = False, oneliner: bool = False
) -> Schema:
    return Schema(Kind.LIST, children or {}, grouped=grouped, oneliner=oneliner)


LEAF = Schema(Kind.LEAF)
FLAG = Schema(Kind.FLAG)
LEAF_LIST = Schema(Kind.LEAF_LIST)
MACRO = Schema(Kind.MACRO)
SECRET_LEAF = Schema(Kind.LEAF, secret=True)
QUOTED_LEAF = Schema(Kind.LEAF, quoted=True)

#: Statements valid at any level.
GLOBAL_CHILDREN: dict[str, Schema] = {"apply-macro": MACRO}

CIPHER_SUITES = ("gcm-aes-128", "gcm-aes-256", "gcm-aes-xpn-128", "gcm-aes-xpn-256")
SECURITY_MODES = ("static-cak", "dynamic", "static-sak")

TRACEOPTIONS = container(
    {
        "file": container(
            {
                "filename": LEAF,
                "size": LEAF,
                "files": LEAF,
                "world-readable": FLAG,
                "no-world-readable": FLAG,
                "match": QUOTED_LEAF,
            },
            positional="filename",
            oneliner=True,
        ),
        "flag": LEAF_LIST,
        "level": LEAF,
        "no-remote-trace": FLAG,
    }
)

#: ``oneliner``: `set ... pre-shared-key ckn X cak Y` sets both on one line, as the Junos CLI
#: takes several leaves of one container in one statement (Juniper's MACsec static-CAK examples
#: write `pre-shared-key ckn <ckn> cak <cak>`). Text still shows braces: cak is a secret.
CAK_PAIR = Schema(Kind.CONTAINER, {"ckn": LEAF, "cak": SECRET_LEAF}, closed=True, oneliner=True)

CONNECTIVITY_ASSOCIATION = keyed(
    {
        "cipher-suite": Schema(Kind.LEAF, choices=CIPHER_SUITES),
        "security-mode": Schema(Kind.LEAF, choices=SECURITY_MODES),
        "pre-shared-key": CAK_PAIR,
        "pre-shared-key-chain": LEAF,
        "fallback-key": CAK_PAIR,
        "exclude-protocol": LEAF_LIST,
        "mka": container(
            {
                "should-secure": FLAG,
                "must-secure": FLAG,
                "key-server-priority": LEAF,
                "transmit-interval": LEAF,
                "sak-rekey-interval": LEAF,
                "eapol-address": LEAF,
            }
        ),
        "replay-protect": container({"replay-window-size": LEAF}),
        "include-sci": FLAG,
        "no-encryption": FLAG,
        "offset": LEAF,
        "description": LEAF,
    }
)

MACSEC = container(
    {
        "connectivity-association": CONNECTIVITY_ASSOCIATION,
        "interfaces": keyed({"connectivity-association": LEAF, "description": LEAF}, grouped=True),
        "traceoptions": TRACEOPTIONS,
    }
)

KEY_CHAINS = container(
    {
        "key-chain": keyed(
            {
                "description": LEAF,
                "tolerance": LEAF,
                "key": keyed(
                    {
                        "key-name": LEAF,
                        "secret": SECRET_LEAF,
                        "start-time": QUOTED_LEAF,
                        "algorithm": LEAF,
                        "options": LEAF,
                    }
                ),
            }
        )
    }
)

SYSTEM = container(
    {
        "host-name": LEAF,
        "domain-name": LEAF,
        "time-zone": LEAF,
        "static-host-mapping": keyed(
            {"inet": LEAF_LIST, "inet6": LEAF_LIST, "alias": LEAF_LIST, "sysid": LEAF},
            grouped=True,
            oneliner=True,
        ),
        "name-server": keyed(grouped=True, oneliner=True),
        "scripts": container(
            {
                "language": LEAF,
                "synchronize": FLAG,
                "op": container(
                    {
                        "file": keyed({"source": LEAF, "description": LEAF}),
                        "traceoptions": TRACEOPTIONS,
                    }
                ),
                "commit": container({"file": keyed({"source": LEAF})}),
                "event": container({"file": keyed({"source": LEAF})}),
            }
        ),
        "services": container(
            {
                "netconf": container({"ssh": container({"port": LEAF}), "rfc-compliant": FLAG}),
                "ssh": container({"root-login": LEAF, "port": LEAF}),
            }
        ),
        "ntp": container({"server": keyed()}),
    }
)

EVENT_OPTIONS = container(
    {
        "generate-event": keyed(
            {
                "time-interval": LEAF,
                "time-of-day": QUOTED_LEAF,
                "start-time": QUOTED_LEAF,
                "no-drift": FLAG,
            },
            grouped=True,
            oneliner=True,
        ),
        "policy": keyed(
            {
                "events": LEAF_LIST,
                "within": keyed(),
                "then": container(
                    {
                        "event-script": keyed(
                            {
                                "arguments": keyed(),
                                "output-filename": LEAF,
                                "destination": keyed(),
                                "output-format": LEAF,
                            }
                        ),
                        "execute-commands": container({"commands": keyed()}),
                        "ignore": FLAG,
                    }
                ),
            }
        ),
        "event-script": container(
            {
                "file": keyed(
                    {
                        "python-script-user": LEAF,
                        "source": LEAF,
                        "refresh": FLAG,
                        "checksum": container({"sha-256": LEAF}),
                    }
                ),
                "traceoptions": TRACEOPTIONS,
            }
        ),
        "traceoptions": TRACEOPTIONS,
    }
)

ADDRESS_FAMILY = container({"address": keyed(), "mtu": LEAF})

INTERFACES = container(
    {
        "interface": keyed(
            {
                "description": LEAF,
                "mtu": LEAF,
                "disable": FLAG,
                "vlan-tagging": FLAG,
                "unit": keyed(
                    {
                        "description": LEAF,
                        "vlan-id": LEAF,
                        "family": container(
                            {"inet": ADDRESS_FAMILY, "inet6": ADDRESS_FAMILY, "iso": container()}
                        ),
                    }
                ),
            }
        ),
        "interface-range": keyed({"member": LEAF_LIST, "member-range": keyed()}),
        "traceoptions": TRACEOPTIONS,
    },
    hidden_list="interface",
)

ROOT = container(
    {
        "version": LEAF,
        "system": SYSTEM,
        "security": container({"macsec": MACSEC, "authentication-key-chains": KEY_CHAINS}),
        "event-options": EVENT_OPTIONS,
        "interfaces": INTERFACES,
    }
)
