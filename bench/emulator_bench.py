"""Throughput of the Stripe emulator for retrieve and create calls through the real SDK, and
its own capacity through a bare keep-alive HTTP client.

The emulator runs as its own process, like in the service's benchmarks: the server gets its
own core. Run: `.venv/bin/python -m bench.emulator_bench [--requests 4000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import stripe

from bench.support import server_process
from bench.table import Row, number, ratio

log = logging.getLogger("emulator_bench")


async def measure(
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
        "n": total,
        "rps": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2),
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


async def bench_wire_level(
    host: str, port: int, total: int, concurrency: int
) -> dict[str, dict[str, float]]:
    wire = WireClient(host, port, concurrency)
    await wire.open()
    created = json.loads(await wire.request("POST", "/v1/customers", "email=w%40example.com"))
    path = f"/v1/customers/{created['id']}"
    try:
        return {
            "get": await measure("wire-get", total, concurrency,
                                 lambda i: wire.request("GET", path)),
            "post": await measure(
                "wire-post",
                total,
                concurrency,
                lambda i: wire.request("POST", "/v1/customers", f"email=w{i}%40example.com"),
            ),
        }
    finally:
        await wire.close()


async def bench_wire(url: str, total: int, levels: list[int]) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    return {str(c): await bench_wire_level(host, int(port), total, c) for c in levels}


async def bench(url: str, total: int, levels: list[int]) -> dict[str, Any]:
    client = stripe.StripeClient(
        "sk_test_bench",
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    customer = await client.v1.customers.create_async(params={"email": "bench@example.com"})
    # Warm up connections and code paths before measuring.
    await measure("warmup", 200, 16, lambda i: client.v1.customers.retrieve_async(customer.id))
    found: dict[str, Any] = {}
    for concurrency in levels:
        found[str(concurrency)] = {
            "retrieve": await measure(
                "retrieve",
                total,
                concurrency,
                lambda i: client.v1.customers.retrieve_async(customer.id),
            ),
            "create": await measure(
                "create",
                total,
                concurrency,
                lambda i: client.v1.customers.create_async(
                    params={"email": f"b{i}@example.com", "metadata": {"i": str(i)}}
                ),
            ),
            "list": await measure(
                "list",
                total // 2,
                concurrency,
                lambda i: client.v1.customers.list_async(params={"limit": 10}),
            ),
        }
    return found


@asynccontextmanager
async def emulator(url: str | None) -> AsyncIterator[str]:
    """The emulator at `url`, or one of its own started for the run."""
    if url is not None:
        async with httpx.AsyncClient() as http:
            (await http.get(url + "/_emulator/health")).raise_for_status()
        yield url
        return
    args = [sys.executable, "-m", "stripe_emulator", "--port", "{port}"]
    async with server_process(args, "/_emulator/health") as started:
        yield started


async def run(requests: int, levels: list[int], url: str | None = None) -> dict[str, Any]:
    """`requests` SDK calls per scenario and twice as many bare ones, at each of `levels`."""
    async with emulator(url) as base:
        log.info("emulator at %s", base)
        log.info("-- through the stripe SDK (HTTPXClient); the client side dominates here")
        sdk = await bench(base, requests, levels)
        log.info("-- bare keep-alive HTTP client: the emulator's own capacity")
        wire = await bench_wire(base, requests * 2, levels)
    return {"requests": requests, "levels": levels, "sdk": sdk, "bare_http": wire}


def rows(result: dict[str, Any]) -> list[Row]:
    """The emulator rows of the `billing bench` table: the SDK next to bare HTTP."""
    table = []
    for level in result["levels"]:
        sdk, wire = result["sdk"][str(level)], result["bare_http"][str(level)]
        for call, bare in (("retrieve", "get"), ("create", "post"), ("list", None)):
            limit = wire[bare] if bare else None
            table.append(Row(
                f"emulator via SDK, {call}, {level} in flight", speed(sdk[call]),
                f"bare HTTP {bare.upper()} {speed(limit)}" if bare and limit else "—",
                ratio(sdk[call]["rps"], limit["rps"], "rate") if limit else "—",
            ))
        for call in ("get", "post"):
            table.append(Row(f"emulator via bare HTTP, {call.upper()}, {level} in flight",
                             speed(wire[call])))
    return table


def speed(figures: dict[str, float]) -> str:
    return f"{number(figures['rps'])} req/s, p50 {number(figures['p50_ms'])} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000, help="calls per scenario")
    parser.add_argument("--concurrency", default="16,50", help="comma-separated in-flight")
    parser.add_argument("--url", default=None, help="use a running emulator instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    levels = [int(c) for c in args.concurrency.split(",")]
    result = asyncio.run(run(args.requests, levels, args.url))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
