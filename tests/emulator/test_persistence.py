"""The emulator as its own process with `--state-file`: killed mid-scenario, it comes back with
its objects, events, idempotency keys and paused webhooks, and the scenario carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from emu_support import SEED_ENV, WEBHOOK_SECRET, WebhookSink, price_for

from stripe_emulator.config import DEFAULT_SECRET_KEY
from stripe_emulator.testing import API_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]


# Control routes take the emulator's secret key (its default here) as a bearer token.
CONTROL = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}


def control(url: str, path: str) -> None:
    httpx.post(f"{url}/_emulator/{path}", json={}, headers=CONTROL, timeout=10).raise_for_status()


class EmulatorProcess:
    """`python -m stripe_emulator` on a fixed port, started and killed like `billing dev` does."""

    def __init__(self, state_file: Path, webhook_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = state_file
        self.webhook_url = webhook_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stripe_emulator",
                "--port",
                str(self.port),
                "--webhook-url",
                self.webhook_url,
                "--webhook-secret",
                WEBHOOK_SECRET,
                "--seed-catalog",
                SEED_ENV,
                "--retry-base-delay",
                "0.05",
                "--state-file",
                str(self.state_file),
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_emulator/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the emulator process did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, so only what was saved per request survives."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def emulator_process(tmp_path: Path, sink: WebhookSink) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path / "stripe-emulator.json", sink.url)
    process.start()
    yield process
    process.stop()


def sdk(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )


def raw(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{url}{path}", headers=headers, timeout=10, **kwargs)


async def test_a_killed_emulator_resumes_with_its_account_intact(
    emulator_process: EmulatorProcess, sink: WebhookSink
) -> None:
    url = emulator_process.url
    client = sdk(url)
    price = await price_for(client)

    # Before the crash: a customer (idempotent), a paid checkout, then a change whose event
    # waits in the paused webhook backlog.
    created = raw(
        url,
        "POST",
        "/v1/customers",
        data={"email": "keep@example.com"},
        headers={"Idempotency-Key": "customer-once"},
    )
    assert created.status_code == 200
    customer = created.json()
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": customer["id"],
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.test/ok?session_id={CHECKOUT_SESSION_ID}",
        },
        options={"idempotency_key": "session-once"},
    )
    paid = httpx.post(f"{url}/pay/{session.id}/pay", timeout=10)
    assert paid.status_code == 303
    await sink.wait_for(1)
    httpx.post(
        f"{url}/_emulator/webhooks/pause", json={}, headers=CONTROL, timeout=10
    ).raise_for_status()
    subscription_id = (await client.v1.checkout.sessions.retrieve_async(session.id)).subscription
    assert isinstance(subscription_id, str)
    await client.v1.subscriptions.update_async(
        subscription_id, params={"cancel_at_period_end": True}
    )
    before = {
        "customer": raw(url, "GET", f"/v1/customers/{customer['id']}").json(),
        "session": raw(url, "GET", f"/v1/checkout/sessions/{session.id}").json(),
        "subscription": raw(url, "GET", f"/v1/subscriptions/{subscription_id}").json(),
        "events": raw(url, "GET", "/v1/events?limit=100").json()["data"],
    }
    backlog_event = before["events"][0]
    assert backlog_event["type"] == "customer.subscription.updated"

    emulator_process.kill()
    emulator_process.start()

    # Objects and events are exactly as Stripe said before the crash, newest first.
    assert raw(url, "GET", f"/v1/customers/{customer['id']}").json() == before["customer"]
    assert raw(url, "GET", f"/v1/checkout/sessions/{session.id}").json() == before["session"]
    after_sub = raw(url, "GET", f"/v1/subscriptions/{subscription_id}").json()
    assert after_sub == before["subscription"] and after_sub["cancel_at_period_end"] is True
    after_events = raw(url, "GET", "/v1/events?limit=100").json()["data"]
    assert [e["id"] for e in after_events] == [e["id"] for e in before["events"]]
    assert after_events[0]["data"] == backlog_event["data"]

    # Idempotent replays answer as before the crash; a changed payload is still refused.
    replay = raw(
        url,
        "POST",
        "/v1/customers",
        data={"email": "keep@example.com"},
        headers={"Idempotency-Key": "customer-once"},
    )
    assert replay.json() == customer
    assert replay.headers["idempotent-replayed"] == "true"
    mismatch = raw(
        url,
        "POST",
        "/v1/customers",
        data={"email": "other@example.com"},
        headers={"Idempotency-Key": "customer-once"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["type"] == "idempotency_error"
    again = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": customer["id"],
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.test/ok?session_id={CHECKOUT_SESSION_ID}",
        },
        options={"idempotency_key": "session-once"},
    )
    assert again.id == session.id

    # Webhooks are still paused; resuming delivers the event that waited through the crash.
    hooks = httpx.get(f"{url}/_emulator/webhooks", headers=CONTROL, timeout=10).json()
    assert hooks["paused"] is True and hooks["backlog"] >= 1
    httpx.post(
        f"{url}/_emulator/webhooks/resume", json={}, headers=CONTROL, timeout=10
    ).raise_for_status()
    deadline = time.monotonic() + 10
    while backlog_event["id"] not in {json.loads(b)["id"] for b in sink.ok_bodies()}:
        assert time.monotonic() < deadline, "the backlog event was not delivered after resume"
        time.sleep(0.05)

    # The scenario goes on: a new event sorts newest, after everything from before the crash.
    await client.v1.subscriptions.cancel_async(subscription_id)
    newest = raw(url, "GET", "/v1/events?limit=1").json()["data"][0]
    assert newest["type"] == "customer.subscription.deleted"
    assert newest["id"] not in {e["id"] for e in before["events"]}
    assert newest["id"] > before["events"][0]["id"]


async def test_a_graceful_stop_keeps_state_and_reset_empties_it(
    emulator_process: EmulatorProcess,
) -> None:
    url = emulator_process.url
    customer = raw(url, "POST", "/v1/customers", data={"email": "a@example.com"}).json()
    emulator_process.stop()
    emulator_process.start()
    assert raw(url, "GET", f"/v1/customers/{customer['id']}").status_code == 200

    httpx.post(f"{url}/_emulator/reset", json={}, headers=CONTROL, timeout=10).raise_for_status()
    emulator_process.stop()
    emulator_process.start()
    assert raw(url, "GET", f"/v1/customers/{customer['id']}").status_code == 404
    # The catalog is seeded again on the empty account.
    prices = raw(url, "GET", "/v1/prices?limit=10").json()["data"]
    assert len(prices) == 4
