"""Customers, catalog, checkout and portal sessions, subscriptions and invoices via the SDK."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio

PriceFor = Callable[..., Awaitable[stripe.Price]]


async def checkout(
    client: stripe.StripeClient, price: str, customer: str | None = None, **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://app.test/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.test/cancel",
        **extra,
    }
    if customer:
        params["customer"] = customer
    return await client.v1.checkout.sessions.create_async(params=params)  # type: ignore[arg-type]


async def subscribe(
    client: stripe.StripeClient, emu: EmulatorServer, price: str, outcome: str = "paid"
) -> tuple[stripe.Customer, stripe.Subscription]:
    cus = await client.v1.customers.create_async(params={"email": "s@x.io"})
    session = await checkout(client, price, cus.id, subscription_data={"metadata": {"ws": "w1"}})
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": outcome}
    )
    sub = await client.v1.subscriptions.retrieve_async(done["subscription"])
    return cus, sub


async def test_customer_lifecycle(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async(
        params={"email": "a@x.io", "name": "A", "metadata": {"k": "v", "drop": "x"}}
    )
    assert cus.id.startswith("cus_") and cus.object == "customer"
    upd = await client.v1.customers.update_async(
        cus.id, params={"name": "B", "metadata": {"drop": "", "new": "1"}}
    )
    assert upd.name == "B" and upd.metadata is not None
    assert upd.metadata.to_dict() == {"k": "v", "new": "1"}
    listed = await client.v1.customers.list_async(params={"email": "a@x.io"})
    assert [c.id for c in listed.data] == [cus.id]
    deleted = await client.v1.customers.delete_async(cus.id)
    assert deleted.deleted is True
    again = await client.v1.customers.retrieve_async(cus.id)
    assert again.to_dict() == {"id": cus.id, "object": "customer", "deleted": True}
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.customers.update_async(cus.id, params={"name": "C"})
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


async def test_products_and_prices(client: stripe.StripeClient) -> None:
    prod = await client.v1.products.create_async(params={"name": "Extra", "metadata": {"a": "1"}})
    price = await client.v1.prices.create_async(
        params={
            "product": prod.id,
            "currency": "usd",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
            "lookup_key": "extra",
            "metadata": {"m": "1"},
        }
    )
    assert price.type == "recurring" and price.recurring and price.recurring.interval == "month"
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.prices.create_async(
            params={
                "product": prod.id,
                "currency": "usd",
                "unit_amount": 1000,
                "recurring": {"interval": "month"},
                "lookup_key": "extra",
            }
        )
    assert info.value.param == "lookup_key"
    moved = await client.v1.prices.create_async(
        params={
            "product": prod.id,
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
            "lookup_key": "extra",
            "transfer_lookup_key": True,
        }
    )
    old = await client.v1.prices.retrieve_async(price.id, params={"expand": ["product"]})
    assert old.lookup_key is None
    assert isinstance(old.product, stripe.Product) and old.product.id == prod.id
    found = await client.v1.prices.list_async(
        params={"lookup_keys": ["extra"], "expand": ["data.product"]}
    )
    assert [p.id for p in found.data] == [moved.id]
    assert found.data[0].product.name == "Extra"  # type: ignore[union-attr]
    await client.v1.prices.update_async(moved.id, params={"active": False})
    active = await client.v1.prices.list_async(params={"product": prod.id, "active": True})
    assert [p.id for p in active.data] == [price.id]
    yearly = await client.v1.prices.list_async(
        params={"recurring": {"interval": "year"}, "limit": 100}
    )
    assert yearly.data and all(p.recurring and p.recurring.interval == "year" for p in yearly.data)
    upd = await client.v1.products.update_async(prod.id, params={"active": False})
    assert upd.active is False
    inactive = await client.v1.products.list_async(params={"active": False})
    assert [p.id for p in inactive.data] == [prod.id]


async def test_pagination_is_exact_within_one_second(client: stripe.StripeClient) -> None:
    ids = [(await client.v1.customers.create_async(params={"name": str(i)})).id for i in range(7)]
    newest_first = ids[::-1]
    page1 = await client.v1.customers.list_async(params={"limit": 3})
    assert [c.id for c in page1.data] == newest_first[:3] and page1.has_more
    page2 = await client.v1.customers.list_async(
        params={"limit": 3, "starting_after": page1.data[-1].id}
    )
    assert [c.id for c in page2.data] == newest_first[3:6] and page2.has_more
    page3 = await client.v1.customers.list_async(
        params={"limit": 3, "starting_after": page2.data[-1].id}
    )
    assert [c.id for c in page3.data] == newest_first[6:] and not page3.has_more
    back = await client.v1.customers.list_async(
        params={"limit": 2, "ending_before": page2.data[0].id}
    )
    assert [c.id for c in back.data] == newest_first[1:3] and back.has_more
    every = [
        c.id
        async for c in (
            await client.v1.customers.list_async(params={"limit": 2})
        ).auto_paging_iter()
    ]
    assert every == newest_first
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.customers.list_async(params={"limit": 101})


async def test_checkout_session_flow(
    client: stripe.StripeClient, emu: EmulatorServer, seeded_price: PriceFor
) -> None:
    price = await seeded_price(client)
    cus = await client.v1.customers.create_async(params={"email": "c@x.io"})
    session = await checkout(
        client, price.id, cus.id, client_reference_id="ws_9", metadata={"workspace_id": "ws_9"}
    )
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.url and session.url.startswith(emu.url + "/pay/cs_test_")
    assert session.subscription is None and session.customer == cus.id
    assert session.expires_at - session.created == 24 * 3600
    await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "paid"}
    )
    done = await client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["subscription", "line_items"]}
    )
    assert done.status == "complete" and done.payment_status == "paid"
    sub = done.subscription
    assert isinstance(sub, stripe.Subscription) and sub.status == "active"
    assert done.line_items is not None and done.line_items.data[0].price
    assert done.line_items.data[0].price.id == price.id
    listed = await client.v1.checkout.sessions.list_async(params={"subscription": sub.id})
    assert [s.id for s in listed.data] == [session.id]
    by_status = await client.v1.checkout.sessions.list_async(params={"status": "open"})
    assert by_status.data == []
    by_customer = await client.v1.checkout.sessions.list_async(params={"customer": cus.id})
    assert len(by_customer.data) == 1
    other = await checkout(client, price.id, cus.id)
    expired = await client.v1.checkout.sessions.expire_async(other.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(other.id)


@pytest.mark.parametrize("deleted", [False, True])
async def test_checkout_rejects_missing_customer(
    client: stripe.StripeClient, seeded_price: PriceFor, deleted: bool
) -> None:
    price = await seeded_price(client)
    cus_id = "cus_doesnotexist"
    if deleted:
        cus_id = (await client.v1.customers.create_async()).id
        await client.v1.customers.delete_async(cus_id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        await checkout(client, price.id, cus_id)
    assert info.value.http_status == 400
    assert info.value.code == "resource_missing"
    assert info.value.param == "customer"
    assert info.value.user_message == f"No such customer: '{cus_id}'"


async def test_checkout_rejects_bad_prices(
    client: stripe.StripeClient, seeded_price: PriceFor
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        await checkout(client, "price_nope")
    assert info.value.code == "resource_missing"
    assert info.value.param == "line_items[0][price]"
    price = await seeded_price(client, "business", "yearly")
    await client.v1.prices.update_async(price.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as info:
        await checkout(client, price.id)
    assert info.value.param == "line_items[0][price]"


async def test_checkout_without_customer_creates_one(
    client: stripe.StripeClient, emu: EmulatorServer, seeded_price: PriceFor
) -> None:
    price = await seeded_price(client)
    session = await checkout(client, price.id, customer_email="new@x.io")
    await emu.control("POST", f"/_emulator/checkout/sessions/{session.id}/complete", {})
    done = await client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["customer"]}
    )
    assert isinstance(done.customer, stripe.Customer) and done.customer.email == "new@x.io"


async def test_portal_session(client: stripe.StripeClient, emu: EmulatorServer) -> None:
    cus = await client.v1.customers.create_async()
    portal = await client.v1.billing_portal.sessions.create_async(
        params={"customer": cus.id, "return_url": "https://app.test/billing"}
    )
    assert portal.url.startswith(emu.url + "/portal/bps_")
    assert portal.customer == cus.id and str(portal.configuration).startswith("bpc_")
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.billing_portal.sessions.create_async(params={"customer": "cus_x"})
    assert info.value.param == "customer" and info.value.code == "resource_missing"


async def test_subscription_shape_and_updates(
    client: stripe.StripeClient, emu: EmulatorServer, seeded_price: PriceFor
) -> None:
    pro = await seeded_price(client)
    business = await seeded_price(client, "business", "monthly")
    cus, sub = await subscribe(client, emu, pro.id)
    item = sub["items"].data[0]
    assert item.object == "subscription_item" and item.quantity == 1
    assert isinstance(item.price, stripe.Price) and item.price.id == pro.id
    assert item.current_period_end > item.current_period_start
    assert sub.metadata.to_dict() == {"ws": "w1"}
    assert isinstance(sub.latest_invoice, str)
    upd = await client.v1.subscriptions.update_async(
        sub.id,
        params={
            "items": [{"id": item.id, "price": business.id}],
            "proration_behavior": "none",
            "metadata": {"plan": "business"},
        },
    )
    assert upd["items"].data[0].price.id == business.id
    assert upd.metadata.to_dict() == {"ws": "w1", "plan": "business"}
    later = await client.v1.subscriptions.update_async(
        sub.id, params={"cancel_at_period_end": True}
    )
    assert later.cancel_at_period_end is True
    assert later.cancel_at == later["items"].data[0].current_period_end
    by_price = await client.v1.subscriptions.list_async(params={"price": business.id})
    assert [s.id for s in by_price.data] == [sub.id]
    canceled = await client.v1.subscriptions.cancel_async(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at
    default = await client.v1.subscriptions.list_async(params={"customer": cus.id})
    assert default.data == []
    every = await client.v1.subscriptions.list_async(params={"customer": cus.id, "status": "all"})
    assert [s.id for s in every.data] == [sub.id]
    created = await client.v1.subscriptions.list_async(
        params={"status": "all", "created": {"gte": sub.created, "lte": sub.created}}
    )
    assert [s.id for s in created.data] == [sub.id]
    none = await client.v1.subscriptions.list_async(
        params={"status": "all", "created": {"gt": sub.created}}
    )
    assert none.data == []


async def test_invoices(
    client: stripe.StripeClient, emu: EmulatorServer, seeded_price: PriceFor
) -> None:
    price = await seeded_price(client, "pro", "yearly")
    cus, sub = await subscribe(client, emu, price.id)
    assert isinstance(sub.latest_invoice, str)
    inv = await client.v1.invoices.retrieve_async(sub.latest_invoice)
    assert inv.status == "paid" and inv.amount_paid == inv.amount_due == price.unit_amount
    assert inv.parent and inv.parent.subscription_details
    assert inv.parent.subscription_details.subscription == sub.id
    assert inv.parent.subscription_details.metadata.to_dict() == {"ws": "w1"}  # type: ignore[union-attr]
    assert inv.lines.data[0].amount == price.unit_amount
    listed = await client.v1.invoices.list_async(params={"subscription": sub.id})
    assert [i.id for i in listed.data] == [inv.id]
    by_customer = await client.v1.invoices.list_async(params={"customer": cus.id, "status": "open"})
    assert by_customer.data == []
    _, failing = await subscribe(client, emu, price.id, outcome="incomplete")
    assert failing.status == "incomplete"
    open_inv = await client.v1.invoices.retrieve_async(str(failing.latest_invoice))
    assert open_inv.status == "open" and open_inv.amount_paid == 0
