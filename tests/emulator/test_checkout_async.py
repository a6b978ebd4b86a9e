"""Checkout expiry, paying an expired session, and bank debits that settle later."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from emu_support import all_events, event_types, open_session, price_for

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio

EXPIRE_ERROR = 'Only Checkout Sessions with a status in ["open"] can be expired.'


async def control(emu: EmulatorServer, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=emu.url, headers=emu.control_headers) as h:
        return await h.post(f"/_emulator/{path}", json=body)


async def test_expire_only_an_open_session(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await open_session(client, price.id)
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired" and expired.url is None
    event = (await all_events(client))[-1]
    assert event.type == "checkout.session.expired"
    assert event.data.object["id"] == session.id
    assert expired.last_response is not None and event.request is not None
    assert event.request.id == expired.last_response.request_id
    with pytest.raises(stripe.InvalidRequestError) as again:
        await client.v1.checkout.sessions.expire_async(session.id)
    assert again.value.http_status == 400 and again.value.user_message == EXPIRE_ERROR

    done = await open_session(client, price.id)
    await emu.control("POST", f"/_emulator/checkout/sessions/{done.id}/complete", {})
    with pytest.raises(stripe.InvalidRequestError) as completed:
        await client.v1.checkout.sessions.expire_async(done.id)
    assert completed.value.http_status == 400
    assert completed.value.error is not None
    assert completed.value.error.type == "invalid_request_error"
    assert completed.value.user_message == EXPIRE_ERROR
    still = await client.v1.checkout.sessions.retrieve_async(done.id)
    assert still.status == "complete"


async def test_an_expired_session_cannot_be_paid(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await open_session(client, price.id)
    url = session.url
    assert url
    await client.v1.checkout.sessions.expire_async(session.id)
    for outcome in ("paid", "incomplete", "processing"):
        resp = await control(emu, f"checkout/sessions/{session.id}/complete", {"outcome": outcome})
        assert resp.status_code == 400
        err = resp.json()["error"]
        assert err["type"] == "invalid_request_error" and "expired" in err["message"]
    async with httpx.AsyncClient() as h:
        page = await h.get(url)
        assert page.status_code == 410 and "expired" in page.text
        for action in ("pay", "bank_debit", "decline"):
            resp = await h.post(f"{url}/{action}")
            assert resp.status_code == 410 and "expired" in resp.text
            assert "location" not in resp.headers
    counts = await emu.counts()
    assert "subscriptions" not in counts and "invoices" not in counts
    assert await event_types(client) == ["checkout.session.expired"]


async def test_bank_debit_processing_then_succeeds(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async(params={"email": "bank@x.io"})
    session = await open_session(client, price.id, cus.id)
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "processing"}
    )
    assert (done["status"], done["payment_status"]) == ("complete", "unpaid")
    sub = await client.v1.subscriptions.retrieve_async(
        done["subscription"], params={"expand": ["latest_invoice"]}
    )
    inv = sub.latest_invoice
    assert sub.status == "incomplete" and isinstance(inv, stripe.Invoice)
    assert inv.status == "open" and inv.attempted and inv.next_payment_attempt is None
    payments = await client.v1.invoice_payments.list_async(params={"invoice": inv.id})
    assert [p.status for p in payments.data] == ["open"]
    pi_id = payments.data[0].payment.payment_intent
    assert isinstance(pi_id, str)
    intent = await client.v1.payment_intents.retrieve_async(
        pi_id, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "processing" and intent.payment_method_types == ["us_bank_account"]
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge) and charge.status == "pending" and not charge.paid
    assert await event_types(client, after=1) == [
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "checkout.session.completed",
    ]

    settled = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/settle", {"succeeded": True}
    )
    assert settled["payment_status"] == "paid"
    events = (await all_events(client))[5:]
    assert [e.type for e in events] == [
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
        "checkout.session.async_payment_succeeded",
    ]
    assert events[2].data.previous_attributes is not None
    assert events[2].data.previous_attributes.to_dict() == {"status": "incomplete"}
    assert events[2].data.object["status"] == "active"
    assert events[3].data.object["payment_status"] == "paid"
    after = await client.v1.subscriptions.retrieve_async(sub.id)
    assert after.status == "active"
    paid_inv = await client.v1.invoices.retrieve_async(inv.id)
    assert paid_inv.status == "paid" and paid_inv.amount_paid == price.unit_amount
    intent = await client.v1.payment_intents.retrieve_async(pi_id)
    assert intent.status == "succeeded" and intent.amount_received == price.unit_amount
    paid_charge = await client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert paid_charge.status == "succeeded" and paid_charge.paid
    row = await client.v1.invoice_payments.retrieve_async(payments.data[0].id)
    assert row.status == "paid" and row.amount_paid == price.unit_amount
    again = await control(emu, f"checkout/sessions/{session.id}/settle", {"succeeded": True})
    assert again.status_code == 400


async def test_bank_debit_failure_expires_the_subscription(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client, "business", "yearly")
    session = await open_session(client, price.id)
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "processing"}
    )
    before = len(await all_events(client))
    settled = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/settle", {"succeeded": False}
    )
    assert (settled["status"], settled["payment_status"]) == ("complete", "unpaid")
    events = (await all_events(client))[before:]
    assert [e.type for e in events] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
        "checkout.session.async_payment_failed",
    ]
    assert events[1].data.previous_attributes is not None
    assert events[1].data.previous_attributes["status"] == "incomplete"
    sub = await client.v1.subscriptions.retrieve_async(done["subscription"])
    assert sub.status == "incomplete_expired" and sub.ended_at
    inv = await client.v1.invoices.retrieve_async(str(sub.latest_invoice))
    assert inv.status == "open" and inv.amount_paid == 0 and inv.next_payment_attempt is None
    payments = await client.v1.invoice_payments.list_async(params={"invoice": inv.id})
    intent = await client.v1.payment_intents.retrieve_async(
        str(payments.data[0].payment.payment_intent)
    )
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.code == "insufficient_funds"
    charge = await client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert charge.status == "failed" and charge.failure_code == "insufficient_funds"
    # An ended subscription cannot be invoiced again.
    resp = await control(emu, f"subscriptions/{sub.id}/invoice", {"paid": True})
    assert resp.status_code == 400


async def test_settle_needs_a_debit_in_flight(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await open_session(client, price.id)
    opened = await control(emu, f"checkout/sessions/{session.id}/settle", {"succeeded": True})
    assert opened.status_code == 400 and "processing" in opened.json()["error"]["message"]
    await emu.control("POST", f"/_emulator/checkout/sessions/{session.id}/complete", {})
    paid = await control(emu, f"checkout/sessions/{session.id}/settle", {"succeeded": False})
    assert paid.status_code == 400
    missing = await control(emu, f"checkout/sessions/{session.id}/settle", {})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "succeeded"
    unknown = await control(emu, "checkout/sessions/cs_test_nope/settle", {"succeeded": True})
    assert unknown.status_code == 404
    bad = await control(emu, f"checkout/sessions/{session.id}/complete", {"outcome": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "outcome"


async def test_renewal_waits_for_a_debit_in_flight(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await open_session(client, price.id)
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "processing"}
    )
    resp = await control(emu, f"subscriptions/{done['subscription']}/invoice", {"paid": True})
    assert resp.status_code == 400 and "processing" in resp.json()["error"]["message"]


async def test_hosted_page_bank_debit_and_cancel(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await open_session(client, price.id)
    assert session.url
    async with httpx.AsyncClient() as h:
        page = await h.get(session.url)
        assert page.status_code == 200
        for label in (">Pay<", ">Pay by bank debit<", ">Decline<", ">Cancel<"):
            assert label in page.text
        assert "href='https://app.test/cancel'" in page.text
        debit = await h.post(f"{session.url}/bank_debit")
        assert debit.status_code == 303
        assert debit.headers["location"] == f"https://app.test/ok?session_id={session.id}"
        closed = await h.post(f"{session.url}/pay")
        assert closed.status_code == 409
    done = await client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["subscription"]}
    )
    assert (done.status, done.payment_status) == ("complete", "unpaid")
    assert isinstance(done.subscription, stripe.Subscription)
    assert done.subscription.status == "incomplete"
