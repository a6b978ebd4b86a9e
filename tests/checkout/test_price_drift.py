"""Checkout follows the Stripe catalog: drifted or missing prices force one sync (seed 002 §4)."""

from __future__ import annotations

import uuid

import pytest

from tests.checkout.conftest import Billing, assert_error

PRO_MONTHLY_KEY = "formsandbox:test:pro:monthly:usd"


async def pro_monthly_variant(billing: Billing) -> str | None:
    rows = await billing.rows(
        "SELECT stripe_price_id FROM plan_variants WHERE plan_slug = 'pro' "
        "AND interval = 'monthly' AND currency = 'usd'"
    )
    return rows[0]["stripe_price_id"] if rows else None


async def replace_pro_monthly(billing: Billing, *, archive_old: bool) -> str:
    """A new price takes over the lookup key, as an operator changing the price would do."""
    old = await pro_monthly_variant(billing)
    assert old is not None
    price = await billing.stripe.v1.prices.create_async(
        {
            "product": (await billing.stripe.v1.prices.retrieve_async(old)).product,  # type: ignore[typeddict-item]
            "currency": "usd",
            "unit_amount": 2400,
            "recurring": {"interval": "month"},
            "lookup_key": PRO_MONTHLY_KEY,
            "transfer_lookup_key": True,
            "metadata": {"plan_slug": "pro", "interval": "monthly", "self_serve": "true"},
        }
    )
    if archive_old:
        await billing.stripe.v1.prices.update_async(old, {"active": False})
    return price.id


async def session_price(billing: Billing, session_id: str) -> str:
    items = await billing.stripe.v1.checkout.sessions.line_items.list_async(session_id)
    assert items.data[0].price is not None
    return items.data[0].price.id


async def test_stale_price_refused_by_stripe_forces_one_sync(billing: Billing) -> None:
    new = await replace_pro_monthly(billing, archive_old=True)
    workspace_id, user_id = await billing.workspace()
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    assert response.status_code == 200, response.text
    assert await session_price(billing, response.json()["id"]) == new
    assert await pro_monthly_variant(billing) == new
    rows = await billing.rows(
        "SELECT stripe_price_id FROM checkout_sessions WHERE id = :id", id=response.json()["id"]
    )
    assert rows == [{"stripe_price_id": new}]


async def test_missing_variant_forces_one_sync(billing: Billing) -> None:
    new = await replace_pro_monthly(billing, archive_old=False)
    await billing.execute(
        "DELETE FROM plan_variants WHERE plan_slug = 'pro' AND interval = 'monthly'"
    )
    workspace_id, user_id = await billing.workspace()
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    assert response.status_code == 200, response.text
    assert await session_price(billing, response.json()["id"]) == new
    assert await pro_monthly_variant(billing) == new


@pytest.mark.parametrize("variant", ["kept", "deleted"])
async def test_plan_without_a_price_after_sync_is_not_available(
    billing: Billing, variant: str
) -> None:
    old = await pro_monthly_variant(billing)
    assert old is not None
    await billing.stripe.v1.prices.update_async(old, {"active": False})
    if variant == "deleted":
        await billing.execute(
            "DELETE FROM plan_variants WHERE plan_slug = 'pro' AND interval = 'monthly'"
        )
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    assert_error(await billing.checkout(workspace_id, user_id, key), 422, "PLAN_NOT_AVAILABLE")
    assert await billing.created("checkout_sessions") == 0
    # Once Stripe sells the plan again, the same key goes through.
    await billing.stripe.v1.prices.update_async(old, {"active": True})
    retry = await billing.checkout(workspace_id, user_id, key)
    assert retry.status_code == 200, retry.text
    assert await session_price(billing, retry.json()["id"]) == old
