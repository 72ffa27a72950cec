"""Embedded ETSI GS QKD 014 KME network: key pools per QKD link, mTLS ASGI servers, dialects."""

from qkd_macsec.kme.config import NetworkFileError, NetworkSpec, load_network_file, parse_network
from qkd_macsec.kme.example import ExampleNetwork, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.server import (
    KmeEndpoint,
    KmeStartError,
    RunningNetwork,
    run_network_in_thread,
    serve_network,
)

__all__ = [
    "ExampleNetwork",
    "KmeEndpoint",
    "KmeNetwork",
    "KmeStartError",
    "NetworkFileError",
    "NetworkSpec",
    "RunningNetwork",
    "load_network_file",
    "parse_network",
    "run_network_in_thread",
    "serve_network",
    "write_example_network",
]
