"""Helpers shared by the emulator tests: webhook receiver, catalog, sessions, events, schemas."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import stripe
import uvicorn

from stripe_emulator.schema_check import errors
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


async def open_session(
    client: stripe.StripeClient, price_id: str, customer: str | None = None
) -> stripe.checkout.Session:
    """An open subscription-mode session with success and cancel URLs."""
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": "https://app.test/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.test/cancel",
    }
    if customer:
        params["customer"] = customer
    return await client.v1.checkout.sessions.create_async(params=params)  # type: ignore[arg-type]


async def all_events(client: stripe.StripeClient) -> list[stripe.Event]:
    """Every event of the account, oldest first."""
    page = await client.v1.events.list_async(params={"limit": 100})
    assert not page.has_more
    return list(reversed(page.data))


async def event_types(client: stripe.StripeClient, after: int = 0) -> list[str]:
    """Types of the events oldest first, skipping the first `after` of them."""
    return [e.type for e in (await all_events(client))[after:]]


def check(obj: dict[str, Any], name: str | None = None) -> None:
    """The object validates strictly against its schema in openapi_subset.json."""
    problems = errors(obj, name)
    assert not problems, f"{obj.get('object')} {obj.get('id')}: " + "; ".join(problems)


def check_list(page: dict[str, Any], name: str | None = None) -> None:
    assert set(page) == {"object", "data", "has_more", "url"}
    assert page["object"] == "list" and isinstance(page["has_more"], bool)
    for obj in page["data"]:
        check(obj, name)
