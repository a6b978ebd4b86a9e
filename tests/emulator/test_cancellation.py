"""Cancelling at once with `prorate` / `invoice_now`, and the balance credit that follows."""

from __future__ import annotations

import pytest
import stripe
from emu_support import all_events, price_for

from stripe_emulator.core import Emulator
from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio

DAY = 86400


async def half_used(
    client: stripe.StripeClient, emu: EmulatorServer, plan: str = "pro"
) -> tuple[stripe.Customer, stripe.Subscription, int]:
    """A paid monthly subscription moved to the middle of a 30-day period; returns the credit
    its unused half is worth."""
    price = await price_for(client, plan)
    cus = await client.v1.customers.create_async()
    sub = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": price.id}]}
    )

    def shift(e: Emulator) -> None:
        item = e.store.tables["subscriptions"][sub.id]["items"]["data"][0]
        middle = item["current_period_start"]
        item["current_period_start"] = middle - 15 * DAY
        item["current_period_end"] = middle + 15 * DAY

    await emu.call(shift)
    return cus, sub, (price.unit_amount or 0) // 2


async def test_prorate_and_invoice_now_credit_the_balance(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus, sub, credit = await half_used(client, emu)
    before = len(await all_events(client))
    canceled = await client.v1.subscriptions.cancel_async(
        sub.id, params={"prorate": True, "invoice_now": True}
    )
    assert canceled.status == "canceled" and canceled.latest_invoice != sub.latest_invoice
    events = (await all_events(client))[before:]
    assert [e.type for e in events] == [
        "invoice.created",
        "invoice.finalized",
        "customer.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.deleted",
    ]
    balance = (await client.v1.customers.retrieve_async(cus.id)).balance
    # The request takes a moment: the unused time is at most a second's worth smaller.
    assert balance is not None and -credit <= balance <= -credit + 1
    assert events[2].data.previous_attributes is not None
    assert events[2].data.previous_attributes.to_dict() == {"balance": 0}
    final = await client.v1.invoices.retrieve_async(str(canceled.latest_invoice))
    assert final.status == "paid" and final.amount_due == 0 and final.amount_paid == 0
    assert final.total == balance and final.ending_balance == balance
    assert final.billing_reason == "subscription_update"
    line = final.lines.data[0]
    assert line.amount == balance and line.description
    assert line.description.startswith("Unused time on 1 × FormSandbox Pro")
    assert line.parent and line.parent.subscription_item_details
    details = line.parent.subscription_item_details
    assert details.proration is True and details.proration_details
    credited = details.proration_details.credited_items
    assert credited is not None and credited.invoice == sub.latest_invoice


async def test_cancel_without_prorate_gives_no_credit(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus, sub, _ = await half_used(client, emu)
    before = len(await all_events(client))
    canceled = await client.v1.subscriptions.cancel_async(sub.id, params={"invoice_now": True})
    assert canceled.latest_invoice == sub.latest_invoice
    assert [e.type for e in (await all_events(client))[before:]] == [
        "customer.subscription.deleted"
    ]
    assert (await client.v1.customers.retrieve_async(cus.id)).balance == 0
    invoices = await client.v1.invoices.list_async(params={"customer": cus.id})
    assert len(invoices.data) == 1


async def test_prorate_alone_credits_the_next_invoice(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus, sub, credit = await half_used(client, emu)
    await client.v1.subscriptions.cancel_async(sub.id, params={"prorate": True})
    assert (await client.v1.customers.retrieve_async(cus.id)).balance == 0
    assert len((await client.v1.invoices.list_async(params={"customer": cus.id})).data) == 1
    business = await price_for(client, "business")
    new = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": business.id}]}
    )
    inv = await client.v1.invoices.retrieve_async(str(new.latest_invoice))
    assert [line.amount > 0 for line in inv.lines.data] == [True, False]
    assert inv.total == (business.unit_amount or 0) + inv.lines.data[1].amount
    assert -credit <= inv.lines.data[1].amount <= -credit + 1
    assert inv.status == "paid" and inv.amount_paid == inv.total


async def test_balance_credit_pays_the_next_invoices(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus, sub, _ = await half_used(client, emu, "business")  # a 2500 credit
    await client.v1.subscriptions.cancel_async(
        sub.id, params={"prorate": True, "invoice_now": True}
    )
    balance = (await client.v1.customers.retrieve_async(cus.id)).balance
    pro = await price_for(client)  # 2000: the credit covers it all
    covered = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": pro.id}], "expand": ["latest_invoice"]}
    )
    inv = covered.latest_invoice
    assert covered.status == "active" and isinstance(inv, stripe.Invoice)
    assert inv.status == "paid" and inv.amount_due == 0 and inv.amount_paid == 0
    assert inv.starting_balance == balance and inv.ending_balance == balance + 2000
    payments = await client.v1.invoice_payments.list_async(params={"invoice": inv.id})
    assert payments.data == []  # nothing to charge
    left = (await client.v1.customers.retrieve_async(cus.id)).balance
    assert left == balance + 2000
    partly = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": pro.id}], "expand": ["latest_invoice"]}
    )
    inv = partly.latest_invoice
    assert isinstance(inv, stripe.Invoice)
    assert inv.amount_due == 2000 + left and inv.amount_paid == inv.amount_due
    assert inv.ending_balance == 0
    assert (await client.v1.customers.retrieve_async(cus.id)).balance == 0


async def test_trialing_or_incomplete_subscriptions_earn_no_credit(
    client: stripe.StripeClient,
) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async()
    trial = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": price.id}], "trial_period_days": 7}
    )
    waiting = await client.v1.subscriptions.create_async(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
        }
    )
    for sub in (trial, waiting):
        await client.v1.subscriptions.cancel_async(
            sub.id, params={"prorate": True, "invoice_now": True}
        )
    assert (await client.v1.customers.retrieve_async(cus.id)).balance == 0
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.subscriptions.cancel_async(trial.id)
