"""Fixtures for the emulator's own tests: one server per session, fresh state per test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe
from emu_support import SEED_ENV, WEBHOOK_SECRET, WebhookSink, price_for

from stripe_emulator.testing import EmulatorServer

BASELINE: dict[str, Any] = {
    "webhook_secret": WEBHOOK_SECRET,
    "retry_base_delay": 0.05,
    "max_delivery_attempts": 4,
    "delivery_concurrency": 1,
    "delivery_faults": {},
    "api_faults": [],
}


@pytest.fixture(scope="session")
def sink() -> Iterator[WebhookSink]:
    receiver = WebhookSink()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def emu(sink: WebhookSink) -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        webhook_url=sink.url,
        webhook_secret=WEBHOOK_SECRET,
        seed_catalog=SEED_ENV,
        retry_base_delay=0.05,
    )
    with server:
        yield server


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorServer, sink: WebhookSink) -> None:
    """Every test starts from an empty account with the seeded catalog and baseline config."""
    with httpx.Client(base_url=emu.url, headers=emu.control_headers) as http:
        http.post("/_emulator/reset", json={"keep_config": True}).raise_for_status()
        http.post(
            "/_emulator/config", json={**BASELINE, "webhook_url": sink.url}
        ).raise_for_status()
        http.post("/_emulator/seed-catalog", json={"env": SEED_ENV}).raise_for_status()
    sink.clear()


@pytest.fixture
def client(emu: EmulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        emu.api_key,
        base_addresses={"api": emu.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )


@pytest.fixture
def http(emu: EmulatorServer) -> Callable[[], httpx.AsyncClient]:
    """Plain HTTP with the test API key: `async with http() as h:`."""

    def make() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=emu.url, headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=10
        )

    return make


@pytest.fixture
def seeded_price() -> Callable[..., Awaitable[stripe.Price]]:
    return lambda client, plan="pro", interval="monthly": price_for(client, plan, interval)
