"""`GET /api/v1/stripe/plans`: the public pricing table, read from `plan_variants`, cached."""

from __future__ import annotations

from tests.checkout.conftest import Billing


async def test_plans_is_public_cached_and_matches_plan_variants(billing: Billing) -> None:
    answer = await billing.http.get("/api/v1/stripe/plans")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=60"
    plans = answer.json()["plans"]
    rows = await billing.rows(
        "SELECT plan_slug, interval, currency, unit_amount, grants FROM plan_variants "
        "WHERE stripe_price_id IS NOT NULL AND unit_amount IS NOT NULL"
    )
    expected = {
        (r["plan_slug"], r["interval"], r["currency"]): (r["unit_amount"], r["grants"])
        for r in rows
    }
    got = {(p["plan"], p["interval"], p["currency"]): (p["amount"], p["grants"]) for p in plans}
    assert got == expected
    assert [(p["plan"], p["interval"]) for p in plans] == [
        ("pro", "monthly"),
        ("pro", "yearly"),
        ("business", "monthly"),
        ("business", "yearly"),
    ]
    pro = next(p for p in plans if (p["plan"], p["interval"]) == ("pro", "monthly"))
    assert pro["grants"]["forms"] == 50 and pro["currency"] == "usd"

    # Within the cache window a changed row is not read again.
    await billing.execute(
        "UPDATE plan_variants SET unit_amount = unit_amount + 1 "
        "WHERE plan_slug = 'pro' AND interval = 'monthly'"
    )
    try:
        again = (await billing.http.get("/api/v1/stripe/plans")).json()["plans"]
        assert again == plans
    finally:
        await billing.execute(
            "UPDATE plan_variants SET unit_amount = unit_amount - 1 "
            "WHERE plan_slug = 'pro' AND interval = 'monthly'"
        )
