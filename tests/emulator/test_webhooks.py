"""Events API and webhook delivery: signatures, order, retries, pause/resume and faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import stripe
from emu_support import WEBHOOK_SECRET, WebhookSink, price_for

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


def verified(sink: WebhookSink) -> list[stripe.Event]:
    """Every 200-answered delivery, checked with the SDK exactly as a webhook handler would."""
    with sink.lock:
        rows = [r for r in sink.received if r["status"] == 200]
    return [
        stripe.Webhook.construct_event(r["body"], r["headers"]["stripe-signature"], WEBHOOK_SECRET)
        for r in rows
    ]


async def paid_checkout(
    client: stripe.StripeClient, emu: EmulatorServer, outcome: str = "paid"
) -> dict[str, Any]:
    price = await price_for(client)
    cus = await client.v1.customers.create_async(params={"email": "w@x.io"})
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": cus.id,
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.test/ok",
        }
    )
    result: dict[str, Any] = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": outcome}
    )
    return result


CHECKOUT_PAID = [
    "customer.created",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "checkout.session.completed",
]


async def test_webhooks_are_signed_and_in_order(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    await paid_checkout(client, emu)
    await sink.wait_for(len(CHECKOUT_PAID))
    await emu.wait_webhooks_idle()
    events = verified(sink)
    assert [e.type for e in events] == CHECKOUT_PAID
    assert all(e.api_version for e in events)
    listed = await client.v1.events.list_async(params={"limit": 7})
    assert [e.id for e in listed.data] == [e.id for e in events][::-1]
    assert all(e.pending_webhooks == 0 for e in listed.data)
    log = await emu.deliveries()
    assert [d["event_id"] for d in log] == [e.id for e in events]
    assert all(d["ok"] and d["status_code"] == 200 and d["attempt"] == 1 for d in log)


async def test_tampered_signature_fails(client: stripe.StripeClient, sink: WebhookSink) -> None:
    await client.v1.customers.create_async()
    await sink.wait_for(1)
    row = sink.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            row["body"] + " ", row["headers"]["stripe-signature"], WEBHOOK_SECRET
        )


async def test_incomplete_checkout_events(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    session = await paid_checkout(client, emu, outcome="incomplete")
    assert session["payment_status"] == "unpaid"
    events = await client.v1.events.list_async(params={"limit": 10})
    types = [e.type for e in events.data][::-1]
    assert types == [
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
        "checkout.session.completed",
    ]
    sub_event = events.data[4]
    assert sub_event.data.object["status"] == "incomplete"


async def test_event_filters(client: stripe.StripeClient, emu: EmulatorServer) -> None:
    await paid_checkout(client, emu)
    cus_events = await client.v1.events.list_async(params={"type": "customer.*", "limit": 100})
    assert {e.type for e in cus_events.data} == {
        "customer.created",
        "customer.subscription.created",
    }
    subs = await client.v1.events.list_async(params={"type": "customer.subscription.*"})
    assert [e.type for e in subs.data] == ["customer.subscription.created"]
    several = await client.v1.events.list_async(
        params={"types": ["invoice.paid", "checkout.session.completed"]}
    )
    assert [e.type for e in several.data] == ["checkout.session.completed", "invoice.paid"]
    first = several.data[-1]
    same = await client.v1.events.retrieve_async(first.id)
    assert (same.id, same.type, same.created) == (first.id, first.type, first.created)
    window = await client.v1.events.list_async(
        params={"created": {"gte": first.created, "lte": first.created}, "limit": 100}
    )
    assert first.id in [e.id for e in window.data]
    future = await client.v1.events.list_async(params={"created": {"gt": first.created + 5}})
    assert future.data == []


async def test_subscription_update_event_has_previous_attributes(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    session = await paid_checkout(client, emu)
    business = await price_for(client, "business", "yearly")
    sub_id = session["subscription"]
    await emu.control(
        "POST",
        f"/_emulator/subscriptions/{sub_id}/update",
        {"price": business.id, "cancel_at_period_end": True},
    )
    event = (
        await client.v1.events.list_async(params={"type": "customer.subscription.updated"})
    ).data[0]
    prev = event.data.previous_attributes
    assert prev is not None and prev["cancel_at_period_end"] is False
    assert prev["items"]["data"][0]["price"]["id"] != business.id
    assert event.data.object["items"]["data"][0]["price"]["id"] == business.id
    await emu.control("POST", f"/_emulator/subscriptions/{sub_id}/update", {"status": "canceled"})
    last = (await client.v1.events.list_async(params={"limit": 1})).data[0]
    assert last.type == "customer.subscription.deleted"
    assert last.data.object["status"] == "canceled"


async def test_pause_keeps_events_listed_and_resume_delivers(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    await emu.control("POST", "/_emulator/webhooks/pause")
    ids = [(await client.v1.customers.create_async(params={"name": str(i)})).id for i in range(3)]
    await asyncio.sleep(0.2)
    assert sink.received == []
    pending = await client.v1.events.list_async(params={"delivery_success": False})
    assert [e.data.object["id"] for e in pending.data] == ids[::-1]
    assert all(e.pending_webhooks == 1 for e in pending.data)
    await emu.control("POST", "/_emulator/webhooks/resume")
    await sink.wait_for(3)
    await emu.wait_webhooks_idle()
    assert [e.data.object["id"] for e in verified(sink)] == ids
    done = await client.v1.events.list_async(params={"delivery_success": True})
    assert len(done.data) == 3
    assert (await client.v1.events.list_async(params={"delivery_success": False})).data == []


async def test_failed_deliveries_are_retried_with_backoff(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    sink.statuses = [500, 503]
    await client.v1.customers.create_async()
    await sink.wait_for(1)
    await emu.wait_webhooks_idle()
    log = await emu.deliveries()
    assert [(d["attempt"], d["status_code"], d["ok"]) for d in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    # base 0.05 s: each retry waits at least base * 2**(attempt - 1) after the failure.
    assert log[1]["at"] - log[0]["at"] >= 0.05 * 0.95
    assert log[2]["at"] - log[1]["at"] >= 0.10 * 0.95


async def test_delivery_gives_up_after_max_attempts(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    sink.statuses = [500] * 10
    await client.v1.customers.create_async()
    await asyncio.sleep(0.05)
    await emu.wait_webhooks_idle()
    assert len(await emu.deliveries()) == 4
    failed = await client.v1.events.list_async(params={"delivery_success": False})
    assert len(failed.data) == 1


async def test_fault_injection_drop_duplicate_reorder(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    await emu.configure(delivery_faults={"drop_next": 1, "seed": 7})
    dropped = await client.v1.customers.create_async()
    kept = await client.v1.customers.create_async()
    await sink.wait_for(1)
    await emu.wait_webhooks_idle()
    assert [e.data.object["id"] for e in verified(sink)] == [kept.id]
    assert (await emu.deliveries())[0]["fault"] == "drop"
    lost = await client.v1.events.list_async(params={"delivery_success": False})
    assert [e.data.object["id"] for e in lost.data] == [dropped.id]

    sink.clear()
    await emu.configure(delivery_faults={"duplicate_next": 1})
    twice = await client.v1.customers.create_async()
    await sink.wait_for(2)
    assert [e.data.object["id"] for e in verified(sink)] == [twice.id, twice.id]

    sink.clear()
    await emu.configure(delivery_faults={"reorder_next": 1})
    a = await client.v1.customers.create_async()
    b = await client.v1.customers.create_async()
    await sink.wait_for(2)
    assert [e.data.object["id"] for e in verified(sink)] == [b.id, a.id]


async def test_fault_probabilities_are_reproducible(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    outcomes = []
    for _ in range(2):
        await emu.reset()
        await emu.configure(delivery_faults={"seed": 42, "drop": 0.5})
        for _ in range(8):
            await client.v1.customers.create_async()
        await asyncio.sleep(0.05)
        await emu.wait_webhooks_idle()
        outcomes.append([d["fault"] for d in await emu.deliveries()])
    assert outcomes[0] == outcomes[1] and "drop" in outcomes[0] and None in outcomes[0]


async def test_delay_fault_and_concurrency(
    client: stripe.StripeClient, emu: EmulatorServer, sink: WebhookSink
) -> None:
    await emu.configure(
        delivery_faults={"delay_next": 1, "delay_seconds": 0.3}, delivery_concurrency=8
    )
    late = await client.v1.customers.create_async()
    early = await client.v1.customers.create_async()
    await sink.wait_for(2)
    assert [e.data.object["id"] for e in verified(sink)] == [early.id, late.id]


async def test_webhook_payload_is_the_event(client: stripe.StripeClient, sink: WebhookSink) -> None:
    cus = await client.v1.customers.create_async(params={"email": "p@x.io"})
    await sink.wait_for(1)
    body = json.loads(sink.received[0]["body"])
    stored = await client.v1.events.retrieve_async(body["id"])
    assert body["data"]["object"]["id"] == cus.id
    assert body["type"] == stored.type == "customer.created"
    assert body["request"]["id"] and body["livemode"] is False
