"""Control routes, the seeded catalog, hosted pages and the command line."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import httpx
import pytest
import stripe
from emu_support import SEED_ENV, price_for

from stripe_emulator.testing import EmulatorServer, free_port

pytestmark = pytest.mark.asyncio


async def test_seeded_catalog_contract(client: stripe.StripeClient) -> None:
    keys = [
        f"formsandbox:{SEED_ENV}:{plan}:{interval}:usd"
        for plan in ("pro", "business")
        for interval in ("monthly", "yearly")
    ]
    prices = await client.v1.prices.list_async(
        params={"lookup_keys": keys, "expand": ["data.product"], "active": True}
    )
    assert sorted(p.lookup_key or "" for p in prices.data) == sorted(keys)
    for price in prices.data:
        plan, interval = (price.lookup_key or "").split(":")[2:4]
        assert price.metadata is not None
        meta = price.metadata.to_dict()
        assert (meta["plan_slug"], meta["interval"], meta["self_serve"]) == (plan, interval, "true")
        assert price.currency == "usd" and price.type == "recurring" and price.recurring
        assert price.recurring.interval == {"monthly": "month", "yearly": "year"}[interval]
        assert isinstance(price.product, stripe.Product)
        assert price.product.metadata is not None
        assert price.product.metadata["plan_slug"] == plan
    pro_monthly = next(p for p in prices.data if p.lookup_key == keys[0])
    assert pro_monthly.metadata is not None
    assert json.loads(pro_monthly.metadata["grants"]) == {"forms": 50}
    assert isinstance(pro_monthly.product, stripe.Product)
    assert pro_monthly.product.metadata is not None
    assert json.loads(pro_monthly.product.metadata["grants"]) == {"seats": 5, "forms": 10}
    products = await client.v1.products.list_async()
    assert len(products.data) == 2


async def test_seed_is_idempotent_and_counts(emu: EmulatorServer) -> None:
    again = await emu.control("POST", "/_emulator/seed-catalog", {"env": SEED_ENV})
    assert len(again["prices"]) == 4
    counts = await emu.counts()
    assert counts["prices"] == 4 and counts["products"] == 2
    assert "events" not in counts  # seeding is silent by default
    state = await emu.state()
    assert state["objects"]["prices"] == 4


async def test_invoice_route_status_transitions(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    cus = await client.v1.customers.create_async()
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": cus.id,
            "line_items": [{"price": price.id, "quantity": 1}],
        }
    )
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "paid"}
    )
    sub_id = done["subscription"]
    before = await client.v1.subscriptions.retrieve_async(sub_id)
    failed = await emu.control(
        "POST", f"/_emulator/subscriptions/{sub_id}/invoice", {"paid": False}
    )
    assert failed["subscription"]["status"] == "past_due"
    assert failed["invoice"]["status"] == "open"
    assert failed["invoice"]["billing_reason"] == "subscription_cycle"
    after = await client.v1.subscriptions.retrieve_async(sub_id)
    assert after["items"].data[0].current_period_start == before["items"].data[0].current_period_end
    paid = await emu.control("POST", f"/_emulator/subscriptions/{sub_id}/invoice", {"paid": True})
    assert paid["subscription"]["status"] == "active"
    assert paid["invoice"]["id"] == failed["invoice"]["id"]  # the open invoice was retried
    assert paid["invoice"]["status"] == "paid"
    types = [e.type for e in (await client.v1.events.list_async(params={"limit": 9})).data]
    assert types[:4] == [
        "customer.subscription.updated",
        "invoice.payment_succeeded",
        "invoice.paid",
        "customer.subscription.updated",
    ]
    assert "invoice.payment_failed" in types


async def test_incomplete_becomes_active_when_paid(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
        }
    )
    done = await emu.control(
        "POST", f"/_emulator/checkout/sessions/{session.id}/complete", {"outcome": "incomplete"}
    )
    result = await emu.control(
        "POST", f"/_emulator/subscriptions/{done['subscription']}/invoice", {"paid": True}
    )
    assert result["subscription"]["status"] == "active"


async def test_delete_silently_leaves_no_event(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    cus = await client.v1.customers.create_async()
    gone = await client.v1.customers.create_async()
    await emu.control("POST", f"/_emulator/customers/{cus.id}/delete-silently")
    await emu.control(
        "POST", f"/_emulator/customers/{gone.id}/delete-silently", {"mode": "missing"}
    )
    stale = await client.v1.customers.retrieve_async(cus.id)
    assert stale.to_dict().get("deleted") is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.customers.retrieve_async(gone.id)
    assert info.value.http_status == 404
    types = [e.type for e in (await client.v1.events.list_async()).data]
    assert "customer.deleted" not in types


async def test_control_errors_and_config(emu: EmulatorServer) -> None:
    async with httpx.AsyncClient(base_url=emu.url, headers=emu.control_headers) as h:
        missing = await h.post("/_emulator/checkout/sessions/cs_test_nope/complete", json={})
        assert missing.status_code == 404
        bad = await h.post("/_emulator/config", json={"no_such_setting": 1})
        assert bad.status_code == 400
        bad_fault = await h.post("/_emulator/config", json={"api_faults": [{"mode": "boom"}]})
        assert bad_fault.status_code == 400
        config = (await h.get("/_emulator/config")).json()
    assert config["retry_base_delay"] == 0.05


async def test_hosted_checkout_pay_redirects(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    price = await price_for(client)
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.test/done?sid={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.test/cancel",
        }
    )
    assert session.url
    async with httpx.AsyncClient() as h:
        page = await h.get(session.url)
        assert page.status_code == 200 and "Pay" in page.text and "Decline" in page.text
        paid = await h.post(session.url + "/pay")
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://app.test/done?sid={session.id}"
    done = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert done.status == "complete" and done.payment_status == "paid"


async def test_hosted_checkout_decline_keeps_the_session_open(
    client: stripe.StripeClient,
) -> None:
    """As on Stripe's page, a declined card is an error on the page, not a completed session."""
    price = await price_for(client)
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "cancel_url": "https://app.test/cancel",
        }
    )
    async with httpx.AsyncClient() as h:
        declined = await h.post(f"{session.url}/decline")
    assert declined.status_code == 402 and "location" not in declined.headers
    assert "Your card was declined." in declined.text
    assert "https://app.test/cancel" in declined.text  # the Cancel link is still there
    still = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert still.status == "open" and still.subscription is None
    assert (await client.v1.subscriptions.list_async(params={"status": "all"})).data == []


