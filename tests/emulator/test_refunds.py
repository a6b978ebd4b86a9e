"""Invoice payments (PaymentIntent → charge) and refunds of them, with Stripe's limits."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from emu_support import all_events, open_session, price_for

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


async def paid_intent(
    client: stripe.StripeClient, emu: EmulatorServer, outcome: str = "paid"
) -> tuple[stripe.Invoice, stripe.PaymentIntent]:
    """A checkout completed with `outcome`; its first invoice and that invoice's intent."""
    price = await price_for(client)
    session = await open_session(client, price.id)
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": outcome}
    )
    sub = await client.v1.subscriptions.retrieve_async(done["subscription"])
    inv = await client.v1.invoices.retrieve_async(
        str(sub.latest_invoice), params={"expand": ["payments.data.payment.payment_intent"]}
    )
    assert inv.payments is not None and len(inv.payments.data) == 1
    intent = inv.payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    return inv, intent


async def test_a_paid_invoice_links_to_its_payment(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    inv, intent = await paid_intent(client, emu)
    row = inv.payments.data[0]  # type: ignore[union-attr]
    assert (row.status, row.is_default, row.invoice) == ("paid", True, inv.id)
    assert row.amount_paid == row.amount_requested == inv.amount_paid
    assert row.payment.type == "payment_intent"
    assert (intent.status, intent.amount, intent.amount_received) == (
        "succeeded",
        inv.amount_paid,
        inv.amount_paid,
    )
    assert intent.customer == inv.customer and intent.description == "Subscription creation"
    plain = await client.v1.invoices.retrieve_async(inv.id)
    assert "payments" not in plain  # includable only
    listed = await client.v1.invoice_payments.list_async(params={"invoice": inv.id})
    assert [p.id for p in listed.data] == [row.id]
    by_intent = await client.v1.invoice_payments.list_async(
        params={"payment": {"type": "payment_intent", "payment_intent": intent.id}}
    )
    assert [p.id for p in by_intent.data] == [row.id]
    got = await client.v1.payment_intents.retrieve_async(
        intent.id, params={"expand": ["latest_charge"]}
    )
    charge = got.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.status, charge.paid, charge.captured, charge.refunded) == (
        "succeeded",
        True,
        True,
        False,
    )
    assert charge.amount == charge.amount_captured == inv.amount_paid
    assert charge.payment_intent == intent.id and charge.customer == inv.customer
    assert charge.payment_method_details and charge.payment_method_details.type == "card"
    charges = await client.v1.charges.list_async(params={"payment_intent": intent.id})
    assert [c.id for c in charges.data] == [charge.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.payment_intents.retrieve_async("pi_nope")
    assert info.value.http_status == 404
    assert info.value.user_message == "No such payment_intent: 'pi_nope'"


async def test_full_refund_then_refunding_again_is_refused(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    inv, intent = await paid_intent(client, emu)
    before = len(await all_events(client))
    refund = await client.v1.refunds.create_async(
        params={"payment_intent": intent.id, "reason": "requested_by_customer"}
    )
    assert (refund.amount, refund.status, refund.reason) == (
        inv.amount_paid,
        "succeeded",
        "requested_by_customer",
    )
    assert refund.payment_intent == intent.id and refund.charge == intent.latest_charge
    events = (await all_events(client))[before:]
    assert [e.type for e in events] == ["refund.created", "charge.refunded"]
    assert events[0].data.object["id"] == refund.id
    assert events[1].data.object["amount_refunded"] == inv.amount_paid
    assert events[1].data.previous_attributes is not None
    assert events[1].data.previous_attributes.to_dict() == {
        "amount_refunded": 0,
        "refunded": False,
    }
    charge = await client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert charge.refunded is True and charge.amount_refunded == charge.amount
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert info.value.http_status == 400 and info.value.code == "charge_already_refunded"
    assert info.value.user_message == f"Charge {charge.id} has already been refunded."
    assert (await client.v1.refunds.retrieve_async(refund.id)).amount == refund.amount
    listed = await client.v1.refunds.list_async(params={"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [refund.id]
    # Refunding leaves the invoice paid, as in Stripe (no credit note is involved).
    assert (await client.v1.invoices.retrieve_async(inv.id)).status == "paid"


async def test_partial_refunds_stop_at_the_charge_amount(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    _, intent = await paid_intent(client, emu)  # 2000 cents
    charge_id = str(intent.latest_charge)
    first = await client.v1.refunds.create_async(params={"charge": charge_id, "amount": 500})
    assert first.amount == 500
    charge = await client.v1.charges.retrieve_async(charge_id)
    assert charge.amount_refunded == 500 and charge.refunded is False
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.refunds.create_async(params={"charge": charge_id, "amount": 1501})
    assert info.value.http_status == 400 and info.value.param == "amount"
    assert info.value.user_message == (
        "Refund amount ($15.01) is greater than unrefunded amount on charge ($15.00)"
    )
    rest = await client.v1.refunds.create_async(params={"charge": charge_id})
    assert rest.amount == 1500
    listed = await client.v1.refunds.list_async(params={"charge": charge_id})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    types = [e.type for e in await all_events(client)]
    assert types.count("charge.refunded") == 2 and types.count("refund.created") == 2


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({}, None, None),
        ({"payment_intent": "PI", "charge": "CH"}, None, None),
        ({"payment_intent": "pi_nope"}, "payment_intent", "resource_missing"),
        ({"charge": "ch_nope"}, "charge", "resource_missing"),
        ({"charge": "CH", "amount": 0}, "amount", "parameter_invalid_integer"),
        ({"charge": "CH", "amount": 5000}, "amount", "amount_too_large"),
        ({"charge": "CH", "reason": "bored"}, "reason", None),
        ({"charge": "CH", "currency": "eur"}, "currency", None),
        ({"charge": "CH", "instructions_email": "a@b.c"}, "instructions_email", None),
    ],
)
async def test_refund_errors(
    client: stripe.StripeClient,
    emu: EmulatorServer,
    params: dict[str, Any],
    param: str | None,
    code: str | None,
) -> None:
    _, intent = await paid_intent(client, emu)
    ids = {"PI": intent.id, "CH": str(intent.latest_charge)}
    filled = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.refunds.create_async(params=filled)  # type: ignore[arg-type]
    assert info.value.http_status == 400
    assert info.value.param == param
    if code:
        assert info.value.code == code
    assert (await client.v1.refunds.list_async()).data == []


async def test_declined_payment_then_retried_on_the_same_intent(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    inv, intent = await paid_intent(client, emu, "incomplete")
    assert inv.status == "open" and inv.payments and inv.payments.data[0].status == "open"
    assert intent.status == "requires_payment_method" and intent.last_payment_error
    assert intent.last_payment_error.code == "card_declined"
    declined = await client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert (declined.status, declined.paid, declined.failure_code) == (
        "failed",
        False,
        "card_declined",
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert info.value.param == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async(params={"charge": declined.id})
    sub_id = inv.parent.subscription_details.subscription  # type: ignore[union-attr]
    await emu.control("POST", f"/_emulator/subscriptions/{sub_id}/invoice", {"paid": True})
    again = await client.v1.payment_intents.retrieve_async(intent.id)
    assert again.status == "succeeded" and again.latest_charge != declined.id
    assert again.last_payment_error is None
    charges = await client.v1.charges.list_async(params={"payment_intent": intent.id})
    assert [c.status for c in charges.data] == ["succeeded", "failed"]
    refund = await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert refund.charge == again.latest_charge
