"""The whole service on a thread of its own, for synchronous fuzzers that call it over HTTP.

Schemathesis and Hypothesis drive synchronous tests, which block the pytest-asyncio loop
while they run; so the API (uvicorn), a worker and the database engine live on their own
event loop in a background thread, and the tests reach them over real HTTP (and run DB
queries on that loop through `run`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.deps import ActivityDeps
from api.main import create_app
from core.config import Settings
from core.db import create_db_engine, session_factory
from core.stripe_client import create_stripe_client
from core.temporal_client import connect_temporal
from ops.processes import free_port
from worker import build_worker

T = TypeVar("T")
START_TIMEOUT = 30.0


class ThreadedSystem:
    """`with ThreadedSystem(settings) as system:` serves `system.url` until the block ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready: Future[None] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="fuzz-system", daemon=True)
        self.sessions: async_sessionmaker[AsyncSession] | None = None

    def __enter__(self) -> ThreadedSystem:
        self._thread.start()
        self._ready.result(timeout=START_TIMEOUT)
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=START_TIMEOUT)

    def run(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60.0) -> T:
        """Run a coroutine on the system's loop (where its engine lives) and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to the starter instead of dying silently
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        settings = self.settings
        engine = create_db_engine(settings.database_url)
        self.sessions = session_factory(engine)
        client = await connect_temporal(settings)
        deps = ActivityDeps(
            settings=settings, sessions=self.sessions, stripe=create_stripe_client(settings)
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        try:
            async with build_worker(client, settings, deps):
                serving = asyncio.create_task(server.serve())
                while not server.started:
                    if serving.done():
                        serving.result()
                    await asyncio.sleep(0.01)
                self._ready.set_result(None)
                await self._stop.wait()
                server.should_exit = True
                await serving
        finally:
            await engine.dispose()
