"""The hosted Billing Portal page: each action changes the account and emits Stripe's events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from emu_support import all_events, check, price_for

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


async def _subscribed(client: stripe.StripeClient) -> tuple[str, str, str]:
    """A customer with a paid pro monthly subscription and an open portal session."""
    price = await price_for(client)
    cus = await client.v1.customers.create_async(params={"email": "portal@example.com"})
    sub = await client.v1.subscriptions.create_async(
        params={"customer": cus.id, "items": [{"price": price.id}]}
    )
    portal = await client.v1.billing_portal.sessions.create_async(
        params={"customer": cus.id, "return_url": "https://app.test/billing"}
    )
    return cus.id, sub.id, portal.url


async def _act(url: str, **form: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{url}/action", data=form)


async def _new_events(emu: EmulatorServer, before: int) -> list[dict[str, Any]]:
    """Events after the first `before`, oldest first, as raw JSON (the SDK turns decimals)."""
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    async with httpx.AsyncClient(base_url=emu.url, headers=headers) as http:
        page = (await http.get("/v1/events", params={"limit": 100})).json()
    return list(reversed(page["data"]))[before:]


async def test_switch_is_one_subscription_update_without_an_invoice(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    _, sub_id, url = await _subscribed(client)
    business = await price_for(client, "business", "monthly")
    before = len(await all_events(client))
    done = await _act(url, action="switch", subscription=sub_id, price=business.id)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=switched")
    events = await _new_events(emu, before)
    # The portal's default configuration does not prorate: no invoice.* events.
    assert [e["type"] for e in events] == ["customer.subscription.updated"]
    update = events[0]["data"]
    assert update["object"]["items"]["data"][0]["price"]["id"] == business.id
    assert update["previous_attributes"]["items"]["data"][0]["price"]["id"] != business.id
    check(update["object"], "subscription")
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{url}?done=switched")
    assert "Your plan was updated." in page.text and "Business" in page.text


async def test_cancel_at_period_end_then_resume(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    _, sub_id, url = await _subscribed(client)
    before = len(await all_events(client))
    await _act(url, action="cancel", subscription=sub_id)
    await _act(url, action="resume", subscription=sub_id)
    events = await _new_events(emu, before)
    assert [e["type"] for e in events] == ["customer.subscription.updated"] * 2
    canceled, resumed = (e["data"] for e in events)
    assert canceled["object"]["cancel_at_period_end"] is True
    assert canceled["previous_attributes"]["cancel_at_period_end"] is False
    assert canceled["object"]["cancel_at"] == canceled["object"]["items"]["data"][0][
        "current_period_end"
    ]
    assert resumed["object"]["cancel_at_period_end"] is False
    assert resumed["object"]["status"] == "active"


async def test_cancel_now_deletes_the_subscription(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    _, sub_id, url = await _subscribed(client)
    before = len(await all_events(client))
    done = await _act(url, action="cancel_now", subscription=sub_id)
    assert done.headers["location"].endswith("?done=canceled_now")
    events = await _new_events(emu, before)
    assert [e["type"] for e in events] == ["customer.subscription.deleted"]
    assert events[0]["data"]["object"]["status"] == "canceled"
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
    assert "No active subscriptions." in page.text


async def test_update_card_attaches_it_and_makes_it_the_default(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus_id, sub_id, url = await _subscribed(client)
    before = len(await all_events(client))
    done = await _act(url, action="update_card", card="5555555555554444")
    assert done.headers["location"].endswith("?done=card_updated")
    events = await _new_events(emu, before)
    assert [e["type"] for e in events] == ["payment_method.attached", "customer.updated"]
    method = events[0]["data"]["object"]
    check(method, "payment_method")
    assert method["customer"] == cus_id and method["card"]["last4"] == "4444"
    customer = events[1]["data"]
    assert customer["object"]["invoice_settings"]["default_payment_method"] == method["id"]
    assert customer["previous_attributes"] == {
        "invoice_settings": {"default_payment_method": None}
    }
    check(customer["object"], "customer")
    retrieved = await client.v1.customers.retrieve_async(cus_id)
    assert retrieved.invoice_settings is not None
    assert retrieved.invoice_settings.default_payment_method == method["id"]
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
    assert "Mastercard •••• 4444" in page.text

    # A subscription that names its own default card (as Checkout's do) gets the new one too.
    card_id = method["id"]
    await emu.call(
        lambda e: e.store.tables["subscriptions"][sub_id].update(default_payment_method=card_id)
    )
    before = len(await all_events(client))
    await _act(url, action="update_card", card="4000056655665556")
    events = await _new_events(emu, before)
    assert [e["type"] for e in events] == [
        "payment_method.attached",
        "customer.updated",
        "customer.subscription.updated",
    ]
    newest = events[0]["data"]["object"]["id"]
    assert events[2]["data"]["object"]["default_payment_method"] == newest
    assert events[2]["data"]["previous_attributes"] == {"default_payment_method": method["id"]}

    unknown = await _act(url, action="update_card", card="4000000000000002")
    assert unknown.status_code == 400


async def test_another_customers_subscription_is_refused(client: stripe.StripeClient) -> None:
    _, _, url = await _subscribed(client)
    _, other_sub, _ = await _subscribed(client)
    refused = await _act(url, action="cancel_now", subscription=other_sub)
    assert refused.status_code == 403
    assert (await client.v1.subscriptions.retrieve_async(other_sub)).status == "active"
