"""Seed 002 §7 through the real endpoint: the status table, invoices, customer deletion."""

from __future__ import annotations

from typing import Any

from tests.support import fetch_all, price_id
from tests.webhook.conftest import Shop, workspace_state

ENTITLED = ("active", "trialing", "past_due")


async def test_every_status_of_the_mapping_table(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "business", "yearly")
    await shop.settled(buyer.workspace_id)
    # Walk the subscription through the table; each step is one customer.subscription.* event.
    for status in ("trialing", "past_due", "unpaid", "paused", "active", "canceled"):
        await shop.update(sub_id, status=status)
        await shop.settled(buyer.workspace_id)
        state = await workspace_state(shop.sessions, buyer.workspace_id)
        [paid] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
        assert paid["status"] == status
        assert len(state["entitled"]) == 1, state
        if status in ENTITLED:
            assert state["plan"] == "business" and state["entitled"] == ["business"]
            assert state["grants"] == {"seats": 25, "forms": 100}
        else:
            # Non-entitled: the free row is the entitled one, grants are revoked.
            assert state["plan"] == "free" and state["entitled"] == ["free"], status
            assert state["grants"] == {}
    free_rows = [r for r in state["rows"] if r["plan_slug"] == "free"]
    assert len(free_rows) == 1  # revived, never duplicated


async def test_incomplete_checkout_then_paid_and_expired(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    paying = await shop.buyer()
    _, sub_id = await shop.checkout(paying, "pro", "monthly", outcome="incomplete")
    await shop.settled(paying.workspace_id)
    state = await workspace_state(shop.sessions, paying.workspace_id)
    assert state["plan"] == "free" and state["entitled"] == ["free"]
    assert {r["status"] for r in state["rows"] if r["stripe_subscription_id"]} == {"incomplete"}

    # incomplete -> active: the free row steps aside before the unique index could object.
    await shop.invoice(sub_id, paid=True)
    await shop.settled(paying.workspace_id)
    state = await workspace_state(shop.sessions, paying.workspace_id)
    assert state["plan"] == "pro" and state["entitled"] == ["pro"]
    assert [r["status"] for r in state["rows"] if r["plan_slug"] == "free"] == ["canceled"]

    lapsing = await shop.buyer()
    _, lapsed_id = await shop.checkout(lapsing, "pro", "monthly", outcome="incomplete")
    await shop.update(lapsed_id, status="incomplete_expired")
    await shop.settled(lapsing.workspace_id)
    state = await workspace_state(shop.sessions, lapsing.workspace_id)
    assert state["plan"] == "free" and state["entitled"] == ["free"]
    assert [r["status"] for r in state["rows"] if r["stripe_subscription_id"]] == [
        "incomplete_expired"
    ]


async def test_invoice_failure_opens_grace_and_payment_closes_it(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.invoice(sub_id, paid=False)
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    [row] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
    assert row["status"] == "past_due" and row["grace_period_end"] is not None
    assert state["plan"] == "pro"  # past_due is still entitled

    await shop.invoice(sub_id, paid=True)
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    [row] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
    assert row["status"] == "active" and row["grace_period_end"] is None


async def test_expired_grace_is_not_undone_by_a_later_past_due_event(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    from sqlalchemy import text

    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.invoice(sub_id, paid=False)
    await shop.settled(buyer.workspace_id)
    async with shop.sessions() as session, session.begin():
        # The grace ran out (days pass): what the hourly grace job leaves behind.
        await session.execute(
            text(
                "UPDATE subscriptions SET grace_period_end = now() - interval '1 hour' "
                "WHERE stripe_subscription_id = :s"
            ),
            {"s": sub_id},
        )
    # Stripe still says past_due; any later event about it must not re-entitle.
    await shop.update(sub_id, cancel_at_period_end=True)
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    [row] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
    assert row["status"] == "unpaid" and row["cancel_at_period_end"] is True
    assert state["plan"] == "free" and state["entitled"] == ["free"]

    # Only a paid invoice ends it: the grace clears and the plan comes back.
    await shop.invoice(sub_id, paid=True)
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    [row] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
    assert row["status"] == "active" and row["grace_period_end"] is None
    assert state["plan"] == "pro"


async def test_plan_change_replaces_items_and_grants(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.update(sub_id, price=price_id("business", "monthly"), cancel_at_period_end=True)
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "business"
    [row] = state["rows"]
    assert row["cancel_at_period_end"] is True
    assert state["grants"] == {"seats": 25, "forms": 100}
    items = await fetch_all(
        shop.sessions,
        "SELECT i.stripe_price_id FROM subscription_items i JOIN subscriptions s "
        "ON s.id = i.subscription_id WHERE s.stripe_subscription_id = :s",
        s=sub_id,
    )
    assert [i.stripe_price_id for i in items] == [price_id("business", "monthly")]


async def test_customer_deleted_drops_mapping_and_falls_back_to_free(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.settled(buyer.workspace_id)
    await shop.stripe.v1.customers.delete_async(buyer.customer_id)
    await shop.settled(buyer.workspace_id)

    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "free" and state["entitled"] == ["free"]
    assert [r["status"] for r in state["rows"] if r["stripe_subscription_id"]] == ["canceled"]
    mapping = await fetch_all(
        shop.sessions,
        "SELECT 1 FROM workspace_billing_customers WHERE workspace_id = :w",
        w=buyer.workspace_id,
    )
    assert mapping == []
    [event] = [e for e in await shop.events() if e["type"] == "customer.deleted"]
    audit = await fetch_all(
        shop.sessions,
        "SELECT event_type, old_stripe_customer_id, stripe_event_id "
        "FROM workspace_billing_customer_events WHERE workspace_id = :w",
        w=buyer.workspace_id,
    )
    assert [tuple(a) for a in audit] == [("webhook_deleted", buyer.customer_id, event["id"])]


async def test_price_metadata_names_the_plan_when_catalog_sync_has_not_run(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    async with shop.sessions() as session, session.begin():
        from sqlalchemy import text

        # A stale catalog: this variant's price id is not the one Stripe charges.
        await session.execute(
            text("DELETE FROM plan_variants WHERE stripe_price_id = :p"),
            {"p": price_id("pro", "yearly")},
        )
    _, sub_id = await shop.checkout(buyer, "pro", "yearly")
    await shop.settled(buyer.workspace_id)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "pro"
    [row] = state["rows"]
    assert row["interval"] == "yearly" and row["stripe_subscription_id"] == sub_id
    # The mapping stands (a session made elsewhere is attributed through it, never through
    # its metadata).
    mapping = await fetch_all(
        shop.sessions,
        "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
        w=buyer.workspace_id,
    )
    assert [m.stripe_customer_id for m in mapping] == [buyer.customer_id]