async def test_hosted_portal_switch_and_cancel(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    pro = await price_for(client)
    business = await price_for(client, "business", "yearly")
    cus = await client.v1.customers.create_async()
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": cus.id,
            "line_items": [{"price": pro.id, "quantity": 1}],
        }
    )
    done = await emu.control("POST", f"/_emulator/checkout/sessions/{session.id}/complete", {})
    portal = await client.v1.billing_portal.sessions.create_async(
        params={"customer": cus.id, "return_url": "https://app.test/billing"}
    )
    async with httpx.AsyncClient() as h:
        page = await h.get(portal.url)
        assert page.status_code == 200 and business.id in page.text
        assert "https://app.test/billing" in page.text
        action = f"{portal.url}/action"
        switched = await h.post(
            action,
            data={"subscription": done["subscription"], "action": "switch", "price": business.id},
        )
        assert switched.status_code == 303
        await h.post(action, data={"subscription": done["subscription"], "action": "cancel"})
    sub = await client.v1.subscriptions.retrieve_async(done["subscription"])
    assert sub["items"].data[0].price.id == business.id
    assert sub.cancel_at_period_end is True


async def test_command_line_runs_and_seeds() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stripe_emulator",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--webhook-url",
            "http://127.0.0.1:9/none",
            "--webhook-secret",
            "whsec_cli",
            "--secret-key",
            "sk_test_cli_control",
            "--seed-catalog",
            "dev",
        ],
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as h:
            for _ in range(200):
                try:
                    resp = await h.get(
                        "/v1/prices",
                        params={"lookup_keys[]": "formsandbox:dev:pro:monthly:usd"},
                        headers={"Authorization": "Bearer sk_test_cli"},
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("emulator did not start")
            config = (
                await h.get(
                    "/_emulator/config", headers={"Authorization": "Bearer sk_test_cli_control"}
                )
            ).json()
        assert resp.status_code == 200 and len(resp.json()["data"]) == 1
        assert config["webhook_secret"] == "whsec_cli"
        assert re.match(r"^price_[0-9a-f]{24}$", resp.json()["data"][0]["id"])
    finally:
        proc.terminate()
        proc.wait(10)


async def test_control_routes_need_the_secret_key_and_json(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    customer = await client.v1.customers.create_async({"email": "a@example.com"})
    path = f"/_emulator/customers/{customer.id}/delete-silently"
    key = emu.control_headers
    async with httpx.AsyncClient(base_url=emu.url) as h:
        # What a hostile web page can send: a form post, no Authorization header.
        form = await h.post(path, data={"mode": "missing"})
        wrong = await h.post(path, json={}, headers={"Authorization": "Bearer sk_test_guess"})
        form_with_key = await h.post(path, data={"mode": "missing"}, headers=key)
        read_without_key = await h.get("/_emulator/config")
        health = await h.get("/_emulator/health")
        config = (await h.get("/_emulator/config", headers=key)).json()
        rotate = await h.post("/_emulator/config", json={"secret_key": "sk_test_x"}, headers=key)
    assert (form.status_code, wrong.status_code) == (401, 401)
    assert form_with_key.status_code == 415
    assert read_without_key.status_code == 401
    assert health.status_code == 200
    assert "secret_key" not in config and emu.config.secret_key not in str(config)
    assert rotate.status_code == 400
    # None of the refused calls touched the customer.
    again = await client.v1.customers.retrieve_async(customer.id)
    assert again.id == customer.id and "deleted" not in again.to_dict()
