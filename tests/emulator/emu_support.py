"""Helpers shared by the emulator tests: a webhook receiver and catalog lookups."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import stripe
import uvicorn

from stripe_emulator.testing import free_port

WEBHOOK_SECRET = "whsec_test_emulator_suite"
SEED_ENV = "test"


class WebhookSink:
    """A tiny receiver on its own thread; answers from `statuses` first, then 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.received.append({"body": body.decode(), "headers": headers, "status": status})
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(5)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.statuses.clear()

    def ok_bodies(self) -> list[str]:
        with self.lock:
            return [r["body"] for r in self.received if r["status"] == 200]

    async def wait_for(self, count: int, timeout: float = 5.0, ok_only: bool = True) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with self.lock:
                n = len([r for r in self.received if r["status"] == 200 or not ok_only])
            if n >= count:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"only {n} of {count} webhooks arrived")
            await asyncio.sleep(0.01)


async def price_for(
    client: stripe.StripeClient, plan: str = "pro", interval: str = "monthly"
) -> stripe.Price:
    """The seeded price behind a lookup key."""
    key = f"formsandbox:{SEED_ENV}:{plan}:{interval}:usd"
    prices = await client.v1.prices.list_async(params={"lookup_keys": [key]})
    assert len(prices.data) == 1
    return prices.data[0]
