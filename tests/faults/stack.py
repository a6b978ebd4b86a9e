"""The system under a fault case: Temporal, the API and workers as processes, optional proxies."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from temporalio.client import Client

from bench.support import bench_settings, settings_env, wait_http
from core.config import Settings
from core.constants import SCHEDULE_REPLAY
from core.schedules import trigger_schedule
from ops.processes import free_port
from tests.faults.processes import Child, TemporalServer, wait_for_poller
from tests.faults.proxy import TcpProxy

TASK_QUEUE = "billing-faults"
# Replay runs when a case triggers it, never on its own 5-minute cron in the middle of
# another case's measurement (a yearly cron that will not fire during a run).
NO_CRON = "0 0 1 1 *"


class Stack:
    """API (one uvicorn process), N workers (`python worker.py`), a Temporal dev server.

    `db_proxy`: the API and the workers reach PostgreSQL through a TcpProxy the test can
    freeze or cut. `temporal_proxy`: the API (only) reaches Temporal through one.
    """

    def __init__(
        self,
        log_dir: Path,
        database_url: str,
        emulator_url: str,
        *,
        temporal_file: bool = False,
        db_proxy: bool = False,
        temporal_proxy: bool = False,
        **overrides: Any,
    ) -> None:
        self.log_dir = log_dir
        self.database_url = database_url
        self.emulator_url = emulator_url
        self.temporal = TemporalServer(log_dir, log_dir / "temporal.db" if temporal_file else None)
        self.use_db_proxy = db_proxy
        self.use_temporal_proxy = temporal_proxy
        self.db_proxy: TcpProxy | None = None
        self.temporal_proxy: TcpProxy | None = None
        self.overrides = overrides
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.workers: list[Child] = []
        self.api: Child | None = None
        self._client: Client | None = None

    async def __aenter__(self) -> Stack:
        await self.temporal.start()
        self._client = await self.temporal.connect()
        if self.use_db_proxy:
            url = make_url(self.database_url)
            self.db_proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432, "db").start()
        if self.use_temporal_proxy:
            self.temporal_proxy = await TcpProxy(
                "127.0.0.1", self.temporal.port, "temporal"
            ).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def client(self) -> Client:
        assert self._client is not None
        return self._client

    def settings(self, *, for_api: bool) -> Settings:
        database_url = self.database_url
        if self.db_proxy is not None:
            database_url = (
                make_url(database_url)
                .set(host="127.0.0.1", port=self.db_proxy.port)
                .render_as_string(hide_password=False)
            )
        temporal = self.temporal.address
        if for_api and self.temporal_proxy is not None:
            temporal = self.temporal_proxy.address
        values: dict[str, Any] = {
            "temporal_task_queue": TASK_QUEUE,
            "stripe_catalog_env": "test",
            "stripe_replay_cron": NO_CRON,
            **self.overrides,
        }
        return bench_settings(database_url, temporal, self.emulator_url, **values)

    def _env(self, *, for_api: bool) -> dict[str, str]:
        return {**os.environ, **settings_env(self.settings(for_api=for_api))}

    async def start_api(self, ready_path: str = "/readyz") -> Child:
        if self.api is None:
            argv = [
                sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.api_port),
                "--log-level", "warning", "--no-access-log",
            ]
            self.api = Child("api", argv, self._env(for_api=True), self.log_dir)
        self.api.start()
        assert self.api.proc is not None
        await wait_http(self.api_url + ready_path, self.api.proc)
        return self.api

    async def start_worker(self) -> Child:
        name = f"worker-{len(self.workers) + 1}"
        worker = Child(name, [sys.executable, "worker.py"], self._env(for_api=False), self.log_dir)
        self.workers.append(worker)
        return await self.restart_worker(worker)

    async def restart_worker(self, worker: Child, *, wait: bool = True) -> Child:
        worker.start()
        if wait:
            await self.wait_worker(worker)
        return worker

    async def wait_worker(self, worker: Child, timeout: float = 60.0) -> None:
        task = asyncio.create_task(wait_for_poller(self.client, TASK_QUEUE, worker.pid, timeout))
        while not task.done():
            if not worker.alive:
                task.cancel()
                raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
            await asyncio.sleep(0.1)
        await task

    async def trigger_replay(self) -> None:
        await trigger_schedule(self.client, SCHEDULE_REPLAY)

    async def aclose(self) -> None:
        for child in [*self.workers, *([self.api] if self.api else [])]:
            child.stop()
        for proxy in (self.db_proxy, self.temporal_proxy):
            if proxy is not None:
                await proxy.close()
        self.temporal.stop()

    def logs(self) -> str:
        """The last lines of every process log, for a failure message."""
        parts = []
        for child in [*self.workers, *([self.api] if self.api else []), self.temporal.child]:
            parts.append(f"== {child.name} ({child.log_path})\n{child.tail(15)}")
        return "\n".join(parts)
