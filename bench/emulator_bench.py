"""Throughput of the Stripe emulator for retrieve and create calls through the real SDK."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import stripe

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("emulator_bench")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as h:
        for _ in range(300):
            try:
                await h.get(url + "/_emulator/health")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("emulator did not start")


async def run(
    name: str, total: int, concurrency: int, call: Callable[[int], Awaitable[object]]
) -> dict[str, float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    result = {
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }
    log.info(
        "%-9s c=%-3d n=%-6d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms",
        name,
        concurrency,
        total,
        result["rps"],
        result["p50_ms"],
        result["p99_ms"],
    )
    return result


class WireClient:
    """A bare HTTP/1.1 keep-alive client: measures the server, not a client library."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host, self.port, self.size = host, port, connections
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def request(self, method: str, path: str, body: str = "") -> bytes:
        reader, writer = await self.pool.get()
        try:
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                "Authorization: Bearer sk_test_bench\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body.encode())
            raw = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in raw.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            return await reader.readexactly(length)
        finally:
            self.pool.put_nowait((reader, writer))

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()


async def bench_wire_level(host: str, port: int, total: int, concurrency: int) -> None:
    import json

    wire = WireClient(host, port, concurrency)
    await wire.open()
    created = json.loads(await wire.request("POST", "/v1/customers", "email=w%40example.com"))
    path = f"/v1/customers/{created['id']}"
    await run("wire-get", total, concurrency, lambda i: wire.request("GET", path))
    await run(
        "wire-post",
        total,
        concurrency,
        lambda i: wire.request("POST", "/v1/customers", f"email=w{i}%40example.com"),
    )
    await wire.close()


async def bench_wire(url: str, total: int, levels: list[int]) -> None:
    host, port = url.removeprefix("http://").split(":")
    for concurrency in levels:
        await bench_wire_level(host, int(port), total, concurrency)


async def bench(url: str, total: int, levels: list[int]) -> None:
    client = stripe.StripeClient(
        "sk_test_bench",
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    customer = await client.v1.customers.create_async(params={"email": "bench@example.com"})
    # Warm up connections and code paths before measuring.
    await run("warmup", 200, 16, lambda i: client.v1.customers.retrieve_async(customer.id))
    for concurrency in levels:
        await run(
            "retrieve",
            total,
            concurrency,
            lambda i: client.v1.customers.retrieve_async(customer.id),
        )
        await run(
            "create",
            total,
            concurrency,
            lambda i: client.v1.customers.create_async(
                params={"email": f"b{i}@example.com", "metadata": {"i": str(i)}}
            ),
        )
        await run(
            "list",
            total // 2,
            concurrency,
            lambda i: client.v1.customers.list_async(params={"limit": 10}),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000, help="calls per scenario")
    parser.add_argument("--concurrency", default="16,50", help="comma-separated in-flight")
    parser.add_argument("--url", default=None, help="use a running emulator instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    levels = [int(c) for c in args.concurrency.split(",")]
    proc = None
    url = args.url
    if url is None:
        # A separate process, like in the service's benchmarks: the server gets its own core.
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "stripe_emulator", "--port", str(port)], env=env
        )
    try:
        asyncio.run(wait_up(url))
        log.info("emulator at %s, %d cpu(s)", url, os.cpu_count() or 0)
        log.info("-- through the stripe SDK (HTTPXClient); the client side dominates here")
        asyncio.run(bench(url, args.requests, levels))
        log.info("-- bare keep-alive HTTP client: the emulator's own capacity")
        asyncio.run(bench_wire(url, args.requests * 2, levels))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
