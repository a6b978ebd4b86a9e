"""Catalog sync through its admin route: what Stripe sells becomes `plan_variants` (seed 002 §4)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe

from tests.checkout.conftest import Billing, assert_error
from tests.conftest import ADMIN_TOKEN, make_settings

SYNC = "/api/v1/stripe/catalog/sync"


async def variant(billing: Billing, plan: str, interval: str) -> dict[str, Any]:
    rows = await billing.rows(
        "SELECT * FROM plan_variants WHERE plan_slug = :p AND interval = :i AND currency = 'usd'",
        p=plan,
        i=interval,
    )
    assert len(rows) == 1
    return rows[0]


async def new_price(
    client: stripe.StripeClient,
    *,
    plan: str = "pro",
    interval: str = "monthly",
    amount: int = 2500,
    lookup_key: str | None = None,
    transfer: bool = False,
    metadata: dict[str, str] | None = None,
    product_metadata: dict[str, str] | None = None,
) -> str:
    product = await client.v1.products.create_async(
        {"name": f"{plan} {interval}", "metadata": product_metadata or {}}
    )
    params: Any = {
        "product": product.id,
        "currency": "usd",
        "unit_amount": amount,
        "recurring": {"interval": "month" if interval == "monthly" else "year"},
        "metadata": {"plan_slug": plan, "interval": interval, "self_serve": "true"}
        if metadata is None
        else metadata,
    }
    if lookup_key:
        params["lookup_key"] = lookup_key
        params["transfer_lookup_key"] = transfer
    return (await client.v1.prices.create_async(params)).id


async def test_sync_seeds_variants_with_merged_grants(billing: Billing) -> None:
    summary = await billing.sync_catalog()
    assert summary["scanned"] == 4
    assert summary["accepted"] == 4
    assert summary["skipped"] == 0
    assert set(summary["variants"]) == {
        "pro:monthly:usd",
        "pro:yearly:usd",
        "business:monthly:usd",
        "business:yearly:usd",
    }
    pro = await variant(billing, "pro", "monthly")
    assert pro["stripe_price_id"] == summary["variants"]["pro:monthly:usd"]
    assert pro["unit_amount"] == 2000
    assert pro["lookup_key"] == "formsandbox:test:pro:monthly:usd"
    assert pro["stripe_product_id"].startswith("prod_")
    assert pro["synced_at"] is not None
    # Product grants {"seats": 5, "forms": 10}, price grants {"forms": 50}: the price wins.
    assert pro["grants"] == {"seats": 5, "forms": 50}
    assert (await variant(billing, "pro", "yearly"))["grants"] == {"seats": 5, "forms": 10}
    # A second sync finds nothing to change.
    again = await billing.sync_catalog()
    assert again["updated"] == 0 and again["unchanged"] == 4


async def test_new_price_with_transferred_key_replaces_the_old(billing: Billing) -> None:
    before = await variant(billing, "pro", "monthly")
    price = await new_price(
        billing.stripe,
        lookup_key="formsandbox:test:pro:monthly:usd",
        transfer=True,
        amount=2900,
        metadata={
            "plan_slug": "pro",
            "interval": "monthly",
            "self_serve": "yes",
            "gating.bundle": "pro-2026",
            "grants": json.dumps({"seats": 7}),
        },
        product_metadata={"grants": json.dumps({"seats": 5, "forms": 10})},
    )
    summary = await billing.sync_catalog()
    assert summary["updated"] == 1
    after = await variant(billing, "pro", "monthly")
    assert after["stripe_price_id"] == price != before["stripe_price_id"]
    assert after["unit_amount"] == 2900
    assert after["gating_bundle"] == "pro-2026"
    assert after["grants"] == {"seats": 7, "forms": 10}


async def test_foreign_and_malformed_prices_are_skipped_with_reasons(billing: Billing) -> None:
    pro_before = (await variant(billing, "pro", "monthly"))["stripe_price_id"]
    await new_price(
        billing.stripe, metadata={"plan_slug": "pro", "interval": "monthly", "self_serve": "false"}
    )
    await new_price(billing.stripe, lookup_key="formsandbox:prod:pro:monthly:usd")
    await new_price(
        billing.stripe,
        metadata={"plan_slug": "enterprise", "interval": "monthly", "self_serve": "true"},
    )
    await new_price(
        billing.stripe,
        metadata={
            "plan_slug": "pro",
            "interval": "monthly",
            "self_serve": "true",
            "grants": "{not json",
        },
    )
    await new_price(
        billing.stripe, metadata={"plan_slug": "pro", "interval": "yearly", "self_serve": "true"}
    )  # billed monthly
    summary = await billing.sync_catalog()
    assert summary["scanned"] == 9
    assert summary["accepted"] == 4
    assert summary["skip_reasons"] == {
        "not_self_serve": 1,
        "wrong_env": 1,
        "unknown_plan": 1,
        "malformed_grants": 1,
        "interval_mismatch": 1,
    }
    assert summary["skipped"] == 5
    assert (await variant(billing, "pro", "monthly"))["stripe_price_id"] == pro_before


async def test_two_candidates_exact_lookup_key_then_newest_wins(billing: Billing) -> None:
    seeded = (await variant(billing, "business", "yearly"))["stripe_price_id"]
    # Newer, but without the lookup key: the seeded price keeps the exact key and wins.
    newer = await new_price(billing.stripe, plan="business", interval="yearly", amount=45000)
    await billing.sync_catalog()
    assert (await variant(billing, "business", "yearly"))["stripe_price_id"] == seeded
    # With the keyed price archived, the newest `created` wins, ties going to the greater id.
    await billing.stripe.v1.prices.update_async(seeded, {"active": False})
    other = await new_price(billing.stripe, plan="business", interval="yearly", amount=47000)
    prices = [await billing.stripe.v1.prices.retrieve_async(p) for p in (newer, other)]
    expected = max(prices, key=lambda p: (p.created, p.id))
    await billing.sync_catalog()
    chosen = await variant(billing, "business", "yearly")
    assert chosen["stripe_price_id"] == expected.id
    assert chosen["unit_amount"] == expected.unit_amount


async def test_sync_route_needs_the_admin_token(billing: Billing) -> None:
    response = await billing.http.post(SYNC)
    assert_error(response, 401, "UNAUTHENTICATED")
    response = await billing.http.post(SYNC, headers={"Authorization": "Bearer wrong-token"})
    assert_error(response, 401, "UNAUTHENTICATED")
    response = await billing.http.post(SYNC, headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("token", [None, ""])
async def test_sync_route_is_absent_without_a_configured_token(
    database_url: str, token: str | None
) -> None:
    from api.main import create_app

    settings = make_settings(
        database_url, "127.0.0.1:1", "unused", stripe_internal_admin_token=token
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(SYNC, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert_error(response, 404, "NOT_FOUND")
