"""Benchmark: key pairs per second through KmeClient against the embedded KME over mutual TLS.

One *pair* = enc_keys as the master SAE (KME_A) + dec_keys of that key ID as the slave SAE
(KME_B), the ENC/DEC steps of a rotation. Measured twice: with keep-alive (one connection pool
per client, the client's default) and with a new TCP+TLS connection per request.

The KME runs in its own process by default (``kme="process"``, as a real KME is another machine)
or in a thread of this process (``kme="thread"``, which shares the GIL with the client).

    .venv/bin/python -m bench.kme_client [SECONDS] [--kme thread|process] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.example import ExampleNetwork, write_example_network
from qkd_macsec.kme.network import KmeNetwork
from qkd_macsec.kme.server import run_network_in_thread

TARGET_PAIRS_PER_S = 500
MASTER, SLAVE = "mx304-11", "mx304-12"
KEY_BITS = 256
START_TIMEOUT_S = 30.0
KmeMode = Literal["process", "thread"]


def run(seconds: float = 5, *, concurrency: int = 2, kme: KmeMode = "process") -> dict[str, Any]:
    """Measure for ``seconds`` in total (half keep-alive, half new connections).

    Returns ``{"keep_alive": {...}, "new_connection": {...}, "target_pairs_per_s": 500, ...}``
    where each mode has ``pairs``, ``seconds``, ``pairs_per_s``, ``p50_ms``, ``p99_ms`` (pair
    latency) and ``errors``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-kme-") as tmp:
        # A pool large and fast enough that key supply is never what is measured.
        example = write_example_network(
            Path(tmp),
            link={"key_rate_bps": 100_000_000, "pool_capacity_bits": 1 << 30},
        )
        with _running_kmes(example, kme) as urls:
            keep_alive = asyncio.run(
                _measure(example, urls, seconds / 2, concurrency, keep_alive=True)
            )
            fresh = asyncio.run(_measure(example, urls, seconds / 2, concurrency, keep_alive=False))
    return {
        "keep_alive": keep_alive,
        "new_connection": fresh,
        "target_pairs_per_s": TARGET_PAIRS_PER_S,
        "concurrency": concurrency,
        "kme": kme,
    }


async def _measure(
    example: ExampleNetwork,
    urls: dict[str, str],
    seconds: float,
    concurrency: int,
    *,
    keep_alive: bool,
) -> dict[str, Any]:
    options = ClientOptions(keep_alive=keep_alive, max_connections=max(concurrency, 1))
    latencies: list[float] = []
    errors = 0
    async with (
        KmeClient(urls["KME_A"], _identity(example, MASTER), options) as master,
        KmeClient(urls["KME_B"], _identity(example, SLAVE), options) as slave,
    ):
        await _pair(master, slave)  # warm-up: connections, first-request costs
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                begun = time.perf_counter()
                try:
                    await _pair(master, slave)
                except Exception:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - begun)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "pairs": len(latencies),
        "seconds": round(elapsed, 3),
        "pairs_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
        "errors": errors,
    }


async def _pair(master: KmeClient, slave: KmeClient) -> None:
    (issued,) = await master.get_keys(SLAVE, size=KEY_BITS)
    (fetched,) = await slave.get_keys_with_ids(MASTER, [issued.key_id])
    if fetched.key != issued.key:
        raise AssertionError(f"key {issued.key_id}: master and slave copies differ")


def _identity(example: ExampleNetwork, sae_id: str) -> TlsIdentity:
    files = example.saes[sae_id]
    return TlsIdentity(files.cert, files.key, ca=example.ca_cert)


def _percentile(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@contextlib.contextmanager
def _running_kmes(example: ExampleNetwork, mode: KmeMode) -> Iterator[dict[str, str]]:
    if mode == "thread":
        with run_network_in_thread(KmeNetwork.from_file(example.network_file)) as running:
            yield {kme_id: running.url(kme_id) for kme_id in running.endpoints}
        return
    command = [
        sys.executable,
        "-c",
        "from qkd_macsec.cli import main; main()",
        "kme",
        "serve",
        "--network",
        str(example.network_file),
    ]
    process = subprocess.Popen(  # the CLI prints "KME_ID URL" per KME, then serves
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield _read_urls(process, expected=2)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _read_urls(process: subprocess.Popen[str], *, expected: int) -> dict[str, str]:
    assert process.stdout is not None
    urls: dict[str, str] = {}
    while len(urls) < expected:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"KME process exited early (code {process.wait()})")
        kme_id, _, url = line.strip().partition(" ")
        if url.startswith("https://"):
            urls[kme_id] = url
    return urls


def _table(result: dict[str, Any]) -> str:
    rows = [f"{'mode':<16}{'pairs/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'pairs':>8}{'errors':>8}"]
    for mode in ("keep_alive", "new_connection"):
        r = result[mode]
        rows.append(
            f"{mode:<16}{r['pairs_per_s']:>10}{r['p50_ms']:>10}{r['p99_ms']:>10}"
            f"{r['pairs']:>8}{r['errors']:>8}"
        )
    verdict = "met" if result["keep_alive"]["pairs_per_s"] >= TARGET_PAIRS_PER_S else "NOT met"
    rows.append(
        f"target >= {TARGET_PAIRS_PER_S} pairs/s with keep-alive: {verdict} "
        f"(KME in a {result['kme']}, concurrency {result['concurrency']})"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("seconds", nargs="?", type=float, default=5.0)
    parser.add_argument("--kme", choices=["process", "thread"], default="process")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="requests in flight (2 = one per core)"
    )
    args = parser.parse_args(argv)
    mode: KmeMode = "thread" if args.kme == "thread" else "process"
    print(_table(run(args.seconds, concurrency=args.concurrency, kme=mode)))


if __name__ == "__main__":
    main()
