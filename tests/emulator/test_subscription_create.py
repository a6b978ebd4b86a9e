"""`POST /v1/subscriptions`: paid at once by default, default_incomplete, trials, errors."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from emu_support import all_events, event_types, price_for

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio

ITEM_QTY = "items[0][quantity]"
FIRST_INVOICE_PAID = [
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
]


async def test_created_subscription_is_paid_at_once(client: stripe.StripeClient) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async(params={"email": "direct@x.io"})
    before = len(await all_events(client))
    sub = await client.v1.subscriptions.create_async(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "metadata": {"workspace_id": "ws_1"},
            "expand": ["latest_invoice"],
        },
        options={"idempotency_key": "create-sub-1"},
    )
    assert sub.status == "active" and sub.customer == cus.id
    assert sub.metadata.to_dict() == {"workspace_id": "ws_1"}
    item = sub["items"].data[0]
    assert item.quantity == 1 and item.price.id == price.id
    assert item.current_period_end > item.current_period_start == sub.start_date
    inv = sub.latest_invoice
    assert isinstance(inv, stripe.Invoice)
    assert inv.status == "paid" and inv.amount_paid == price.unit_amount
    assert inv.billing_reason == "subscription_create"
    events = (await all_events(client))[before:]
    assert [e.type for e in events] == FIRST_INVOICE_PAID
    assert sub.last_response is not None
    assert all(e.request and e.request.id == sub.last_response.request_id for e in events)
    assert all(e.request and e.request.idempotency_key == "create-sub-1" for e in events)
    again = await client.v1.subscriptions.create_async(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "metadata": {"workspace_id": "ws_1"},
            "expand": ["latest_invoice"],
        },
        options={"idempotency_key": "create-sub-1"},
    )
    assert again.id == sub.id
    assert len(await all_events(client)) == before + len(FIRST_INVOICE_PAID)
    listed = await client.v1.subscriptions.list_async(params={"customer": cus.id})
    assert [s.id for s in listed.data] == [sub.id]


async def test_default_incomplete_waits_for_confirmation(client: stripe.StripeClient) -> None:
    price = await price_for(client, "business", "monthly")
    cus = await client.v1.customers.create_async()
    sub = await client.v1.subscriptions.create_async(
        params={
            "customer": cus.id,
            "items": [{"price": price.id, "quantity": 2}],
            "payment_behavior": "default_incomplete",
        }
    )
    assert sub.status == "incomplete"
    inv = await client.v1.invoices.retrieve_async(
        str(sub.latest_invoice), params={"expand": ["payments.data.payment.payment_intent"]}
    )
    assert inv.status == "open" and inv.amount_due == 2 * (price.unit_amount or 0)
    assert not inv.attempted and inv.payments is not None
    intent = inv.payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.status == "requires_payment_method" and intent.latest_charge is None
    assert intent.amount == inv.amount_due and intent.customer == cus.id
    assert await event_types(client, after=1) == FIRST_INVOICE_PAID[:3]


async def test_trial_is_free_then_billed(client: stripe.StripeClient, emu: EmulatorServer) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async()
    sub = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": price.id}], "trial_period_days": 14}
    )
    assert sub.status == "trialing" and sub.trial_start and sub.trial_end
    assert sub.trial_end - sub.trial_start == 14 * 86400
    assert sub["items"].data[0].current_period_end == sub.trial_end
    inv = await client.v1.invoices.retrieve_async(
        str(sub.latest_invoice), params={"expand": ["payments"]}
    )
    assert inv.status == "paid" and inv.total == 0 and inv.amount_paid == 0
    assert inv.lines.data[0].description and inv.lines.data[0].description.startswith("Trial")
    assert inv.payments is not None and inv.payments.data == []
    assert await event_types(client, after=1) == FIRST_INVOICE_PAID
    renewed = await emu.control("POST", f"/_emulator/subscriptions/{sub.id}/invoice", {})
    assert renewed["subscription"]["status"] == "active"
    assert renewed["invoice"]["amount_paid"] == price.unit_amount
    assert renewed["invoice"]["period_start"] == sub.trial_end


@pytest.mark.parametrize(
    ("params", "status", "param", "code"),
    [
        ({"items": [{"price": "X"}]}, 400, "customer", "parameter_missing"),
        ({"customer": "cus_nope", "items": [{"price": "X"}]}, 400, "customer", "resource_missing"),
        ({"customer": "C"}, 400, "items", "parameter_missing"),
        ({"customer": "C", "items": [{"price": "price_nope"}]}, 400, "items[0][price]", None),
        ({"customer": "C", "items": [{"price": "X", "quantity": 0}]}, 400, ITEM_QTY, None),
        ({"customer": "C", "items": [{"price": "X"}], "payment_behavior": "x"}, 400, None, None),
        ({"customer": "C", "items": [{"price": "X"}], "days_until_due": 3}, 400, None, None),
        ({"customer": "C", "items": [{"price": "X"}], "trial_period_days": 999}, 400, None, None),
    ],
)
async def test_create_errors(
    client: stripe.StripeClient,
    params: dict[str, Any],
    status: int,
    param: str | None,
    code: str | None,
) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async()
    filled: dict[str, Any] = {
        k: cus.id if v == "C" else v for k, v in params.items() if k != "items"
    }
    if "items" in params:
        filled["items"] = [
            {k: price.id if v == "X" else v for k, v in item.items()} for item in params["items"]
        ]
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.subscriptions.create_async(params=filled)  # type: ignore[arg-type]
    assert info.value.http_status == status
    if param:
        assert info.value.param == param
    if code:
        assert info.value.code == code
    assert (await client.v1.subscriptions.list_async(params={"status": "all"})).data == []


async def test_one_time_price_is_refused(client: stripe.StripeClient) -> None:
    prod = await client.v1.products.create_async(params={"name": "Setup fee"})
    once = await client.v1.prices.create_async(
        params={"product": prod.id, "currency": "usd", "unit_amount": 500}
    )
    cus = await client.v1.customers.create_async()
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.subscriptions.create_async(
            params={"customer": cus.id, "items": [{"price": once.id}]}
        )
    assert info.value.param == "items[0][price]" and "recurring" in str(info.value.user_message)
