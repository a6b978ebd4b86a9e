"""In-process runner for tests: the emulator on a free 127.0.0.1 port in its own thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx
import uvicorn

from . import create_app
from .app import EmulatorApp
from .config import DEFAULT_WEBHOOK_SECRET, EmulatorConfig
from .core import Emulator

T = TypeVar("T")
API_KEY = "sk_test_emulator_0000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    """`async with EmulatorServer(webhook_url=..., webhook_secret=...) as emu:`.

    The server runs on a background thread with its own event loop, so it is independent
    of whichever loop (pytest-asyncio session loop, an app under test) the caller uses,
    and a blocking caller cannot stall webhook delivery.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        seed_catalog: str | None = None,
        port: int | None = None,
        secret_key: str = API_KEY,
        **config: Any,
    ) -> None:
        self.config = EmulatorConfig(
            webhook_url=webhook_url, webhook_secret=webhook_secret, secret_key=secret_key, **config
        )
        self.seed_env = seed_catalog
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secret_key
        self.app: EmulatorApp = create_app(self.config, seed_env=seed_catalog)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def emulator(self) -> Emulator:
        """The live state; touch it only through `call()` (it belongs to the server loop)."""
        return self.app.emu

    @property
    def webhook_secret(self) -> str:
        return self.config.webhook_secret

    # ---- lifecycle ----

    def start(self) -> EmulatorServer:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_until_complete(self._server.serve())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, name="stripe-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        for _ in range(500):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                raise RuntimeError("stripe emulator failed to start")
            threading.Event().wait(0.01)
        raise RuntimeError("stripe emulator did not start within 5s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatorServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # ---- helpers running on the server's loop ----

    def call_sync(self, fn: Callable[[Emulator], T]) -> T:
        """Run `fn(emulator)` on the server loop and return its result (blocking)."""
        assert self._loop is not None, "server not started"

        async def run() -> T:
            return fn(self.app.emu)

        fut: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return fut.result(timeout=10)

    async def call(self, fn: Callable[[Emulator], T]) -> T:
        assert self._loop is not None, "server not started"

        async def run() -> T:
            return fn(self.app.emu)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self._loop))

    @property
    def control_headers(self) -> dict[str, str]:
        """What every control route demands: the secret key as a bearer token."""
        return {"Authorization": f"Bearer {self.config.secret_key}"}

    async def control(self, method: str, path: str, json: Any = None) -> Any:
        """Call a `/_emulator/...` route over HTTP and return its JSON (raises on 4xx/5xx)."""
        body = {} if json is None and method == "POST" else json
        async with httpx.AsyncClient(
            base_url=self.url, timeout=10, headers=self.control_headers
        ) as client:
            resp = await client.request(method, path, json=body)
        resp.raise_for_status()
        return resp.json()

    async def reset(self, *, keep_config: bool = True, seed_catalog: str | None = None) -> None:
        """Fresh state for the next test; re-seeds the catalog the server started with."""
        await self.control("POST", "/_emulator/reset", {"keep_config": keep_config})
        env = seed_catalog or self.seed_env
        if env:
            await self.control("POST", "/_emulator/seed-catalog", {"env": env})

    async def configure(self, **changes: Any) -> dict[str, Any]:
        """E.g. `await emu.configure(webhook_url=..., webhook_secret=..., retry_base_delay=.05)`."""
        result: dict[str, Any] = await self.control("POST", "/_emulator/config", changes)
        return result

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.control("GET", "/_emulator/state")
        return result

    async def counts(self) -> dict[str, int]:
        """Objects created since the last reset, by table (`customers`, `checkout_sessions`...)."""
        return dict((await self.state())["created"])

    async def deliveries(self) -> list[dict[str, Any]]:
        return list((await self.control("GET", "/_emulator/deliveries"))["data"])

    async def wait_webhooks_idle(self, timeout: float = 5.0) -> None:
        """Wait until every queued webhook (and scheduled retry) has been attempted."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            hooks = await self.control("GET", "/_emulator/webhooks")
            if hooks["idle"]:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"webhooks still busy: {hooks}")
            await asyncio.sleep(0.02)
